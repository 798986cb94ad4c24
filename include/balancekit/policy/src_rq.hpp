/// \file
/// The busiest run queue of the busiest group.
///
/// kernel: sched_balance_find_src_rq() (ex find_busiest_queue) — kernel/sched/fair.c (v6.16).
#pragma once

#include <cstddef>
#include <cstdint>

#include <balancekit/balancer/lb_env.hpp>
#include <balancekit/core/index.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/domains/flags.hpp>
#include <balancekit/stats/group_stats.hpp>
#include <balancekit/stats/snapshot.hpp>

namespace balancekit {

/// The Linux rule: the CPU of group `g` (a position in the domain's group list) that
/// suits the migration type best, or `no_cpu`.
struct linux_src_rq {
  template <class P, limits_pack L>
  [[nodiscard]] static constexpr std::size_t find(const lb_env<P, L>& env, std::size_t g) {
    const auto& tree = *env.tree;
    std::size_t busiest = no_cpu;
    std::uint64_t busiest_util = 0;
    std::uint64_t busiest_load = 0;
    std::uint64_t busiest_capacity = 1;
    std::uint32_t busiest_nr = 0;
    const std::uint64_t dst_capacity = env.cpu(env.dst_cpu).capacity;
    for (std::size_t i : tree.cpus_of(tree.group_of(*env.sd, g))) {
      if (!env.cpus.test(i)) continue;
      const cpu_state& rq = env.cpu(i);
      // Leave CPUs whose tasks NUMA balancing placed well while others are misplaced.
      if (fbq_classify_rq(rq) > env.fbq) continue;
      const std::uint32_t nr_running = rq.h_nr_runnable;
      if (nr_running == 0) continue;
      const std::uint64_t cap = rq.capacity;
      // A lone task stays on a CPU that is not noticeably smaller than the destination.
      if (env.has(sd_flag::asym_cpucapacity) && !capacity_greater(dst_capacity, cap) && nr_running == 1) continue;
      switch (env.mtype) {
        case migration_type::migrate_load: {
          const std::uint64_t cpu_load = rq.load;
          // A lone task bigger than the imbalance stays, unless its CPU is squeezed.
          // (The kernel compares unsigned long with long: a negative imbalance is huge.)
          if (nr_running == 1 && cpu_load > static_cast<std::uint64_t>(env.imbalance) &&
              !check_cpu_capacity(rq, env.sd->imbalance_pct))
            break;
          if (cpu_load * busiest_capacity > busiest_load * cap) {
            busiest_load = cpu_load;
            busiest_capacity = cap;
            busiest = i;
          }
          break;
        }
        case migration_type::migrate_util: {
          const std::uint64_t boosted = cpu_util_cfs_boost(rq);
          if (nr_running <= 1) continue;
          if (busiest_util < boosted) {
            busiest_util = boosted;
            busiest = i;
          }
          break;
        }
        case migration_type::migrate_task:
          if (busiest_nr < nr_running) {
            busiest_nr = nr_running;
            busiest = i;
          }
          break;
        case migration_type::migrate_misfit:
          if (rq.misfit_task_load > busiest_load) {
            busiest_load = rq.misfit_task_load;
            busiest = i;
          }
          break;
        case migration_type::migrate_llc_task:
          // The CPU queueing the most tasks that prefer the destination's LLC (the first on a tie).
          if constexpr (detail::aggregation_active<P>) {
            if (env.state == nullptr) break;
            const std::uint32_t n = P::aggregation::prefer_dst(env, i, env.state->aggregation);
            if (n > busiest_nr) {
              busiest_nr = n;
              busiest = i;
            }
          }
          break;
      }
    }
    return busiest;
  }
};

}  // namespace balancekit
