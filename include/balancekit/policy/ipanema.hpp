/// \file
/// An Ipanema-style steal (Lepers et al., EuroSys 2020) as an alternative `detach` member:
/// move a task only while the load gap between source and destination exceeds the task's
/// load, so every move strictly shrinks the gap and the sum of squared loads (the
/// invariants I8, no overshoot, and I9, no ping-pong, follow).
///
/// Ipanema's generated policies check `busiest->cload - thief_cload > t->load` under the
/// victim's lock and stop when the loads meet; tasks that run or cannot run on the thief
/// are skipped. Cache hotness is not part of the rule.
#pragma once

#include <cstddef>
#include <cstdint>

#include <balancekit/balancer/lb_env.hpp>
#include <balancekit/core/index.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/detail/contracts.hpp>
#include <balancekit/policy/pack.hpp>
#include <balancekit/policy/task_selection.hpp>
#include <balancekit/stats/snapshot.hpp>

namespace balancekit {
namespace ipanema {

/// The steal rule for `detach`. Looks at up to `loop_max` tasks from the tail of the
/// source queue; the imbalance left is half the remaining gap.
struct steal {
  template <class P, limits_pack L>
  static constexpr std::size_t detach(lb_env<P, L>& env, snapshot<L>& snap, detached_tasks& out) {
    BALANCEKIT_EXPECTS(env.snap == &snap);
    const std::size_t src = env.src_cpu;
    std::uint64_t src_load = snap.cpus[src].load;
    std::uint64_t dst_load = snap.cpus[env.dst_cpu].load;
    std::size_t detached = 0;
    env.flags &= ~lbf::all_pinned;  // affinity is handled below, never retried elsewhere
    while (snap.tail(src) != no_task && !out.full() && src_load > dst_load) {
      if (++env.loop > env.loop_max) break;
      const std::uint32_t t = snap.tail(src);
      const task_state<L>& p = snap.task_at(t);
      const bool movable = p.allowed.test(env.dst_cpu) && !snap.running(t);
      if (!movable || src_load - dst_load <= p.load) {
        snap.rotate_to_head(t);
        continue;
      }
      src_load -= p.load;
      dst_load += p.load;
      snap.dequeue_task(t);
      out.push_back(t);
      ++detached;
    }
    env.imbalance = src_load > dst_load ? static_cast<std::int64_t>((src_load - dst_load) / 2) : 0;
    return detached;
  }
};

/// Ipanema has no active balancing: a running task is never pushed.
struct no_active_balance {
  template <class P, limits_pack L>
  [[nodiscard]] static constexpr bool needed(const lb_env<P, L>& /*env*/) noexcept {
    return false;
  }
};

}  // namespace ipanema

/// Linux's rules with Ipanema's steal and no active balancing: every move strictly lowers
/// Σ load² (the property suite checks it).
struct ipanema_rules
    : rules<linux_defaults, with_detach<ipanema::steal>, with_active_balance<ipanema::no_active_balance>> {};

}  // namespace balancekit
