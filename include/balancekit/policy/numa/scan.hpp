/// \file
/// The NUMA scanner's period (seed 003, issue 13): its bounds from the task's resident
/// set, and its adaptation to the faults of each scan (aim for 70 % local accesses), as
/// pure functions. Periods in ms, as the kernel's sysctls.
///
/// kernel: task_nr_scan_windows(), task_scan_min(), task_scan_max(),
/// update_task_scan_period() (kernel/sched/fair.c, CONFIG_NUMA_BALANCING).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string_view>

#include <balancekit/core/error.hpp>

namespace balancekit::numa {

/// kernel: the numa_balancing sysctls (debugfs numa_balancing/ since 5.13).
struct scan_tunables {
  std::uint32_t period_min_ms = 1000;
  std::uint32_t period_max_ms = 60000;
  std::uint32_t size_mb = 256;  ///< scanned per window
  std::uint32_t delay_ms = 1000;
};

/// kernel: NUMA_PERIOD_SLOTS and NUMA_PERIOD_THRESHOLD: "aim for 70 % local accesses".
inline constexpr std::uint32_t period_slots = 10;
inline constexpr std::uint32_t period_threshold = 7;
/// kernel: MAX_SCAN_WINDOW, MB per second at most.
inline constexpr std::uint32_t max_scan_window = 2560;

/// A numa group's share of the scan bounds (task_scan_max()'s scaling), when the task has one.
struct group_scan {
  std::uint32_t nr_tasks = 0;  ///< the group's refcount: its tasks
  std::uint64_t shared = 0;
  std::uint64_t priv = 0;
};

/// kernel: task_nr_scan_windows(): windows of `size_mb` to cover the resident set
/// (`rss_pages` of 4 KiB; 0 counts as one window).
[[nodiscard]] constexpr std::uint64_t scan_windows(std::uint64_t rss_pages, const scan_tunables& t) {
  const std::uint64_t per_window = std::uint64_t{t.size_mb} << (20 - 12);
  if (per_window == 0) return 1;
  const std::uint64_t rss = rss_pages == 0 ? per_window : rss_pages;
  return (rss + per_window - 1) / per_window;
}

/// kernel: task_scan_min(): the period that scans the resident set at the minimum period,
/// but never more than MAX_SCAN_WINDOW MB a second.
[[nodiscard]] constexpr std::uint32_t scan_min(std::uint64_t rss_pages, const scan_tunables& t) {
  std::uint32_t windows = 1;
  if (t.size_mb < max_scan_window && t.size_mb != 0) windows = max_scan_window / t.size_mb;
  const std::uint32_t floor = 1000 / windows;
  const auto scan = static_cast<std::uint32_t>(t.period_min_ms / scan_windows(rss_pages, t));
  return std::max(floor, scan);
}

/// kernel: task_scan_max(): the maximum period per window, scaled up by a group's shared
/// faults and its tasks, never below the minimum.
[[nodiscard]] constexpr std::uint32_t scan_max(std::uint64_t rss_pages, const scan_tunables& t, const group_scan* g = nullptr) {
  const std::uint32_t smin = scan_min(rss_pages, t);
  auto smax = static_cast<std::uint64_t>(t.period_max_ms / scan_windows(rss_pages, t));
  if (g != nullptr) {
    std::uint64_t period = smax;
    period *= g->nr_tasks;
    period *= g->shared + 1;
    period /= g->priv + g->shared + 1;
    smax = std::max(smax, period);
  }
  return static_cast<std::uint32_t>(std::max<std::uint64_t>(smin, smax));
}

/// One scan's faults, as update_task_scan_period() reads them.
struct scan_faults {
  std::uint64_t shared = 0, priv = 0;          ///< the scan's memory faults
  std::uint64_t local = 0, remote = 0, failed = 0;  ///< numa_faults_locality[1], [0], [2]
};

/// kernel: update_task_scan_period(): the next period from the current one. No faults, or
/// failed migrations: double it (up to `period_max`). Otherwise move by slots of a tenth:
/// slower while the private share is ≥ 70 % (by its excess, at least one slot), or else
/// while the local share is; faster (by the shortfall of the larger of the two) otherwise;
/// clamped to [`smin`, `smax`]. Bad bounds — a zero period, or a minimum above the maximum
/// — are refused, naming them.
[[nodiscard]] constexpr result<std::uint32_t> next_scan_period(std::uint32_t period, const scan_faults& f,
                                                               std::uint32_t smin, std::uint32_t smax,
                                                               std::uint32_t period_max) {
  if (period == 0 || smin == 0 || smin > smax) {
    error e{errc::out_of_range, "numa: scan period "};
    return e << period << " ms with bounds [" << smin << ", " << smax << "] ms: the period and the minimum must be "
             << "positive and the minimum at most the maximum";
  }
  if (f.local + f.shared == 0 || f.failed != 0) return std::min<std::uint32_t>(period_max, period << 1);
  const std::uint32_t slot = (period + period_slots - 1) / period_slots;
  // (The kernel divides unguarded: every fault it counts is local or remote. Here a
  // caller's zero sums read as ratio 0.)
  const auto lr = f.local + f.remote == 0 ? 0 : static_cast<std::int64_t>(f.local * period_slots / (f.local + f.remote));
  const auto ps = f.priv + f.shared == 0 ? 0 : static_cast<std::int64_t>(f.priv * period_slots / (f.priv + f.shared));
  std::int64_t diff = 0;
  if (ps >= period_threshold) diff = std::max<std::int64_t>(ps - period_threshold, 1) * slot;
  else if (lr >= period_threshold) diff = std::max<std::int64_t>(lr - period_threshold, 1) * slot;
  else diff = -(static_cast<std::int64_t>(period_threshold) - std::max(lr, ps)) * slot;
  const std::int64_t next = static_cast<std::int64_t>(period) + diff;
  return static_cast<std::uint32_t>(std::clamp<std::int64_t>(next, smin, smax));
}

}  // namespace balancekit::numa
