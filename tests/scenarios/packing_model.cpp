// The system model asks the pack where forked and waking tasks go: a light task with
// phases wakes again and again, and packing shows over those wakeups.
#include <balancekit/balancer.hpp>
#include <balancekit/model/system.hpp>
#include <balancekit/topology/machines.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <vector>

#include "support/balance_machine.hpp"

using namespace balancekit;

namespace {
using L = small_limits;
template <class Packing>
using with = rules<linux_defaults, with_packing<Packing>>;

template <class P>
std::unique_ptr<model::system<P, L>> seed64_model(test::balance_machine<L>& m) {
  REQUIRE(test::build_balance_machine(machines::seed64.spec, m).empty());
  auto sys = std::make_unique<model::system<P, L>>(*m.tree);
  sys->reset();
  return sys;
}
}  // namespace

TEST_CASE("A light task advances one buddy hop per wakeup from its own CPU", "[packing][model]") {
  // The seed's caveat (reference §1.2): the check uses the waking CPU's buddy, so a task
  // woken by a timer on its own CPU moves one hop per wakeup. conf0 from LCPU 49:
  // 49 → 48 → 3 → 0, then it stays on its packing CPU. Demand 200 (light), runs one round
  // in four; every buddy is idle, so never busy.
  test::balance_machine<L> m;
  auto sys = seed64_model<with<packing::guittot<packing::buddy_conf::conf0>>>(m);
  model::task_spec<L> light;
  light.id = 1;
  light.demand = 200;
  light.run_rounds = 1;
  light.sleep_rounds = 3;
  const std::uint32_t t = sys->fork(light, 49);
  REQUIRE(t != no_task);
  for (int r = 0; r < 20; ++r) sys->round();
  std::vector<std::size_t> cpus;
  for (const auto& p : sys->placements()) {
    CHECK(p.task == t);
    CHECK_FALSE(p.fork);
    cpus.push_back(p.cpu);
  }
  REQUIRE(cpus.size() == 5);  // wakeups in rounds 4, 8, 12, 16, 20
  CHECK(cpus == std::vector<std::size_t>{48, 3, 0, 0, 0});
  CHECK(sys->placements()[0].why == placement_branch::packing_buddy);
  CHECK(sys->placements()[0].round == 4);
}

TEST_CASE("Forks in the model go through Linux's slow path", "[placement][model]") {
  // place_fork from CPU 0 of an idle seed64: BALANCE_FORK up to NUMA; every group is idle,
  // so the local one stays at each level down to SMT {0,1}, where {1} (idle) beats {0}? No:
  // both idle, local idle_cpus 1 >= 1 → the parent's CPU, 0, taken by the slow path.
  test::balance_machine<L> m;
  auto sys = seed64_model<linux_defaults>(m);
  const std::uint32_t t = sys->place_fork({7, nice_0_load, 1024}, 0);
  REQUIRE(t != no_task);
  REQUIRE(sys->placements().size() == 1);
  CHECK(sys->placements()[0].fork);
  CHECK(sys->placements()[0].why == placement_branch::slow_path);
  CHECK(sys->placements()[0].cpu == 0);
  CHECK(sys->snap().cpu_of(t) == 0);
  // A second fork from CPU 0: the parent's CPU is busy now; the slow path leaves socket 0
  // alone at NUMA (local group {0-15} has 15 idle CPUs, a remote one 16: the imbalance 1 is
  // within imb_numa_nr) and goes down to MC, where cores other than {0,1} have 2 idle CPUs.
  const std::uint32_t u = sys->place_fork({8, nice_0_load, 1024}, 0);
  REQUIRE(u != no_task);
  const std::size_t second = sys->snap().cpu_of(u);
  CHECK(second != 0);
  CHECK(second < 16);
}

TEST_CASE("Utilization-aware packing gathers light wakeups, and Linux's periodic balance spreads them again",
          "[packing][model]") {
  // Eight light tasks (demand 150, one round in two) forked on CPUs 0, 8, …, 56 of seed64,
  // woken from their own CPUs in the same rounds. At each wakeup round utilization-aware
  // packing puts them on two CPUs (5 · 150 = 750 < 819.2 on the first, 3 on the second);
  // Linux's placement leaves each on its idle previous CPU. Then the round's periodic
  // balance runs, and idle CPUs pull from the pack (an overloaded CPU next to idle ones is
  // what Linux's balancer exists to undo): after the round all eight run alone again. The
  // packing a wakeup does lasts only until the next balance unless balancing respects it —
  // Guittot's v5 restricted balancing to the packing CPUs for this reason.
  auto cpus_used = [](auto& sys) {
    std::set<std::size_t> used;
    for (std::uint32_t t = 0; t < sys.snap().tasks().size(); ++t)
      if (sys.snap().queued(t)) used.insert(sys.snap().cpu_of(t));
    return used.size();
  };
  auto placed_in = [](auto& sys, std::uint32_t round) {
    std::set<std::size_t> cpus;
    for (const auto& p : sys.placements())
      if (p.round == round) cpus.insert(p.cpu);
    return cpus.size();
  };
  test::balance_machine<L> m1;
  auto ours = seed64_model<with<packing::utilization_aware<80>>>(m1);
  test::balance_machine<L> m2;
  auto plain = seed64_model<linux_defaults>(m2);
  for (std::uint64_t i = 0; i < 8; ++i) {
    model::task_spec<L> s;
    s.id = i;
    s.demand = 150;
    s.run_rounds = 1;
    s.sleep_rounds = 1;
    REQUIRE(ours->fork(s, 8 * i) != no_task);
    REQUIRE(plain->fork(s, 8 * i) != no_task);
  }
  for (int r = 0; r < 40; ++r) {
    ours->round();
    plain->round();
  }
  CHECK(placed_in(*ours, 40) == 2);
  CHECK(placed_in(*plain, 40) == 8);
  CHECK(cpus_used(*ours) == 8);
  CHECK(cpus_used(*plain) == 8);
}
