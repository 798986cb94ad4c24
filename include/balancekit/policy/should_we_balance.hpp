/// \file
/// The designated balancer: which CPU of a group balances the domain on its behalf.
///
/// kernel: should_we_balance() — kernel/sched/fair.c (v6.16). Verified formally for
/// Linux by Lawall, Nishimura and Lozi (SAS 2024); the property suite checks the same
/// behaviours (invariant I16).
#pragma once

#include <cstddef>

#include <balancekit/balancer/lb_env.hpp>
#include <balancekit/core/cpumask.hpp>
#include <balancekit/core/index.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/domains/flags.hpp>
#include <balancekit/stats/group_stats.hpp>
#include <balancekit/stats/snapshot.hpp>

namespace balancekit {

/// The Linux rule. A newly idle CPU always balances (if it is still idle). Otherwise the
/// balancer is the first idle CPU of the local group's balance mask that sits on an idle
/// core (any idle CPU at the SMT level), else the first idle CPU on a busy core, else the
/// group's balance CPU.
struct linux_should_we_balance {
  template <class P, limits_pack L>
  [[nodiscard]] static constexpr bool check(const lb_env<P, L>& env) {
    if (!env.cpus.test(env.dst_cpu)) return false;
    const cpu_state& dst = env.cpu(env.dst_cpu);
    if (env.idle == cpu_idle_type::newly_idle) return dst.nr_running == 0 && !dst.ttwu_pending;
    const auto& tree = *env.tree;
    const auto& local = tree.group_of(*env.sd, 0);
    const bool smt_level = env.has(sd_flag::share_cpucapacity);
    auto candidates = tree.balance_mask(local) & env.cpus;
    std::size_t idle_smt = no_cpu;
    for (std::size_t cpu = candidates.first(); cpu != no_cpu; cpu = candidates.next(cpu)) {
      if (!env.cpu(cpu).is_idle()) continue;
      if (!smt_level && !detail::is_core_idle(tree, *env.snap, cpu)) {
        if (idle_smt == no_cpu) idle_smt = cpu;
        // The rest of this busy core cannot be on an idle core either.
        if (tree.nr_domains(cpu) > 0 && tree.domain_of(cpu, 0).flags.has(sd_flag::share_cpucapacity))
          candidates -= tree.span(tree.domain_of(cpu, 0));
        continue;
      }
      return cpu == env.dst_cpu;
    }
    if (idle_smt != no_cpu) return idle_smt == env.dst_cpu;
    return tree.group_balance_cpu(local) == env.dst_cpu;
  }
};

}  // namespace balancekit
