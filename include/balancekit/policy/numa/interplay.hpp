/// \file
/// Who wins when aggregation (seed 001) and NUMA balancing (seed 003) disagree about the
/// node a task should run on: the choice both families read (docs/aggregation.md, "The
/// NUMA interplay"; docs/numa.md, "Interplay").
#pragma once

#include <cstdint>

namespace balancekit::aggregation {

/// Who wins when aggregation and NUMA balancing disagree about a task.
enum class numa_interplay : std::uint8_t {
  /// The merged series' rule (get_pref_llc(), §2.4 step 9), and PZ's "NUMA migration should
  /// take precedence over LLC": a task whose NUMA-preferred node is not the process's
  /// preferred LLC's node has no preferred LLC.
  numa_first,
  /// Seed 001's: aggregation decides where the task runs and NUMA balancing follows the
  /// memory to the same node, so the task's preferred node becomes its LLC's.
  cache_first,
};

}  // namespace balancekit::aggregation
