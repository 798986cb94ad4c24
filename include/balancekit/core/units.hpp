/// \file
/// Units in the kernel's fixed-point scales: `capacity` and `util` on SCHED_CAPACITY_SCALE
/// (1024 = the biggest CPU at its highest frequency), `load` in task-weight units
/// (a nice-0 task weighs 1024).
///
/// kernel: include/linux/sched.h (SCHED_CAPACITY_SHIFT/SCALE), kernel/sched/sched.h
/// (NICE_0_LOAD on 64-bit is scaled up by SCHED_FIXEDPOINT_SHIFT internally; the
/// user-visible weights here are the unscaled ones, as in /proc/<pid>/sched).
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
/// Utilization, on the capacity scale (a CPU busy all the time at capacity 1024 has util 1024).
using util = detail::quantity<struct util_tag, std::uint64_t>;
/// Load: runnable time weighted by task weight (PELT load_avg).
using load = detail::quantity<struct load_tag, std::uint64_t>;

inline constexpr capacity full_capacity{sched_capacity_scale};

}  // namespace balancekit
