// Seed 004's SMT power experiment (LWN, "Scheduling domains"): two CPU hogs sharing one
// hyperthreaded core should be pushed apart, one per physical core, because a pair of
// SMT siblings has far less "CPU power" than two cores. On a 2-core x 2-thread machine
// the two hogs must end on different cores and stay there.
//
// Expected outcomes are derived by hand from kernel/sched/fair.c (v6.16: smt_balance(),
// sibling_imbalance(), need_active_balance()) and the model's rules (model::system); they
// are not read back from the balancer.
#include <balancekit/balancer.hpp>
#include <balancekit/domains.hpp>
#include <balancekit/model/system.hpp>
#include <balancekit/topology.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <memory>
#include <string>

#include "support/balance_machine.hpp"

using namespace balancekit;

namespace {
using L = small_limits;
using tree_t = domain_tree<L>;
using mask = cpumask<L::max_cpus>;

using machine = test::balance_machine<L>;

// One package, one L3, 2 cores x 2 threads, with the mainline (v6.16) domain rules.
std::unique_ptr<machine> smt4() {
  auto m = std::make_unique<machine>();
  REQUIRE(test::build_balance_machine({"package:1 l3:1 core:2 pu:2"}, *m) == "");
  return m;
}

// The SMT core (as the topology numbers it) a task runs on.
std::size_t core_of(const topology<L>& topo, std::size_t cpu) { return topo.siblings(hw_level::core, cpu).first(); }

using sys_t = model::system<linux_defaults, L>;
}  // namespace

TEST_CASE("the SMT power machine numbers threads of a core consecutively", "[scenarios][smt]") {
  const auto m = smt4();
  // Depth-first numbering: core 0 = CPUs 0-1, core 1 = CPUs 2-3.
  CHECK(m->topo->siblings(hw_level::core, 0) == mask::range(0, 1));
  CHECK(m->topo->siblings(hw_level::core, 3) == mask::range(2, 3));
  // Domains of CPU 2: SMT {2,3} (imbalance_pct 110, cache_nice_tries 0), then MC {0-3}
  // (117, cache_nice_tries 1) with groups {2,3} and {0,1}; CLS degenerates.
  const tree_t& tree = *m->tree;
  REQUIRE(tree.nr_domains(2) == 2);
  const auto& smt = tree.domain_of(2, 0);
  const auto& mc = tree.domain_of(2, 1);
  CHECK(tree.name(smt) == "SMT");
  CHECK(tree.name(mc) == "MC");
  CHECK(smt.imbalance_pct == 110);
  CHECK(mc.imbalance_pct == 117);
  CHECK(mc.cache_nice_tries == 1);
  REQUIRE(mc.nr_groups == 2);
  CHECK(tree.span(tree.group_of(mc, 0)) == mask::range(2, 3));
  CHECK(tree.span(tree.group_of(mc, 1)) == mask::range(0, 1));
  CHECK(tree.group_of(mc, 1).cores == 1);
  CHECK(tree.group_of(mc, 1).flags.has(sd_flag::prefer_sibling));
}

// v6.16 cpu_attach_domain(): when the degenerate CLS domain between SMT and MC is spliced
// out, `parent->parent->groups->flags = tmp->flags` copies the SMT domain's flags
// (SD_SHARE_CPUCAPACITY included) to the MC domain's local group (commit "sched/topology:
// Propagate SMT flags when removing degenerate domain", Tim Chen, v6.6). Every MC group
// is some CPU's local group, so all of them carry SD_SHARE_CPUCAPACITY, and an MC group
// holding two tasks on one core is classified group_smt_balance (smt_balance()).
// (balancekit's domain build does this for kernel_profile::mainline; 6.1 did not.)
TEST_CASE("an MC group holding two hogs on one core is classified group_smt_balance", "[scenarios][smt]") {
  const auto m = smt4();
  const tree_t& tree = *m->tree;
  const auto& mc = tree.domain_of(2, 1);
  CHECK(tree.group_of(mc, 1).flags.has(sd_flag::share_cpucapacity));

  auto sys = std::make_unique<sys_t>(tree);
  sys->reset();
  REQUIRE(sys->fork({1, 1024, 1024}, 0) != no_task);
  REQUIRE(sys->fork({2, 1024, 1024}, 1) != no_task);
  auto snap = std::make_unique<snapshot<L>>(sys->snap());
  const auto env = make_lb_env<linux_defaults>(tree, *snap, nullptr, 2, 1, cpu_idle_type::idle, 0);
  sd_lb_stats sds;
  update_sd_lb_stats(env, sds);
  REQUIRE(sds.busiest == 1);
  CHECK(sds.busiest_stat.type == group_type::smt_balance);
}

TEST_CASE("two hogs on sibling threads end on different cores through an active balance at MC",
          "[scenarios][smt]") {
  const auto m = smt4();
  const tree_t& tree = *m->tree;
  auto sys = std::make_unique<sys_t>(tree);
  sys->reset();
  const std::uint32_t a = sys->fork({1, 1024, 1024}, 0);
  const std::uint32_t b = sys->fork({2, 1024, 1024}, 1);
  REQUIRE(a != no_task);
  REQUIRE(b != no_task);

  // The first decision, by CPU 2 (idle, first idle CPU of MC group {2,3} on an idle core,
  // so should_we_balance() says yes; CPU 3 is told no). MC groups: local {2,3} empty →
  // has_spare, 2 idle CPUs. {0,1}: 2 tasks on weight 2, util 2048 = capacity 2048:
  // 204800 > 2048*117 fails → not has_capacity → fully_busy; with the SMT flag (v6.16,
  // see the test above) smt_balance() makes it group_smt_balance. Busiest = {0,1};
  // prefer_sibling (its flags are its child's: SMT/CLS keep SD_PREFER_SIBLING).
  // sched_balance_find_src_group(): prefer_sibling, local has_spare and
  // sibling_imbalance() = 2 - 0 = 2 (one core each side) > 1 → force.
  // calculate_imbalance(): smt_balance → migrate_task, 1 (fully_busy gives the same:
  // sibling_imbalance 2 >> 1 = 1). find_src_rq(), migrate_task: the most h_nr_runnable,
  // first kept → CPU 0. CPU 0 runs one task: sched_balance_rq() skips detach (nr_running
  // 1), ld_moved = 0 → nr_balance_failed++. need_active_balance():
  // imbalanced_active_balance() wants migrate_task and nr_balance_failed >
  // cache_nice_tries + 2 = 3. Rounds 1-3 fail (1, 2, 3); in round 4 (4 > 3) CPU 0's
  // stopper pushes its running task to CPU 2, through CPU 2's lowest domain spanning
  // CPU 0: MC. So the first migration: round 4, task a, 0 → 2, MC, active.
  // (SD_PREFER_SIBLING is what lets the MC balance act on a group that is not
  // overloaded; group_smt_balance names the reason in v6.16.)
  for (int i = 0; i < 3; ++i) CHECK(sys->round().migrations == 0);
  CHECK(sys->state().cpus[2].sd[1].nr_balance_failed == 3);
  const model::round_report r4 = sys->round();
  CHECK(r4.migrations == 1);
  REQUIRE(sys->log().size() == 1);
  const migration& first = sys->log()[0].move;
  CHECK(sys->log()[0].round == 4);
  CHECK(first.task == a);
  CHECK(first.src == 0);
  CHECK(first.dst == 2);
  CHECK(first.level == tree.domain_of(2, 1).level);
  CHECK(first.reason == migration_reason::active);
  CHECK(core_of(*m->topo, sys->snap().cpu_of(a)) != core_of(*m->topo, sys->snap().cpu_of(b)));

  // Afterwards: CPU 0 balances MC as the first idle CPU of {0,1} (on a busy core): local
  // {0,1} has_spare with 1 idle CPU, {2,3} has_spare with 1 idle CPU; sibling_imbalance
  // 1 - 1 = 0, and local.idle_cpus 1 <= busiest.idle_cpus 1 + 1 → balanced. At SMT the
  // sibling's lone task stays (sum_h_nr_running 1). No ping-pong: nothing moves again.
  for (int i = 0; i < 10; ++i) {
    CHECK(sys->round().migrations == 0);
    CHECK(sys->snap().cpu_of(a) == 2);
    CHECK(sys->snap().cpu_of(b) == 1);
  }
  CHECK(sys->total_migrations() == 1);
}

TEST_CASE("two hogs queued on one CPU split to its sibling first, then across cores", "[scenarios][smt]") {
  const auto m = smt4();
  const tree_t& tree = *m->tree;
  auto sys = std::make_unique<sys_t>(tree);
  sys->reset();
  const std::uint32_t a = sys->fork({1, 1024, 1024}, 0);  // runs on CPU 0
  const std::uint32_t b = sys->fork({2, 1024, 1024}, 0);  // waits behind it
  REQUIRE(a != no_task);
  REQUIRE(b != no_task);

  // Round 1. CPU 0 (busy): SMT finds nothing to pull; at MC the first idle CPU of {0,1}
  // is CPU 1 → stop. CPU 1 (idle) at SMT: local {1} has_spare; {0}: 2 tasks on weight 1,
  // capacity 1024*100 < util 1024*110 → overloaded, avg_load 2048*1024/1024 = 2048.
  // The SMT domain has SD_SHARE_LLC, so calculate_imbalance() takes the migrate_task
  // branch: group_weight 1 → sibling_imbalance() = 2 - 0 = 2, >> 1 → imbalance 1.
  // find_src_rq → CPU 0; detach from the tail: a is running (skipped), b is taken (SMT
  // siblings share caches, never hot). First migration: round 1, b, 0 → 1, SMT,
  // periodic, src_load 2048 (two hogs of load 1024), dst_load 0.
  const model::round_report r1 = sys->round();
  CHECK(r1.migrations == 1);
  REQUIRE(sys->log().size() == 1);
  const migration& first = sys->log()[0].move;
  CHECK(first.task == b);
  CHECK(first.src == 0);
  CHECK(first.dst == 1);
  CHECK(first.level == tree.domain_of(1, 0).level);
  CHECK(first.reason == migration_reason::periodic);
  CHECK(first.src_load == 2048);
  CHECK(first.dst_load == 0);

  // Then it is the previous scenario, one round ahead: CPU 2's MC balance already failed
  // once in round 1 (after CPU 1's pull, {0,1} holds two tasks on one core), so the
  // active push 0 → 2 comes in round 4 (nr_balance_failed 4 > 3).
  CHECK(sys->round().migrations == 0);
  CHECK(sys->round().migrations == 0);
  CHECK(sys->round().migrations == 1);
  REQUIRE(sys->log().size() == 2);
  const migration& second = sys->log()[1].move;
  CHECK(sys->log()[1].round == 4);
  CHECK(second.task == a);
  CHECK(second.src == 0);
  CHECK(second.dst == 2);
  CHECK(second.level == tree.domain_of(2, 1).level);
  CHECK(second.reason == migration_reason::active);
  for (int i = 0; i < 10; ++i) CHECK(sys->round().migrations == 0);
  CHECK(core_of(*m->topo, sys->snap().cpu_of(a)) != core_of(*m->topo, sys->snap().cpu_of(b)));
}
