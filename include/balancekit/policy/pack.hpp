/// \file
/// Policy packs: the families of rules a balancer runs, the concept each member of a pack
/// satisfies, the checked option setters that change one member, and Linux's pack.
///
/// A pack is a struct of member types and constants, grouped in families (the table is in
/// docs/ARCHITECTURE.md):
///  - balance: `src_group`, `src_rq`, `can_migrate`, `detach`, `should_balance`,
///    `active_balance`, `interval`, `numa_imbalance`, and `balance_tuning` — today's load
///    balancer, one member per decision;
///  - placement, packing, aggregation, push, numa: one policy member each (`placement`, …)
///    and its tunables (`placement_tuning`, …). Placement is Linux's (`linux_placement`);
///    packing holds `packing::none`, which never decides; the families still to come hold
///    their `none`, which keeps an empty state and changes nothing.
/// Each family's policy declares the state it keeps (`state<L>`); `balance_state<P, L>`
/// holds them all.
///
/// Two ways to write a pack:
/// \code
/// // checked: a misspelled option or a rule of the wrong shape does not compile
/// using my_rules = rules<linux_defaults, with_src_group<my_src_group>,
///                        with_tunable<&balance_tunables::migration_cost, 0>>;
/// // derived: also works, but a misspelled member is just a new member nothing reads
/// struct my_rules2 : linux_defaults { using src_group = my_src_group; };
/// \endcode
/// Either way the balancer checks every member (`check_pack`) and names what is wrong in
/// one sentence: the member and the signature it needs.
///
/// A rule reaches the other rules through its environment's pack (`lb_env<P, L>::pack`),
/// never by naming Linux's, so a family changes one decision without copying another
/// family's code.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <balancekit/balancer/lb_env.hpp>
#include <balancekit/balancer/state.hpp>
#include <balancekit/balancer/tunables.hpp>
#include <balancekit/balancer/wake_env.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/core/units.hpp>
#include <balancekit/domains/domain_tree.hpp>
#include <balancekit/policy/active_balance.hpp>
#include <balancekit/policy/imbalance.hpp>
#include <balancekit/policy/interval.hpp>
#include <balancekit/policy/packing.hpp>
#include <balancekit/policy/placement.hpp>
#include <balancekit/policy/numa/member.hpp>
#include <balancekit/policy/numa/scan.hpp>
#include <balancekit/policy/push.hpp>
#include <balancekit/policy/should_we_balance.hpp>
#include <balancekit/policy/src_rq.hpp>
#include <balancekit/policy/task_selection.hpp>
#include <balancekit/stats/snapshot.hpp>

namespace balancekit {

// -- the balance family's members ---------------------------------------------------------

/// Finds the busiest group and how much to move (kernel: sched_balance_find_src_group()).
template <class R, class P, class L>
concept src_group_policy = requires(const lb_env<P, L>& env) {
  { R::find(env) } -> std::same_as<src_group_decision>;
};
/// Finds the busiest run queue of a group (kernel: sched_balance_find_src_rq()).
template <class R, class P, class L>
concept src_rq_policy = requires(const lb_env<P, L>& env, std::size_t group) {
  { R::find(env, group) } -> std::same_as<std::size_t>;
};
/// Says whether a task may move to the destination (kernel: can_migrate_task()).
template <class R, class P, class L>
concept can_migrate_policy = requires(lb_env<P, L>& env, std::uint32_t task) {
  { R::check(env, task) } -> std::same_as<bool>;
};
/// Takes tasks off the busiest run queue (kernel: detach_tasks()).
template <class R, class P, class L>
concept detach_policy = requires(lb_env<P, L>& env, snapshot<L>& snap, detached_tasks& out) {
  { R::detach(env, snap, out) } -> std::same_as<std::size_t>;
};
/// Decides the designated balancer (kernel: should_we_balance()).
template <class R, class P, class L>
concept balancer_choice_policy = requires(const lb_env<P, L>& env) {
  { R::check(env) } -> std::same_as<bool>;
};
/// Decides when a failed balance turns active (kernel: need_active_balance()).
template <class R, class P, class L>
concept active_balance_policy = requires(const lb_env<P, L>& env) {
  { R::needed(env) } -> std::same_as<bool>;
};
/// Balance intervals and newidle cost (kernel: get_sd_balance_interval()).
template <class R>
concept interval_policy = requires(std::uint32_t ms, std::uint32_t w, bool busy, std::uint32_t hz, jiffies_t max) {
  { R::balance_interval(ms, w, busy, hz, max) } -> std::same_as<jiffies_t>;
  { R::newidle_cost(w) } -> std::same_as<nanoseconds>;
};
/// The imbalance a NUMA domain tolerates (kernel: adjust_numa_imbalance()), asked by the
/// load balancer and by the placement slow path alike.
template <class R>
concept numa_imbalance_policy = requires(std::int32_t imbalance, std::int32_t dst_running, std::int32_t imb_numa_nr) {
  { R::adjust(imbalance, dst_running, imb_numa_nr) } -> std::same_as<std::int64_t>;
};

// -- the families ----------------------------------------------------------------------------

/// A family's policy that does nothing: the `none` of every family still to come.
template <class Family>
struct no_policy {
  using family = Family;
  template <limits_pack L>
  using state = no_state<Family>;
};

/// Each family's descriptor: its tunables type, how a pack holds them (`tuning<P>`), and
/// how an option replaces them (`retune<Base, T>`). One line each, as Boost.Intrusive
/// declares its options; a family that gets tunables of its own names their type here.
#define BALANCEKIT_FAMILY_(family, tunables_type, tuning_member) \
  struct family {                                                 \
    using tunables = tunables_type;                               \
    template <class P>                                            \
    static constexpr tunables tuning = P::tuning_member;          \
    template <class Base, tunables T>                             \
    struct retune : Base {                                        \
      static constexpr tunables tuning_member = T;                \
    };                                                            \
  };

/// Which group, run queue and tasks, who balances, when, and when to push
/// (kernel: sched_balance_rq() and its helpers).
BALANCEKIT_FAMILY_(balance_family, balance_tunables, balance_tuning)
/// Where a waking, forked or exec'ed task runs (kernel: select_task_rq_fair()).
BALANCEKIT_FAMILY_(placement_family, placement_tunables, placement_tuning)
/// Which CPU light tasks are packed onto (the packing buddy of seed 000; not fair.c's buddies).
BALANCEKIT_FAMILY_(packing_family, packing_tunables, packing_tuning)
/// How far a process's threads are kept together: LLC, node, beyond (seed 001).
BALANCEKIT_FAMILY_(aggregation_family, aggregation_tunables, aggregation_tuning)
/// Busy CPUs pushing work to idle ones (seed 002).
BALANCEKIT_FAMILY_(push_family, push_tunables, push_tuning)
/// NUMA balancing: fault statistics, preferred nodes, task placement (seed 003).
BALANCEKIT_FAMILY_(numa_family, numa::scan_tunables, numa_tuning)
#undef BALANCEKIT_FAMILY_

/// A policy of family `Family`: it says so (`using family = Family;`) and declares the state
/// it keeps for limits `L` (`template <limits_pack L> using state = …;`).
template <class X, class Family, class L>
concept family_policy = requires { typename X::template state<L>; } && std::same_as<typename X::family, Family> &&
                        std::semiregular<typename X::template state<L>>;

/// Where a task runs (kernel: select_task_rq_fair()); see policy/placement.hpp.
template <class X, class P, class L>
concept placement_policy =
    family_policy<X, placement_family, L> &&
    requires(const wake_env<P, L>& wenv, const lb_env<P, L>& lenv, typename X::template state<L>& st,
             const domain_tree<L>& tree, const snapshot<L>& snap, std::size_t cpu) {
      { X::select(wenv, st) } -> std::same_as<placement_decision>;
      X::note_idle(tree, snap, cpu, st);
      X::observe_balance(lenv, st);
    };
/// Which CPU a light task is packed onto, or none (seed 000); see policy/packing.hpp.
template <class X, class P, class L>
concept packing_policy =
    family_policy<X, packing_family, L> &&
    requires(const wake_env<P, L>& wenv, typename X::template state<L>& st, const domain_tree<L>& tree) {
      X::attach(tree, st);
      { X::select(wenv, st) } -> std::same_as<placement_decision>;
    };
/// How far a process's threads are kept together (seed 001); see policy/aggregation.hpp. A
/// member that takes part in balancing says so (`static constexpr bool active = true;`) and
/// answers the balance rules' questions (the group's tasks preferring the destination's
/// LLC, a run queue's, a task's detach rank, whether a move degrades its LLC, whether an
/// active balance breaks one) and the embedder's accounting (`account` at each
/// update_curr(), `task_tick` at each tick); one that `places` also revises wakeups
/// (`place`, after the placement policy); `aggregation::none` takes no part.
template <class X, class P, class L>
concept aggregation_policy =
    family_policy<X, aggregation_family, L> &&
    (!requires { requires X::active; } ||
     requires(const lb_env<P, L>& env, const typename X::template state<L>& cst, typename X::template state<L>& st,
              const domain_tree<L>& tree, const snapshot<L>& snap, const typename domain_tree<L>::group& g,
              std::size_t cpu, std::uint32_t t, std::uint64_t ns, jiffies_t now) {
       { X::llc_balance(env, g, cst) } -> std::same_as<std::uint32_t>;
       { X::prefer_dst(env, cpu, cst) } -> std::same_as<std::uint32_t>;
       { X::detach_rank(env, t, cst) } -> std::same_as<int>;
       { X::degrades(env, t, cst) } -> std::same_as<bool>;
       { X::breaks_active(env, cst) } -> std::same_as<bool>;
       X::template account<P>(tree, snap, cpu, t, ns, now, st);
       X::template task_tick<P>(tree, snap, cpu, t, now, st);
     }) &&
    (!requires { requires X::places; } ||
     requires(const wake_env<P, L>& wenv, const typename X::template state<L>& cst, placement_decision d) {
       { X::place(wenv, cst, d) } -> std::same_as<placement_decision>;
     });
/// Busy CPUs pushing to idle ones (seed 002); see policy/push.hpp. A member that takes
/// part says so (`static constexpr bool active = true;`), says how it moves a task
/// (`mode`), and answers the embedder's calls: `attach` at each domain build, `pushable`
/// (what a busy CPU would push, for its overloaded bit), `decide` (one push, its target
/// claimed) and `pull_one` (a newly idle CPU's pull); `push::none` takes no part.
template <class X, class P, class L>
concept push_policy =
    family_policy<X, push_family, L> &&
    (!requires { requires X::active; } ||
     requires(const domain_tree<L>& tree, const snapshot<L>& snap, std::size_t cpu, std::uint32_t now_us,
              typename X::template state<L>& st, const typename X::template state<L>& cst) {
       { X::mode } -> std::convertible_to<push::push_mode>;
       X::attach(tree, st);
       { X::pushable(snap, cpu, cst) } -> std::same_as<std::uint32_t>;
       { X::template decide<P>(tree, snap, cpu, now_us, st) } -> std::same_as<push::decision>;
       { X::pull_one(tree, snap, cpu, cst) } -> std::same_as<push::decision>;
     });
/// NUMA balancing (seed 003); see policy/numa/member.hpp. A member that takes part says so
/// (`static constexpr bool active = true;`) and answers the embedder's calls: `attach` at
/// each domain build, `task_new` and `task_dead`, `task_tick` (whether the task scans now),
/// `end_pass` (a pass over its memory ended), `fault` (one hinting fault: the page's
/// migration and the task's) and `account` (its runtime, for the scheduling stats);
/// `numa::none` takes no part.
template <class X, class P, class L>
concept numa_policy =
    family_policy<X, numa_family, L> &&
    (!requires { requires X::active; } ||
     requires(const domain_tree<L>& tree, const snapshot<L>& snap, typename X::template state<L>& st,
              numa::page_word& page, std::size_t cpu, std::uint32_t t, nanoseconds ns) {
       X::attach(tree, st);
       X::template task_new<P>(t, t, t, std::uint64_t{}, ns, st);
       X::task_dead(t, st);
       { X::template task_tick<P>(t, ns, ns, st) } -> std::same_as<bool>;
       X::end_pass(t, st);
       { X::template fault<P>(tree, snap, cpu, t, page, std::uint64_t{}, bool{}, ns, ns, st) } -> std::same_as<numa::fault_outcome>;
       X::account(t, cpu, ns, ns, st);
     });

namespace aggregation {
using none = no_policy<aggregation_family>;
}
namespace push {
using none = no_policy<push_family>;
}
namespace numa {
using none = no_policy<numa_family>;
}

// -- whole packs -----------------------------------------------------------------------------

namespace detail {
// "P has the member and it fits": a missing member fails here softly, so one sentence
// covers both mistakes.
template <class P, class L>
concept src_group_member = requires { typename P::src_group; } && src_group_policy<typename P::src_group, P, L>;
template <class P, class L>
concept src_rq_member = requires { typename P::src_rq; } && src_rq_policy<typename P::src_rq, P, L>;
template <class P, class L>
concept can_migrate_member = requires { typename P::can_migrate; } && can_migrate_policy<typename P::can_migrate, P, L>;
template <class P, class L>
concept detach_member = requires { typename P::detach; } && detach_policy<typename P::detach, P, L>;
template <class P, class L>
concept should_balance_member =
    requires { typename P::should_balance; } && balancer_choice_policy<typename P::should_balance, P, L>;
template <class P, class L>
concept active_balance_member =
    requires { typename P::active_balance; } && active_balance_policy<typename P::active_balance, P, L>;
template <class P>
concept interval_member = requires { typename P::interval; } && interval_policy<typename P::interval>;
template <class P>
concept numa_imbalance_member = requires { typename P::numa_imbalance; } && numa_imbalance_policy<typename P::numa_imbalance>;
template <class P, class L>
concept placement_member = requires { typename P::placement; } && placement_policy<typename P::placement, P, L>;
template <class P, class L>
concept packing_member = requires { typename P::packing; } && packing_policy<typename P::packing, P, L>;
template <class P, class L>
concept aggregation_member = requires { typename P::aggregation; } && aggregation_policy<typename P::aggregation, P, L>;
template <class P, class L>
concept push_member = requires { typename P::push; } && push_policy<typename P::push, P, L>;
template <class P, class L>
concept numa_member = requires { typename P::numa; } && numa_policy<typename P::numa, P, L>;

// A pack's tunables are constants of exactly their family's type.
template <class P>
concept balance_tuning_member = std::same_as<std::remove_cv_t<decltype(P::balance_tuning)>, balance_family::tunables>;
template <class P>
concept placement_tuning_member =
    std::same_as<std::remove_cv_t<decltype(P::placement_tuning)>, placement_family::tunables>;
template <class P>
concept packing_tuning_member = std::same_as<std::remove_cv_t<decltype(P::packing_tuning)>, packing_family::tunables>;
template <class P>
concept aggregation_tuning_member =
    std::same_as<std::remove_cv_t<decltype(P::aggregation_tuning)>, aggregation_family::tunables>;
template <class P>
concept push_tuning_member = std::same_as<std::remove_cv_t<decltype(P::push_tuning)>, push_family::tunables>;
template <class P>
concept numa_tuning_member = std::same_as<std::remove_cv_t<decltype(P::numa_tuning)>, numa_family::tunables>;
}  // namespace detail

/// A pack whose every member fits, for limits `L`: what `check_pack` asserts, as a
/// concept (for `requires` clauses and soft checks).
template <class P, class L>
concept policy_pack =
    detail::src_group_member<P, L> && detail::src_rq_member<P, L> && detail::can_migrate_member<P, L> &&
    detail::detach_member<P, L> && detail::should_balance_member<P, L> && detail::active_balance_member<P, L> &&
    detail::interval_member<P> && detail::numa_imbalance_member<P> && detail::placement_member<P, L> &&
    detail::packing_member<P, L> && detail::aggregation_member<P, L> && detail::push_member<P, L> &&
    detail::numa_member<P, L> && detail::balance_tuning_member<P> && detail::placement_tuning_member<P> &&
    detail::packing_tuning_member<P> && detail::aggregation_tuning_member<P> && detail::push_tuning_member<P> &&
    detail::numa_tuning_member<P>;

/// check_pack<P, L>()
///
/// Asserts that every member of pack `P` fits, with one sentence per mistake naming the
/// member and what it needs. The balancer calls it; call it yourself to check a pack where
/// you define it: `static_assert(check_pack<my_rules, default_limits>());`.
template <class P, limits_pack L>
consteval bool check_pack() {
  static_assert(detail::src_group_member<P, L>,
                "the pack's `src_group` is missing or is not a busiest-group rule: it needs "
                "`static src_group_decision find(const lb_env<P, L>&)` (derive the pack from linux_defaults "
                "or start it with rules<linux_defaults, ...> to inherit Linux's rules)");
  static_assert(detail::src_rq_member<P, L>,
                "the pack's `src_rq` is missing or is not a source-run-queue rule: it needs "
                "`static std::size_t find(const lb_env<P, L>&, std::size_t group)` returning a CPU or no_cpu");
  static_assert(detail::can_migrate_member<P, L>,
                "the pack's `can_migrate` is missing or is not a task-migration check: it needs "
                "`static bool check(lb_env<P, L>&, std::uint32_t task)`");
  static_assert(detail::detach_member<P, L>,
                "the pack's `detach` is missing or is not a detach rule: it needs "
                "`static std::size_t detach(lb_env<P, L>&, snapshot<L>&, detached_tasks&)`");
  static_assert(detail::should_balance_member<P, L>,
                "the pack's `should_balance` is missing or is not a designated-balancer rule: it needs "
                "`static bool check(const lb_env<P, L>&)`");
  static_assert(detail::active_balance_member<P, L>,
                "the pack's `active_balance` is missing or is not an active-balance rule: it needs "
                "`static bool needed(const lb_env<P, L>&)`");
  static_assert(detail::interval_member<P>,
                "the pack's `interval` is missing or is not an interval rule: it needs `static jiffies_t "
                "balance_interval(std::uint32_t ms, std::uint32_t busy_factor, bool busy, std::uint32_t hz, "
                "jiffies_t max)` and `static nanoseconds newidle_cost(std::uint32_t span_weight)`");
  static_assert(detail::numa_imbalance_member<P>,
                "the pack's `numa_imbalance` is missing or is not a NUMA-allowance rule: it needs `static "
                "std::int64_t adjust(std::int32_t imbalance, std::int32_t dst_running, std::int32_t imb_numa_nr)`");
  static_assert(detail::placement_member<P, L>,
                "the pack's `placement` is missing or is not a placement policy: it needs `using family = "
                "placement_family;`, `template <limits_pack L> using state = ...;`, `static placement_decision "
                "select(const wake_env<P, L>&, state<L>&)`, `static void note_idle(const domain_tree<L>&, const "
                "snapshot<L>&, std::size_t cpu, state<L>&)` and `static void observe_balance(const lb_env<P, L>&, "
                "state<L>&)` (placement::none keeps tasks where they were)");
  static_assert(detail::packing_member<P, L>,
                "the pack's `packing` is missing or is not a packing policy: it needs `using family = "
                "packing_family;`, `template <limits_pack L> using state = ...;`, `static void attach(const "
                "domain_tree<L>&, state<L>&)` and `static placement_decision select(const wake_env<P, L>&, "
                "state<L>&)` returning no_cpu to let placement decide (packing::none never decides)");
  static_assert(detail::aggregation_member<P, L>,
                "the pack's `aggregation` is missing or is not an aggregation policy: it needs `using family = "
                "aggregation_family;` and `template <limits_pack L> using state = ...;` (aggregation::none keeps "
                "nothing), and one that is `active` answers `llc_balance`, `prefer_dst`, `detach_rank`, "
                "`degrades`, `breaks_active`, `account` and `task_tick` (see aggregation::llc_centric); one that "
                "`places` answers `place(const wake_env<P, L>&, const state<L>&, placement_decision)` (see "
                "aggregation::topology_aware)");
  static_assert(detail::push_member<P, L>,
                "the pack's `push` is missing or is not a push policy: it needs `using family = push_family;` and "
                "`template <limits_pack L> using state = ...;` (push::none keeps nothing), and one that is `active` "
                "has `mode` and answers `attach`, `pushable`, `decide` and `pull_one` (see push::basic_push)");
  static_assert(detail::numa_member<P, L>,
                "the pack's `numa` is missing or is not a NUMA-balancing policy: it needs `using family = "
                "numa_family;` and `template <limits_pack L> using state = ...;` (numa::none keeps nothing), and one that is "
                "`active` answers `attach`, `task_new`, `task_dead`, `task_tick`, `end_pass`, `fault` and `account` "
                "(see numa::basic_numa)");
  static_assert(detail::balance_tuning_member<P>,
                "the pack's `balance_tuning` is missing or is not a `balance_tunables`: declare "
                "`static constexpr balance_tunables balance_tuning{...}`, or change one value with "
                "rules<Base, with_tunable<&balance_tunables::member, value>>");
  static_assert(detail::placement_tuning_member<P>,
                "the pack's `placement_tuning` is missing or is not a `placement_family::tunables`");
  static_assert(detail::packing_tuning_member<P>,
                "the pack's `packing_tuning` is missing or is not a `packing_family::tunables`");
  static_assert(detail::aggregation_tuning_member<P>,
                "the pack's `aggregation_tuning` is missing or is not an `aggregation_family::tunables`");
  static_assert(detail::push_tuning_member<P>,
                "the pack's `push_tuning` is missing or is not a `push_family::tunables`");
  static_assert(detail::numa_tuning_member<P>,
                "the pack's `numa_tuning` is missing or is not a `numa_family::tunables`");
  static_assert(!requires { P::tunables; },
                "the pack declares `tunables`, which nothing reads any more: the balance family's tunables are "
                "`balance_tuning` (each family has its own)");
  return policy_pack<P, L>;
}

// -- Linux's pack --------------------------------------------------------------------------

/// Linux's rules (v6.16), member by member, and no policy yet in the families to come.
/// Change one rule with an option setter (or by deriving):
/// \code
/// using min_load = rules<linux_defaults, with_src_group<wasted_cores::min_load_src_group>>;
/// \endcode
struct linux_defaults {
  using src_group = linux_src_group;
  using src_rq = linux_src_rq;
  using can_migrate = linux_can_migrate;
  using detach = linux_detach;
  using should_balance = linux_should_we_balance;
  using active_balance = linux_active_balance;
  using interval = linux_interval;
  using numa_imbalance = linux_numa_imbalance;
  static constexpr balance_tunables balance_tuning{};

  using placement = linux_placement;
  using packing = balancekit::packing::none;
  using aggregation = balancekit::aggregation::none;
  using push = balancekit::push::none;
  using numa = balancekit::numa::none;
  static constexpr placement_family::tunables placement_tuning{};
  static constexpr packing_family::tunables packing_tuning{};
  static constexpr aggregation_family::tunables aggregation_tuning{};
  static constexpr push_family::tunables push_tuning{};
  static constexpr numa_family::tunables numa_tuning{};
};

// -- option setters ----------------------------------------------------------------------------
// Boost.Intrusive's pack_options: each option is `pack<Base>`, a pack that derives from
// Base and redefines one member; rules<> applies them in order, so the last one wins.

// `with_X<R>` makes R the pack's member X.
#define BALANCEKIT_OPTION_(setter, member) \
  template <class Rule>                     \
  struct setter {                           \
    template <class Base>                   \
    struct pack : Base {                    \
      using member = Rule;                  \
    };                                      \
  };

/// The busiest-group rule (kernel: sched_balance_find_src_group()).
BALANCEKIT_OPTION_(with_src_group, src_group)
/// The source-run-queue rule (kernel: sched_balance_find_src_rq()).
BALANCEKIT_OPTION_(with_src_rq, src_rq)
/// The task-migration check (kernel: can_migrate_task()), asked by detach and the stopper.
BALANCEKIT_OPTION_(with_can_migrate, can_migrate)
/// The detach rule (kernel: detach_tasks()).
BALANCEKIT_OPTION_(with_detach, detach)
/// The designated-balancer rule (kernel: should_we_balance()).
BALANCEKIT_OPTION_(with_should_balance, should_balance)
/// The active-balance rule (kernel: need_active_balance()).
BALANCEKIT_OPTION_(with_active_balance, active_balance)
/// The interval rule (kernel: get_sd_balance_interval()).
BALANCEKIT_OPTION_(with_interval, interval)
/// The NUMA-allowance rule (kernel: adjust_numa_imbalance()).
BALANCEKIT_OPTION_(with_numa_imbalance, numa_imbalance)
/// The placement family's policy.
BALANCEKIT_OPTION_(with_placement, placement)
/// The packing family's policy.
BALANCEKIT_OPTION_(with_packing, packing)
/// The aggregation family's policy.
BALANCEKIT_OPTION_(with_aggregation, aggregation)
/// The push family's policy.
BALANCEKIT_OPTION_(with_push, push)
/// The NUMA-balancing family's policy.
BALANCEKIT_OPTION_(with_numa, numa)
#undef BALANCEKIT_OPTION_

namespace detail {
template <class M>
struct member_pointer {
  using class_type = void;
};
template <class C, class T>
struct member_pointer<T C::*> {
  using class_type = C;
  using value_type = T;
};
template <class Tunables, class... Families>
struct family_of {
  using type = void;
};
template <class Tunables, class F, class... Rest>
struct family_of<Tunables, F, Rest...>
    : std::conditional_t<std::is_same_v<typename F::tunables, Tunables>, std::type_identity<F>,
                         family_of<Tunables, Rest...>> {};
// The family whose tunables type is `Tunables`, or void.
template <class Tunables>
using family_of_tunables_t = typename family_of<Tunables, balance_family, placement_family, packing_family,
                                                aggregation_family, push_family, numa_family>::type;
}  // namespace detail

/// with_tunable<&balance_tunables::hz, 1000U>: one tunable of one family set to `Value`,
/// every other value kept from the pack it is applied to. A value that does not fit the
/// member (a narrowing conversion) does not compile.
template <auto Member, auto Value>
struct with_tunable {
  using tunables_type = typename detail::member_pointer<decltype(Member)>::class_type;
  using family = detail::family_of_tunables_t<tunables_type>;
  static_assert(!std::is_void_v<family>,
                "with_tunable<&T::member, value> needs a pointer to a member of a family's tunables, "
                "e.g. &balance_tunables::migration_cost");

  template <class Base>
  static constexpr tunables_type retuned() {
    tunables_type t = family::template tuning<Base>;
    using value_type = typename detail::member_pointer<decltype(Member)>::value_type;
    t.*Member = value_type{Value};
    return t;
  }
  template <class Base>
  using pack = typename family::template retune<Base, retuned<Base>()>;
};

namespace detail {
template <class O, class Base>
concept option_for = requires { typename O::template pack<Base>; };
struct keep_base {
  template <class Base>
  using pack = Base;
};

template <class Base, class... Options>
struct apply_options {
  using type = Base;
};
template <class Base, class O, class... Rest>
struct apply_options<Base, O, Rest...> {
  static_assert(option_for<O, Base>,
                "every argument of rules<Base, ...> after the base pack must be an option setter such as "
                "with_src_group<...>, with_placement<...> or with_tunable<...>");
  // After a failed assertion, go on with Base alone: one sentence, not a cascade.
  using next = typename std::conditional_t<option_for<O, Base>, O, keep_base>::template pack<Base>;
  using type = typename apply_options<next, Rest...>::type;
};
}  // namespace detail

/// rules<Base, Options...>: pack `Base` with each option applied in order (the last one
/// wins). Only option setters are accepted, so a misspelled option name does not compile.
///
/// **Example**
/// \code
/// using no_hotness = rules<linux_defaults, with_tunable<&balance_tunables::migration_cost, 0>>;
/// static_assert(no_hotness::balance_tuning.hz == linux_defaults::balance_tuning.hz);
/// \endcode
template <class Base, class... Options>
using rules = typename detail::apply_options<Base, Options...>::type;

/// v6.16's rules with Linux 6.1's prefer-sibling count (`linux_6_1_src_group`), for
/// comparing the simulator with a 6.1 kernel like with like (docs/kernel-oracle.md).
using linux_6_1_rules = rules<linux_defaults, with_src_group<linux_6_1_src_group>>;
static_assert(check_pack<linux_6_1_rules, default_limits>());

}  // namespace balancekit
