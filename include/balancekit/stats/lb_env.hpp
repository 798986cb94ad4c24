/// \file
/// The load-balance environment one balancing attempt carries through its steps, and the
/// kernel's enumerations for it.
///
/// kernel: struct lb_env, enum cpu_idle_type, enum group_type, enum migration_type,
/// enum fbq_type, LBF_* — kernel/sched/fair.c and kernel/sched/sched.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <balancekit/core/cpumask.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/domains/domain_tree.hpp>
#include <balancekit/stats/snapshot.hpp>

namespace balancekit {

/// kernel: enum cpu_idle_type. `idle` is a periodic balance on an idle CPU, `newly_idle`
/// the balance a CPU does as it runs out of work.
enum class cpu_idle_type : std::uint8_t { not_idle, idle, newly_idle };

/// kernel: enum group_type, ordered by how much a group wants its tasks pulled (the order
/// is part of the algorithm: a higher type always wins the busiest-group comparison).
enum class group_type : std::uint8_t {
  has_spare,     ///< spare capacity; more tasks could run here
  fully_busy,    ///< no spare capacity, but not more tasks than it can serve
  misfit_task,   ///< a task too big for its CPU's capacity (asymmetric machines)
  smt_balance,   ///< an SMT core runs more than one task while another core is idle
  asym_packing,  ///< tasks should move to a CPU of higher asym-packing priority
  imbalanced,    ///< affinity stopped an earlier balance at a lower level
  overloaded,    ///< more tasks than CPUs and too little capacity left
};

/// kernel: enum migration_type: what `imbalance` counts.
enum class migration_type : std::uint8_t { migrate_load, migrate_util, migrate_task, migrate_misfit };

/// kernel: enum fbq_type: how well NUMA placement suits a group's or run queue's tasks.
enum class fbq_type : std::uint8_t { regular, remote, all };

[[nodiscard]] constexpr std::string_view to_string(group_type t) noexcept {
  constexpr std::string_view names[] = {"has_spare",    "fully_busy", "misfit_task", "smt_balance",
                                        "asym_packing", "imbalanced", "overloaded"};
  return names[static_cast<std::size_t>(t)];
}
[[nodiscard]] constexpr std::string_view to_string(migration_type t) noexcept {
  constexpr std::string_view names[] = {"migrate_load", "migrate_util", "migrate_task", "migrate_misfit"};
  return names[static_cast<std::size_t>(t)];
}

/// kernel: LBF_* flags of lb_env.
namespace lbf {
inline constexpr std::uint32_t all_pinned = 0x01;
inline constexpr std::uint32_t need_break = 0x02;
inline constexpr std::uint32_t dst_pinned = 0x04;
inline constexpr std::uint32_t some_pinned = 0x08;
inline constexpr std::uint32_t active_lb = 0x10;
}  // namespace lbf

/// The kernel's tunables and build options the balancer reads. Override one with a
/// designated initializer, e.g. `balance_tunables{.migration_cost = 0}`.
struct balance_tunables {
  nanoseconds migration_cost = 500'000;  ///< sysctl_sched_migration_cost (cache-hot window)
  std::uint32_t nr_migrate = 32;         ///< sysctl_sched_nr_migrate (loop_max, loop_break)
  std::uint32_t hz = 250;                ///< CONFIG_HZ (Debian's): intervals are counted in jiffies
  /// CONFIG_PREEMPTION (Debian's PREEMPT_DYNAMIC kernels have it): a newidle balance stops
  /// after the first task it pulls.
  bool newidle_one_task = true;
  bool lb_min = false;                   ///< sched_feat(LB_MIN)
};

/// kernel: struct lb_env — everything one `sched_balance_rq` attempt knows and decides.
template <limits_pack L>
struct lb_env {
  using tree_type = domain_tree<L>;
  using domain = typename tree_type::domain;
  using mask = cpumask<L::max_cpus>;

  const tree_type* tree = nullptr;
  snapshot<L>* snap = nullptr;      ///< read by every step, changed only by task detachment
  const domain* sd = nullptr;      ///< the domain being balanced
  const domain* parent = nullptr;  ///< its parent, or null at the top
  std::size_t dst_cpu = 0;
  std::size_t src_cpu = 0;
  cpu_idle_type idle = cpu_idle_type::not_idle;
  mask cpus{};                     ///< the domain's span minus CPUs ruled out by pinning
  mask dst_grpmask{};              ///< balance mask of dst's own group
  std::size_t new_dst_cpu = 0;
  std::uint32_t flags = 0;         ///< lbf::*
  std::int64_t imbalance = 0;
  migration_type mtype = migration_type::migrate_load;
  fbq_type fbq = fbq_type::all;
  std::uint32_t nr_balance_failed = 0;  ///< the domain's sd->nr_balance_failed
  std::uint32_t loop = 0;
  std::uint32_t loop_max = 0;
  nanoseconds now = 0;
  balance_tunables tun{};

  [[nodiscard]] constexpr const cpu_state& cpu(std::size_t c) const { return snap->cpus[c]; }
  [[nodiscard]] constexpr bool dst_idle() const noexcept { return idle != cpu_idle_type::not_idle; }
  [[nodiscard]] constexpr bool has(sd_flag f) const { return sd->flags.has(f); }
};

}  // namespace balancekit
