/// \file
/// Invariant predicates over snapshots and migrations, for the property suite and for
/// users checking their own policies. Pure and allocation-free; ids refer to
/// reference/verification-anchors.md (I1, I5, I6, I7, I8, I16).
#pragma once

#include <cstddef>
#include <cstdint>

#include <balancekit/balancer/result.hpp>
#include <balancekit/core/cpumask.hpp>
#include <balancekit/core/index.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/domains/domain_tree.hpp>
#include <balancekit/domains/flags.hpp>
#include <balancekit/stats/snapshot.hpp>

namespace balancekit::check {

/// A witness against work conservation: `idle_cpu` is idle while `task`, waiting on
/// `busy_cpu`, may run on it.
struct wc_witness {
  bool found = false;
  std::size_t idle_cpu = 0;
  std::size_t busy_cpu = 0;
  std::uint32_t task = 0;
};

/// I1 (affinity-aware work conservation, Lozi et al.'s invariant): no CPU of `cpus` is idle
/// while a task waits (queued, not running) on another CPU and may run on it.
/// Only CPUs in `candidates` count as idle CPUs that should have pulled.
template <limits_pack L>
[[nodiscard]] constexpr wc_witness work_conservation(const cpumask<L::max_cpus>& cpus, const snapshot<L>& snap,
                                                     const cpumask<L::max_cpus>& candidates) {
  cpumask<L::max_cpus> idle;
  for (std::size_t c : cpus & candidates)
    if (snap.cpus[c].nr_running == 0) idle.set(c);
  if (idle.empty()) return {};
  for (std::size_t c : cpus) {
    for (std::uint32_t t = snap.head(c); t != no_task; t = snap.next(t)) {
      if (snap.running(t)) continue;
      const auto where = idle & snap.task_at(t).allowed;
      if (where.any()) return {true, where.first(), c, t};
    }
  }
  return {};
}
template <limits_pack L>
[[nodiscard]] constexpr wc_witness work_conservation(const cpumask<L::max_cpus>& cpus, const snapshot<L>& snap) {
  return work_conservation(cpus, snap, cpus);
}

/// The CPUs of `tree` whose whole SMT core is idle (kernel: is_core_idle() for each).
template <limits_pack L>
[[nodiscard]] constexpr cpumask<L::max_cpus> cpus_on_idle_cores(const domain_tree<L>& tree, const snapshot<L>& snap) {
  cpumask<L::max_cpus> m;
  for (std::size_t c : tree.cpu_map()) {
    bool idle = snap.cpus[c].nr_running == 0;
    if (idle && tree.nr_domains(c) > 0 && tree.domain_of(c, 0).flags.has(sd_flag::share_cpucapacity))
      for (std::size_t s : tree.span(tree.domain_of(c, 0))) idle = idle && snap.cpus[s].nr_running == 0;
    if (idle) m.set(c);
  }
  return m;
}

/// I5 (conservation, LinSched's sanity check): every queue is well formed and every CPU's
/// counters and PELT sums equal the sums over its queued tasks. Returns the first CPU
/// that disagrees, or `no_cpu`.
template <limits_pack L>
[[nodiscard]] constexpr std::size_t first_inconsistent_cpu(const cpumask<L::max_cpus>& cpus, const snapshot<L>& snap) {
  for (std::size_t c : cpus) {
    const cpu_state& s = snap.cpus[c];
    std::uint32_t n = 0;
    std::uint64_t load_sum = 0;
    std::uint64_t util_sum = 0;
    std::uint64_t runnable_sum = 0;
    bool curr_here = snap.curr(c) == no_task;
    for (std::uint32_t t = snap.head(c); t != no_task; t = snap.next(t)) {
      if (snap.cpu_of(t) != c) return c;
      ++n;
      load_sum += snap.task_at(t).load;
      util_sum += snap.task_at(t).util;
      runnable_sum += snap.task_at(t).runnable;
      curr_here = curr_here || snap.curr(c) == t;
    }
    if (!curr_here || (n > 0) != (snap.curr(c) != no_task)) return c;
    if (n != s.nr_running || n != s.h_nr_runnable || n != snap.queue_length(c)) return c;
    if (load_sum != s.load || util_sum != s.util || runnable_sum != s.runnable) return c;
  }
  return no_cpu;
}

/// I6: every queued task is on a CPU it may run on.
template <limits_pack L>
[[nodiscard]] constexpr bool affinity_respected(const snapshot<L>& snap) {
  for (std::uint32_t t = 0; t < snap.tasks().size(); ++t)
    if (snap.queued(t) && !snap.task_at(t).allowed.test(snap.cpu_of(t))) return false;
  return true;
}

/// I7 (Lozi's "useless migration" check): judged on the loads just before the move, the
/// source was busier than the destination.
[[nodiscard]] constexpr bool useful(const migration& m) noexcept { return m.src_load > m.dst_load; }

/// I8 (Ipanema's steal condition): the load gap before the move exceeded the task's load,
/// so the move shrinks the gap and the potential.
[[nodiscard]] constexpr bool strictly_improving(const migration& m, std::uint64_t task_load) noexcept {
  return m.src_load > m.dst_load && m.src_load - m.dst_load > task_load;
}

/// The potential Φ = Σ load(c)² over `cpus`.
template <limits_pack L>
[[nodiscard]] constexpr std::uint64_t potential(const cpumask<L::max_cpus>& cpus, const snapshot<L>& snap) {
  std::uint64_t phi = 0;
  for (std::size_t c : cpus) phi += snap.cpus[c].load * snap.cpus[c].load;
  return phi;
}

}  // namespace balancekit::check
