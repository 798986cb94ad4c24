/// \file
/// Whether a NUMA hinting fault migrates its page (seed 003, issue 13): mainline's
/// should_numa_migrate_memory() — the early-life rule, the two-stage filter on the last
/// accessor's node, private faults, the group's 3/4 rule — and AutoNUMA's `last_nid`
/// filter, as two policies over caller-owned page state.
///
/// kernel: should_numa_migrate_memory() (kernel/sched/fair.c; memory tiering not
/// modelled); AutoNUMA: last_nid_set() (mm/autonuma.c, AutoNUMA27, reference:
/// seed-proposals.md §5.1).
#pragma once

#include <cstddef>
#include <cstdint>

#include <balancekit/core/index.hpp>
#include <balancekit/policy/numa/faults.hpp>

namespace balancekit::numa {

/// kernel: ACTIVE_NODE_FRACTION.
inline constexpr std::uint64_t active_node_fraction = 3;

/// A numa group's statistics (kernel: struct numa_group): the members' memory faults and
/// CPU faults per node, summed, their total, the members, and the active-node summary.
template <std::size_t MaxNodes>
struct group_faults {
  fault_table<MaxNodes> mem{};
  fault_table<MaxNodes> cpu{};
  std::uint64_t total = 0;
  std::uint32_t nr_tasks = 0;
  std::uint32_t active_nodes = 1;
  std::uint64_t max_faults_cpu = 0;

  /// kernel: numa_group_count_active_nodes(): nodes with more than a third of the busiest
  /// node's CPU faults.
  constexpr void count_active_nodes(std::size_t nr_nodes = MaxNodes) {
    max_faults_cpu = 0;
    for (std::size_t n = 0; n < nr_nodes; ++n) max_faults_cpu = cpu.on(n) > max_faults_cpu ? cpu.on(n) : max_faults_cpu;
    active_nodes = 0;
    for (std::size_t n = 0; n < nr_nodes; ++n) active_nodes += cpu.on(n) * active_node_fraction > max_faults_cpu ? 1U : 0U;
  }
  /// kernel: numa_is_active_node().
  [[nodiscard]] constexpr bool active(std::size_t node) const { return cpu.on(node) * active_node_fraction > max_faults_cpu; }
};

/// The faulting task, as should_numa_migrate_memory() sees it.
template <std::size_t MaxNodes>
struct faulting_task {
  std::uint32_t pid = 0;
  std::size_t preferred_nid = no_node;  ///< NUMA_NO_NODE: none yet
  std::uint32_t scan_seq = 0;                       ///< p->numa_scan_seq
  const group_faults<MaxNodes>* group = nullptr;  ///< its numa group, if any
};

/// mainline: should_numa_migrate_memory(p, page, src_nid, dst_cpu). The page remembers its
/// last accessor (`last`, exchanged for this fault's cpupid as the kernel's
/// page_cpupid_xchg_last() does); `dst_nid` is dst_cpu's node and `last_nid` the node of
/// the CPU in the old stamp.
struct mainline_filter {
  template <std::size_t MaxNodes, class NodeOf>
  [[nodiscard]] static constexpr bool should_migrate(cpupid& last_on_page, const faulting_task<MaxNodes>& p,
                                                     std::size_t src_nid, std::size_t dst_cpu, NodeOf&& node_of) {
    const std::size_t dst_nid = node_of(dst_cpu);
    const cpupid last = last_on_page;
    last_on_page = cpupid::of(dst_cpu, p.pid);
    // Early in a task's life (two full passes of the filter below), first and private
    // faults migrate at once.
    if ((p.preferred_nid == no_node || p.scan_seq <= 4) && (last.unset() || last.matches(p.pid))) return true;
    // The two-stage filter: the same node twice in a row, P(n)^2.
    if (!last.unset() && node_of(last.cpu()) != dst_nid) return false;
    if (last.matches(p.pid)) return true;  // private
    if (p.group == nullptr) return true;   // shared, no group yet
    const group_faults<MaxNodes>& ng = *p.group;
    if (ng.cpu.on(dst_nid) > ng.cpu.on(src_nid) * active_node_fraction) return true;
    // CPU use per memory on each node, with 3/4 hysteresis.
    return ng.cpu.on(dst_nid) * ng.mem.on(src_nid) * 3 > ng.cpu.on(src_nid) * ng.mem.on(dst_nid) * 4;
  }
};

/// AutoNUMA's verdict on one fault.
enum class last_nid_verdict : std::uint8_t {
  migrate,  ///< the same node twice in a row, and not the page's: migrate to it
  cancel,   ///< another node than last time: cancel a queued migration, remember this one
  record,   ///< the page's own node, or a first fault: remember the node only
};

/// AutoNUMA's `last_nid` filter (false-sharing detection): a page touched alternately from
/// two nodes never migrates; one touched twice in a row from a node not its own does.
/// `allow_first_fault` is AUTONUMA_MIGRATE_ALLOW_FIRST_FAULT (default off).
struct autonuma_filter {
  [[nodiscard]] static constexpr last_nid_verdict check(std::size_t& last_nid, std::size_t this_nid, std::size_t page_nid,
                                                        bool allow_first_fault = false) {
    const std::size_t last = last_nid;
    last_nid = this_nid;
    if (last == no_node) return allow_first_fault && this_nid != page_nid ? last_nid_verdict::migrate : last_nid_verdict::record;
    if (last != this_nid) return last_nid_verdict::cancel;
    return this_nid != page_nid ? last_nid_verdict::migrate : last_nid_verdict::record;
  }
};

}  // namespace balancekit::numa
