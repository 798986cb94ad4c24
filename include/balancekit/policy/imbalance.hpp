/// \file
/// Find the busiest group of a domain and how much to move from it.
///
/// kernel: sched_balance_find_src_group() (ex find_busiest_group), calculate_imbalance(),
/// adjust_numa_imbalance() — kernel/sched/fair.c (v6.16).
///
/// `find_src_group_decision` and `calculate_imbalance` work on statistics alone, so a
/// test can hand them any `sd_lb_stats`; `linux_src_group` gathers the statistics from a
/// snapshot first and is the `src_group` member of `linux_defaults`.
///
/// The kernel's integer types are kept on purpose: `idle_cpus` is unsigned, so
/// `local.idle_cpus - busiest.idle_cpus` wraps when the busiest group has more idle CPUs
/// (reachable when the busiest group is overloaded inside an LLC), and
/// `adjust_numa_imbalance` takes an `int`. balancekit reproduces the resulting values
/// instead of "fixing" them, because its default must decide what Linux decides.
#pragma once

#include <cstdint>

#include <balancekit/stats/group_stats.hpp>
#include <balancekit/stats/lb_env.hpp>

namespace balancekit {

/// kernel: NUMA_IMBALANCE_MIN.
inline constexpr std::int32_t numa_imbalance_min = 2;

/// kernel: adjust_numa_imbalance(): while the destination node runs at most `imb_numa_nr`
/// tasks, leave an imbalance of up to two tasks (a communicating pair stays together).
[[nodiscard]] constexpr std::int64_t adjust_numa_imbalance(std::int32_t imbalance, std::int32_t dst_running,
                                                           std::int32_t imb_numa_nr) noexcept {
  if (dst_running > imb_numa_nr) return imbalance;
  if (imbalance <= numa_imbalance_min) return 0;
  return imbalance;
}

/// kernel: calculate_imbalance(): sets `env.mtype` and `env.imbalance` (and the local and
/// domain average loads when the load rule needs them).
template <limits_pack L>
constexpr void calculate_imbalance(lb_env<L>& env, sd_lb_stats& sds) {
  sg_lb_stats& local = sds.local_stat;
  const sg_lb_stats& busiest = sds.busiest_stat;
  switch (busiest.type) {
    case group_type::misfit_task:
      if (env.has(sd_flag::asym_cpucapacity)) {
        env.mtype = migration_type::migrate_misfit;
        env.imbalance = 1;
      } else {  // a task on a CPU whose capacity RT/IRQ reduced: move its load
        env.mtype = migration_type::migrate_load;
        env.imbalance = static_cast<std::int64_t>(busiest.group_misfit_task_load);
      }
      return;
    case group_type::asym_packing:
      env.mtype = migration_type::migrate_task;
      env.imbalance = busiest.sum_h_nr_running;
      return;
    case group_type::smt_balance:
    case group_type::imbalanced:
      env.mtype = migration_type::migrate_task;
      env.imbalance = 1;
      return;
    default:
      break;
  }

  if (local.type == group_type::has_spare) {
    if (busiest.type > group_type::fully_busy && !env.has(sd_flag::share_llc)) {
      // Across LLCs, fill the local group's spare capacity.
      env.mtype = migration_type::migrate_util;
      env.imbalance = static_cast<std::int64_t>(
          (local.group_capacity > local.group_util ? local.group_capacity : local.group_util) - local.group_util);
      if (env.dst_idle() && env.imbalance == 0) {
        env.mtype = migration_type::migrate_task;
        env.imbalance = 1;
      }
      return;
    }
    env.mtype = migration_type::migrate_task;
    if (busiest.group_weight == 1 || sds.prefer_sibling) {
      env.imbalance = sibling_imbalance(env, busiest, local);
    } else {
      // Unsigned subtraction, then max_t(long, 0, ...), as in the kernel.
      const auto diff = static_cast<std::uint32_t>(local.idle_cpus - busiest.idle_cpus);
      env.imbalance = static_cast<std::int64_t>(diff);
    }
    if (env.has(sd_flag::numa))
      env.imbalance = adjust_numa_imbalance(static_cast<std::int32_t>(env.imbalance),
                                            static_cast<std::int32_t>(local.sum_nr_running + 1),
                                            static_cast<std::int32_t>(env.sd->imb_numa_nr));
    env.imbalance >>= 1;  // move half the difference
    return;
  }

  if (local.type < group_type::overloaded) {
    // The local group is about to become overloaded: compare loads per capacity.
    local.avg_load = local.group_load * sched_capacity_scale / local.group_capacity;
    if (local.avg_load >= busiest.avg_load) {
      env.imbalance = 0;
      return;
    }
    sds.avg_load = sds.total_load * sched_capacity_scale / sds.total_capacity;
    if (local.avg_load >= sds.avg_load) {
      env.imbalance = 0;
      return;
    }
  }
  // Unsigned like the kernel's: a difference that would be negative wraps and loses min().
  const std::uint64_t from_busiest = (busiest.avg_load - sds.avg_load) * busiest.group_capacity;
  const std::uint64_t to_local = (sds.avg_load - local.avg_load) * local.group_capacity;
  env.mtype = migration_type::migrate_load;
  env.imbalance = static_cast<std::int64_t>((from_busiest < to_local ? from_busiest : to_local) / sched_capacity_scale);
}

/// The outcome of the busiest-group search.
enum class src_group_verdict : std::uint8_t {
  balanced,  ///< nothing to do at this level
  force,     ///< calculate_imbalance() ran (the imbalance may still be 0)
};

/// kernel: the decision tree of sched_balance_find_src_group() after
/// update_sd_lb_stats(). Computes the imbalance when it decides to balance.
template <limits_pack L>
constexpr src_group_verdict find_src_group_decision(lb_env<L>& env, sd_lb_stats& sds) {
  auto balanced = [&] {
    env.imbalance = 0;
    return src_group_verdict::balanced;
  };
  auto force = [&] {
    calculate_imbalance(env, sds);
    return src_group_verdict::force;
  };
  if (sds.busiest < 0) return balanced();
  const sg_lb_stats& busiest = sds.busiest_stat;
  const sg_lb_stats& local = sds.local_stat;
  if (busiest.type == group_type::misfit_task) return force();
  // (EAS with an energy model and no overutilized CPU → balanced: never, no energy model.)
  if (busiest.type == group_type::asym_packing || busiest.type == group_type::imbalanced) return force();
  if (local.type > busiest.type) return balanced();
  if (local.type == group_type::overloaded) {
    if (local.avg_load >= busiest.avg_load) return balanced();
    sds.avg_load = sds.total_load * sched_capacity_scale / sds.total_capacity;
    if (local.avg_load >= sds.avg_load) return balanced();
    if (100 * busiest.avg_load <= env.sd->imbalance_pct * local.avg_load) return balanced();
  }
  if (sds.prefer_sibling && local.type == group_type::has_spare && sibling_imbalance(env, busiest, local) > 1)
    return force();
  if (busiest.type != group_type::overloaded) {
    if (!env.dst_idle()) return balanced();  // let an idle CPU pull instead
    if (busiest.type == group_type::smt_balance && detail::smt_vs_nonsmt(local, busiest)) return force();
    // An idle-CPU difference of one would only move the imbalance elsewhere.
    if (busiest.group_weight > 1 && local.idle_cpus <= busiest.idle_cpus + 1) return balanced();
    if (busiest.sum_h_nr_running == 1) return balanced();  // nothing waits there
  }
  return force();
}

/// The Linux rule for the busiest group: statistics, decision tree, imbalance.
/// Returns the busiest group's position in the domain's group list, or -1 (balanced).
struct linux_src_group {
  template <limits_pack L>
  static constexpr int find(lb_env<L>& env, const group_imbalance_flags<L>* imbalance_flags) {
    sd_lb_stats sds;
    update_sd_lb_stats(env, imbalance_flags, sds);
    if (find_src_group_decision(env, sds) == src_group_verdict::balanced || env.imbalance == 0) return -1;
    return sds.busiest;
  }
};

}  // namespace balancekit
