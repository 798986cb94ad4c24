/// \file
/// Compile-time size limits, the analogue of the kernel's NR_CPUS and MAX_NUMNODES.
///
/// Every container in balancekit is sized from a `limits` type, so nothing allocates.
/// Small limits make proofs and constant evaluation cheap; large ones serve real machines.
#pragma once

#include <concepts>
#include <cstddef>

namespace balancekit {

/// `MaxCpus`: CPU ids are `0..MaxCpus-1` (ids may be sparse). `MaxNodes`: NUMA node ids
/// are `0..MaxNodes-1`. `MaxLevels`: scheduling-domain levels per CPU. `MaxTasks`: tasks a
/// model or snapshot holds.
template <std::size_t MaxCpus, std::size_t MaxNodes, std::size_t MaxLevels = 16, std::size_t MaxTasks = 4 * MaxCpus>
struct limits {
  static_assert(MaxCpus >= 1 && MaxNodes >= 1 && MaxLevels >= 1 && MaxTasks >= 1,
                "every limit must be at least one");
  static_assert(MaxCpus <= 65535, "CPU ids are stored in 16 bits");
  static_assert(MaxNodes <= 1024, "node ids above 1023 are not supported (the kernel's MAX_NUMNODES)");
  static constexpr std::size_t max_cpus = MaxCpus;
  static constexpr std::size_t max_nodes = MaxNodes;
  static constexpr std::size_t max_levels = MaxLevels;
  static constexpr std::size_t max_tasks = MaxTasks;
};

/// Anything with the four limits as static members.
template <class L>
concept limits_pack = requires {
  { L::max_cpus } -> std::convertible_to<std::size_t>;
  { L::max_nodes } -> std::convertible_to<std::size_t>;
  { L::max_levels } -> std::convertible_to<std::size_t>;
  { L::max_tasks } -> std::convertible_to<std::size_t>;
};

/// For proofs and `constexpr` topologies and domains: 64 CPUs, 8 nodes, 12 domain levels.
using small_limits = limits<64, 8, 12, 256>;
/// For the built-in machines and typical servers: 512 CPUs, 64 nodes.
using default_limits = limits<512, 64, 16, 4096>;
/// For the largest machines (and the hwloc corpus with node ids up to 255): 4096 CPUs.
using large_limits = limits<4096, 256, 16, 16384>;

}  // namespace balancekit
