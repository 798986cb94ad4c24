// A decision that only the runnable average makes: a group whose CPUs are not all busy
// (utilization well under capacity) is still overloaded, because its waiting tasks make
// group_runnable exceed the capacity by more than imbalance_pct (kernel:
// group_is_overloaded(), v6.16). The expected numbers are derived by hand from
// kernel/sched/fair.c and the model's signal rules, never read back from the balancer.
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
}  // namespace

TEST_CASE("Three hogs on one CPU of a half-idle package overload it through group_runnable",
          "[scenarios][group_runnable]") {
  // Two packages of two single-thread cores, one L3 each: CPU 0's domains are MC {0,1}
  // and PKG {0-3}, whose groups are the packages {0,1} and {2,3}.
  test::balance_machine<L> m;
  REQUIRE(test::build_balance_machine(machine_spec{"package:2 l3:1 core:2 pu:1"}, m) == "");
  REQUIRE(m.tree->nr_domains(0) == 2);
  const auto& pkg = m.tree->domain_of(0, 1);
  REQUIRE_FALSE(pkg.flags.has(sd_flag::share_llc));

  auto sys = std::make_unique<sys_t>(*m.tree);
  sys->reset();
  for (std::uint64_t i = 0; i < 3; ++i) REQUIRE(sys->fork({i, 1024, 1024}, 2) != no_task);

  // Round 1, CPU 0 first. MC {0,1}: nothing runs there, balanced. PKG: group {2,3} holds
  // CPU 2's three hogs (D = 3072: util 341 each, 1023 in all; runnable 1024 each, 3072)
  // and idle CPU 3, on capacity 2048. group_is_overloaded(117): 3 tasks > 2 CPUs;
  //   utilization: 2048 * 100 = 204800 < 1023 * 117 = 119691?  no;
  //   runnable:    2048 * 117 = 239616 < 3072 * 100 = 307200?  yes → group_overloaded.
  // (Were runnable no larger than util, the group would be has_spare and the balance a
  // migrate_task of sibling_imbalance (3 - 0) >> 1 = 1 task.)
  // Local {0,1} has spare and PKG spans two LLCs, so calculate_imbalance() fills the local
  // spare capacity: migrate_util, 2048 - 0 = 2048. sched_balance_find_src_rq(): CPU 2
  // (boosted util min(max(1023, 3072, 1023), 1024) = 1024; CPU 3 runs nothing).
  // detach_tasks(): loop_max = min(32, 3) = 3; the tail is the first hog, running → skipped
  // and rotated; the next two are cold, util_est 341 <= 2048 and 1707 → both taken; then
  // CPU 2 runs one task and an idle destination never takes the last one.
  const model::round_report r1 = sys->round();
  const auto& log = sys->log();
  REQUIRE(log.size() >= 2);
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(log[i].move.src == 2);
    CHECK(log[i].move.dst == 0);
    CHECK(log[i].move.level == pkg.level);
    CHECK(log[i].move.reason == migration_reason::periodic);
    CHECK(log[i].move.type == migration_type::migrate_util);
  }
  CHECK(log[0].move.src_load == 3072);
  CHECK(log[0].move.dst_load == 0);
  CHECK(log[1].move.src_load == 2048);
  CHECK(log[1].move.dst_load == 1024);
  CHECK(r1.idle_cpus == 1);
}
