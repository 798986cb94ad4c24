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
#include <vector>

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

TEST_CASE("Three hogs on a little cluster rotate while the idle big CPU beside them stays idle",
          "[scenarios][misfit][exception-8]") {
  // Wasted Cores exception 8's second counterexample, decided with the kernel's code: one
  // LLC of two 2-CPU clusters, CPUs 0-1 capacity 165, CPUs 2-3 capacity 277. As in the
  // first, MC has SD_ASYM_CPUCAPACITY and sd_init() clears SD_PREFER_SIBLING on CLS. The
  // state the model reaches from four hogs piled on CPU 0: one hog on CPU 0, two on CPU 1,
  // one on CPU 2, CPU 3 idle.
  auto m = std::make_unique<test::balance_machine<L>>();
  REQUIRE(test::build_balance_machine({"l3:1 l2:2 core:2 pu:1", "", "0-1:165,2-3:277"}, *m).empty());
  const auto& tree = *m->tree;
  REQUIRE(tree.name(tree.domain_of(3, 1)) == "MC");
  REQUIRE(tree.domain_of(3, 1).flags.has(sd_flag::asym_cpucapacity));
  REQUIRE_FALSE(tree.domain_of(3, 0).flags.has(sd_flag::prefer_sibling));
  auto sys = std::make_unique<model::system<linux_defaults, L>>(tree);
  sys->reset();
  std::uint64_t id = 1;
  for (const std::size_t cpu : {0U, 1U, 1U, 2U}) REQUIRE(sys->fork({id++, 1024, 1024, ~cpumask<L::max_cpus>{}}, cpu) != no_task);
  {
    // CPU 3 at MC: the cluster {0,1} runs 3 hogs on 2 CPUs with util 165 + 165 = 330
    // against capacity 330: overloaded (33000 < 330 * 117), which outranks the misfit it
    // holds. Local {2,3} has_spare with one idle CPU, the busiest none; inside the LLC and
    // without prefer_sibling: (1 - 0) >> 1 = 0, balanced.
    const auto env = make_lb_env<linux_defaults>(tree, sys->snap(), &sys->state(), 3, 1, cpu_idle_type::idle, sys->now());
    sd_lb_stats sds;
    update_sd_lb_stats(env, sds);
    CHECK_FALSE(sds.prefer_sibling);
    CHECK(sds.local_stat.type == group_type::has_spare);
    CHECK(sds.local_stat.idle_cpus == 1);
    CHECK(sds.busiest_stat.type == group_type::overloaded);
    CHECK(sds.busiest_stat.idle_cpus == 0);
    const src_group_decision d = find_src_group_decision(env, sds);
    CHECK(d.type == migration_type::migrate_task);
    CHECK(d.imbalance == 0);
  }
  {
    // CPU 0 at CLS: local {0} fully_busy (one hog, util = capacity 165), busiest {1}
    // overloaded. Both groups' avg_load is needed: local 1024 * 1024 / 165 = 6355, busiest
    // 2048 * 1024 / 165 = 12710, domain 3072 * 1024 / 330 = 9532; imbalance
    // min(3178 * 165, 3177 * 165) / 1024 = 511 < a hog's load, so a move waits until
    // nr_balance_failed halves the bar (shr_bound(1024, 2) = 256): exception 1's rotation.
    const auto env = make_lb_env<linux_defaults>(tree, sys->snap(), &sys->state(), 0, 0, cpu_idle_type::not_idle, sys->now());
    sd_lb_stats sds;
    update_sd_lb_stats(env, sds);
    CHECK(sds.local_stat.type == group_type::fully_busy);
    CHECK(sds.busiest_stat.type == group_type::overloaded);
    const src_group_decision d = find_src_group_decision(env, sds);
    CHECK(d.type == migration_type::migrate_load);
    CHECK(d.imbalance == 511);
  }
  // Over rounds the surplus hog rotates between CPUs 0 and 1 by load moves at CLS, the
  // placement comes back (no fixpoint), and CPU 3 never runs anything.
  const std::size_t before = sys->log().size();
  for (int r = 0; r < 30; ++r) {
    sys->round();
    CHECK(sys->snap().cpus[3].nr_running == 0);
  }
  REQUIRE(sys->log().size() - before >= 6);
  for (std::size_t i = before; i < sys->log().size(); ++i) {
    const migration& mv = sys->log()[i].move;
    CHECK(mv.src + mv.dst == 1);
    CHECK(mv.type == migration_type::migrate_load);
    CHECK(tree.name(tree.domain_of(mv.dst, static_cast<std::size_t>(tree.find_domain(mv.dst, mv.level)))) == "CLS");
  }
}

TEST_CASE("An idle little CPU's pull and a big CPU's misfit pull take turns when hogs outnumber the big CPUs",
          "[scenarios][misfit][exception-10]") {
  // docs/invariants.md, exception 10. One package of four CPUs (one DIE domain, no LLC
  // sharing), CPUs 0-2 capacity 182, CPU 3 capacity 1024; two hogs on CPU 3, one misfit
  // each on CPUs 0 and 2, CPU 1 idle.
  auto m = std::make_unique<test::balance_machine<L>>();
  REQUIRE(test::build_balance_machine({"core:4 pu:1", "", "0-2:182,3:1024"}, *m).empty());
  const auto& tree = *m->tree;
  REQUIRE(tree.nr_domains(1) == 1);
  REQUIRE_FALSE(tree.domain_of(1, 0).flags.has(sd_flag::share_llc));
  auto sys = std::make_unique<model::system<linux_defaults, L>>(tree);
  sys->reset();
  std::uint64_t id = 1;
  for (const std::size_t cpu : {3U, 3U, 0U, 2U}) REQUIRE(sys->fork({id++, 1024, 1024, ~cpumask<L::max_cpus>{}}, cpu) != no_task);
  auto placement = [&] {
    std::vector<std::size_t> p;
    for (std::uint32_t t = 0; t < sys->snap().tasks().size(); ++t) p.push_back(sys->snap().cpu_of(t));
    return p;
  };
  CHECK(placement() == std::vector<std::size_t>{3, 3, 0, 2});
  // CPU 1: local {1} has_spare; {3} is overloaded (two hogs, util 1024 * 117 > 1024 *
  // 100) and outranks the misfit groups; outside an LLC that means migrate_util with
  // imbalance max(182, 0) - 0 = 182. Each hog's util is its share, 512:
  // shr_bound(512, nr_balance_failed) > 182 until two failures, so rounds 1 and 2 move
  // nothing (nor do CPUs 0 and 2: their local avg_load 1024 * 1024 / 182 = 5761 is above
  // CPU 3's 2048).
  CHECK(sys->round().migrations == 0);
  CHECK(sys->round().migrations == 0);
  // Round 3: CPU 1 pulls a hog down (3 → 1). CPU 3 then runs one hog whose util is still
  // its share, 512: has_spare (1024 * 100 > 512 * 117). The misfit groups {0} and {2}
  // qualify (capacity_greater(1024, 182), local has_spare); equal misfit loads keep the
  // first in CPU 3's group order, {0}; migrate_misfit forces an active balance: 0 → 3.
  const std::size_t before = sys->log().size();
  CHECK(sys->round().migrations == 2);
  REQUIRE(sys->log().size() == before + 2);
  const migration& down = sys->log()[before].move;
  const migration& up = sys->log()[before + 1].move;
  CHECK((down.src == 3 && down.dst == 1 && down.reason == migration_reason::periodic &&
         down.type == migration_type::migrate_util));
  CHECK((up.src == 0 && up.dst == 3 && up.reason == migration_reason::active && up.type == migration_type::migrate_misfit));
  // CPU 1 now runs the pulled hog, which does not fit it: its misfit status is set as the
  // hog starts (update_misfit_status() at pick_next_task_fair()), so CPU 1 is a misfit
  // group from now on, like CPU 2. CPU 0 is the idle little CPU, and CPU 0 (the idle
  // source of the active balance) found the hog it just ran still cache hot in its newly
  // idle balance. The same two steps follow with CPU 0: its first two periodic balances
  // fail (shr_bound) and the third, in round 6, pulls the queued hog 3 → 0; that hog
  // starts on CPU 0 and is a misfit there at once, so CPU 3 (has_spare again) pulls it back
  // up in the same round, {0} being the first of the three equal misfit groups in its
  // order. The placement after round 3 comes back every three rounds.
  const auto after_turn = placement();
  CHECK(after_turn == std::vector<std::size_t>{3, 1, 3, 2});
  for (int cycle = 0; cycle < 3; ++cycle) {
    CHECK(sys->round().migrations == 0);
    CHECK(sys->round().migrations == 0);
    const std::size_t at = sys->log().size();
    CHECK(sys->round().migrations == 2);
    REQUIRE(sys->log().size() == at + 2);
    const migration& pull = sys->log()[at].move;
    const migration& back = sys->log()[at + 1].move;
    CHECK((pull.src == 3 && pull.dst == 0 && pull.reason == migration_reason::periodic &&
           pull.type == migration_type::migrate_util));
    CHECK((back.task == pull.task && back.src == 0 && back.dst == 3 && back.reason == migration_reason::active &&
           back.type == migration_type::migrate_misfit));
    CHECK(placement() == after_turn);
  }
}
