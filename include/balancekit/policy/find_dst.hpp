/// \file
/// Linux's placement slow path: the idlest group of a domain, then its idlest CPU, then
/// down the domains of that CPU — what fork and exec use (and wakeups on domains with
/// SD_BALANCE_WAKE, which none has by default).
///
/// kernel: sched_balance_find_dst_cpu() (ex find_idlest_cpu),
/// sched_balance_find_dst_group() (ex find_idlest_group),
/// sched_balance_find_dst_group_cpu() (ex find_idlest_group_cpu), update_sg_wakeup_stats(),
/// update_pick_idlest(), cpu_util_without(), cpu_load_without(), cpu_runnable_without(),
/// idle_cpu_without() — kernel/sched/fair.c (v6.16).
///
/// Every statistic leaves the placed task out where it counts (its previous CPU, unless it
/// is new), as the kernel's *_without() helpers do. Group capacity is the sum of the
/// snapshot's `capacity` over the group, as in the load balancer's statistics; the kernel
/// reads sgc->capacity, refreshed by the load balancer. Not modelled, and exact anyway:
/// cpuidle exit latencies (none known: the most recently idled CPU wins, by `idle_stamp`),
/// core-scheduling cookies, NUMA balancing's preferred node (none without the NUMA family).
#pragma once

#include <cstddef>
#include <cstdint>

#include <balancekit/balancer/lb_env.hpp>
#include <balancekit/balancer/wake_env.hpp>
#include <balancekit/core/cpumask.hpp>
#include <balancekit/core/index.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/core/units.hpp>
#include <balancekit/domains/domain_tree.hpp>
#include <balancekit/domains/flags.hpp>
#include <balancekit/stats/group_stats.hpp>
#include <balancekit/stats/snapshot.hpp>

namespace balancekit {

namespace detail {
// kernel: `cpu == task_cpu(p) && p->se.avg.last_update_time`: the task's PELT signals count
// on `cpu`.
template <class P, limits_pack L>
[[nodiscard]] constexpr bool contributes(const wake_env<P, L>& env, std::size_t cpu) {
  return cpu == env.prev_cpu && !env.new_task();
}
[[nodiscard]] constexpr std::uint64_t sub_positive(std::uint64_t a, std::uint64_t b) noexcept { return a > b ? a - b : 0; }
}  // namespace detail

/// kernel: cpu_load_without().
template <class P, limits_pack L>
[[nodiscard]] constexpr std::uint64_t cpu_load_without(const wake_env<P, L>& env, std::size_t cpu) {
  const std::uint64_t load = env.cpu(cpu).load;
  return detail::contributes(env, cpu) ? detail::sub_positive(load, env.p().h_load) : load;
}

/// kernel: cpu_runnable_without().
template <class P, limits_pack L>
[[nodiscard]] constexpr std::uint64_t cpu_runnable_without(const wake_env<P, L>& env, std::size_t cpu) {
  const std::uint64_t runnable = env.cpu(cpu).runnable;
  return detail::contributes(env, cpu) ? detail::sub_positive(runnable, env.p().runnable) : runnable;
}

/// kernel: cpu_util_without(), i.e. cpu_util(cpu, p, -1, 0): the utilization (and, with
/// UTIL_EST, its estimate when the task is queued or running) without the task's part,
/// capped at the CPU's original capacity.
template <class P, limits_pack L>
[[nodiscard]] constexpr std::uint64_t cpu_util_without(const wake_env<P, L>& env, std::size_t cpu) {
  const cpu_state& c = env.cpu(cpu);
  const bool mine = detail::contributes(env, cpu);
  std::uint64_t util = mine ? detail::sub_positive(c.util, env.p().util) : c.util;
  if (env.tun.util_est) {
    std::uint64_t util_est = c.util_est;
    const bool queued_or_current = env.snap->queued(env.task) || env.waker == env.task;
    if (mine && queued_or_current) util_est = detail::sub_positive(util_est, env.p().util_est);
    if (util_est > util) util = util_est;
  }
  return util < c.arch_capacity ? util : c.arch_capacity;
}

/// kernel: update_sg_wakeup_stats(): a group's statistics as they would be without the task.
template <class P, limits_pack L>
[[nodiscard]] constexpr sg_lb_stats update_sg_wakeup_stats(const wake_env<P, L>& env,
                                                           const typename domain_tree<L>::domain& sd,
                                                           const typename domain_tree<L>::group& group) {
  const auto& tree = *env.tree;
  const bool asym = sd.flags.has(sd_flag::asym_cpucapacity);
  sg_lb_stats sgs{};
  // Assume the task fits no CPU of the group.
  if (asym) sgs.group_misfit_task_load = 1;
  sgs.min_capacity = ~std::uint64_t{0};
  for (std::size_t i : tree.cpus_of(group)) {
    const cpu_state& rq = env.cpu(i);
    sgs.group_load += cpu_load_without(env, i);
    sgs.group_util += cpu_util_without(env, i);
    sgs.group_runnable += cpu_runnable_without(env, i);
    // kernel: task_running_on_cpu(): the task is queued there.
    const std::uint32_t local = detail::contributes(env, i) && env.snap->queued(env.task) ? 1 : 0;
    sgs.sum_h_nr_running += rq.h_nr_runnable - local;
    const std::uint32_t nr_running = rq.nr_running - local;
    sgs.sum_nr_running += nr_running;
    // kernel: idle_cpu_without(): nothing but the task (or the idle task) runs there.
    const std::uint32_t curr = env.snap->curr(i);
    if (nr_running == 0 && (curr == no_task || curr == env.task) && !rq.ttwu_pending) ++sgs.idle_cpus;
    const task_state<L>& p = env.p();
    if (asym && sgs.group_misfit_task_load != 0 && fits_capacity(p.util > p.util_est ? p.util : p.util_est, rq.capacity))
      sgs.group_misfit_task_load = 0;
    sgs.group_capacity += rq.capacity;
    if (rq.capacity < sgs.min_capacity) sgs.min_capacity = rq.capacity;
    if (rq.capacity > sgs.max_capacity) sgs.max_capacity = rq.capacity;
  }
  if (sgs.group_capacity == 0) sgs.min_capacity = 0;
  sgs.group_weight = group.weight;
  sgs.cores = group.cores;
  sgs.flags = group.flags;
  const bool imbalanced = env.state != nullptr && env.state->group_imbalance.get(sd.level, group.id);
  sgs.type = group_classify(sd.imbalance_pct, imbalanced, sgs);
  // avg_load only makes sense for a fully busy or overloaded group.
  if (sgs.type == group_type::fully_busy || sgs.type == group_type::overloaded)
    sgs.avg_load = sgs.group_load * sched_capacity_scale / sgs.group_capacity;
  return sgs;
}

/// kernel: update_pick_idlest(): does `sgs` replace `idlest` as the idlest group?
[[nodiscard]] constexpr bool update_pick_idlest(const sg_lb_stats& idlest, const sg_lb_stats& sgs) noexcept {
  if (sgs.type < idlest.type) return true;
  if (sgs.type > idlest.type) return false;
  switch (sgs.type) {
    case group_type::overloaded:
    case group_type::fully_busy:
      return idlest.avg_load > sgs.avg_load;  // the lower average load
    case group_type::imbalanced:
    case group_type::asym_packing:
    case group_type::smt_balance:
    case group_type::llc_balance:
      return false;  // not used in the slow wakeup path
    case group_type::misfit_task:
      return idlest.max_capacity < sgs.max_capacity;  // the higher capacity
    case group_type::has_spare:
      // More idle CPUs, then the lower utilization.
      if (idlest.idle_cpus > sgs.idle_cpus) return false;
      return !(idlest.idle_cpus == sgs.idle_cpus && idlest.group_util <= sgs.group_util);
  }
  return false;
}

/// kernel: sched_balance_find_dst_group(): the position of the idlest group of `this_cpu`'s
/// `k`-th domain the task should go to, or no_group to stay in the local group.
template <class P, limits_pack L>
[[nodiscard]] constexpr int find_dst_group(const wake_env<P, L>& env, std::size_t this_cpu, std::size_t k) {
  const auto& tree = *env.tree;
  const auto& sd = tree.domain_of(this_cpu, k);
  const auto& allowed = env.p().allowed;
  int idlest = no_group;
  int local = no_group;
  sg_lb_stats local_sgs{};
  sg_lb_stats idlest_sgs{};
  idlest_sgs.avg_load = 0xFFFFFFFFU;  // UINT_MAX
  idlest_sgs.type = group_type::overloaded;
  for (std::size_t g = 0; g < sd.nr_groups; ++g) {
    const auto& group = tree.group_of(sd, g);
    if (!tree.span(group).intersects(allowed)) continue;
    const sg_lb_stats sgs = update_sg_wakeup_stats(env, sd, group);
    if (tree.span(group).test(this_cpu)) {
      local = static_cast<int>(g);
      local_sgs = sgs;
    } else if (update_pick_idlest(idlest_sgs, sgs)) {
      idlest = static_cast<int>(g);
      idlest_sgs = sgs;
    }
  }
  if (idlest == no_group) return no_group;
  if (local == no_group) return idlest;  // affinity skipped the local group
  if (local_sgs.type < idlest_sgs.type) return no_group;
  if (local_sgs.type > idlest_sgs.type) return idlest;
  switch (local_sgs.type) {
    case group_type::overloaded:
    case group_type::fully_busy: {
      // The load a nice-0 task may add before moving pays off: 1024 * 17 / 100 = 174.
      const std::uint64_t imbalance = std::uint64_t{nice_0_load} * (sd.imbalance_pct - 100U) / 100U;
      // Across nodes, count that slack on the remote side and stay local.
      if (sd.flags.has(sd_flag::numa) && idlest_sgs.avg_load + imbalance >= local_sgs.avg_load) return no_group;
      if (idlest_sgs.avg_load >= local_sgs.avg_load + imbalance) return no_group;
      if (100 * local_sgs.avg_load <= sd.imbalance_pct * idlest_sgs.avg_load) return no_group;
      break;
    }
    case group_type::imbalanced:
    case group_type::asym_packing:
    case group_type::smt_balance:
    case group_type::llc_balance:
      return no_group;
    case group_type::misfit_task:
      if (local_sgs.max_capacity >= idlest_sgs.max_capacity) return no_group;
      break;
    case group_type::has_spare:
      if (sd.flags.has(sd_flag::numa)) {
        // Keep the task near its waker while the node stays under the allowed imbalance.
        // The kernel bounds imb_numa_nr by the task's allowed CPUs in the local group
        // whenever nr_cpus_allowed != NR_CPUS, which is every machine with fewer CPUs than
        // the kernel was built for.
        const auto local_allowed = static_cast<std::uint32_t>((tree.span(tree.group_of(sd, static_cast<std::size_t>(local))) & allowed).weight());
        const std::uint32_t imb_numa_nr = local_allowed < sd.imb_numa_nr ? local_allowed : sd.imb_numa_nr;
        // abs() of the unsigned difference, as the kernel's abs() macro computes it.
        const auto diff = static_cast<std::int32_t>(local_sgs.idle_cpus - idlest_sgs.idle_cpus);
        const std::int32_t imbalance = diff < 0 ? -diff : diff;
        if (P::numa_imbalance::adjust(imbalance, static_cast<std::int32_t>(local_sgs.sum_nr_running + 1),
                                      static_cast<std::int32_t>(imb_numa_nr)) == 0)
          return no_group;
      }
      // The group with the most idle CPUs.
      if (local_sgs.idle_cpus >= idlest_sgs.idle_cpus) return no_group;
      break;
  }
  return idlest;
}

/// kernel: sched_balance_find_dst_group_cpu(): a SCHED_IDLE-only CPU, else the most recently
/// idled CPU, else the least loaded one, among the group's CPUs the task may use; `this_cpu`
/// when none qualifies.
template <class P, limits_pack L>
[[nodiscard]] constexpr std::size_t find_dst_group_cpu(const wake_env<P, L>& env,
                                                       const typename domain_tree<L>::group& group,
                                                       std::size_t this_cpu) {
  const auto& tree = *env.tree;
  if (group.weight == 1) return tree.span(group).first();
  std::uint64_t min_load = ~std::uint64_t{0};
  nanoseconds latest_idle_timestamp = 0;
  std::size_t least_loaded_cpu = this_cpu;
  std::size_t shallowest_idle_cpu = no_cpu;
  for (std::size_t i : tree.span(group) & env.p().allowed) {
    const cpu_state& rq = env.cpu(i);
    if (rq.is_sched_idle()) return i;
    if (rq.is_idle()) {
      // No cpuidle state known: the most recently idled CPU might have a warmer cache.
      if (rq.idle_stamp > latest_idle_timestamp) {
        latest_idle_timestamp = rq.idle_stamp;
        shallowest_idle_cpu = i;
      }
    } else if (shallowest_idle_cpu == no_cpu && rq.load < min_load) {
      min_load = rq.load;
      least_loaded_cpu = i;
    }
  }
  return shallowest_idle_cpu != no_cpu ? shallowest_idle_cpu : least_loaded_cpu;
}

/// kernel: sched_balance_find_dst_cpu(): from `cpu`'s `k`-th domain down, the idlest group's
/// idlest CPU, level by level, moving to that CPU's own domains below the current one.
/// `sd_flag` is the SD_BALANCE_* flag of the placement (the wake flags' low nibble).
template <class P, limits_pack L>
[[nodiscard]] constexpr placement_decision find_dst_cpu(const wake_env<P, L>& env, std::size_t cpu, std::size_t k,
                                                        sd_flag flag) {
  const auto& tree = *env.tree;
  if (!tree.span(tree.domain_of(cpu, k)).intersects(env.p().allowed))
    return {env.prev_cpu, placement_branch::slow_path_prev, env.prev_cpu};
  std::size_t new_cpu = cpu;
  int sd = static_cast<int>(k);  // a domain index of `cpu`, or -1 for none
  while (sd >= 0) {
    const auto& d = tree.domain_of(cpu, static_cast<std::size_t>(sd));
    if (!d.flags.has(flag)) {
      --sd;  // sd = sd->child
      continue;
    }
    const int group = find_dst_group(env, cpu, static_cast<std::size_t>(sd));
    if (group == no_group) {
      --sd;
      continue;
    }
    new_cpu = find_dst_group_cpu(env, tree.group_of(d, static_cast<std::size_t>(group)), cpu);
    if (new_cpu == cpu) {
      --sd;  // try a lower domain level of `cpu`
      continue;
    }
    // Try a lower domain level of `new_cpu`: its highest domain with the flag that is
    // smaller than this one.
    const std::uint32_t weight = d.span_weight;
    cpu = new_cpu;
    sd = -1;
    for (std::size_t j = 0; j < tree.nr_domains(cpu); ++j) {
      const auto& tmp = tree.domain_of(cpu, j);
      if (weight <= tmp.span_weight) break;
      if (tmp.flags.has(flag)) sd = static_cast<int>(j);
    }
  }
  return {new_cpu, placement_branch::slow_path, env.prev_cpu};
}

}  // namespace balancekit
