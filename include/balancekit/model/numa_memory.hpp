/// \file
/// The simulator's memory, for a pack whose NUMA member takes part (seed 003, issue 13):
/// each task's private pages and each process's shared pages, in regions that live on a
/// node and carry the page's NUMA word; the scanner's armed regions; where a task's
/// accesses go. Pure bookkeeping: the simulator decides when to scan and fault, and the
/// pack's member decides what a fault does (docs/simulator.md, "Memory").
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include <balancekit/core/index.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/policy/numa/member.hpp>

namespace balancekit::model {

/// Regions per task (its private pages) and per process (its shared pages): a page's
/// state is its region's, and a hinting fault on a region stands for one on each of its pages.
inline constexpr std::size_t numa_regions = 16;
/// Processes that may share memory (`sim_task::process` below this): the NUMA member's mms.
inline constexpr std::size_t numa_processes = numa::max_processes;

template <limits_pack L>
struct numa_memory {
  using region_set = std::array<numa::page_word, numa_regions>;
  std::array<region_set, L::max_tasks> priv{};
  std::array<std::uint64_t, L::max_tasks> priv_pages{};     ///< per region
  std::array<std::uint32_t, L::max_tasks> priv_armed{};      ///< bit r: private region r awaits its fault
  std::array<std::uint32_t, L::max_tasks> cursor{};          ///< the next region of a task's own mm
  std::array<bool, L::max_tasks> placed{};                   ///< its pages have a node (first touch)
  std::array<region_set, numa_processes> shared{};
  std::array<std::uint64_t, numa_processes> shared_pages{};  ///< per region
  std::array<std::uint32_t, numa_processes> shared_armed{};  ///< the first thread to touch one faults
  std::array<bool, numa_processes> shared_placed{};
  /// A process's scan: the next region, in the order shared regions, then each thread's
  /// private ones by task index (`cursor_task`: the thread, `no_task` for the shared ones).
  std::array<std::uint32_t, numa_processes> cursor_task{};
  std::array<std::uint32_t, numa_processes> cursor_region{};
  std::array<std::uint32_t, numa_processes> threads{};       ///< live threads

  constexpr void clear() {
    for (auto& r : priv) r = region_set{};
    priv_pages.fill(0);
    priv_armed.fill(0);
    cursor.fill(0);
    placed.fill(false);
    for (auto& r : shared) r = region_set{};
    shared_pages.fill(0);
    shared_armed.fill(0);
    shared_placed.fill(false);
    cursor_task.fill(no_task);
    cursor_region.fill(0);
    threads.fill(0);
  }
};

/// Where a task's memory accesses go: `shared_permille` of them to its process's shared
/// regions, the rest to its private ones, spread evenly over each set's pages. Calls
/// `f(region, share)` with each region and its share of the accesses (‰ of ‰: out of 10⁶).
template <limits_pack L, class F>
constexpr void for_each_access(const numa_memory<L>& mem, std::uint32_t t, std::uint32_t process,
                               std::uint32_t shared_permille, F&& f) {
  const bool has_shared = process < numa_processes && mem.shared_pages[process] != 0 && shared_permille != 0;
  const std::uint64_t to_priv = mem.priv_pages[t] != 0 ? (has_shared ? 1000 - shared_permille : 1000) : 0;
  const std::uint64_t to_shared = has_shared ? (mem.priv_pages[t] != 0 ? shared_permille : 1000) : 0;
  for (std::size_t r = 0; to_priv != 0 && r < numa_regions; ++r) f(mem.priv[t][r], to_priv * 1000 / numa_regions);
  for (std::size_t r = 0; to_shared != 0 && r < numa_regions; ++r)
    f(mem.shared[process][r], to_shared * 1000 / numa_regions);
}

}  // namespace balancekit::model
