/// \file
/// The environment one balancing attempt carries through its steps, the kernel's
/// enumerations for it, and what a source-group rule decides.
///
/// kernel: struct lb_env, enum cpu_idle_type, enum group_type, enum migration_type,
/// enum fbq_type, LBF_* — kernel/sched/fair.c and kernel/sched/sched.h (v6.16).
///
/// The environment knows the pack (`lb_env<P, L>::pack`), so a rule reaches another rule
/// through it (`P::can_migrate`, `P::numa_imbalance`) instead of naming Linux's. It sees
/// the world read-only: `snap` and `state` are pointers to const, and only the rule that
/// moves tasks (`detach`) is handed the snapshot, mutably, as a separate argument. What
/// the environment itself holds (flags, the imbalance left, the loop count) is the
/// attempt's own bookkeeping, as in the kernel's struct.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include <balancekit/balancer/state.hpp>
#include <balancekit/balancer/tunables.hpp>
#include <balancekit/core/cpumask.hpp>
#include <balancekit/core/index.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/core/units.hpp>
#include <balancekit/detail/contracts.hpp>
#include <balancekit/domains/domain_tree.hpp>
#include <balancekit/domains/flags.hpp>
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
  llc_balance,   ///< holds tasks that prefer the destination's LLC (cache-aware balancing, seed 001)
  overloaded,    ///< more tasks than CPUs and too little capacity left
};

/// kernel: enum migration_type: what `imbalance` counts.
/// `migrate_llc_task`: one task that prefers the destination's LLC (cache-aware balancing).
enum class migration_type : std::uint8_t { migrate_load, migrate_util, migrate_task, migrate_misfit, migrate_llc_task };

/// kernel: enum fbq_type: how well NUMA placement suits a group's or run queue's tasks.
enum class fbq_type : std::uint8_t { regular, remote, all };

[[nodiscard]] constexpr std::string_view to_string(group_type t) noexcept {
  constexpr std::string_view names[] = {"has_spare",  "fully_busy",  "misfit_task", "smt_balance",
                                        "asym_packing", "imbalanced", "llc_balance", "overloaded"};
  return names[static_cast<std::size_t>(t)];
}
[[nodiscard]] constexpr std::string_view to_string(migration_type t) noexcept {
  constexpr std::string_view names[] = {"migrate_load", "migrate_util", "migrate_task", "migrate_misfit",
                                        "migrate_llc_task"};
  return names[static_cast<std::size_t>(t)];
}

/// kernel: the LBF_* flags of lb_env that balancekit's rules use. (LBF_NEED_BREAK never
/// fires: loop_max never exceeds nr_migrate, the kernel's loop_break.)
namespace lbf {
inline constexpr std::uint32_t all_pinned = 0x01;
inline constexpr std::uint32_t dst_pinned = 0x04;
inline constexpr std::uint32_t some_pinned = 0x08;
inline constexpr std::uint32_t active_lb = 0x10;
}  // namespace lbf

template <class P, limits_pack L>
struct lb_env;

/// What a source-group rule decides (kernel: the busiest group sched_balance_find_src_group()
/// returns, and the env->migration_type, env->imbalance and env->fbq_type it leaves).
///
/// Fields a rule does not decide keep the environment's values: start from
/// `src_group_decision::keep(env)`. (The kernel leaves env->migration_type alone on some
/// balanced exits, and the balancing pass reads it there.)
struct src_group_decision {
  int group = no_group;  ///< the busiest group's position in the domain's list; no_group: balanced
  migration_type type = migration_type::migrate_load;  ///< what `imbalance` counts
  std::int64_t imbalance = 0;
  fbq_type fbq = fbq_type::all;  ///< which run queues the source search may take tasks from
  /// Some CPU the rule looked at has a task waiting or, on asymmetric domains, a misfit
  /// (kernel: update_sd_lb_stats()'s sg_overloaded). At the root domain the balancer
  /// stores it in `snapshot::overloaded`, which gates newly idle balancing; a rule that
  /// does not gather statistics leaves it true, so newly idle balancing is never lost.
  bool overloaded = true;

  /// "Balanced", keeping `env`'s migration type and NUMA filter.
  template <class P, limits_pack L>
  [[nodiscard]] static constexpr src_group_decision keep(const lb_env<P, L>& env) noexcept {
    return {no_group, env.mtype, 0, env.fbq, true};
  }
  friend constexpr bool operator==(const src_group_decision&, const src_group_decision&) = default;
};

namespace detail {
/// Whether pack `P`'s aggregation member takes part in balancing (`active`): the balance
/// rules consult it only then, so `aggregation::none` costs nothing.
template <class P>
inline constexpr bool aggregation_active = requires { requires P::aggregation::active; };
/// Whether pack `P`'s aggregation member forces its LLC passes where siblings are not
/// preferred too (`ignores_prefer_sibling`, seed 001's 14/23).
template <class P>
inline constexpr bool aggregation_ignores_prefer_sibling = requires { requires P::aggregation::ignores_prefer_sibling; };
/// Whether pack `P`'s aggregation member revises wakeup placement (`places`).
template <class P>
inline constexpr bool aggregation_places = requires { requires P::aggregation::places; };
/// Whether pack `P`'s push member takes part (`active`; policy/push.hpp).
template <class P>
inline constexpr bool push_active = requires { requires P::push::active; };
/// Whether pack `P`'s NUMA member takes part (`active`; policy/numa/member.hpp).
template <class P>
inline constexpr bool numa_active = requires { requires P::numa::active; };
}  // namespace detail

/// kernel: struct lb_env — everything one `sched_balance_rq` attempt knows and decides,
/// for pack `P` on limits `L`. Build it with `make_lb_env`.
template <class P, limits_pack L>
struct lb_env {
  using pack = P;
  using limits = L;
  using tree_type = domain_tree<L>;
  using domain = typename tree_type::domain;
  using mask = cpumask<L::max_cpus>;

  const tree_type* tree = nullptr;
  const snapshot<L>* snap = nullptr;            ///< the world, read-only (detach gets it mutably)
  const balance_state<P, L>* state = nullptr;   ///< what the balancer keeps, or null for none
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
  balance_tunables tun = P::balance_tuning;

  /// Takes a source-group rule's decision, as the kernel's find_busiest_group() leaves it
  /// in its lb_env for the steps after it.
  constexpr void apply(const src_group_decision& d) noexcept {
    mtype = d.type;
    imbalance = d.imbalance;
    fbq = d.fbq;
  }

  [[nodiscard]] constexpr const cpu_state& cpu(std::size_t c) const { return snap->cpus[c]; }
  [[nodiscard]] constexpr bool dst_idle() const noexcept { return idle != cpu_idle_type::not_idle; }
  [[nodiscard]] constexpr bool has(sd_flag f) const { return sd->flags.has(f); }
};

/// make_lb_env<P>(tree, snap, state, dst, k, idle, now)
///
/// The environment of one balancing attempt of `dst`'s `k`-th domain for pack `P`, filled
/// as sched_balance_rq() starts it: the domain's span as the candidate CPUs, `dst`'s
/// group's balance mask, the domain's failure count from `state` (0 when `state` is null),
/// the pack's tunables. The one way to build an `lb_env`: the balancer uses it, so do the
/// tests.
///
/// Requires: `dst` is in the tree's map and `k < tree.nr_domains(dst)`.
///
/// **Example**
/// \code
/// auto env = make_lb_env<linux_defaults>(tree, snap, &state, cpu, 0, cpu_idle_type::idle, now);
/// const src_group_decision d = linux_src_group::find(env);
/// \endcode
template <class P, limits_pack L>
[[nodiscard]] constexpr lb_env<P, L> make_lb_env(const domain_tree<L>& tree, const snapshot<L>& snap,
                                                 const std::type_identity_t<balance_state<P, L>>* state,
                                                 std::size_t dst, std::size_t k, cpu_idle_type idle, nanoseconds now) {
  BALANCEKIT_EXPECTS(tree.cpu_map().test(dst) && k < tree.nr_domains(dst));
  const auto& sd = tree.domain_of(dst, k);
  lb_env<P, L> env;
  env.tree = &tree;
  env.snap = &snap;
  env.state = state;
  env.sd = &sd;
  env.parent = k + 1 < tree.nr_domains(dst) ? &tree.domain_of(dst, k + 1) : nullptr;
  env.dst_cpu = dst;
  env.idle = idle;
  env.cpus = tree.span(sd) & tree.cpu_map();
  env.dst_grpmask = tree.balance_mask(tree.group_of(sd, 0));
  env.nr_balance_failed = state != nullptr ? state->cpus[dst].sd[k].nr_balance_failed : 0;
  env.now = now;
  return env;
}

}  // namespace balancekit
