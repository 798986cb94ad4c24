/// \file
/// What one placement decision knows — the task, its previous CPU, the waker's CPU and
/// the wake flags — and what it returns: the CPU and the branch that chose it.
///
/// kernel: the arguments and globals of select_task_rq_fair() (p, prev_cpu, wake_flags,
/// smp_processor_id(), current, jiffies) and the WF_* wake flags — kernel/sched/fair.c,
/// kernel/sched/sched.h (v6.16).
///
/// Like `lb_env`, the environment carries the pack and sees the world read-only; a
/// placement policy writes only its own family's state (wakee flips, recently used CPUs,
/// the LLC's idle-core hint), which it is handed separately.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include <balancekit/balancer/state.hpp>
#include <balancekit/balancer/tunables.hpp>
#include <balancekit/core/index.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/core/units.hpp>
#include <balancekit/detail/contracts.hpp>
#include <balancekit/domains/domain_tree.hpp>
#include <balancekit/stats/snapshot.hpp>

namespace balancekit {

/// kernel: the WF_* wake flags. The low nibble is the SD_BALANCE_* flag a domain needs for
/// the slow path (exec 0x02, fork 0x04, wake 0x08), as in the kernel.
namespace wf {
inline constexpr std::uint32_t exec = 0x02;         ///< WF_EXEC: placement after exec
inline constexpr std::uint32_t fork = 0x04;         ///< WF_FORK: placement of a new task
inline constexpr std::uint32_t ttwu = 0x08;         ///< WF_TTWU: a wakeup
inline constexpr std::uint32_t sync = 0x10;         ///< WF_SYNC: the waker goes to sleep after the wakeup
inline constexpr std::uint32_t current_cpu = 0x40;  ///< WF_CURRENT_CPU: prefer the waker's CPU
/// Not a kernel flag: the wakeup comes from interrupt context (the kernel's !in_task()),
/// where the task that was interrupted is `current`.
inline constexpr std::uint32_t from_interrupt = 0x100;
}  // namespace wf

/// Which branch of select_task_rq() / select_task_rq_fair() chose the CPU.
enum class placement_branch : std::uint8_t {
  single_cpu,      ///< the task may run on one CPU only: the placement policy is not asked
  fallback,        ///< the policy chose a CPU the task may not use: select_fallback_rq()
  stay,            ///< the policy did not move the task: its previous (or parent's) CPU
  current_cpu,     ///< WF_CURRENT_CPU: the waker's CPU
  slow_path,       ///< sched_balance_find_dst_cpu(): the idlest group's idlest CPU
  slow_path_prev,  ///< sched_balance_find_dst_cpu(): no allowed CPU in the domain, prev
  idle_target,     ///< select_idle_sibling(): the target is idle
  idle_prev,       ///< the previous CPU is idle and shares the target's cache
  kthread_stack,   ///< a per-CPU kthread woke the task on its own CPU
  idle_recent,     ///< the recently used CPU is idle and shares the target's cache
  idle_capacity,   ///< select_idle_capacity(): an idle CPU the task fits (asymmetric capacity)
  capacity_target, ///< select_idle_capacity() found nothing: the target
  no_llc,          ///< the target has no LLC domain: the target
  idle_smt,        ///< select_idle_smt(): an idle SMT sibling of prev
  idle_core,       ///< select_idle_cpu(): a whole idle core
  idle_cpu,        ///< select_idle_cpu(): an idle CPU
  cluster_prev,    ///< nothing idle in the target's cluster scan: the idle previous CPU
  cluster_recent,  ///< likewise, the idle recently used CPU
  busy_target,     ///< nothing idle found: the target
  idle_longest,    ///< Wasted Cores' idle-first wakeup: the allowed CPU idle longest on the machine
  packing_buddy,   ///< the packing family: the waking CPU's packing buddy (seed 000, Guittot)
  packing_leader,  ///< the packing family: the leader group's CPU with room (seed 000, Shi)
  packing_fit,     ///< the packing family: the best-fitting CPU under the margin (utilization_aware)
  scope_idle,      ///< the aggregation family: an idle CPU of the process's scope (seed 001, topology-aware)
};

[[nodiscard]] constexpr std::string_view to_string(placement_branch b) noexcept {
  constexpr std::string_view names[] = {
      "single_cpu",  "fallback",  "stay",          "current_cpu", "slow_path",     "slow_path_prev",
      "idle_target", "idle_prev", "kthread_stack", "idle_recent", "idle_capacity", "capacity_target",
      "no_llc",      "idle_smt",  "idle_core",     "idle_cpu",    "cluster_prev",  "cluster_recent",
      "busy_target", "idle_longest",   "packing_buddy", "packing_leader", "packing_fit", "scope_idle"};
  return names[static_cast<std::size_t>(b)];
}

/// A placement decision: the CPU, why, and the fast path's target (the waker's CPU when
/// wake_affine() pulled the task towards it, else the previous CPU).
struct placement_decision {
  std::size_t cpu = no_cpu;
  placement_branch why = placement_branch::stay;
  std::size_t target = no_cpu;
  friend constexpr bool operator==(const placement_decision&, const placement_decision&) = default;
};

/// kernel: the arguments and globals of select_task_rq_fair(), for pack `P` on limits `L`.
template <class P, limits_pack L>
struct wake_env {
  using pack = P;
  using limits = L;

  const domain_tree<L>* tree = nullptr;
  const snapshot<L>* snap = nullptr;           ///< the world, read-only
  const balance_state<P, L>* state = nullptr;  ///< every family's state, read-only (sgc->imbalance, …)
  std::uint32_t task = no_task;                ///< p
  std::size_t prev_cpu = no_cpu;               ///< task_cpu(p): where it last ran (the parent's CPU for a fork)
  std::size_t this_cpu = no_cpu;               ///< smp_processor_id(): the CPU doing the wakeup
  std::uint32_t waker = no_task;               ///< current: what runs on this_cpu, or no_task (idle)
  std::uint32_t flags = 0;                     ///< wf::*
  nanoseconds now = 0;
  jiffies_t jiffies = 0;
  placement_tunables tun = P::placement_tuning;

  [[nodiscard]] constexpr const task_state<L>& p() const { return snap->task_at(task); }
  [[nodiscard]] constexpr const cpu_state& cpu(std::size_t c) const { return snap->cpus[c]; }
  /// The task has no PELT history yet (kernel: !p->se.avg.last_update_time): a fork.
  [[nodiscard]] constexpr bool new_task() const noexcept { return (flags & wf::fork) != 0; }
};

/// make_wake_env<P>(tree, snap, state, task, prev_cpu, this_cpu, flags, now)
///
/// The environment of one placement of `task` for pack `P`: the waker is what runs on
/// `this_cpu` (no_task when it is idle), time is counted in the pack's jiffies. The one way
/// to build a `wake_env`: the balancer uses it, so do the tests.
///
/// Requires: `task` is in the snapshot; `prev_cpu` and `this_cpu` are in the tree's map.
template <class P, limits_pack L>
[[nodiscard]] constexpr wake_env<P, L> make_wake_env(const domain_tree<L>& tree, const snapshot<L>& snap,
                                                     const std::type_identity_t<balance_state<P, L>>* state,
                                                     std::uint32_t task, std::size_t prev_cpu, std::size_t this_cpu,
                                                     std::uint32_t flags, nanoseconds now) {
  BALANCEKIT_EXPECTS(task < snap.tasks().size() && tree.cpu_map().test(prev_cpu) && tree.cpu_map().test(this_cpu));
  wake_env<P, L> env;
  env.tree = &tree;
  env.snap = &snap;
  env.state = state;
  env.task = task;
  env.prev_cpu = prev_cpu;
  env.this_cpu = this_cpu;
  env.waker = snap.curr(this_cpu);
  env.flags = flags;
  env.now = now;
  env.jiffies = to_jiffies(now, P::balance_tuning.hz);
  return env;
}

}  // namespace balancekit
