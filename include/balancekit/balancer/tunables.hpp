/// \file
/// The balance family's tunables: the kernel's sysctls and build options its rules read.
///
/// kernel: sysctl_sched_migration_cost, sysctl_sched_nr_migrate, CONFIG_HZ,
/// CONFIG_PREEMPTION, sched_feat(LB_MIN) — kernel/sched/fair.c, kernel/sched/features.h.
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

}  // namespace balancekit
