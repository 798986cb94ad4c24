/// \file
/// Busiest-group selection: which group of a domain a balancing CPU pulls from.
///
/// kernel: update_sd_pick_busiest(), update_sd_lb_stats() — kernel/sched/fair.c (v6.16).
///
/// The statistics of each group come from stats/group_stats.hpp; the choice among them is a
/// rule, so it lives here. `linux_src_group` (policy/imbalance.hpp) calls these.
#pragma once

#include <cstddef>
#include <cstdint>

#include <balancekit/balancer/lb_env.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/domains/flags.hpp>
#include <balancekit/stats/group_stats.hpp>

namespace balancekit {

/// kernel: update_sd_pick_busiest(): does `sgs` replace the current busiest group?
template <class P, limits_pack L>
[[nodiscard]] constexpr bool update_sd_pick_busiest(const lb_env<P, L>& env, const sd_lb_stats& sds,
                                                    const sg_lb_stats& sgs) {
  const sg_lb_stats& busiest = sds.busiest_stat;
  const bool asym_cap = env.has(sd_flag::asym_cpucapacity);
  const std::uint64_t dst_capacity = env.cpu(env.dst_cpu).capacity;
  if (sgs.sum_h_nr_running == 0) return false;
  // Misfit tasks only go to a noticeably bigger CPU, and only one with spare room.
  if (asym_cap && sgs.type == group_type::misfit_task &&
      (!capacity_greater(dst_capacity, sgs.max_capacity) || sds.local_stat.type != group_type::has_spare))
    return false;
  if (sgs.type > busiest.type) return true;
  if (sgs.type < busiest.type) return false;

  bool idle_cpus_rule = false;  // the kernel's `has_spare:` label
  switch (sgs.type) {
    case group_type::overloaded:
      return sgs.avg_load > busiest.avg_load;
    case group_type::imbalanced:
      return false;  // keep the first one found
    case group_type::llc_balance:
      // update_llc_busiest(): the most tasks preferring the destination's LLC; the first on a tie.
      return sgs.nr_pref_dst > busiest.nr_pref_dst;
    case group_type::asym_packing:
      return false;  // unreachable: no built domain has SD_ASYM_PACKING
    case group_type::misfit_task:
      return sgs.group_misfit_task_load > busiest.group_misfit_task_load;
    case group_type::smt_balance:
      if (sgs.idle_cpus != 0 || busiest.idle_cpus != 0) {
        idle_cpus_rule = true;
        break;
      }
      [[fallthrough]];
    case group_type::fully_busy:
      // avg_load is 0 for groups that are not overloaded, so the later group usually wins.
      if (sgs.avg_load < busiest.avg_load) return false;
      if (sgs.avg_load == busiest.avg_load && busiest.flags.has(sd_flag::share_cpucapacity)) return false;
      break;
    case group_type::has_spare:
      if (sds.busiest >= 0 && detail::smt_vs_nonsmt(busiest, sgs))
        return !(sgs.flags.has(sd_flag::share_cpucapacity) && sgs.sum_h_nr_running <= 1);
      idle_cpus_rule = true;
      break;
  }
  if (idle_cpus_rule) {
    if (sgs.idle_cpus > busiest.idle_cpus) return false;
    if (sgs.idle_cpus == busiest.idle_cpus && sgs.sum_nr_running <= busiest.sum_nr_running) return false;
  }
  // Do not pull to a smaller CPU what a bigger one can run.
  if (asym_cap && sgs.type <= group_type::fully_busy && capacity_greater(sgs.min_capacity, dst_capacity)) return false;
  return true;
}

/// kernel: update_sd_lb_stats(): the local group, the busiest group, and the domain's
/// totals; on NUMA domains also the busiest group's NUMA classification, which the kernel
/// writes to env->fbq_type and balancekit returns in `sds.fbq`.
template <class P, limits_pack L>
constexpr void update_sd_lb_stats(const lb_env<P, L>& env, sd_lb_stats& sds) {
  sds = sd_lb_stats{};
  const auto& tree = *env.tree;
  sg_lb_stats tmp{};
  for (std::size_t g = 0; g < env.sd->nr_groups; ++g) {
    const bool local_group = tree.span(tree.group_of(*env.sd, g)).test(env.dst_cpu);
    sg_lb_stats& sgs = local_group ? sds.local_stat : tmp;
    if (local_group) sds.local = static_cast<int>(g);
    update_sg_lb_stats(env, g, local_group, sgs, sds.overloaded);
    if (!local_group && update_sd_pick_busiest(env, sds, sgs)) {
      sds.busiest = static_cast<int>(g);
      sds.busiest_stat = sgs;
    }
    sds.total_load += sgs.group_load;
    sds.total_capacity += sgs.group_capacity;
  }
  if (sds.busiest >= 0) sds.prefer_sibling = sds.busiest_stat.flags.has(sd_flag::prefer_sibling);
  sds.fbq = env.has(sd_flag::numa) ? fbq_classify_group(sds.busiest_stat) : env.fbq;
}

}  // namespace balancekit
