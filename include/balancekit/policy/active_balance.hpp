/// \file
/// Active balancing: when nothing could be pulled, ask the busiest CPU's stopper to push
/// the task it is running.
///
/// kernel: need_active_balance(), imbalanced_active_balance(), asym_active_balance(),
/// kernel/sched/fair.c (v6.16). The stopper itself (active_load_balance_cpu_stop(),
/// detach_one_task()) is part of the balancing pass: balancer/pass.hpp.
#pragma once

#include <balancekit/balancer/lb_env.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/stats/group_stats.hpp>
#include <balancekit/stats/snapshot.hpp>

namespace balancekit {

/// The Linux rule for when a failed balance escalates to an active one.
/// (The asym-packing case needs SD_ASYM_PACKING, which no built domain has.)
struct linux_active_balance {
  template <class P, limits_pack L>
  [[nodiscard]] static constexpr bool needed(const lb_env<P, L>& env) {
    if constexpr (detail::aggregation_active<P>) {
      // Cache-aware balancing: the LLC pass may push a running task that prefers the
      // destination's LLC; alb_break_llc() vetoes a push that would take the only (or
      // running) task off its preferred LLC when leaving it is forbidden.
      const bool need = env.mtype == migration_type::migrate_llc_task || linux_rule(env);
      return need && !(env.state != nullptr && P::aggregation::breaks_active(env, env.state->aggregation));
    } else {
      return linux_rule(env);
    }
  }

private:
  template <class P, limits_pack L>
  [[nodiscard]] static constexpr bool linux_rule(const lb_env<P, L>& env) {
    // kernel: imbalanced_active_balance(): affinity or hotness kept failing.
    if (env.mtype == migration_type::migrate_task && env.nr_balance_failed > env.sd->cache_nice_tries + 2U) return true;
    const cpu_state& src = env.cpu(env.src_cpu);
    // A lone task on a CPU that RT/IRQ squeeze, with clearly more room on dst.
    if (env.dst_idle() && src.h_nr_runnable == 1 && check_cpu_capacity(src, env.sd->imbalance_pct) &&
        src.capacity * env.sd->imbalance_pct < env.cpu(env.dst_cpu).capacity * 100)
      return true;
    return env.mtype == migration_type::migrate_misfit;
  }
};

}  // namespace balancekit
