// The packing family (seed 000). Buddy tables against the seed's own table and Guittot's
// examples; his wake rule, Shi's power-aware placement and utilization-aware packing on
// small machines with the expected CPU derived by hand in each comment.
#include <balancekit/balancer.hpp>
#include <balancekit/domains.hpp>
#include <balancekit/topology.hpp>
#include <balancekit/topology/machines.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "support/balance_machine.hpp"

using namespace balancekit;

namespace {
using L = small_limits;
using mask_t = cpumask<L::max_cpus>;
using packing::buddy_conf;
using packing::power_line;
constexpr nanoseconds one_second = 1'000'000'000;

template <class Packing>
using with = rules<linux_defaults, with_packing<Packing>>;

template <class P>
using world = test::balance_world<P, L>;

template <class P>
std::unique_ptr<world<P>> build(const machine_spec& spec) {
  auto w = std::make_unique<world<P>>();
  REQUIRE(test::build_balance_machine(spec, *w) == "");
  w->state->reset(*w->tree, 0);
  return w;
}

template <class P>
std::vector<std::size_t> buddies(const world<P>& w) {
  std::vector<std::size_t> out;
  for (std::size_t c : w.tree->cpu_map()) out.push_back(w.state->packing.buddy[c]);
  return out;
}

// A task of utilization `util` queued on `cpu`.
template <class P>
std::uint32_t run(world<P>& w, std::size_t cpu, std::uint64_t util = 1024) {
  task_state<L> t;
  t.util = t.util_est = t.runnable = util;
  const std::uint32_t i = w.snap->add_task(t, cpu, w.snap->curr(cpu) == no_task);
  REQUIRE(i != no_task);
  account_enqueue(w.snap->cpus[cpu], t);
  return i;
}

template <class P>
std::uint32_t sleeper(world<P>& w, std::uint64_t util, mask_t allowed = ~mask_t{}) {
  task_state<L> t;
  t.util = t.util_est = t.runnable = util;
  t.allowed = allowed;
  const std::uint32_t i = w.snap->add_sleeping_task(t);
  REQUIRE(i != no_task);
  return i;
}

mask_t cpus_of(std::initializer_list<std::size_t> l) {
  mask_t m;
  for (std::size_t c : l) m.set(c);
  return m;
}

// The seed's table (linaro-dev, 4 sockets x 16 LCPUs), column by column: LCPU 0, 1-15, 16,
// 17-31, 32, 33-47, 48, 49-63.
std::vector<std::size_t> seed_table(std::size_t b16, std::size_t b32, std::size_t b48) {
  std::vector<std::size_t> t(64);
  for (std::size_t c = 0; c < 64; ++c) t[c] = c / 16 * 16;
  t[16] = b16;
  t[32] = b32;
  t[48] = b48;
  return t;
}
}  // namespace

// ---------------------------------------------------------------------- buddy tables

TEST_CASE("The seed's three buddy configurations on seed64, exactly", "[packing][table]") {
  SECTION("conf0: socket leaders pack onto LCPUs 1, 2, 3") {
    const auto w = build<with<packing::guittot<buddy_conf::conf0>>>(machines::seed64.spec);
    CHECK(buddies(*w) == seed_table(1, 2, 3));
  }
  SECTION("conf1: each socket leader onto the previous socket's leader") {
    const auto w = build<with<packing::guittot<buddy_conf::conf1>>>(machines::seed64.spec);
    CHECK(buddies(*w) == seed_table(0, 16, 32));
  }
  SECTION("conf2: every socket leader is its own buddy") {
    const auto w = build<with<packing::guittot<buddy_conf::conf2>>>(machines::seed64.spec);
    CHECK(buddies(*w) == seed_table(16, 32, 48));
  }
}

TEST_CASE("Following buddies from the seed's LCPUs takes the seed's number of hops", "[packing][table]") {
  // reference/seed-proposals.md §1.2: conf0 worst 3 (49→48→3→0), conf1 worst 4
  // (49→48→32→16→0), conf2 worst 1.
  const auto c0 = build<with<packing::guittot<buddy_conf::conf0>>>(machines::seed64.spec);
  const auto c1 = build<with<packing::guittot<buddy_conf::conf1>>>(machines::seed64.spec);
  const auto c2 = build<with<packing::guittot<buddy_conf::conf2>>>(machines::seed64.spec);
  CHECK(buddy_hops(c0->state->packing, 5) == 1);
  CHECK(buddy_hops(c0->state->packing, 16) == 2);
  CHECK(buddy_hops(c0->state->packing, 49) == 3);
  CHECK(buddy_hops(c1->state->packing, 48) == 3);
  CHECK(buddy_hops(c1->state->packing, 49) == 4);
  CHECK(buddy_hops(c2->state->packing, 49) == 1);
  CHECK(buddy_hops(c2->state->packing, 48) == 0);
}

TEST_CASE("Guittot's topology rule gives his two 2 x 2-cluster tables", "[packing][table]") {
  // Two clusters of two cores under one L3: CLS {0,1} {2,3}, MC {0-3}.
  const machine_spec two_by_two{"package:1 l3:1 cluster:2 core:2 pu:1"};
  SECTION("cores and clusters power-gated independently: 0 0 0 2") {
    // CPU0: CLS best group {0} is its own → up; MC {0,1} its own → top: 0. CPU1: CLS {0}
    // (equal capacity, lower first CPU) → 0. CPU2: CLS own → MC {0,1} → 0. CPU3: CLS {2} → 2.
    const auto w = build<with<packing::guittot_topology<power_line::none>>>(two_by_two);
    CHECK(buddies(*w) == std::vector<std::size_t>{0, 0, 0, 2});
  }
  SECTION("cores of a cluster share a power line: 0 1 0 0") {
    // Start at MC, the parent of CLS. CPU0 and CPU1: their cluster {0,1} is the best group
    // → their own buddies. CPU2, CPU3: {0,1} beats {2,3} (lower first CPU) → 0.
    const auto w = build<with<packing::guittot_topology<power_line::cluster>>>(two_by_two);
    CHECK(buddies(*w) == std::vector<std::size_t>{0, 1, 0, 0});
  }
  SECTION("nothing can be power-gated: no buddy") {
    const auto w = build<with<packing::guittot_topology<power_line::all>>>(two_by_two);
    CHECK(buddies(*w) == std::vector<std::size_t>(4, no_cpu));
  }
  SECTION("everything up to the LLC shares one power line: no level left, no buddy") {
    const auto w = build<with<packing::guittot_topology<power_line::llc>>>(two_by_two);
    CHECK(buddies(*w) == std::vector<std::size_t>(4, no_cpu));
  }
}

TEST_CASE("The topology rule packs on the cluster of lower capacity per CPU", "[packing][table]") {
  // big.LITTLE with the big cluster first: CPUs 0-3 capacity 1024, 4-7 capacity 446. At MC
  // the group {4-7} (446 per CPU) beats {0-3} (1024) although its first CPU is higher.
  // CPU4: CLS own → MC own → 4. CPUs 5-7: CLS {4} → 4. CPU0: CLS own → MC {4-7} → 4.
  // CPUs 1-3: CLS {0} → 0.
  const auto w = build<with<packing::guittot_topology<power_line::none>>>(
      {"package:1 l3:1 cluster:2 core:4 pu:1", "", "0-3:1024,4-7:446"});
  CHECK(buddies(*w) == std::vector<std::size_t>{4, 0, 0, 0, 4, 4, 4, 4});
}

// ---------------------------------------------------------------------- Guittot's wake rule

TEST_CASE("A light task goes to the waking CPU's buddy while the buddy is not busy", "[packing][exact]") {
  using P = with<packing::guittot<buddy_conf::conf2>>;
  auto w = build<P>(machines::seed64.spec);
  const auto b = w->b();
  run(*w, 20, 300);  // the waker, on CPU 20 of socket 1: buddy 16
  SECTION("light (4 · 200 < 1024) and CPU 16 idle → 16, whatever prev is") {
    const auto p = sleeper(*w, 200);
    const auto r = b.on_wakeup(p, 40, 20, 0, one_second, *w->snap, *w->state);
    REQUIRE(r);
    CHECK(r->cpu == 16);
    CHECK(r->why == placement_branch::packing_buddy);
  }
  SECTION("not light at exactly 25 % (4 · 256 = 1024): placement decides") {
    const auto p = sleeper(*w, 256);
    const auto r = b.on_wakeup(p, 40, 20, 0, one_second, *w->snap, *w->state);
    REQUIRE(r);
    CHECK(r->why != placement_branch::packing_buddy);
  }
  SECTION("the buddy is busy: usage · 2^nr_running above the period") {
    // One task at 600: 1200 > 1024 → busy. One task at 500: 1000 → not busy. Two tasks at
    // 300 (sum 600): 600 · 4 = 2400 → busy.
    const auto p = sleeper(*w, 100);
    run(*w, 16, 500);
    auto r = b.on_wakeup(p, 40, 20, 0, one_second, *w->snap, *w->state);
    REQUIRE(r);
    CHECK(r->cpu == 16);
    run(*w, 16, 100);  // now two tasks, usage 600: busy
    r = b.on_wakeup(p, 40, 20, 0, one_second, *w->snap, *w->state);
    REQUIRE(r);
    CHECK(r->why != placement_branch::packing_buddy);
  }
  SECTION("the buddy is not an allowed CPU: placement decides") {
    const auto p = sleeper(*w, 100, cpus_of({17, 18, 40}));
    const auto r = b.on_wakeup(p, 40, 20, 0, one_second, *w->snap, *w->state);
    REQUIRE(r);
    CHECK(r->why != placement_branch::packing_buddy);
    CHECK((r->cpu == 17 || r->cpu == 18 || r->cpu == 40));
  }
}

// ---------------------------------------------------------------------- Shi's power policy

TEST_CASE("Shi's powersaving fills the waker's CPU, then its core, then its socket", "[packing][exact]") {
  using P = with<packing::shi_power<packing::shi_mode::powersaving>>;
  auto w = build<P>(machines::seed64.spec);
  const auto b = w->b();
  const auto waker = run(*w, 20, 300);
  const auto p = sleeper(*w, 200);
  // The waker's CPU: 1024 − 300 · 1 − 200 = 524 > 0 → 20.
  auto r = b.on_wakeup(p, 40, 20, 0, one_second, *w->snap, *w->state);
  REQUIRE(r);
  CHECK(r->cpu == 20);
  CHECK(r->why == placement_branch::packing_leader);
  // Two more tasks of 300 on CPU 20: max potential utilization 900 · 3 = 2700 → no room.
  // SMT {20,21}: domain room 2048 − 2700 − 200 < 0 → off. MC {16-31}: 16384 − 2700 − 200 >
  // 0; groups are cores: {20,21} has 2048 − 2700 − 200 < 0; the others 2048 − 0 − 200 =
  // 1848 all equal → the first group seen from CPU 20 after its own: {22,23}, CPU 22.
  run(*w, 20, 300);
  run(*w, 20, 300);
  r = b.on_wakeup(p, 40, 20, 0, one_second, *w->snap, *w->state);
  REQUIRE(r);
  CHECK(r->cpu == 22);
  CHECK(r->why == placement_branch::packing_leader);
  (void)waker;
}

TEST_CASE("Shi's performance mode never packs", "[packing][exact]") {
  using P = with<packing::shi_power<packing::shi_mode::performance>>;
  auto w = build<P>(machines::seed64.spec);
  run(*w, 20, 300);
  const auto p = sleeper(*w, 200);
  const auto r = w->b().on_wakeup(p, 40, 20, 0, one_second, *w->snap, *w->state);
  REQUIRE(r);
  CHECK(r->why != placement_branch::packing_leader);
}


// ---------------------------------------------------------------------- utilization-aware packing

TEST_CASE("Utilization-aware packing fills the fullest CPU that stays under the margin", "[packing][exact]") {
  using P = with<packing::utilization_aware<80>>;
  auto w = build<P>(machines::seed64.spec);
  const auto b = w->b();
  run(*w, 3, 500);
  run(*w, 5, 200);
  const auto p = sleeper(*w, 200);
  // prev 4: SMT {4,5}: CPU 5 in use, (200 + 200) · 100 < 80 · 1024 → best fit 5.
  auto r = b.on_wakeup(p, 4, 30, 0, one_second, *w->snap, *w->state);
  REQUIRE(r);
  CHECK(r->cpu == 5);
  CHECK(r->why == placement_branch::packing_fit);
  // A second wakeup of the same batch (same instant) counts the first: CPU 5 at 400 + 200,
  // still under 819.2 → 5 again. A third: 600 + 200 = 800 < 819.2 → 5. A fourth: 1000 →
  // no: SMT {4,5} has no other CPU in use; its sum 800 + 200 = 1000 < 0.8 · 2048 → the idle
  // CPU nearest to those in use: 4.
  const auto q = sleeper(*w, 200);
  r = b.on_wakeup(q, 4, 30, 0, one_second, *w->snap, *w->state);
  REQUIRE(r);
  CHECK(r->cpu == 5);
  r = b.on_wakeup(q, 4, 30, 0, one_second, *w->snap, *w->state);
  REQUIRE(r);
  CHECK(r->cpu == 5);
  r = b.on_wakeup(q, 4, 30, 0, one_second, *w->snap, *w->state);
  REQUIRE(r);
  CHECK(r->cpu == 4);
  // A later instant is a new batch: the claims are gone (the embedder enqueued them).
  r = b.on_wakeup(q, 4, 30, 0, 2 * one_second, *w->snap, *w->state);
  REQUIRE(r);
  CHECK(r->cpu == 5);
}

TEST_CASE("Utilization-aware packing widens the scope only when the nearer one is full", "[packing][exact]") {
  using P = with<packing::utilization_aware<80>>;
  auto w = build<P>(machines::seed64.spec);
  const auto b = w->b();
  run(*w, 4, 700);
  run(*w, 5, 700);
  run(*w, 40, 100);
  const auto p = sleeper(*w, 200);
  // SMT {4,5}: both in use, neither fits (900 > 819.2), no idle CPU → full. MC {0-15}: no CPU
  // in use fits; sum 1400 + 200 < 0.8 · 16384 → the idle CPU nearest to 4 and 5: no SMT
  // sibling is free, so a CPU sharing MC with them; the lowest, 0. CPU 40 (another socket,
  // in use, room) is not considered: the socket is not full.
  const auto r = b.on_wakeup(p, 4, 4, 0, one_second, *w->snap, *w->state);
  REQUIRE(r);
  CHECK(r->cpu == 0);
  CHECK(r->why == placement_branch::packing_fit);
}

TEST_CASE("Utilization-aware packing leaves heavy tasks and full machines to Linux", "[packing][exact]") {
  using P = with<packing::utilization_aware<80>>;
  auto w = build<P>({"package:1 l3:1 core:2 pu:1"});
  const auto b = w->b();
  SECTION("a task of 25 % or more is not light") {
    const auto p = sleeper(*w, 256);
    const auto r = b.on_wakeup(p, 0, 0, 0, one_second, *w->snap, *w->state);
    REQUIRE(r);
    CHECK(r->why != placement_branch::packing_fit);
  }
  SECTION("every CPU in use and none fits: Linux's placement") {
    run(*w, 0, 700);
    run(*w, 1, 700);
    const auto p = sleeper(*w, 200);
    const auto r = b.on_wakeup(p, 0, 0, 0, one_second, *w->snap, *w->state);
    REQUIRE(r);
    CHECK(r->why != placement_branch::packing_fit);
  }
  SECTION("nothing in use anywhere: the task starts a pack on its previous CPU") {
    const auto p = sleeper(*w, 200);
    const auto r = b.on_wakeup(p, 1, 0, 0, one_second, *w->snap, *w->state);
    REQUIRE(r);
    CHECK(r->cpu == 1);
    CHECK(r->why == placement_branch::packing_fit);
  }
}

TEST_CASE("A packing margin outside 1..100 is an error and changes nothing", "[packing][errors]") {
  const auto w = build<with<packing::none>>({"core:2"});
  packing::batch_claims<L> st;
  packing::utilization_aware<70>::attach(*w->tree, st);
  REQUIRE(st.margin_percent == 70);
  for (const std::int64_t bad : {0L, -5L, 101L}) {
    const status s = packing::set_margin(st, bad);
    REQUIRE_FALSE(s);
    CHECK(s.error_value().code == errc::out_of_range);
    CHECK(std::string(s.error_value().message.view()).find("is outside 1..100") != std::string::npos);
    CHECK(st.margin_percent == 70);
  }
  CHECK(packing::set_margin(st, 100));
  CHECK(st.margin_percent == 100);
}
