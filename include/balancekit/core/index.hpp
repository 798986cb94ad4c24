/// \file
/// The "none" of each kind of index. There is one per kind, and every function that may
/// find nothing returns it, so a rule, the balancer and the embedder never disagree on
/// what "no CPU" or "no task" is.
#pragma once

#include <cstddef>
#include <cstdint>

namespace balancekit {

/// No CPU. CPU ids are `std::size_t`; `cpumask<N>::npos` is this value too.
inline constexpr std::size_t no_cpu = static_cast<std::size_t>(-1);
/// No task. Task ids are positions in a snapshot (`std::uint32_t`).
inline constexpr std::uint32_t no_task = 0xFFFFFFFFU;
/// No group. Groups are positions in a domain's group list (`int`), 0 being the local group.
inline constexpr int no_group = -1;
/// No NUMA node (kernel: NUMA_NO_NODE). Node ids are `std::size_t`, as the topology's.
inline constexpr std::size_t no_node = static_cast<std::size_t>(-1);
/// No process: a task that aggregation counts in no task group. Process ids are indices the
/// embedder names (`std::uint32_t`).
inline constexpr std::uint32_t no_process = 0xFFFFFFFFU;

}  // namespace balancekit
