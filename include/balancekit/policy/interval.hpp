/// \file
/// When each domain balances next, and what a newly idle balance is expected to cost.
///
/// kernel: get_sd_balance_interval(), max_load_balance_interval — kernel/sched/fair.c
/// (v6.16). (update_next_balance() and update_newidle_cost() are the balancer's
/// bookkeeping: balancer/balancer.hpp.)
///
/// Time is `now` in nanoseconds; the kernel counts balance times in jiffies, so balancekit
/// does too (`balance_tunables::hz`, Debian's 250 by default) to keep its rounding.
#pragma once

#include <cstddef>
#include <cstdint>

#include <balancekit/core/units.hpp>

namespace balancekit {

/// kernel: max_load_balance_interval after update_max_interval(): HZ * online CPUs / 10.
[[nodiscard]] constexpr jiffies_t max_load_balance_interval(std::uint32_t hz, std::size_t online_cpus) noexcept {
  return static_cast<jiffies_t>(hz * online_cpus / 10);
}

/// The Linux rule for balance intervals.
struct linux_interval {
  /// kernel: get_sd_balance_interval(): busy CPUs balance `busy_factor` times less often,
  /// one jiffy early so the levels do not fall into step.
  [[nodiscard]] static constexpr jiffies_t balance_interval(std::uint32_t balance_interval_ms, std::uint32_t busy_factor,
                                                            bool cpu_busy, std::uint32_t hz,
                                                            jiffies_t max_interval) noexcept {
    std::uint64_t ms = balance_interval_ms;
    if (cpu_busy) ms *= busy_factor;
    jiffies_t j = msecs_to_jiffies(ms, hz);
    // The kernel's interval is unsigned: 0 - 1 wraps and the clamp below gives the maximum.
    if (cpu_busy) j = j == 0 ? max_interval : j - 1;
    if (j < 1) j = 1;
    if (j > max_interval) j = max_interval;
    return j;
  }
  /// The newly idle balance's cost estimate for one domain, in ns. The kernel measures the
  /// time a balance took; a pure function cannot, so the default charges what the
  /// benchmark measured per CPU scanned (bench/balance_bench) with a wide margin.
  [[nodiscard]] static constexpr nanoseconds newidle_cost(std::uint32_t span_weight) noexcept {
    return 50 * static_cast<nanoseconds>(span_weight);
  }
};

}  // namespace balancekit
