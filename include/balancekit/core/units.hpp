/// \file
/// Units in the kernel's fixed-point scales: `capacity` on SCHED_CAPACITY_SCALE (1024 = the
/// biggest CPU at its highest frequency; utilization uses the same scale), weights in
/// task-weight units (a nice-0 task weighs 1024); time in nanoseconds, as the run-queue
/// clock gives it, and in jiffies, the tick count of the kernel's balance intervals.
///
/// kernel: include/linux/sched.h (SCHED_CAPACITY_SHIFT/SCALE), kernel/sched/sched.h
/// (NICE_0_LOAD on 64-bit is scaled up by SCHED_FIXEDPOINT_SHIFT internally; the
/// user-visible weights here are the unscaled ones, as in /proc/<pid>/sched),
/// include/linux/jiffies.h (msecs_to_jiffies).
#pragma once

#include <compare>
#include <cstdint>

namespace balancekit {

inline constexpr unsigned sched_capacity_shift = 10;
inline constexpr std::uint32_t sched_capacity_scale = 1U << sched_capacity_shift;  // 1024
inline constexpr std::uint32_t nice_0_load = 1024;

namespace detail {
/// A strong integer quantity: adds and compares with its own kind only.
template <class Tag, class Rep>
struct quantity {
  Rep value = 0;

  constexpr quantity() = default;
  constexpr explicit quantity(Rep v) noexcept : value(v) {}

  friend constexpr auto operator<=>(quantity, quantity) = default;
  friend constexpr quantity operator+(quantity a, quantity b) noexcept { return quantity{static_cast<Rep>(a.value + b.value)}; }
  friend constexpr quantity operator-(quantity a, quantity b) noexcept { return quantity{static_cast<Rep>(a.value - b.value)}; }
  constexpr quantity& operator+=(quantity o) noexcept { value = static_cast<Rep>(value + o.value); return *this; }
  constexpr quantity& operator-=(quantity o) noexcept { value = static_cast<Rep>(value - o.value); return *this; }
};
}  // namespace detail

/// Compute capacity of a CPU or group, 1024 per full-size CPU.
using capacity = detail::quantity<struct capacity_tag, std::uint64_t>;

/// Time in nanoseconds, as `rq_clock` / `sched_clock` give it.
using nanoseconds = std::int64_t;
/// Jiffies, the kernel's tick count.
using jiffies_t = std::int64_t;

/// The jiffy `now` falls in, at `hz` ticks a second.
[[nodiscard]] constexpr jiffies_t to_jiffies(nanoseconds now, std::uint32_t hz) noexcept {
  return now / (1'000'000'000 / static_cast<nanoseconds>(hz));
}
/// kernel: msecs_to_jiffies() (rounds up).
[[nodiscard]] constexpr jiffies_t msecs_to_jiffies(std::uint64_t ms, std::uint32_t hz) noexcept {
  return static_cast<jiffies_t>((ms * hz + 999) / 1000);
}

}  // namespace balancekit
