// Policy packs: option setters, the pack concept, per-family state and tunables, and rules
// that reach other rules through the pack. (The diagnostics of a wrong pack are checked by
// the compile-fail pairs in tests/compile_fail.)
#include <balancekit/balancer.hpp>
#include <balancekit/model/system.hpp>
#include <balancekit/policy/ipanema.hpp>
#include <balancekit/policy/wasted_cores.hpp>
#include <balancekit/topology/spec.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <type_traits>

#include "support/balance_machine.hpp"

using namespace balancekit;
using L = small_limits;

namespace {

// A placement policy that keeps some state of its own, and otherwise leaves tasks where
// they were.
struct counting_placement {
  using family = placement_family;
  template <limits_pack>
  struct state {
    std::array<std::uint32_t, 4> counts{};
    friend constexpr bool operator==(const state&, const state&) = default;
  };
  template <class P, limits_pack Lm, class S>
  static constexpr placement_decision select(const wake_env<P, Lm>& env, S& st) {
    ++st.counts[0];
    return {env.prev_cpu, placement_branch::stay, env.prev_cpu};
  }
  template <limits_pack Lm, class S>
  static constexpr void note_idle(const domain_tree<Lm>&, const snapshot<Lm>&, std::size_t, S&) {}
  template <class P, limits_pack Lm, class S>
  static constexpr void observe_balance(const lb_env<P, Lm>&, S&) {}
};

// A NUMA-family policy whose state names CPUs that nothing may be pulled from, and a
// source-run-queue rule that reads it through the environment.
struct avoiding_numa {
  using family = numa_family;
  template <limits_pack Lm>
  struct state {
    cpumask<Lm::max_cpus> avoid{};
    friend constexpr bool operator==(const state&, const state&) = default;
  };
};
struct avoiding_src_rq {
  template <class P, limits_pack Lm>
  [[nodiscard]] static constexpr std::size_t find(const lb_env<P, Lm>& env, std::size_t group) {
    const std::size_t cpu = linux_src_rq::find(env, group);
    return cpu != no_cpu && env.state != nullptr && env.state->numa.avoid.test(cpu) ? no_cpu : cpu;
  }
};
using avoiding_rules = rules<linux_defaults, with_numa<avoiding_numa>, with_src_rq<avoiding_src_rq>>;

// A pack derived by hand from one that changed a tunable: it starts from its parent's
// tunables, so the parent's change stays.
using cold = rules<linux_defaults, with_tunable<&balance_tunables::migration_cost, 0>>;
struct derived : cold {
  static constexpr balance_tunables balance_tuning = [] {
    balance_tunables t = cold::balance_tuning;
    t.nr_migrate = 8;
    return t;
  }();
};

// A task check that refuses only the active-balance stopper's pushes.
struct no_active_push {
  template <class P, limits_pack Lm>
  [[nodiscard]] static constexpr bool check(lb_env<P, Lm>& env, std::uint32_t t) {
    return (env.flags & lbf::active_lb) == 0 && linux_can_migrate::check(env, t);
  }
};

// The NUMA allowance turned off: every imbalance is acted on.
struct no_numa_allowance {
  [[nodiscard]] static constexpr std::int64_t adjust(std::int32_t imbalance, std::int32_t, std::int32_t) noexcept {
    return imbalance;
  }
};

// A pack with nothing in it, and one whose busiest-group rule has the pre-family shape.
struct empty_pack {};
struct old_src_group {
  template <class P, limits_pack Lm>
  static int find(lb_env<P, Lm>&) {
    return no_group;
  }
};

using machine = test::balance_machine<L>;
std::unique_ptr<machine> build(std::string_view levels) {
  auto m = std::make_unique<machine>();
  REQUIRE(test::build_balance_machine(machine_spec{levels}, *m) == "");
  return m;
}

}  // namespace

// ---------------------------------------------------------------------- options

TEST_CASE("An option setter changes one member and keeps every other", "[pack]") {
  using p = rules<linux_defaults, with_src_group<wasted_cores::min_load_src_group>>;
  STATIC_REQUIRE(std::is_same_v<p::src_group, wasted_cores::min_load_src_group>);
  STATIC_REQUIRE(std::is_same_v<p::src_rq, linux_src_rq>);
  STATIC_REQUIRE(std::is_same_v<p::detach, linux_detach>);
  STATIC_REQUIRE(std::is_same_v<p::placement, linux_placement>);
  STATIC_REQUIRE(p::balance_tuning == linux_defaults::balance_tuning);
}

namespace {
template <int N>
struct mark {};
}  // namespace

TEST_CASE("Every option setter sets the member it names", "[pack]") {
  using all = rules<linux_defaults, with_src_group<mark<1>>, with_src_rq<mark<2>>, with_can_migrate<mark<3>>,
                    with_detach<mark<4>>, with_should_balance<mark<5>>, with_active_balance<mark<6>>,
                    with_interval<mark<7>>, with_numa_imbalance<mark<8>>, with_placement<mark<9>>,
                    with_packing<mark<10>>, with_aggregation<mark<11>>, with_push<mark<12>>, with_numa<mark<13>>>;
  STATIC_REQUIRE(std::is_same_v<all::src_group, mark<1>>);
  STATIC_REQUIRE(std::is_same_v<all::src_rq, mark<2>>);
  STATIC_REQUIRE(std::is_same_v<all::can_migrate, mark<3>>);
  STATIC_REQUIRE(std::is_same_v<all::detach, mark<4>>);
  STATIC_REQUIRE(std::is_same_v<all::should_balance, mark<5>>);
  STATIC_REQUIRE(std::is_same_v<all::active_balance, mark<6>>);
  STATIC_REQUIRE(std::is_same_v<all::interval, mark<7>>);
  STATIC_REQUIRE(std::is_same_v<all::numa_imbalance, mark<8>>);
  STATIC_REQUIRE(std::is_same_v<all::placement, mark<9>>);
  STATIC_REQUIRE(std::is_same_v<all::packing, mark<10>>);
  STATIC_REQUIRE(std::is_same_v<all::aggregation, mark<11>>);
  STATIC_REQUIRE(std::is_same_v<all::push, mark<12>>);
  STATIC_REQUIRE(std::is_same_v<all::numa, mark<13>>);
  STATIC_REQUIRE(all::balance_tuning == linux_defaults::balance_tuning);
}

TEST_CASE("Options apply in order and the last one wins", "[pack]") {
  using p = rules<linux_defaults, with_detach<ipanema::steal>, with_detach<linux_detach>>;
  STATIC_REQUIRE(std::is_same_v<p::detach, linux_detach>);
  using q = rules<linux_defaults, with_detach<linux_detach>, with_detach<ipanema::steal>>;
  STATIC_REQUIRE(std::is_same_v<q::detach, ipanema::steal>);
}

TEST_CASE("rules with no option is the base pack itself", "[pack]") {
  STATIC_REQUIRE(std::is_same_v<rules<linux_defaults>, linux_defaults>);
  STATIC_REQUIRE(std::is_same_v<rules<ipanema_rules>, ipanema_rules>);
}

TEST_CASE("The library's packs are the alternatives with every other rule Linux's", "[pack]") {
  STATIC_REQUIRE(std::is_same_v<wasted_cores_rules::src_group, wasted_cores::min_load_src_group>);
  STATIC_REQUIRE(std::is_same_v<wasted_cores_rules::detach, linux_detach>);
  STATIC_REQUIRE(std::is_same_v<ipanema_rules::detach, ipanema::steal>);
  STATIC_REQUIRE(std::is_same_v<ipanema_rules::active_balance, ipanema::no_active_balance>);
  STATIC_REQUIRE(std::is_same_v<ipanema_rules::src_group, linux_src_group>);
}

TEST_CASE("A whole pack fits the pack concept and a broken one does not", "[pack]") {
  STATIC_REQUIRE(policy_pack<linux_defaults, L>);
  STATIC_REQUIRE(policy_pack<wasted_cores_rules, L>);
  STATIC_REQUIRE(policy_pack<ipanema_rules, large_limits>);
  STATIC_REQUIRE(policy_pack<avoiding_rules, L>);
  STATIC_REQUIRE(check_pack<avoiding_rules, L>());
  STATIC_REQUIRE_FALSE(policy_pack<empty_pack, L>);
  STATIC_REQUIRE_FALSE(policy_pack<rules<linux_defaults, with_src_group<old_src_group>>, L>);
  // A policy of another family in the placement slot.
  STATIC_REQUIRE_FALSE(policy_pack<rules<linux_defaults, with_placement<packing::none>>, L>);
  STATIC_REQUIRE(policy_pack<rules<linux_defaults, with_placement<counting_placement>>, L>);
  // The member concepts on their own.
  STATIC_REQUIRE(src_group_policy<linux_src_group, linux_defaults, L>);
  STATIC_REQUIRE_FALSE(src_group_policy<old_src_group, linux_defaults, L>);
  STATIC_REQUIRE(detach_policy<ipanema::steal, linux_defaults, L>);
  STATIC_REQUIRE_FALSE(detach_policy<linux_src_rq, linux_defaults, L>);
  STATIC_REQUIRE(placement_policy<placement::none, linux_defaults, L>);
  STATIC_REQUIRE(placement_policy<linux_placement, linux_defaults, L>);
  STATIC_REQUIRE_FALSE(placement_policy<numa::none, linux_defaults, L>);
}

// ---------------------------------------------------------------------- tunables

TEST_CASE("A derived pack that changes one tunable keeps its parent's others", "[pack][tunables]") {
  STATIC_REQUIRE(cold::balance_tuning.migration_cost == 0);
  STATIC_REQUIRE(cold::balance_tuning.hz == 250);
  // A second option changes another value and keeps the first one's.
  using cold_fast = rules<cold, with_tunable<&balance_tunables::hz, 1000U>>;
  STATIC_REQUIRE(cold_fast::balance_tuning.hz == 1000);
  STATIC_REQUIRE(cold_fast::balance_tuning.migration_cost == 0);
  STATIC_REQUIRE(cold_fast::balance_tuning.nr_migrate == 32);
  STATIC_REQUIRE(cold_fast::balance_tuning.newidle_one_task);
  // Rules and the other families' tunables are inherited too.
  using ipanema_fast = rules<ipanema_rules, with_tunable<&balance_tunables::hz, 1000U>>;
  STATIC_REQUIRE(std::is_same_v<ipanema_fast::detach, ipanema::steal>);
  STATIC_REQUIRE(ipanema_fast::placement_tuning == ipanema_rules::placement_tuning);
  // Deriving by hand keeps the parent's values when it starts from them.
  STATIC_REQUIRE(derived::balance_tuning.nr_migrate == 8);
  STATIC_REQUIRE(derived::balance_tuning.migration_cost == 0);
  STATIC_REQUIRE(check_pack<derived, L>());
}

TEST_CASE("The balancer and the environment read the pack's tunables", "[pack][tunables]") {
  using fast = rules<linux_defaults, with_tunable<&balance_tunables::hz, 1000U>>;
  STATIC_REQUIRE(balancer<fast, L>::tunables().hz == 1000);
  const auto m = build("package:1 l3:1 core:2 pu:1");
  auto snap = std::make_unique<snapshot<L>>();
  const auto env = make_lb_env<fast>(*m->tree, *snap, nullptr, 0, 0, cpu_idle_type::idle, 0);
  CHECK(env.tun.hz == 1000);
  CHECK(env.tun.migration_cost == 500'000);
  // balance_state::reset counts jiffies at the pack's HZ: 1 s at HZ 1000 is jiffy 1000.
  auto state = std::make_unique<balance_state<fast, L>>();
  state->reset(*m->tree, 1'000'000'000);
  CHECK(state->cpus[0].next_balance == 1000);
  CHECK(state->cpus[0].sd[0].last_balance == 1000);
}

// ---------------------------------------------------------------------- state

TEST_CASE("An empty family adds no bytes to the balance state", "[pack][state]") {
  // Every family but the balance one empty: the balance's own records and the pointer to
  // an owner's group sums.
  using bare = rules<linux_defaults, with_placement<placement::none>>;
  using state_t = balance_state<bare, L>;
  STATIC_REQUIRE(sizeof(state_t) == sizeof(state_t::cpus) + sizeof(state_t::group_imbalance) + sizeof(state_t::sums));
  // A family that keeps something adds exactly what it keeps.
  using counting = rules<linux_defaults, with_placement<counting_placement>>;
  STATIC_REQUIRE(sizeof(balance_state<counting, L>) == sizeof(state_t) + sizeof(counting_placement::state<L>));
  STATIC_REQUIRE(std::is_same_v<decltype(balance_state<counting, L>::placement), counting_placement::state<L>>);
  STATIC_REQUIRE(sizeof(balance_state<linux_defaults, L>) == sizeof(state_t) + sizeof(wake_state<L>));
}

TEST_CASE("A family's state survives between calls and the rules see it", "[pack][state]") {
  // Four single-thread cores in one LLC; three hogs on CPU 1, CPU 0 idle. CPU 0's tick
  // pulls from CPU 1 with Linux's rules (sibling imbalance 3 - 0, halved: one task). The
  // NUMA family's state says "never from CPU 1"; the avoiding source rule reads it through
  // the environment, so no tick pulls while it is set, whatever the number of calls.
  const auto m = build("package:1 l3:1 core:4 pu:1");
  auto sys = std::make_unique<model::system<linux_defaults, L>>(*m->tree);
  sys->reset();
  for (std::uint64_t i = 0; i < 3; ++i) REQUIRE(sys->fork({i, 1024, 1024}, 1) != no_task);
  auto snap = std::make_unique<snapshot<L>>(sys->snap());

  balancer<avoiding_rules, L> b{*m->tree};
  auto state = std::make_unique<balance_state<avoiding_rules, L>>();
  state->reset(*m->tree, 0);
  state->numa.avoid.set(1);
  constexpr nanoseconds jiffy = 4'000'000;
  for (int t = 1; t <= 20; ++t) {
    const auto r = b.on_tick(0, t * jiffy, *snap, *state);
    CHECK(r.migrations.empty());
  }
  CHECK(state->numa.avoid.test(1));  // twenty calls later, still there
  CHECK(snap->cpus[1].nr_running == 3);

  state->numa.avoid.reset(1);
  const auto r = b.on_tick(0, 40 * jiffy, *snap, *state);
  REQUIRE(r.migrations.size() == 1);
  CHECK(r.migrations[0].src == 1);
  CHECK(r.migrations[0].dst == 0);

  // reset() starts every family's state over.
  state->numa.avoid.set(2);
  state->reset(*m->tree, 0);
  CHECK(state->numa.avoid.empty());
}

// ---------------------------------------------------------------------- rules through the pack

TEST_CASE("The active-balance stopper asks the pack's task check", "[pack]") {
  // Seed 004's SMT case (tests/scenarios/smt_power.cpp): two hogs on the threads of core 0
  // of a 2-core SMT machine; Linux's rules push one to the other core by an active balance
  // in round 4, because nothing can be pulled. A task check that refuses the stopper's
  // pushes, changed in the pack alone, stops that push: no migration, and the failures
  // keep counting.
  const auto m = build("package:1 l3:1 core:2 pu:2");
  using refusing = rules<linux_defaults, with_can_migrate<no_active_push>>;
  auto linux_sys = std::make_unique<model::system<linux_defaults, L>>(*m->tree);
  auto refusing_sys = std::make_unique<model::system<refusing, L>>(*m->tree);
  linux_sys->reset();
  refusing_sys->reset();
  for (std::uint64_t i = 0; i < 2; ++i) {
    REQUIRE(linux_sys->fork({i, 1024, 1024}, i) != no_task);
    REQUIRE(refusing_sys->fork({i, 1024, 1024}, i) != no_task);
  }
  for (int r = 0; r < 6; ++r) {
    linux_sys->round();
    refusing_sys->round();
  }
  REQUIRE(linux_sys->log().size() == 1);
  CHECK(linux_sys->log()[0].move.reason == migration_reason::active);
  CHECK(refusing_sys->log().empty());
  CHECK(refusing_sys->state().cpus[2].sd[1].nr_balance_failed == 6);
}

TEST_CASE("The imbalance asks the pack's NUMA allowance", "[pack]") {
  // calculate_imbalance() on a NUMA domain (imb_numa_nr 2), busiest fully busy with no idle
  // CPU, local has spare with 2 idle CPUs and no task: the idle-CPU difference is 2. Linux
  // lets 2 <= NUMA_IMBALANCE_MIN stay (dst_running 1 <= 2): imbalance 0. With the
  // allowance replaced in the pack alone: 2 >> 1 = 1.
  typename domain_tree<L>::domain numa{};
  numa.flags = sd_flags{sd_flag::numa, sd_flag::balance_newidle};
  numa.imbalance_pct = 117;
  numa.imb_numa_nr = 2;
  sd_lb_stats s{};
  s.busiest = 1;
  s.busiest_stat.type = group_type::fully_busy;
  s.busiest_stat.sum_nr_running = s.busiest_stat.sum_h_nr_running = 4;
  s.busiest_stat.group_weight = 4;
  s.busiest_stat.idle_cpus = 0;
  s.local_stat.type = group_type::has_spare;
  s.local_stat.group_weight = 4;
  s.local_stat.idle_cpus = 2;
  auto decide = [&]<class P>(P) {
    lb_env<P, L> e{};
    e.sd = &numa;
    e.idle = cpu_idle_type::idle;
    sd_lb_stats copy = s;
    return calculate_imbalance(e, copy);
  };
  CHECK(decide(linux_defaults{}).imbalance == 0);
  const src_group_decision d = decide(rules<linux_defaults, with_numa_imbalance<no_numa_allowance>>{});
  CHECK(d.type == migration_type::migrate_task);
  CHECK(d.imbalance == 1);
}
