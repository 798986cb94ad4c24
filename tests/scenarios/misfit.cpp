// A CPU hog on a little CPU of the big.LITTLE phone moves to a big CPU through the misfit
// path: update_misfit_status() in the model, group_misfit_task, migrate_misfit, an active
// balance. Expectations derived by hand from kernel/sched/fair.c (v6.16).
#include <balancekit/balancer.hpp>
#include <balancekit/model/system.hpp>
#include <balancekit/topology/machines.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

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

TEST_CASE("An overloaded cluster hides a misfit from an idle big CPU when prefer_sibling is cleared",
          "[scenarios][misfit][exception-8]") {
  // Wasted Cores exception 8's first counterexample (docs/invariants.md), decided with the
  // kernel's code: one LLC of four 2-CPU clusters, CPUs 0-5 little (503), 6-7 big (1001).
  // MC has SD_ASYM_CPUCAPACITY, so sd_init() clears SD_PREFER_SIBLING on its child, CLS.
  // State: 5 hogs on CPU 0, 4 on CPU 1, one misfit hog each on CPUs 2 and 4, one hog on the
  // big CPU 6; CPUs 3, 5, 7 idle. CPU 7 balances MC: local {6,7} has_spare, idle 1; the
  // cluster {0,1} is overloaded (9 tasks on 2 CPUs) and outranks the misfit groups {2,3},
  // {4,5}. calculate_imbalance(), local has_spare inside an LLC, no prefer_sibling:
  // migrate_task, max(0, local.idle_cpus 1 − busiest.idle_cpus 0) = 1, then >>= 1 → 0:
  // "balanced". So Linux leaves the big CPU idle, two misfits on littles and nine hogs on two
  // CPUs — the rules' behaviour, not a model gap.
  auto m = std::make_unique<test::balance_machine<L>>();
  REQUIRE(test::build_balance_machine({"l3:1 l2:4 core:2 pu:1", "", "0-5:503,6-7:1001"}, *m).empty());
  const auto& tree = *m->tree;
  REQUIRE(tree.domain_of(7, 1).flags.has(sd_flag::asym_cpucapacity));
  REQUIRE(tree.domain_of(7, 1).flags.has(sd_flag::prefer_sibling));
  REQUIRE_FALSE(tree.domain_of(7, 0).flags.has(sd_flag::prefer_sibling));
  auto sys = std::make_unique<model::system<linux_defaults, L>>(tree);
  sys->reset();
  std::uint64_t id = 1;
  for (const auto& [cpu, n] : {std::pair<std::size_t, int>{0, 5}, {1, 4}, {2, 1}, {4, 1}, {6, 1}})
    for (int i = 0; i < n; ++i) REQUIRE(sys->fork({id++, 1024, 1024, ~cpumask<L::max_cpus>{}}, cpu) != no_task);
  CHECK(sys->snap().cpus[2].misfit_task_load == 1024);
  const auto env = make_lb_env<linux_defaults>(tree, sys->snap(), &sys->state(), 7, 1, cpu_idle_type::idle, sys->now());
  sd_lb_stats sds;
  update_sd_lb_stats(env, sds);
  CHECK_FALSE(sds.prefer_sibling);
  CHECK(sds.local_stat.type == group_type::has_spare);
  CHECK(sds.local_stat.idle_cpus == 1);
  const src_group_decision d = find_src_group_decision(env, sds);
  CHECK(d.type == migration_type::migrate_task);
  CHECK(d.imbalance == 0);
  CHECK(linux_src_group::find(env).group == no_group);  // "return env->imbalance ? busiest : NULL"
  // Over rounds the model moves tasks only inside the overloaded cluster (CPU 0 ↔ 1 at
  // CLS); the idle CPUs, the big one among them, stay idle.
  for (int r = 0; r < 20; ++r) {
    sys->round();
    for (const std::size_t idle : {3U, 5U, 7U}) CHECK(sys->snap().cpus[idle].nr_running == 0);
  }
  for (const auto& e : sys->log()) CHECK(e.move.dst < 2);
}
