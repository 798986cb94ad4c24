// The LLC-centric baseline as a pack member (seed 001; aggregation::llc_centric): what it
// changes in one balance of a two-LLC package, against Linux's rules on the same snapshot,
// and in a simulated run. Expectations derived by hand from the series' rules
// (reference/seed-proposals.md §2.5) in each comment.
#include <balancekit/balancer.hpp>
#include <balancekit/model/simulator.hpp>
#include <balancekit/policy/aggregation.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "support/alloc_counter.hpp"
#include "support/balance_machine.hpp"

using namespace balancekit;

namespace {
using L = small_limits;
using llc_rules = rules<linux_defaults, with_aggregation<aggregation::llc_centric<4>>>;
constexpr nanoseconds one_second = 1'000'000'000;

static_assert(check_pack<llc_rules, L>());
static_assert(detail::aggregation_active<llc_rules>);
static_assert(!detail::aggregation_active<linux_defaults>);

template <class P>
struct world : test::balance_world<P, L> {};

// One package, two LLCs of four CPUs: CPU 4's domains are MC (4-7, the LLC) and PKG (0-7,
// whose groups are the two LLCs).
template <class P>
std::unique_ptr<world<P>> two_llcs() {
  auto w = std::make_unique<world<P>>();
  REQUIRE(test::build_balance_machine({"package:1 l3:2 core:4 pu:1"}, *w).empty());
  REQUIRE(w->tree->nr_domains(4) == 2);
  REQUIRE(w->tree->span(w->tree->domain_of(4, 1)).weight() == 8);
  w->state->reset(*w->tree, 0);
  return w;
}

// test::queue_task, which must find room.
template <class P>
std::uint32_t queue(world<P>& w, std::size_t cpu, std::uint32_t process, std::uint64_t util) {
  const std::uint32_t i = test::queue_task(w, cpu, process, util);
  REQUIRE(i != no_task);
  return i;
}

// Process 0 prefers the LLC of `cpu`.
template <class P>
void prefer(world<P>& w, std::size_t cpu) {
  w.state->aggregation.occupancy.processes[0].preferred_cpu = cpu;
}

// One balance of CPU 4's PKG domain, as an idle CPU's.
template <class P>
balance_result<L> pkg_balance(world<P>& w) {
  balance_result<L> out;
  bool more = true;
  (void)w.b().balance_domain(4, 1, cpu_idle_type::idle, one_second, *w.snap, *w.state, out, more);
  return out;
}

// CPU 0 runs t0 and queues t2 (no process) at its tail and t1 at its head; CPUs 1-3 run
// one task each; LLC 1 is idle. Every task has util 512.
template <class P>
std::array<std::uint32_t, 3> busy_llc0(world<P>& w) {
  const std::uint32_t t0 = queue(w, 0, 0, 512);
  const std::uint32_t t2 = queue(w, 0, no_process, 512);
  const std::uint32_t t1 = queue(w, 0, 0, 512);
  for (std::size_t c = 1; c < 4; ++c) queue(w, c, no_process, 512);
  REQUIRE(w.snap->tail(0) == t0);
  REQUIRE(w.snap->curr(0) == t0);
  return {t0, t1, t2};
}
}  // namespace

TEST_CASE("An LLC pass pulls one task that prefers the destination's LLC, where Linux pulls by count",
          "[aggregation][wiring]") {
  // LLC 0 holds 6 tasks on 4 CPUs: util 1024 + 3 × 512 = 2560 and runnable 3072 of 4096,
  // below 117 % either way, so fully_busy; LLC 1 is idle (has_spare).
  SECTION("Linux: migrate_task by sibling_imbalance, (6 − 0) / 2 = 3, from CPU 0's tail: t2, then t1") {
    auto w = two_llcs<linux_defaults>();
    const auto t = busy_llc0(*w);
    const auto r = pkg_balance(*w);
    REQUIRE(r.migrations.size() == 2);
    CHECK(r.migrations[0].task == t[2]);
    CHECK(r.migrations[1].task == t[1]);
    CHECK(r.migrations[0].type == migration_type::migrate_task);
  }
  SECTION("LLC-centric: process 0 prefers LLC 1; LLC 0 is llc_balance with 2 such tasks, so one moves") {
    // group_llc_balance: LLC 0 (2560 ≥ 50 % of 4096, busy) to LLC 1 (0, not busy), into
    // the preferred LLC with nothing moved: an LLC migration. The source run queue queues
    // the most tasks preferring LLC 1 (CPU 0: t0, t1); the detach order puts t0 and t1
    // (preferring dst) before t2; t0 runs, so t1 goes, and the imbalance of one is spent.
    auto w = two_llcs<llc_rules>();
    const auto t = busy_llc0(*w);
    prefer(*w, 5);
    const auto r = pkg_balance(*w);
    REQUIRE(r.migrations.size() == 1);
    CHECK(r.migrations[0].task == t[1]);
    CHECK(r.migrations[0].src == 0);
    CHECK(r.migrations[0].dst == 4);
    CHECK(r.migrations[0].type == migration_type::migrate_llc_task);
  }
  SECTION("LLC-centric without a preference: Linux's decision") {
    auto w = two_llcs<llc_rules>();
    const auto t = busy_llc0(*w);
    const auto r = pkg_balance(*w);
    REQUIRE(r.migrations.size() == 2);
    CHECK(r.migrations[0].task == t[2]);
    CHECK(r.migrations[1].task == t[1]);
  }
}

TEST_CASE("Leaving the preferred LLC is refused while it would fall below busy, until the domain failed twice",
          "[aggregation][wiring]") {
  // Five tasks of process 0 in LLC 0, util 300 each (1500 of 4096), two of them on CPU 0;
  // LLC 1 idle. Linux pulls: migrate_task, (5 − 0) / 2 = 2, from CPU 0 (the only CPU
  // with two), its queued task. With LLC 0 preferred, the move is out of the preferred LLC
  // and would leave it at 1200, under 50 % of 4096: can_migrate_llc forbids it, so
  // migrate_degrades_llc refuses — until nr_balance_failed reaches cache_nice_tries + 1 =
  // 2 (PKG's cache_nice_tries is 1).
  auto fill = [](auto& w) {
    queue(w, 0, 0, 300);
    const std::uint32_t waiting = queue(w, 0, 0, 300);
    for (std::size_t c = 1; c < 4; ++c) queue(w, c, 0, 300);
    return waiting;
  };
  SECTION("Linux") {
    auto w = two_llcs<linux_defaults>();
    const std::uint32_t waiting = fill(*w);
    const auto r = pkg_balance(*w);
    REQUIRE(r.migrations.size() == 1);
    CHECK(r.migrations[0].task == waiting);
  }
  SECTION("LLC-centric, LLC 0 preferred") {
    auto w = two_llcs<llc_rules>();
    REQUIRE(w->tree->domain_of(4, 1).cache_nice_tries == 1);
    const std::uint32_t waiting = fill(*w);
    prefer(*w, 0);
    CHECK(pkg_balance(*w).migrations.empty());
    CHECK(w->state->cpus[4].sd[1].nr_balance_failed == 1);
    CHECK(pkg_balance(*w).migrations.empty());
    CHECK(w->state->cpus[4].sd[1].nr_balance_failed == 2);
    const auto r = pkg_balance(*w);
    REQUIRE(r.migrations.size() == 1);
    CHECK(r.migrations[0].task == waiting);
  }
}

TEST_CASE("An active balance that would take a running task off its preferred LLC is vetoed when leaving is forbidden",
          "[aggregation][wiring]") {
  // CPU 0 runs one task of process 0 (util 300); LLC 0 holds 1200 in all, LLC 1 nothing.
  // Out of the preferred LLC 0 it would leave 900 < 2048: forbidden, so alb_break_llc.
  auto w = two_llcs<llc_rules>();
  queue(*w, 0, 0, 300);
  for (std::size_t c = 1; c < 4; ++c) queue(*w, c, no_process, 300);
  auto env = make_lb_env<llc_rules>(*w->tree, *w->snap, w->state.get(), 4, 1, cpu_idle_type::idle, one_second);
  env.src_cpu = 0;
  using member = llc_rules::aggregation;
  CHECK_FALSE(member::breaks_active(env, w->state->aggregation));  // no preference yet
  prefer(*w, 0);
  CHECK(member::breaks_active(env, w->state->aggregation));
  prefer(*w, 4);  // the move would be into the preferred LLC
  CHECK_FALSE(member::breaks_active(env, w->state->aggregation));
}

TEST_CASE("A thread of a process the member does not keep is refused; a balance allocates nothing",
          "[aggregation][bad-input]") {
  auto w = two_llcs<llc_rules>();
  using member = llc_rules::aggregation;
  const status bad = member::note_thread(w->state->aggregation, 4, 1, 0);
  REQUIRE_FALSE(bad);
  CHECK(bad.error_value().code == errc::out_of_range);
  CHECK(w->state->aggregation.facts == member::no_threads());
  REQUIRE(member::note_thread(w->state->aggregation, 3, 1, 100));
  REQUIRE(member::note_thread(w->state->aggregation, 3, 1, 50));
  REQUIRE(member::note_thread(w->state->aggregation, 3, -1, 100));
  CHECK(w->state->aggregation.facts[3] == aggregation::process_facts{1, 50});
  busy_llc0(*w);
  prefer(*w, 5);
  const std::uint64_t before = test::allocations();
  const auto r = pkg_balance(*w);
  CHECK(test::allocations() == before);
  CHECK(r.migrations.size() == 1);
}

TEST_CASE("In the simulator, three light threads of one process end in one LLC; under Linux they stay spread",
          "[aggregation][simulator]") {
  // Three threads working 3 ms of every 8 ms from 2 ms on (so that ticks, on 4 ms
  // boundaries, find them running and queue the scans), forked on an idle two-LLC
  // package: the fork slow path spreads them over the LLCs (two and one). Their
  // utilization, about 384 each, leaves either LLC far from busy. Under Linux nothing waits, so nothing moves. Under the
  // LLC-centric member the first scans make the LLC with two threads the preferred one
  // (its summed occupancy is larger, and any sum beats no preference); the other LLC is
  // then llc_balance for the preferred LLC's CPUs' balances, and the lone thread, running
  // alone, goes by active balance (migrate_llc_task), not vetoed since it leaves no
  // preferred LLC.
  auto run = [](auto sim) {
    for (std::uint64_t i = 0; i < 3; ++i) {
      model::sim_task<L> t;
      t.id = i;
      t.work = 3'000'000;
      t.period = 8'000'000;
      t.process = 0;
      REQUIRE(sim->spawn(t, 0, 2'000'000) == i);
    }
    sim->run_until(2 * one_second);
    std::array<std::size_t, 2> per_llc{};
    for (std::uint32_t t = 0; t < 3; ++t) ++per_llc[sim->last_cpu(t) / 4];
    return per_llc;
  };
  test::balance_machine<L> m;
  REQUIRE(test::build_balance_machine({"package:1 l3:2 core:4 pu:1"}, m).empty());
  auto lin = std::make_unique<model::simulator<linux_defaults, L>>(*m.tree);
  lin->reset();
  const auto spread = run(lin.get());
  CHECK(std::max(spread[0], spread[1]) == 2);
  auto agg = std::make_unique<model::simulator<llc_rules, L>>(*m.tree);
  agg->reset();
  const auto together = run(agg.get());
  CHECK(std::max(together[0], together[1]) == 3);
  bool llc_pass = false;
  for (const auto& e : agg->log()) llc_pass = llc_pass || e.move.type == migration_type::migrate_llc_task;
  CHECK(llc_pass);
  for (const auto& e : lin->log()) CHECK(e.move.type != migration_type::migrate_llc_task);
  // aggr_tolerance 0 turns aggregation off (every scan finds the thread limit exceeded):
  // the member then takes no part, and the threads stay as the fork path put them.
  using off = rules<llc_rules, with_tunable<&aggregation_tunables::aggr_tolerance, 0U>>;
  static_assert(off::aggregation_tuning.aggr_tolerance == 0 && off::aggregation_tuning.imb_pct == 20);
  auto none = std::make_unique<model::simulator<off, L>>(*m.tree);
  none->reset();
  CHECK(run(none.get()) == spread);
  for (const auto& e : none->log()) CHECK(e.move.type != migration_type::migrate_llc_task);
}
