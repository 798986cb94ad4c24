/// \file
/// NUMA hinting-fault statistics (seed 003, issue 13): a task's and a numa group's faults
/// per node, private and shared, memory and CPU, with the per-scan buffers and the decay
/// of task_numa_placement(), and the locality counters; the last-accessor stamp (cpupid)
/// that classifies a fault as private or shared. Caller-owned values, no allocation.
///
/// kernel: task_numa_fault(), task_numa_placement()'s averaging, the cpupid helpers of
/// include/linux/mm.h (kernel/sched/fair.c, CONFIG_NUMA_BALANCING). Memory tiering
/// (NUMA_BALANCING_MEMORY_TIERING) is not modelled.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <balancekit/core/error.hpp>
#include <balancekit/core/limits.hpp>

namespace balancekit::numa {

/// kernel: LAST__PID_SHIFT — a page remembers the low 8 bits of its last accessor's pid.
inline constexpr unsigned cpupid_pid_bits = 8;
inline constexpr std::uint32_t cpupid_pid_mask = (1U << cpupid_pid_bits) - 1;

/// The last accessor of a page: its CPU and the low bits of its pid, packed as the kernel
/// packs them into page->flags (cpu << 8 | pid & 0xff). A pid field of all ones means
/// no accessor yet (`unset()`).
struct cpupid {
  std::uint32_t value = cpupid_pid_mask;  ///< unset

  [[nodiscard]] static constexpr cpupid of(std::size_t cpu, std::uint32_t pid) noexcept {
    return {static_cast<std::uint32_t>(cpu) << cpupid_pid_bits | (pid & cpupid_pid_mask)};
  }
  [[nodiscard]] constexpr std::size_t cpu() const noexcept { return value >> cpupid_pid_bits; }
  [[nodiscard]] constexpr std::uint32_t pid_bits() const noexcept { return value & cpupid_pid_mask; }
  /// kernel: cpupid_pid_unset().
  [[nodiscard]] constexpr bool unset() const noexcept { return pid_bits() == cpupid_pid_mask; }
  /// kernel: cpupid_match_pid(): the low pid bits agree (so two tasks whose pids differ by
  /// a multiple of 256 collide: the group rule's false-sharing filter must catch them).
  [[nodiscard]] constexpr bool matches(std::uint32_t pid) const noexcept { return (pid & cpupid_pid_mask) == pid_bits(); }
  friend constexpr bool operator==(cpupid, cpupid) = default;
};

/// What the faulting task knows of the page's last accessor, for task_numa_group(): the
/// task now running on the CPU of the page's cpupid, and the two groups.
struct sharer {
  bool pid_matches = false;   ///< that task's pid bits match the stamp's
  bool has_group = false;     ///< it has a numa group …
  bool same_group = false;    ///< … and it is the faulting task's own
  std::uint32_t my_group_tasks = 1;
  std::uint32_t its_group_tasks = 1;
  std::uint64_t my_group_id = 0;   ///< the kernel breaks ties on the groups' addresses
  std::uint64_t its_group_id = 0;
  bool same_process = false;  ///< the same mm
  bool shared_mapping = false;  ///< TNF_SHARED: the page is in a shared mapping
};

/// How a fault counts, and whether the faulting task joins the sharer's group.
struct classification {
  bool priv = true;
  bool join = false;
};

/// kernel: task_numa_fault()'s classification and task_numa_group()'s join rule. A first
/// access is private; a fault whose stamp carries the task's own pid bits is private (a
/// pid-bit collision too: two pids 256 apart look like one). Otherwise the task joins the
/// sharer's group only if that group is bigger (ties by id), and only when both are
/// threads of one process or the mapping is shared; a shared fault that does not join is
/// counted private (the false-sharing filter), unless the join was not even considered
/// (no matching sharer, no group, the same group, or a smaller one: shared).
[[nodiscard]] constexpr classification classify(cpupid last, std::uint32_t pid, const sharer& s, bool no_group = false) {
  if (last.unset()) return {true, false};
  if (last.matches(pid)) return {true, false};
  if (no_group || !s.pid_matches || !s.has_group || s.same_group) return {false, false};
  if (s.my_group_tasks > s.its_group_tasks) return {false, false};
  if (s.my_group_tasks == s.its_group_tasks && s.my_group_id > s.its_group_id) return {false, false};
  const bool join = s.same_process || s.shared_mapping;
  return {!join, join};
}

/// Which counters: memory faults are counted on the node the page lives on, CPU faults on
/// the node the faulting task ran on (kernel: enum numa_faults_stats).
enum class fault_kind : std::uint8_t { mem, cpu };

/// Faults per node, split private (1) and shared (0) as the kernel indexes them.
template <std::size_t MaxNodes>
struct fault_table {
  std::array<std::array<std::uint64_t, 2>, MaxNodes> n{};
  [[nodiscard]] constexpr std::uint64_t on(std::size_t node) const noexcept { return n[node][0] + n[node][1]; }
  [[nodiscard]] constexpr std::uint64_t total(bool priv) const noexcept {
    std::uint64_t s = 0;
    for (const auto& x : n) s += x[priv ? 1 : 0];
    return s;
  }
};

/// A task's NUMA statistics (kernel: p->numa_faults[], total_numa_faults,
/// numa_faults_locality[], numa_pages_migrated): the averaged memory and CPU faults, the
/// buffers of the current scan, and the locality counters since the last scan-period
/// update.
template <std::size_t MaxNodes>
struct task_faults {
  fault_table<MaxNodes> mem{};
  fault_table<MaxNodes> cpu{};
  fault_table<MaxNodes> mem_buf{};
  fault_table<MaxNodes> cpu_buf{};
  std::uint64_t total = 0;                    ///< Σ of `mem` (kernel: total_numa_faults)
  std::uint64_t remote = 0, local = 0, failed = 0;  ///< numa_faults_locality[0..2]
  std::uint64_t pages_migrated = 0;
};

/// One hinting fault's outcome, as task_numa_fault() receives it (TNF_* flags).
struct fault {
  std::size_t mem_node = 0;   ///< where the page lives
  std::size_t cpu_node = 0;   ///< where the faulting task runs
  std::uint64_t pages = 1;
  bool priv = true;           ///< private (the classification below)
  bool local = false;         ///< TNF_FAULT_LOCAL (or counted local by the group rule)
  bool migrated = false;      ///< TNF_MIGRATED
  bool migrate_failed = false;  ///< TNF_MIGRATE_FAIL
};

/// kernel: the accounting half of task_numa_fault(): the fault goes to the buffers of its
/// memory and CPU nodes and to the locality counters. An out-of-range node or a count
/// that would overflow the counters is refused, naming it, and nothing is recorded.
template <std::size_t MaxNodes>
[[nodiscard]] constexpr status record(task_faults<MaxNodes>& t, const fault& f, std::size_t nr_nodes = MaxNodes) {
  if (nr_nodes > MaxNodes || f.mem_node >= nr_nodes || f.cpu_node >= nr_nodes) {
    error e{errc::out_of_range, "numa: a fault on node "};
    return e << (f.mem_node >= nr_nodes ? f.mem_node : f.cpu_node) << ", and the machine has nodes 0.."
             << (nr_nodes == 0 ? 0 : nr_nodes - 1);
  }
  const std::uint64_t room = ~std::uint64_t{0} - f.pages;
  const auto p = f.priv ? 1U : 0U;
  if (t.mem_buf.n[f.mem_node][p] > room || t.cpu_buf.n[f.cpu_node][p] > room || t.local > room || t.remote > room ||
      t.failed > room || t.pages_migrated > room) {
    error e{errc::out_of_range, "numa: "};
    return e << f.pages << " more pages would overflow a fault counter";
  }
  if (f.migrated) t.pages_migrated += f.pages;
  if (f.migrate_failed) t.failed += f.pages;
  t.mem_buf.n[f.mem_node][p] += f.pages;
  t.cpu_buf.n[f.cpu_node][p] += f.pages;
  (f.local ? t.local : t.remote) += f.pages;
  return {};
}

/// What one placement pass saw: the faults of the scan just ended, shared and private
/// (the inputs of update_task_scan_period), and the node with the most averaged faults.
struct placement_pass {
  std::uint64_t shared = 0;
  std::uint64_t priv = 0;
  std::size_t max_node = 0;
  std::uint64_t max_faults = 0;
};

/// kernel: task_numa_placement()'s averaging for a task outside a group: each memory
/// count becomes half of itself plus the scan's buffer (diff = buf − faults / 2), each CPU
/// count half of itself plus the buffer weighted by the task's share of the period it ran
/// (runtime << 16 / (period + 1), × buf / (total + 1) with `total` the local and remote
/// faults since the last scan-period update); the buffers empty. Signed arithmetic as the
/// kernel's `long diff`.
template <std::size_t MaxNodes>
constexpr placement_pass decay(task_faults<MaxNodes>& t, std::uint64_t runtime, std::uint64_t period,
                               std::size_t nr_nodes = MaxNodes) {
  placement_pass out;
  const std::uint64_t total_buf = t.remote + t.local;
  for (std::size_t nid = 0; nid < nr_nodes; ++nid) {
    std::uint64_t faults = 0;
    for (std::size_t priv = 0; priv < 2; ++priv) {
      const auto diff = static_cast<std::int64_t>(t.mem_buf.n[nid][priv]) - static_cast<std::int64_t>(t.mem.n[nid][priv] / 2);
      (priv == 1 ? out.priv : out.shared) += t.mem_buf.n[nid][priv];
      t.mem_buf.n[nid][priv] = 0;
      std::uint64_t f_weight = (runtime << 16) / (period + 1);
      f_weight = f_weight * t.cpu_buf.n[nid][priv] / (total_buf + 1);
      const auto f_diff = static_cast<std::int64_t>(f_weight) - static_cast<std::int64_t>(t.cpu.n[nid][priv] / 2);
      t.cpu_buf.n[nid][priv] = 0;
      t.mem.n[nid][priv] = static_cast<std::uint64_t>(static_cast<std::int64_t>(t.mem.n[nid][priv]) + diff);
      t.cpu.n[nid][priv] = static_cast<std::uint64_t>(static_cast<std::int64_t>(t.cpu.n[nid][priv]) + f_diff);
      faults += t.mem.n[nid][priv];
      t.total = static_cast<std::uint64_t>(static_cast<std::int64_t>(t.total) + diff);
    }
    if (faults > out.max_faults) {
      out.max_faults = faults;
      out.max_node = nid;
    }
  }
  return out;
}

}  // namespace balancekit::numa
