// The model's PELT steady state (model::system, docs/balancing.md "The system model"),
// computed by hand: the signals the balancer's group statistics are built from.
#include <balancekit/balancer.hpp>
#include <balancekit/model/system.hpp>
#include <balancekit/topology/spec.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <memory>

#include "support/balance_machine.hpp"

using namespace balancekit;

namespace {
using L = small_limits;
using sys_t = model::system<linux_defaults, L>;

struct one_cpu : test::balance_machine<L> {
  std::unique_ptr<sys_t> sys;
};

// One CPU of capacity 1024 (no domain: nothing balances), tasks forked on it.
std::unique_ptr<one_cpu> cpu0(std::initializer_list<model::task_spec<L>> tasks) {
  auto m = std::make_unique<one_cpu>();
  REQUIRE(test::build_balance_machine(machine_spec{"pu:1"}, *m) == "");
  m->sys = std::make_unique<sys_t>(*m->tree);
  m->sys->reset();
  for (const auto& t : tasks) REQUIRE(m->sys->fork(t, 0) != no_task);
  return m;
}
}  // namespace

TEST_CASE("Tasks that fit their CPU run when they want: util and runnable are their demand", "[model][signals]") {
  // Demands 300 + 400 = 700 <= 1024. util = runnable = demand; load = weight * runnable / 1024.
  const auto m = cpu0({{1, 1024, 300}, {2, 2048, 400}});
  const auto& snap = m->sys->snap();
  CHECK(snap.task_at(0).util == 300);
  CHECK(snap.task_at(0).runnable == 300);
  CHECK(snap.task_at(0).load == 300);  // 1024 * 300 / 1024
  CHECK(snap.task_at(1).util == 400);
  CHECK(snap.task_at(1).runnable == 400);
  CHECK(snap.task_at(1).load == 800);  // 2048 * 400 / 1024
  CHECK(snap.cpus[0].util == 700);
  CHECK(snap.cpus[0].runnable == 700);
  CHECK(snap.cpus[0].load == 1100);
}

TEST_CASE("An overloaded CPU shares its capacity by demand and its tasks wait longer", "[model][signals]") {
  // Two tasks of demand 600 on capacity 1024: D = 1200 > 1024.
  //   util     = 600 * 1024 / 1200 = 614400 / 1200 = 512
  //   runnable = min(1024, 600 * 1200 / 1024) = min(1024, 720000 / 1024 = 703.125) = 703
  //   load     = weight * runnable / 1024: 1024 → 703; 512 → 351 (351.5 truncated)
  const auto m = cpu0({{1, 1024, 600}, {2, 512, 600}});
  const auto& snap = m->sys->snap();
  for (std::uint32_t t = 0; t < 2; ++t) {
    CHECK(snap.task_at(t).util == 512);
    CHECK(snap.task_at(t).util_est == 512);
    CHECK(snap.task_at(t).runnable == 703);
  }
  CHECK(snap.task_at(0).load == 703);
  CHECK(snap.task_at(0).h_load == 703);
  CHECK(snap.task_at(1).load == 351);
  CHECK(snap.cpus[0].nr_running == 2);
  CHECK(snap.cpus[0].util == 1024);
  CHECK(snap.cpus[0].runnable == 1406);
  CHECK(snap.cpus[0].load == 1054);
}

TEST_CASE("Three hogs on one CPU are each runnable all the time", "[model][signals]") {
  // D = 3072: util = 1024 * 1024 / 3072 = 341 (341.33); runnable = min(1024, 3072) = 1024.
  const auto m = cpu0({{1, 1024, 1024}, {2, 1024, 1024}, {3, 1024, 1024}});
  const auto& snap = m->sys->snap();
  CHECK(snap.task_at(2).util == 341);
  CHECK(snap.task_at(2).runnable == 1024);
  CHECK(snap.cpus[0].util == 1023);
  CHECK(snap.cpus[0].runnable == 3072);
  CHECK(snap.cpus[0].load == 3072);
}
