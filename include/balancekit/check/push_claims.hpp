/// \file
/// Every interleaving of concurrent pushers, step by step: invariant I17 (no pileup) for
/// a push protocol, decided by exhaustive exploration in constant evaluation or at run
/// time.
///
/// Each pusher runs three steps, and any pusher may run the next step at any point:
///  - **decide**: scan its LLC's masks for a target, from its own CPU + 1 (the claimed
///    protocol skips claimed CPUs and claims nothing yet: `scan_mode::peek`);
///  - **claim**: `try_claim` (claimed protocol), or the RFC's `idle_cpu()` re-check
///    (unclaimed); a pusher that fails stops, keeping its task;
///  - **apply**: `deliver` (claimed; may fail), or the RFC's attach (unclaimed); a
///    delivered target turns busy (`set_busy`), as its enqueue makes it.
/// The targets are CPUs `0..targets-1` of one LLC; every non-empty subset of them starts
/// idle, the others busy; the pushers are the CPUs after them. The real tracker runs each
/// step, so the proof is about the shipped code, not a model of it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include <balancekit/core/cpumask.hpp>
#include <balancekit/core/index.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/policy/push.hpp>

namespace balancekit::check {

/// What an exploration saw.
struct push_exploration {
  std::uint64_t schedules = 0;  ///< complete interleavings explored, over all idle sets
  std::uint64_t pileups = 0;    ///< schedules in which some target received two tasks
  [[nodiscard]] constexpr bool no_pileup() const noexcept { return schedules != 0 && pileups == 0; }
};

namespace detail {
template <push::push_mode Mode, std::size_t MaxCpus>
struct push_world {
  using claim_limits = limits<MaxCpus, 1, 1, 1>;
  enum class phase : std::uint8_t { decide, claim, apply, done };
  push::tracker<claim_limits> track{};
  std::array<phase, 8> step{};
  std::array<std::size_t, 8> target{};
  std::array<std::uint8_t, MaxCpus> received{};
  bool piled = false;

  constexpr void run(std::size_t p, std::size_t self) {
    constexpr cpumask<claim_limits::max_cpus> anywhere = ~cpumask<claim_limits::max_cpus>{};
    switch (step[p]) {
      case phase::decide: {
        constexpr push::search peek{push_reach::llc, false,
                                    Mode == push::push_mode::unclaimed ? push::scan_mode::unclaimed : push::scan_mode::peek,
                                    1000};
        target[p] = track.find_target(self, anywhere, peek, 0);
        step[p] = target[p] == no_cpu ? phase::done : phase::claim;
        return;
      }
      case phase::claim: {
        const bool ok = Mode == push::push_mode::unclaimed ? track.idle(target[p]) : track.try_claim(target[p], self, 0, 1000);
        step[p] = ok ? phase::apply : phase::done;
        return;
      }
      case phase::apply:
        if (Mode == push::push_mode::unclaimed || track.deliver(target[p], self)) {
          piled = piled || ++received[target[p]] > 1;
          track.set_busy(target[p]);
        }
        step[p] = phase::done;
        return;
      case phase::done:
        return;
    }
  }
};

// Depth-first over the schedules, iteratively: level k holds the world after k steps and
// the next pusher to try from it (g++ memoizes recursive constexpr calls by value, which
// costs gigabytes here).
template <push::push_mode Mode, std::size_t MaxCpus>
constexpr void explore(const push_world<Mode, MaxCpus>& start, std::size_t pushers, std::size_t targets, push_exploration& out) {
  constexpr std::size_t max_steps = 3 * 4;
  std::array<push_world<Mode, MaxCpus>, max_steps + 1> level{};
  std::array<std::size_t, max_steps + 1> tried{};
  level[0] = start;
  std::size_t k = 0;
  for (;;) {
    const push_world<Mode, MaxCpus>& w = level[k];
    std::size_t p = tried[k];
    while (p < pushers && w.step[p] == push_world<Mode, MaxCpus>::phase::done) ++p;
    if (p < pushers) {
      tried[k] = p + 1;
      level[k + 1] = w;
      level[k + 1].run(p, targets + p);
      tried[++k] = 0;
      continue;
    }
    if (tried[k] == 0) {  // no pusher could step: a complete schedule
      ++out.schedules;
      if (w.piled) ++out.pileups;
    }
    if (k == 0) return;
    --k;
  }
}
}  // namespace detail

/// Explores every interleaving of `pushers` (≤ 4) pushers against every non-empty set of
/// idle CPUs among `targets` under protocol `Mode`, on a tracker of `MaxCpus` CPUs (at
/// least pushers + targets; the fewer, the cheaper each step is to copy).
template <push::push_mode Mode, std::size_t MaxCpus = 8>
[[nodiscard]] constexpr push_exploration explore_push_claims(std::size_t pushers, std::size_t targets) {
  push_exploration out;
  if (pushers == 0 || pushers > 4 || targets == 0 || pushers + targets > MaxCpus || targets > 16) return out;
  for (std::uint32_t idle = 1; idle < (1U << targets); ++idle) {
    auto w = detail::push_world<Mode, MaxCpus>{};
    (void)w.track.attach_uniform(targets + pushers, targets + pushers);
    for (std::size_t c = 0; c < targets; ++c)
      if ((idle >> c & 1U) != 0) w.track.set_idle(c);
    detail::explore(w, pushers, targets, out);
  }
  return out;
}

}  // namespace balancekit::check
