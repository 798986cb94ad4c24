/// \file
/// The tunables of the families that have some: the kernel's sysctls, build options and
/// scheduler features their rules read.
///
/// kernel: sysctl_sched_migration_cost, sysctl_sched_nr_migrate, CONFIG_HZ,
/// CONFIG_PREEMPTION, sched_feat(LB_MIN, WA_IDLE, WA_WEIGHT, WA_BIAS, SIS_UTIL, UTIL_EST)
/// — kernel/sched/fair.c, kernel/sched/features.h; seed 000's light-task threshold; the
/// cache-aware series' debugfs knobs (sched/llc_balancing/…) for seed 001.
#pragma once

#include <cstdint>

#include <balancekit/core/units.hpp>

namespace balancekit {

/// A pack holds them as `static constexpr balance_tunables balance_tuning`. Change one
/// value and keep the rest with `rules<Base, with_tunable<&balance_tunables::hz, 1000U>>`.
struct balance_tunables {
  nanoseconds migration_cost = 500'000;  ///< sysctl_sched_migration_cost (cache-hot window)
  std::uint32_t nr_migrate = 32;         ///< sysctl_sched_nr_migrate (loop_max, loop_break)
  std::uint32_t hz = 250;                ///< CONFIG_HZ (Debian's): intervals are counted in jiffies
  /// CONFIG_PREEMPTION (Debian's PREEMPT_DYNAMIC kernels have it): a newidle balance stops
  /// after the first task it pulls.
  bool newidle_one_task = true;
  bool lb_min = false;                   ///< sched_feat(LB_MIN)
  friend constexpr bool operator==(const balance_tunables&, const balance_tunables&) = default;
};

/// The tunables of a family that has none yet.
template <class Family>
struct no_tunables {
  friend constexpr bool operator==(no_tunables, no_tunables) noexcept = default;
};

/// The placement family's: the scheduler features select_task_rq_fair() reads, all on by
/// default as in features.h. (HZ, for the wakee-flip decay, is the balance family's.)
struct placement_tunables {
  bool wa_idle = true;    ///< sched_feat(WA_IDLE): wake_affine() prefers an idle waker or previous CPU
  bool wa_weight = true;  ///< sched_feat(WA_WEIGHT): else it compares the two CPUs' loads
  bool wa_bias = true;    ///< sched_feat(WA_BIAS): with half of imbalance_pct in favour of the previous CPU
  bool sis_util = true;   ///< sched_feat(SIS_UTIL): the idle-CPU scan depth follows the LLC's utilization
  bool util_est = true;   ///< sched_feat(UTIL_EST): utilization estimates count in cpu_util()
  friend constexpr bool operator==(const placement_tunables&, const placement_tunables&) = default;
};

/// The packing family's (seed 000): what makes a task light.
struct packing_tunables {
  /// A light task runs less than this share of the time: util_avg · 100 < light_percent ·
  /// 1024 (Guittot's is_light_task(): 4 · usage_avg_sum < runnable_avg_period, at 25).
  std::uint32_t light_percent = 25;
  friend constexpr bool operator==(const packing_tunables&, const packing_tunables&) = default;
};

/// The aggregation family's (seed 001): the cache-aware series' knobs with its defaults,
/// and the LLC size its footprint limit compares with.
struct aggregation_tunables {
  /// llc_epoch_period in jiffies; 0: the kernel's EPOCH_PERIOD, HZ/100.
  jiffies_t epoch_period = 0;
  std::uint32_t affinity_timeout = 5;  ///< llc_epoch_affinity_timeout, in epochs
  /// llc_aggr_tolerance: 0 turns aggregation off, 100 or more lifts the thread and
  /// footprint limits, k scales them by 1 + (k − 1)·mul.
  std::uint32_t aggr_tolerance = 1;
  std::uint32_t overaggr_pct = 50;  ///< llc_overload_pct: an LLC is busy from this share of its capacity
  std::uint32_t imb_pct = 20;       ///< llc_imb_pct: how much busier counts as busier
  std::uint64_t llc_bytes = std::uint64_t{32} << 20;  ///< the LLC of the footprint limit, bytes
  friend constexpr bool operator==(const aggregation_tunables&, const aggregation_tunables&) = default;
};

}  // namespace balancekit
