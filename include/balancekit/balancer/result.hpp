/// \file
/// What a balancer call returns: the migrations it made, in order, and why each happened.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <balancekit/balancer/lb_env.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/core/static_vector.hpp>

namespace balancekit {

/// Why a task moved.
enum class migration_reason : std::uint8_t {
  periodic,  ///< the tick's balance (kernel: sched_balance_domains)
  newidle,   ///< a CPU running out of work pulled it
  active,    ///< the busiest CPU's stopper pushed it
};

[[nodiscard]] constexpr std::string_view to_string(migration_reason r) noexcept {
  constexpr std::string_view names[] = {"periodic", "newidle", "active"};
  return names[static_cast<std::size_t>(r)];
}

/// One task moved from `src` to `dst` while balancing the domain at build level `level`.
struct migration {
  std::uint32_t task = 0;  ///< index in the snapshot
  std::uint64_t id = 0;    ///< the task's `id`
  std::uint16_t src = 0;
  std::uint16_t dst = 0;
  std::uint8_t level = 0;
  migration_reason reason = migration_reason::periodic;
  migration_type type = migration_type::migrate_load;  ///< what the imbalance counted
  std::uint64_t src_load = 0;  ///< cpu_load(src) just before this task left
  std::uint64_t dst_load = 0;  ///< cpu_load(dst) just before this task arrived
  friend constexpr bool operator==(const migration&, const migration&) = default;
};

/// The migrations of one call, in the order they happened.
template <limits_pack L>
struct balance_result {
  /// Each domain's attempt detaches at most 64 tasks per pass (sysctl_sched_nr_migrate is 32).
  static constexpr std::size_t capacity = 65 * L::max_levels;
  static_vector<migration, capacity> migrations{};
  std::uint16_t domains_balanced = 0;  ///< sched_balance_rq() calls made
};

}  // namespace balancekit
