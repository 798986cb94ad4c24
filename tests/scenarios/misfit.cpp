// A CPU hog on a little CPU of the big.LITTLE phone moves to a big CPU through the misfit
// path: update_misfit_status() in the model, group_misfit_task, migrate_misfit, an active
// balance. Expectations derived by hand from kernel/sched/fair.c (v6.16).
#include <balancekit/model/system.hpp>
#include <balancekit/topology/machines.hpp>

#include <catch2/catch.hpp>

#include <memory>

#include "support/balance_machine.hpp"

using namespace balancekit;
using L = small_limits;

namespace {
std::unique_ptr<test::balance_machine<L>> phone8() {
  auto p = std::make_unique<test::balance_machine<L>>();
  REQUIRE(test::build_balance_machine(machines::phone8.spec, *p).empty());
  return p;
}
}  // namespace

TEST_CASE("A hog on a little CPU is a misfit and an idle big CPU pulls it by active balance", "[scenarios][misfit]") {
  const auto p = phone8();
  auto sys = std::make_unique<model::system<linux_defaults, L>>(*p->tree);
  sys->reset();
  REQUIRE(sys->fork({1, 1024, 1024, ~cpumask<L::max_cpus>{}}, 0) != no_task);
  // CPU 0 has capacity 446 and runs one hog: D = 1024 > C = 446, so util = 1024*446/1024
  // = 446 and runnable = min(1024, 1024*1024/446 = 2351) = 1024, load = 1024. The hog does
  // not fit (446*1280 = 570880 >= 446*1024 = 456704), may run anywhere, and its biggest
  // allowed CPU (1024) is not CPU 0: misfit_task_load = max(h_load, 1) = 1024.
  CHECK(sys->snap().cpus[0].misfit_task_load == 1024);
  const auto rep = sys->round();
  // Round 1, CPUs ascending. Littles 1-3: at CLS the group {0} is fully_busy with one task
  // (balanced: busiest not overloaded, sum_h_nr_running == 1); at MC their local group
  // holds CPU 0 and the big cluster has nothing to give. CPU 4, the first idle big CPU on
  // an idle core, balances MC (SD_ASYM_CPUCAPACITY): local {4-7} has_spare; {0-3} has a
  // misfit of 1024 → group_misfit_task; capacity_greater(1024, 446): 1048576 > 480788, so
  // it is the busiest. Misfit forces a balance: migrate_misfit, imbalance 1; the source
  // is CPU 0 (largest misfit load). It runs one task, so nothing is detached; misfit
  // balances do not count failures, but need_active_balance() is true for migrate_misfit
  // and the hog may run on CPU 4: the stopper pushes it 0 → 4.
  REQUIRE(rep.migrations == 1);
  const migration& m = sys->log()[0].move;
  CHECK(m.src == 0);
  CHECK(m.dst == 4);
  CHECK(m.reason == migration_reason::active);
  CHECK(m.type == migration_type::migrate_misfit);
  CHECK(p->tree->name(p->tree->domain_of(4, static_cast<std::size_t>(p->tree->find_domain(4, m.level)))) == "MC");
  // On CPU 4 (capacity 1024 = its biggest allowed) it is no misfit: nothing moves again.
  for (int r = 0; r < 10; ++r) CHECK(sys->round().migrations == 0);
  CHECK(sys->snap().cpus[4].misfit_task_load == 0);
}

TEST_CASE("A hog pinned to a little CPU is no misfit", "[scenarios][misfit]") {
  const auto p = phone8();
  auto sys = std::make_unique<model::system<linux_defaults, L>>(*p->tree);
  sys->reset();
  // nr_cpus_allowed == 1: update_misfit_status() clears the misfit load.
  REQUIRE(sys->fork({1, 1024, 1024, cpumask<L::max_cpus>::of(0)}, 0) != no_task);
  CHECK(sys->snap().cpus[0].misfit_task_load == 0);
  for (int r = 0; r < 6; ++r) CHECK(sys->round().migrations == 0);
}
