/// \file
/// The push family (seed 002): busy CPUs push queued tasks to idle ones, found through
/// per-LLC idle and overload masks, and newly idle CPUs pull one task from their LLC's
/// overloaded CPUs before the classic newidle balance.
///
/// Three answers to the three problems the LPC'25 abstract leaves open (docs/push.md):
///  - **pileup**: choosing a target *claims* it, a compare-and-swap of the target's
///    incoming slot from idle-and-free; a claimed CPU is not offered again until it takes
///    the task or the claim is released, and a claim older than `claim_ttl_us` on a CPU
///    that is still idle is broken by the next scan of its LLC, so a dead claimant cannot
///    starve it;
///  - **cost on the busy CPU**: `push_offload` posts a pull request to the claimed target
///    (the `smp_call_function` idea) and the target does the pull;
///  - **idle CPUs that keep their tick**: the masks track every idle CPU (`set_idle` at
///    each transition to idle, ticking or not), so a newly idle CPU's pull-one covers the
///    LLC and push can stand in for newidle balancing.
///
/// The tracker is written once over a word type: `tracker<L>` (plain words, `constexpr`,
/// the pack's state, the proofs' model) and `atomic_tracker<L>` (lock-free
/// `std::atomic<std::uint64_t>` words, for embedders running pushers on real threads).
/// Layout of the atomic one: each LLC's three masks (idle, claimed, overloaded) start on
/// a cache line of their own, one line per 512 CPUs, as the kernel's sd_llc_shared
/// keeps an LLC's masks together; each CPU's incoming slot has a line of its own, so
/// claimers of different targets never share one. Nothing allocates.
///
/// kernel (RFC, April 2025, msgid 20250409111539.23791-1-kprateek.nayak@amd.com):
/// push_fair_task(), sched_balance_newidle()'s pull from `overloaded_mask`. The RFC's
/// unclaimed choice is `push_unclaimed`, kept for comparison: it piles up.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include <balancekit/balancer/tunables.hpp>
#include <balancekit/core/cpumask.hpp>
#include <balancekit/core/error.hpp>
#include <balancekit/core/index.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/detail/contracts.hpp>
#include <balancekit/domains/domain_tree.hpp>
#include <balancekit/domains/flags.hpp>
#include <balancekit/stats/snapshot.hpp>

namespace balancekit {

struct push_family;

/// How far from its LLC a push looks for a target.
enum class push_reach : std::uint8_t {
  llc,      ///< the pusher's LLC only
  node,     ///< up to, not including, the first NUMA domain (the RFC's newidle bound)
  machine,  ///< every domain
};

/// The push family's tunables.
struct push_tunables {
  push_reach reach = push_reach::node;
  /// Inside each LLC, a CPU whose SMT siblings are all idle first (select_idle_core()'s
  /// preference); the nearer LLC still wins over an idle core farther away.
  bool idle_cores_first = true;
  /// A claim not delivered within this many µs, on a target still idle, may be broken by
  /// any scan of the target's LLC. One 250 Hz tick: a pusher alive takes far less.
  std::uint32_t claim_ttl_us = 4000;
  friend constexpr bool operator==(const push_tunables&, const push_tunables&) = default;
};

namespace push {

/// A CPU's incoming slot: the truth the claims act on (the masks' idle and claimed bits
/// are hints that spare scanners the slots' cache lines). Claiming is a CAS from `free`,
/// so it succeeds only while the CPU is idle, however stale the scanner's view.
enum class slot_state : std::uint8_t {
  busy,       ///< the CPU runs something; nothing may claim it
  free,       ///< idle and unclaimed
  claimed,    ///< idle; a pusher chose it and will deliver or release
  delivered,  ///< a task is on its way; the target takes it and goes busy
};

/// A decoded incoming slot: its state, the claimant CPU, a generation that changes at
/// each idle/busy transition of the target (so an old claim never matches a new one),
/// and the claim's deadline in µs (compared modulo 2^32).
struct slot {
  slot_state state = slot_state::busy;
  std::uint16_t by = 0;
  std::uint16_t gen = 0;  ///< 14 bits
  std::uint32_t deadline = 0;

  [[nodiscard]] constexpr std::uint64_t encode() const noexcept {
    return static_cast<std::uint64_t>(state) | std::uint64_t{by} << 2 | std::uint64_t{gen & 0x3fffU} << 18 |
           std::uint64_t{deadline} << 32;
  }
  [[nodiscard]] static constexpr slot decode(std::uint64_t w) noexcept {
    return {static_cast<slot_state>(w & 3U), static_cast<std::uint16_t>(w >> 2), static_cast<std::uint16_t>((w >> 18) & 0x3fffU),
            static_cast<std::uint32_t>(w >> 32)};
  }
  /// Whether `now` is past the deadline (serial-number arithmetic: clocks may wrap).
  [[nodiscard]] constexpr bool expired(std::uint32_t now) const noexcept {
    return static_cast<std::int32_t>(now - deadline) > 0;
  }
};

namespace detail {
// One algorithm over two word types: plain words are constexpr, atomic words lock-free.
using atomic_word = std::atomic<std::uint64_t>;
static_assert(atomic_word::is_always_lock_free, "the atomic tracker needs lock-free 64-bit atomics");

constexpr std::uint64_t load(const std::uint64_t& w) noexcept { return w; }
inline std::uint64_t load(const atomic_word& w) noexcept { return w.load(std::memory_order_acquire); }
constexpr void store(std::uint64_t& w, std::uint64_t v) noexcept { w = v; }
inline void store(atomic_word& w, std::uint64_t v) noexcept { w.store(v, std::memory_order_release); }
constexpr std::uint64_t fetch_or(std::uint64_t& w, std::uint64_t v) noexcept {
  const std::uint64_t old = w;
  w |= v;
  return old;
}
inline std::uint64_t fetch_or(atomic_word& w, std::uint64_t v) noexcept { return w.fetch_or(v, std::memory_order_acq_rel); }
constexpr std::uint64_t fetch_and(std::uint64_t& w, std::uint64_t v) noexcept {
  const std::uint64_t old = w;
  w &= v;
  return old;
}
inline std::uint64_t fetch_and(atomic_word& w, std::uint64_t v) noexcept { return w.fetch_and(v, std::memory_order_acq_rel); }
constexpr bool cas(std::uint64_t& w, std::uint64_t& expected, std::uint64_t desired) noexcept {
  if (w != expected) {
    expected = w;
    return false;
  }
  w = desired;
  return true;
}
inline bool cas(atomic_word& w, std::uint64_t& expected, std::uint64_t desired) noexcept {
  return w.compare_exchange_strong(expected, desired, std::memory_order_acq_rel, std::memory_order_acquire);
}
constexpr std::uint64_t bit(std::size_t slot) noexcept { return std::uint64_t{1} << (slot % 64); }

template <class Word>
inline constexpr std::size_t line = std::is_same_v<Word, std::uint64_t> ? alignof(std::uint64_t) : 64;
}  // namespace detail

/// What a scan does with the idle CPU it finds.
enum class scan_mode : std::uint8_t {
  claim,      ///< skips claimed CPUs and claims the one it returns
  peek,       ///< skips claimed CPUs, claims nothing (a decision to be claimed later)
  unclaimed,  ///< the RFC's: reads the idle mask only, claims are not looked at
};

/// What a scan looks for (`basic_tracker::find_target`).
struct search {
  push_reach reach = push_reach::node;
  bool idle_cores_first = true;
  scan_mode mode = scan_mode::claim;
  std::uint32_t ttl_us = 4000;
};

/// Per-LLC idle, claimed and overloaded masks and per-CPU incoming slots, over plain
/// (`Word` = std::uint64_t) or atomic words. A CPU is in at most one LLC of at most
/// `MaxLlcCpus` CPUs. Claims, deliveries, releases and expiries are single CASes (a failed
/// one means another thread acted first); a CPU's own transition retries its CAS while
/// claimers race it; scans are bounded by the words of the LLCs they visit.
template <limits_pack L, class Word = std::uint64_t, std::size_t MaxLlcCpus = std::min<std::size_t>(L::max_cpus, 512)>
class basic_tracker {
public:
  static constexpr std::size_t max_cpus = L::max_cpus;
  static constexpr std::size_t max_llc_cpus = MaxLlcCpus;
  static constexpr std::size_t words = (MaxLlcCpus + 63) / 64;
  using mask = cpumask<max_cpus>;

  constexpr basic_tracker() = default;

  /// The LLCs and SMT siblings of `tree`; every CPU starts busy. An LLC
  /// bigger than `MaxLlcCpus` is refused (nothing changed).
  constexpr status attach(const domain_tree<L>& tree) {
    for (std::size_t c : tree.cpu_map())
      if (tree.llc_size(c) > MaxLlcCpus) {
        error e{errc::out_of_range, "push: CPU "};
        return e << c << "'s LLC has " << tree.llc_size(c) << " CPUs, more than the tracker's " << MaxLlcCpus;
      }
    clear();
    std::array<std::uint16_t, max_cpus> index_of{};  // by the LLC's first CPU
    for (std::size_t c : tree.cpu_map()) {
      const std::size_t first = tree.llc_id(c);
      if (first == c) index_of[c] = static_cast<std::uint16_t>(nr_llcs_++);
      llc_[c] = index_of[first];
      ++size_[llc_[c]];
    }
    place_cpus(tree.cpu_map());
    for (std::size_t c : tree.cpu_map()) {
      const mask& core = tree.smt_mask(c);
      const std::size_t n = core.next(c);
      sibling_[c] = static_cast<std::uint16_t>(n < max_cpus ? n : core.first());
    }
    return {};
  }
  /// Without a domain tree: CPUs 0..nr_cpus-1 in LLCs of `llc_size` consecutive CPUs, no
  /// SMT (thread pools, tests). Refused when the sizes do not fit.
  constexpr status attach_uniform(std::size_t nr_cpus, std::size_t llc_size) {
    if (nr_cpus == 0 || nr_cpus > max_cpus || llc_size == 0 || llc_size > MaxLlcCpus) {
      error e{errc::out_of_range, "push: "};
      return e << nr_cpus << " CPUs in LLCs of " << llc_size << " do not fit " << max_cpus << " CPUs and LLCs of "
               << MaxLlcCpus;
    }
    clear();
    mask all;
    for (std::size_t c = 0; c < nr_cpus; ++c) {
      all.set(c);
      llc_[c] = static_cast<std::uint16_t>(c / llc_size);
      ++size_[llc_[c]];
      sibling_[c] = static_cast<std::uint16_t>(c);
    }
    nr_llcs_ = (nr_cpus + llc_size - 1) / llc_size;
    place_cpus(all);
    return {};
  }

  // -- transitions (each by the CPU itself) ---------------------------------------------
  /// `cpu` has nothing to run: its slot turns free under a new generation, then the idle
  /// bit offers it.
  constexpr void set_idle(std::size_t cpu) {
    renew(cpu, slot_state::free);
    detail::fetch_or(block(cpu).idle[slot_of_[cpu] / 64], detail::bit(slot_of_[cpu]));
  }
  /// `cpu` runs a task (one it was pushed, or any other): no longer offered, any claim on
  /// it void (a late delivery fails and the pusher keeps its task).
  constexpr void set_busy(std::size_t cpu) {
    detail::fetch_and(block(cpu).idle[slot_of_[cpu] / 64], ~detail::bit(slot_of_[cpu]));
    renew(cpu, slot_state::busy);
  }
  /// `cpu` has (or no longer has) a queued task another CPU could run.
  constexpr void set_overloaded(std::size_t cpu, bool on) {
    auto& w = block(cpu).overloaded[slot_of_[cpu] / 64];
    if (on) detail::fetch_or(w, detail::bit(slot_of_[cpu]));
    else detail::fetch_and(w, ~detail::bit(slot_of_[cpu]));
  }

  // -- claims ---------------------------------------------------------------------------
  /// `by` claims idle `target` until `now + ttl`: true for exactly one of any number of
  /// concurrent claimants of a free slot. A claim found expired is broken first.
  constexpr bool try_claim(std::size_t target, std::size_t by, std::uint32_t now, std::uint32_t ttl) {
    auto& w = slots_[target].w;
    std::uint64_t seen = detail::load(w);
    for (int attempt = 0; attempt < 2; ++attempt) {
      slot s = slot::decode(seen);
      if (s.state == slot_state::claimed && s.expired(now)) {
        if (!break_claim(target, seen)) return false;
        seen = detail::load(w);
        continue;
      }
      if (s.state != slot_state::free) return false;
      const slot mine{slot_state::claimed, static_cast<std::uint16_t>(by), s.gen, now + ttl};
      if (!detail::cas(w, seen, mine.encode())) return false;
      // The claimed bit is a hint that spares scanners the slot's line; the slot decides.
      detail::fetch_or(block(target).claimed[slot_of_[target] / 64], detail::bit(slot_of_[target]));
      return true;
    }
    return false;
  }
  /// `by`'s live claim on `target` turns into a delivery: true at most once per claim, and
  /// never after the claim was released, expired or voided by the target going busy.
  constexpr bool deliver(std::size_t target, std::size_t by) {
    auto& w = slots_[target].w;
    std::uint64_t seen = detail::load(w);
    const slot s = slot::decode(seen);
    if (s.state != slot_state::claimed || s.by != by) return false;
    return detail::cas(w, seen, slot{slot_state::delivered, s.by, s.gen, s.deadline}.encode());
  }
  /// `by` gives up its live claim on `target` (it found nothing to send).
  constexpr bool release(std::size_t target, std::size_t by) {
    std::uint64_t seen = detail::load(slots_[target].w);
    const slot s = slot::decode(seen);
    return s.state == slot_state::claimed && s.by == by && break_claim(target, seen);
  }
  /// Breaks `target`'s claim if it expired by `now`; true when it did.
  constexpr bool expire(std::size_t target, std::uint32_t now) {
    std::uint64_t seen = detail::load(slots_[target].w);
    const slot s = slot::decode(seen);
    return s.state == slot_state::claimed && s.expired(now) && break_claim(target, seen);
  }

  // -- scans ----------------------------------------------------------------------------
  /// The push target of `this_cpu` for a task allowed on `allowed`: from its LLC outward
  /// to `s.reach`, in each LLC the first allowed idle CPU in wrap order from
  /// `this_cpu + 1` (idle cores first when asked), claimed when `s.mode` says so;
  /// `no_cpu` when there is none. Expired claims met on the way are broken.
  constexpr std::size_t find_target(const domain_tree<L>& tree, std::size_t this_cpu, const mask& allowed,
                                    const search& s, std::uint32_t now) {
    return outward(tree, this_cpu, s.reach, target_in(this_cpu, allowed, s, now));
  }
  /// The same without a domain tree (`attach_uniform`): `this_cpu`'s LLC, then, unless
  /// `s.reach` is llc, every other LLC in index order from the next one.
  constexpr std::size_t find_target(std::size_t this_cpu, const mask& allowed, const search& s, std::uint32_t now) {
    return outward(this_cpu, s.reach, target_in(this_cpu, allowed, s, now));
  }
  /// The first CPU of the overloaded masks, from `this_cpu`'s LLC up to (not including)
  /// the first NUMA domain, in wrap order from `this_cpu + 1`, for which `take(cpu)` says
  /// it gave a task (sched_balance_newidle()'s pull-one); `no_cpu` when none did.
  template <class Take>
  constexpr std::size_t pull_one(const domain_tree<L>& tree, std::size_t this_cpu, Take&& take) const {
    return outward(tree, this_cpu, push_reach::node, overloaded_in(this_cpu, take));
  }
  /// The same without a domain tree: `this_cpu`'s LLC, then every other LLC.
  template <class Take>
  constexpr std::size_t pull_one(std::size_t this_cpu, Take&& take) const {
    return outward(this_cpu, push_reach::machine, overloaded_in(this_cpu, take));
  }

  // -- what the tracker holds -----------------------------------------------------------
  [[nodiscard]] constexpr bool idle(std::size_t cpu) const { return bit_of(block(cpu).idle, cpu); }
  [[nodiscard]] constexpr bool claimed(std::size_t cpu) const { return bit_of(block(cpu).claimed, cpu); }
  [[nodiscard]] constexpr bool overloaded(std::size_t cpu) const { return bit_of(block(cpu).overloaded, cpu); }
  [[nodiscard]] constexpr slot slot_of(std::size_t cpu) const { return slot::decode(detail::load(slots_[cpu].w)); }
  [[nodiscard]] constexpr std::size_t llc_of(std::size_t cpu) const { return llc_[cpu]; }
  [[nodiscard]] constexpr std::size_t nr_llcs() const noexcept { return nr_llcs_; }
  /// The CPUs of LLC `llc`, in CPU order.
  [[nodiscard]] constexpr std::size_t llc_size(std::size_t llc) const { return size_[llc]; }
  [[nodiscard]] constexpr std::size_t llc_cpu(std::size_t llc, std::size_t i) const { return cpus_[first_[llc] + i]; }

private:
  struct llc_block {
    // Atomic: each mask on lines of its own (idle changes at every idle transition,
    // overloaded at queue changes, claimed at claims; scanners read all three). Plain
    // words pack tight: the proofs copy the tracker at every step.
    alignas(detail::line<Word>) std::array<Word, words> idle{};
    alignas(detail::line<Word>) std::array<Word, words> claimed{};
    alignas(detail::line<Word>) std::array<Word, words> overloaded{};
  };
  struct alignas(detail::line<Word>) slot_cell {
    Word w{};
  };

  constexpr void clear() {
    for (auto& b : blocks_)
      for (std::size_t i = 0; i < words; ++i) {
        detail::store(b.idle[i], 0);
        detail::store(b.claimed[i], 0);
        detail::store(b.overloaded[i], 0);
      }
    for (auto& s : slots_) detail::store(s.w, 0);
    size_.fill(0);
    first_.fill(0);
    nr_llcs_ = 0;
  }
  constexpr void place_cpus(const mask& cpus) {
    for (std::size_t l = 1; l < nr_llcs_; ++l) first_[l] = static_cast<std::uint16_t>(first_[l - 1] + size_[l - 1]);
    std::array<std::uint16_t, max_cpus> fill{};
    for (std::size_t c : cpus) {
      const std::size_t l = llc_[c];
      slot_of_[c] = fill[l]++;
      cpus_[first_[l] + slot_of_[c]] = static_cast<std::uint16_t>(c);
    }
  }
  [[nodiscard]] constexpr llc_block& block(std::size_t cpu) { return blocks_[llc_[cpu]]; }
  [[nodiscard]] constexpr const llc_block& block(std::size_t cpu) const { return blocks_[llc_[cpu]]; }
  [[nodiscard]] constexpr bool bit_of(const std::array<Word, words>& m, std::size_t cpu) const {
    return (detail::load(m[slot_of_[cpu] / 64]) & detail::bit(slot_of_[cpu])) != 0;
  }

  // A new generation of `cpu`'s slot in state `to`; its claimed hint cleared.
  constexpr void renew(std::size_t cpu, slot_state to) {
    auto& w = slots_[cpu].w;
    std::uint64_t seen = detail::load(w);
    while (!detail::cas(w, seen, slot{to, 0, static_cast<std::uint16_t>(slot::decode(seen).gen + 1), 0}.encode())) {
    }
    detail::fetch_and(block(cpu).claimed[slot_of_[cpu] / 64], ~detail::bit(slot_of_[cpu]));
  }
  // Frees a claimed slot last seen as `seen`: a failed CAS means someone else acted first.
  constexpr bool break_claim(std::size_t target, std::uint64_t seen) {
    const slot s = slot::decode(seen);
    if (!detail::cas(slots_[target].w, seen, slot{slot_state::free, 0, s.gen, 0}.encode())) return false;
    detail::fetch_and(block(target).claimed[slot_of_[target] / 64], ~detail::bit(slot_of_[target]));
    return true;
  }
  constexpr void expire_llc(std::size_t llc, std::uint32_t now) {
    const llc_block& b = blocks_[llc];
    wrap_scan(llc, 0, [&](std::size_t w) { return detail::load(b.idle[w]) & detail::load(b.claimed[w]); },
              [&](std::size_t c) {
                (void)expire(c, now);
                return false;
              });
  }

  // One LLC's visit of a target search.
  constexpr auto target_in(std::size_t self, const mask& allowed, const search& s, std::uint32_t now) {
    return [this, self, &allowed, s, now](std::size_t llc, std::size_t start) {
      if (s.mode == scan_mode::claim) expire_llc(llc, now);
      if (s.idle_cores_first) {
        const std::size_t c = scan_llc(llc, start, allowed, self, s, now, true);
        if (c != no_cpu) return c;
      }
      return scan_llc(llc, start, allowed, self, s, now, false);
    };
  }
  template <class Take>
  constexpr auto overloaded_in(std::size_t self, Take& take) const {
    return [this, self, &take](std::size_t llc, std::size_t start) {
      const llc_block& b = blocks_[llc];
      return wrap_scan(llc, start, [&](std::size_t w) { return detail::load(b.overloaded[w]); },
                       [&](std::size_t c) { return c != self && take(c); });
    };
  }

  // The first CPU of LLC `llc` that is allowed, idle, other than `self`, unclaimed (unless
  // the RFC's mode) and with an idle core (when asked), claimed in claim mode.
  constexpr std::size_t scan_llc(std::size_t llc, std::size_t start, const mask& allowed, std::size_t self,
                                 const search& s, std::uint32_t now, bool whole_core) {
    const llc_block& b = blocks_[llc];
    const bool skip_claimed = s.mode != scan_mode::unclaimed;
    return wrap_scan(
        llc, start,
        [&](std::size_t w) {
          return detail::load(b.idle[w]) & (skip_claimed ? ~detail::load(b.claimed[w]) : ~std::uint64_t{0});
        },
        [&](std::size_t c) {
          if (c == self || !allowed.test(c)) return false;
          if (whole_core)
            for (std::size_t o = sibling_[c]; o != c; o = sibling_[o])
              if (!idle(o) || (skip_claimed && claimed(o))) return false;
          return s.mode != scan_mode::claim || try_claim(c, self, now, s.ttl_us);
        });
  }

  // Calls `f(cpu)` for the CPUs of `llc` whose bit is set in `bits(word index)`, in wrap
  // order from the first CPU ≥ `start`, until it returns true; returns that CPU or no_cpu.
  // Each word is loaded once per pass.
  template <class Bits, class F>
  constexpr std::size_t wrap_scan(std::size_t llc, std::size_t start, Bits&& bits, F&& f) const {
    const std::size_t n = size_[llc];
    const auto* first = cpus_.data() + first_[llc];
    const std::size_t s0 = static_cast<std::size_t>(std::lower_bound(first, first + n, start) - first) % (n == 0 ? 1 : n);
    auto pass = [&](std::size_t lo, std::size_t hi) -> std::size_t {
      for (std::size_t w = lo / 64; w * 64 < hi; ++w) {
        std::uint64_t m = bits(w);
        if (w == lo / 64) m &= ~std::uint64_t{0} << (lo % 64);
        if ((w + 1) * 64 > hi && hi % 64 != 0) m &= (std::uint64_t{1} << (hi % 64)) - 1;
        while (m != 0) {
          const std::size_t c = first[w * 64 + static_cast<std::size_t>(std::countr_zero(m))];
          m &= m - 1;
          if (f(c)) return c;
        }
      }
      return no_cpu;
    };
    const std::size_t c = pass(s0, n);
    return c != no_cpu ? c : pass(0, s0);
  }

  // Visits `this_cpu`'s LLC, then, domain by domain up to `reach`, each LLC not yet
  // visited in wrap order from `this_cpu + 1`: `visit(llc, start)` returns a CPU to stop.
  template <class Visit>
  constexpr std::size_t outward(const domain_tree<L>& tree, std::size_t this_cpu, push_reach reach, Visit&& visit) const {
    const std::size_t start = this_cpu + 1 < max_cpus ? this_cpu + 1 : 0;
    const std::size_t own = llc_[this_cpu];
    if (const std::size_t c = visit(own, start); c != no_cpu) return c;
    if (reach == push_reach::llc) return no_cpu;
    mask visited;
    visited.set(own);
    const int llc = tree.sd_llc(this_cpu);
    for (std::size_t k = static_cast<std::size_t>(llc + 1); k < tree.nr_domains(this_cpu); ++k) {
      const auto& d = tree.domain_of(this_cpu, k);
      if (reach == push_reach::node && d.flags.has(sd_flag::numa)) break;
      for (std::size_t o : tree.span(d).wrap(start)) {
        const std::size_t l = llc_[o];
        if (visited.test(l)) continue;
        visited.set(l);
        if (const std::size_t c = visit(l, o); c != no_cpu) return c;
      }
    }
    return no_cpu;
  }
  template <class Visit>
  constexpr std::size_t outward(std::size_t this_cpu, push_reach reach, Visit&& visit) const {
    const std::size_t own = llc_[this_cpu];
    const std::size_t n = reach == push_reach::llc ? 1 : nr_llcs_;
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t l = (own + i) % nr_llcs_;
      if (const std::size_t c = visit(l, i == 0 ? this_cpu + 1 : 0); c != no_cpu) return c;
    }
    return no_cpu;
  }

  std::array<llc_block, max_cpus> blocks_{};
  std::array<slot_cell, max_cpus> slots_{};
  std::array<std::uint16_t, max_cpus> llc_{};      // CPU → LLC index
  std::array<std::uint16_t, max_cpus> slot_of_{};  // CPU → bit in its LLC's masks
  std::array<std::uint16_t, max_cpus> sibling_{};  // CPU → next SMT sibling (a ring)
  std::array<std::uint16_t, max_cpus> cpus_{};     // by LLC, in CPU order
  std::array<std::uint16_t, max_cpus> first_{};    // LLC → its first entry in cpus_
  std::array<std::uint16_t, max_cpus> size_{};     // LLC → its CPUs
  std::size_t nr_llcs_ = 0;
};

/// The value tracker: the pack's state and the proofs' model.
template <limits_pack L>
using tracker = basic_tracker<L>;
/// The lock-free tracker, for pushers on real threads. Not copyable (it holds atomics):
/// keep it where the threads can reach it.
template <limits_pack L>
using atomic_tracker = basic_tracker<L, detail::atomic_word>;

// -- the pack's members -------------------------------------------------------------------

/// How a push member moves a task once it has a target.
enum class push_mode : std::uint8_t {
  unclaimed,  ///< the April 2025 RFC: the first idle CPU, no claim (piles up)
  claimed,    ///< claim the target, then the busy CPU moves the task
  offload,    ///< claim the target and post it a pull request; the target pulls
};

/// What a push member keeps: the tracker, and the tasks pushed since they last ran (a
/// pushed task is not pushed again before it has run).
template <limits_pack L>
struct state {
  tracker<L> track{};
  cpumask<L::max_tasks> pushed{};
};

/// One push decision: the task and the target it claimed (`no_cpu`: no push).
struct decision {
  std::uint32_t task = no_task;
  std::size_t target = no_cpu;
  friend constexpr bool operator==(const decision&, const decision&) = default;
};

/// The push members (`push_unclaimed`, `push_claimed`, `push_offload`): one rule, three
/// ways of taking the target. A pack's `push_tuning` says how far they look.
template <push_mode Mode>
struct basic_push {
  using family = push_family;
  static constexpr bool active = true;
  static constexpr push_mode mode = Mode;
  template <limits_pack L>
  using state = push::state<L>;

  /// The LLCs of a new domain tree; every CPU starts busy (the embedder reports idle ones).
  template <limits_pack L>
  static constexpr void attach(const domain_tree<L>& tree, state<L>& st) {
    const status s = st.track.attach(tree);
    BALANCEKIT_EXPECTS(s.ok());  // an LLC above 512 CPUs needs a wider tracker
    st.pushed.clear();
  }

  /// The task `cpu` would push (the RFC's pushable list, first in queue order): queued,
  /// not running, allowed on another CPU, and not pushed since it last ran; or no_task.
  template <limits_pack L>
  [[nodiscard]] static constexpr std::uint32_t pushable(const snapshot<L>& snap, std::size_t cpu, const state<L>& st) {
    for (std::uint32_t t = snap.head(cpu); t != no_task; t = snap.next(t))
      if (may_push(snap, cpu, t, st)) return t;
    return no_task;
  }

  /// Busy `cpu`'s next push (push_fair_task()): its pushable tasks in queue order, the
  /// first for which the tracker finds a target (claimed unless the mode is unclaimed).
  /// The RFC stops at its first pushable task when that one has no target; going on to
  /// the next keeps an idle CPU from waiting behind a task pinned elsewhere. Marks the
  /// task pushed; the caller moves it (or, offloading, posts the request) and reports the
  /// target busy when it runs.
  template <class P, limits_pack L>
  static constexpr decision decide(const domain_tree<L>& tree, const snapshot<L>& snap, std::size_t cpu,
                                   std::uint32_t now_us, state<L>& st) {
    constexpr push_tunables tun = P::push_tuning;
    const search s{tun.reach, tun.idle_cores_first, Mode == push_mode::unclaimed ? scan_mode::unclaimed : scan_mode::claim,
                   tun.claim_ttl_us};
    for (std::uint32_t t = snap.head(cpu); t != no_task; t = snap.next(t)) {
      if (!may_push(snap, cpu, t, st)) continue;
      const std::size_t target = st.track.find_target(tree, cpu, snap.task_at(t).allowed, s, now_us);
      if (target == no_cpu) continue;
      st.pushed.set(t);
      return {t, target};
    }
    return {};
  }

  /// Newly idle `cpu`'s pull-one: the first task it may run, queued and not running on a
  /// CPU of the overloaded masks of its LLC and the LLCs up to the first NUMA domain;
  /// `{task, source}` or `{no_task, no_cpu}` (the caller then runs the classic balance).
  template <limits_pack L>
  static constexpr decision pull_one(const domain_tree<L>& tree, const snapshot<L>& snap, std::size_t cpu,
                                     const state<L>& st) {
    std::uint32_t task = no_task;
    const std::size_t src = st.track.pull_one(tree, cpu, [&](std::size_t c) {
      task = pullable(snap, c, cpu);
      return task != no_task;
    });
    return {task, src};
  }
  /// The first task queued on `src`, not running, that may run on `cpu` (`no_task`: none):
  /// what a pull takes.
  template <limits_pack L>
  [[nodiscard]] static constexpr std::uint32_t pullable(const snapshot<L>& snap, std::size_t src, std::size_t cpu) {
    for (std::uint32_t t = snap.head(src); t != no_task; t = snap.next(t))
      if (t != snap.curr(src) && snap.task_at(t).allowed.test(cpu)) return t;
    return no_task;
  }

private:
  template <limits_pack L>
  static constexpr bool may_push(const snapshot<L>& snap, std::size_t cpu, std::uint32_t t, const state<L>& st) {
    return t != snap.curr(cpu) && !st.pushed.test(t) && snap.task_at(t).allowed.more_than_one();
  }
};

using push_unclaimed = basic_push<push_mode::unclaimed>;
using push_claimed = basic_push<push_mode::claimed>;
using push_offload = basic_push<push_mode::offload>;

}  // namespace push
}  // namespace balancekit
