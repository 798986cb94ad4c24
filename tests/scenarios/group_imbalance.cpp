// Scenario S1 of reference/verification-anchors.md, "Group Imbalance" (Lozi et al.,
// "The Linux Scheduler: a Decade of Wasted Cores", EuroSys 2016, §3.1), scaled down to
// 2 NUMA nodes x 4 cores, run through the Linux pack and the Wasted Cores min-load pack.
//
// Every expected number below is derived by hand from kernel/sched/fair.c (v6.16:
// update_sg_lb_stats(), sched_balance_find_src_group(), calculate_imbalance(),
// sched_balance_find_src_rq(), detach_tasks()) and the model's signal rules
// (model::system), never read back from the code under test.
//
// Why the paper saw idle cores and Linux v6.16 does not. Before Linux 5.5 (Vincent
// Guittot's load_balance() rework, commit 0b0695f2b34a "sched/fair: Rework
// load_balance()"), find_busiest_group() compared the groups' *average* load per
// capacity: node 0 = [1024, 0, 0, 0] averages 256, node 1 = [256, 256, 256, 256]
// averages 256, so `local.avg_load >= busiest.avg_load` sent the idle CPUs of node 0 to
// out_balanced and they stayed idle while node 1 had a waiting thread per CPU. That is
// what the paper measured. Since the rework, groups are first classified: node 0 has
// spare capacity (group_has_spare), node 1 is group_overloaded, and an idle CPU of a
// has_spare group pulls from an overloaded group across LLCs by *utilization*
// (migrate_util: fill the local group's spare capacity), whatever the loads say. So the
// Linux pack fixes the scenario without the paper's min-load rule.
#include <balancekit/balancer.hpp>
#include <balancekit/domains.hpp>
#include <balancekit/model/system.hpp>
#include <balancekit/policy/wasted_cores.hpp>
#include <balancekit/topology.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "support/balance_machine.hpp"

using namespace balancekit;

namespace {
using L = small_limits;
using tree_t = domain_tree<L>;
using machine = test::balance_machine<L>;

// 2 packages, one node each, one L3 per node, 4 cores of one thread: CPUs 0-3 on node 0,
// 4-7 on node 1 (depth-first numbering); SLIT 10 local, 20 remote.
std::unique_ptr<machine> two_nodes() {
  auto m = std::make_unique<machine>();
  REQUIRE(test::build_balance_machine({"package:2 numa:1 l3:1 core:4 pu:1", "10 20;20 10"}, *m) == "");
  return m;
}

// The indices of the S1 tasks in the model.
struct s1_tasks {
  std::uint32_t r = 0;                    // the R thread on CPU 0
  std::array<std::uint32_t, 8> make{};   // make[2*(c-4)] runs on CPU c, make[2*(c-4)+1] waits behind it
};

// S1's placement: R (weight 1024) on CPU 0, CPUs 1-3 idle; two make threads (autogroup of
// 8: weight 1024/8 = 128) per CPU of node 1. All are CPU hogs (demand 1024).
template <class P>
s1_tasks fork_s1(model::system<P, L>& sys) {
  s1_tasks t;
  std::uint64_t id = 1;
  t.r = sys.fork({id++, 1024, 1024}, 0);
  REQUIRE(t.r != no_task);
  for (std::size_t i = 0; i < 8; ++i) {
    t.make[i] = sys.fork({id++, 128, 1024}, 4 + i / 2);
    REQUIRE(t.make[i] != no_task);
  }
  return t;
}

// I1 (work conservation, affinity-aware): no idle CPU while a task waits (queued and not
// running) on another CPU and is allowed on the idle one.
bool work_conserving(const tree_t& tree, const snapshot<L>& snap) {
  for (std::size_t idle : tree.cpu_map()) {
    if (!snap.cpus[idle].is_idle()) continue;
    for (std::uint32_t t = 0; t < snap.tasks().size(); ++t)
      if (snap.queued(t) && !snap.running(t) && snap.task_at(t).allowed.test(idle)) return false;
  }
  return true;
}

// The index of `cpu`'s NUMA domain among its attached domains.
std::size_t numa_index(const tree_t& tree, std::size_t cpu) {
  const int k = tree.sd_numa(cpu);
  REQUIRE(k >= 0);
  return static_cast<std::size_t>(k);
}

// The environment of `cpu`'s k-th domain as a balance of pack P starts it, without
// sgc->imbalance flags.
template <class P>
lb_env<P, L> env_for(const tree_t& tree, const snapshot<L>& snap, std::size_t cpu, std::size_t k, cpu_idle_type idle,
                     nanoseconds now) {
  return make_lb_env<P>(tree, snap, nullptr, cpu, k, idle, now);
}

using mask = cpumask<L::max_cpus>;
}  // namespace

TEST_CASE("the S1 machine has an MC domain per node and one NUMA domain over both", "[scenarios][s1]") {
  const auto m = two_nodes();
  const tree_t& tree = *m->tree;
  // package:2 numa:1: PKG spans a node, like NODE and MC, so PKG and NODE degenerate;
  // the distance-20 level spans both nodes. CPU 1: MC = 0-3, NUMA = 0-7.
  REQUIRE(tree.nr_domains(1) == 2);
  const auto& mc = tree.domain_of(1, 0);
  const auto& numa = tree.domain_of(1, numa_index(tree, 1));
  CHECK(tree.name(mc) == "MC");
  CHECK(tree.name(numa) == "NUMA");
  CHECK(tree.span(mc) == mask::range(0, 3));
  CHECK(tree.span(numa) == mask::range(0, 7));
  REQUIRE(numa.nr_groups == 2);
  CHECK(tree.span(tree.group_of(numa, 0)) == mask::range(0, 3));
  CHECK(tree.span(tree.group_of(numa, 1)) == mask::range(4, 7));
  // sd_init(): SD_NUMA levels keep the default imbalance_pct 117, lose SD_PREFER_SIBLING,
  // and have no SD_SHARE_LLC (which is what sends calculate_imbalance() to migrate_util).
  CHECK(numa.imbalance_pct == 117);
  CHECK_FALSE(numa.flags.has(sd_flag::share_llc));
  CHECK(numa.flags.has(sd_flag::numa));
  CHECK(mc.flags.has(sd_flag::share_llc));
}

TEST_CASE("an idle CPU of the R node pulls a waiting make thread by utilization at the NUMA level",
          "[scenarios][s1][linux]") {
  const auto m = two_nodes();
  const tree_t& tree = *m->tree;
  auto sys = std::make_unique<model::system<linux_defaults, L>>(tree);
  sys->reset();
  const s1_tasks t = fork_s1(*sys);

  // The model's signals (system.hpp): R alone on CPU 0: util = runnable = 1024,
  // load = 1024 * 1024/1024 = 1024. Two hogs on CPU c of node 1: D = 2048 > 1024, so each
  // gets util = 1024*1024/2048 = 512, runnable = min(1024, 1024*2048/1024) = 1024,
  // load = 128*1024/1024 = 128; CPU sums nr 2, load 256, util 1024, runnable 2048.
  REQUIRE(sys->snap().cpus[0].load == 1024);
  REQUIRE(sys->snap().cpus[4].load == 256);
  REQUIRE(sys->snap().cpus[4].util == 1024);
  REQUIRE(sys->snap().cpus[4].runnable == 2048);

  auto snap = std::make_unique<snapshot<L>>(sys->snap());
  const std::size_t k = numa_index(tree, 1);
  const nanoseconds now = sys->default_round_length();
  lb_env<linux_defaults, L> env = env_for<linux_defaults>(tree, *snap, 1, k, cpu_idle_type::idle, now);

  // should_we_balance(): the first idle CPU of the local group's balance mask (0-3) is
  // CPU 1 (CPU 0 runs R; no SMT, so every idle CPU is on an idle core): CPU 1 balances.
  CHECK(linux_should_we_balance::check(env));

  sd_lb_stats sds;
  update_sd_lb_stats(env, sds);
  // Local group = node 0 (group 0): capacity 4 x 1024 = 4096, load 1024, util 1024,
  // runnable 1024, 1 task, 3 idle CPUs. sum_nr_running 1 < weight 4 → group_has_spare.
  REQUIRE(sds.local == 0);
  const sg_lb_stats& local = sds.local_stat;
  CHECK(local.group_capacity == 4096);
  CHECK(local.group_load == 1024);
  CHECK(local.group_util == 1024);
  CHECK(local.sum_nr_running == 1);
  CHECK(local.idle_cpus == 3);
  CHECK(local.type == group_type::has_spare);
  // Node 1 (group 1): load 4 x 256 = 1024, util 4 x min(1024, 1024) = 4096, runnable
  // 4 x 2048 = 8192, 8 tasks on weight 4. group_is_overloaded(): 8 > 4 and
  // capacity*100 = 409600 < util*117 = 479232 → group_overloaded; then
  // avg_load = 1024 * 1024 / 4096 = 256 — the same as node 0's average, the paper's trap.
  REQUIRE(sds.busiest == 1);
  const sg_lb_stats& busiest = sds.busiest_stat;
  CHECK(busiest.group_load == 1024);
  CHECK(busiest.group_util == 4096);
  CHECK(busiest.group_runnable == 8192);
  CHECK(busiest.sum_h_nr_running == 8);
  CHECK(busiest.idle_cpus == 0);
  CHECK(busiest.type == group_type::overloaded);
  CHECK(busiest.avg_load == 256);
  // fbq_classify_group(): 8 tasks, none with a preferred node → regular.
  CHECK(sds.fbq == fbq_type::regular);

  // sched_balance_find_src_group(): busiest overloaded, local has_spare (lower type, not
  // overloaded) → calculate_imbalance(): busiest > fully_busy and the NUMA domain has no
  // SD_SHARE_LLC → migrate_util, imbalance = max(4096, 1024) - 1024 = 3072.
  const src_group_decision d = find_src_group_decision(env, sds);
  REQUIRE(d.group == 1);
  CHECK(d.type == migration_type::migrate_util);
  CHECK(d.imbalance == 3072);
  CHECK(d.fbq == fbq_type::regular);
  env.apply(d);  // as the balancing pass hands it to the next steps

  // sched_balance_find_src_rq(), migrate_util: the CPU with the highest
  // cpu_util_cfs_boost() = min(max(util 1024, runnable 2048, util_est 1024), 1024) = 1024
  // among CPUs with more than one task; all four tie and the strict `<` keeps the first:
  // CPU 4.
  const std::size_t src = linux_src_rq::find(env, 1);
  REQUIRE(src == 4);

  // detach_tasks(): loop_max = min(32, 2) = 2. From the tail: make[0] runs on CPU 4 (it
  // was forked first), so can_migrate_task() refuses it and it rotates to the head;
  // make[1] is cold (it never ran) and its util_est 512 <= 3072 → taken, imbalance
  // 3072 - 512 = 2560 > 0; but CPU 4 now runs one task and an idle destination never
  // takes the source's last one → stop. One task moves.
  env.src_cpu = src;
  env.flags |= lbf::all_pinned;
  env.loop_max = 2;
  detached_tasks out;
  CHECK(linux_detach::detach(env, *snap, out) == 1);
  REQUIRE(out.size() == 1);
  CHECK(out[0] == t.make[1]);
  CHECK(env.imbalance == 2560);
  CHECK(snap->cpus[4].nr_running == 1);

  // The same attempt through balancer::balance_domain(): one periodic migration
  // 4 → 1 at the NUMA level, src_load 256 before it left, dst_load 0.
  auto snap2 = std::make_unique<snapshot<L>>(sys->snap());
  auto state = std::make_unique<balance_state<linux_defaults, L>>();
  state->reset(tree, 0);
  balancer<linux_defaults, L> b{tree};
  balance_result<L> res;
  bool cont = true;
  CHECK(b.balance_domain(1, k, cpu_idle_type::idle, now, *snap2, *state, res, cont) == 1);
  REQUIRE(res.migrations.size() == 1);
  const migration& mig = res.migrations[0];
  CHECK(mig.task == t.make[1]);
  CHECK(mig.src == 4);
  CHECK(mig.dst == 1);
  CHECK(mig.level == tree.domain_of(1, k).level);
  CHECK(mig.reason == migration_reason::periodic);
  CHECK(mig.src_load == 256);
  CHECK(mig.dst_load == 0);
  CHECK(snap2->cpu_of(t.make[1]) == 1);
}

TEST_CASE("the Linux pack reaches work conservation on S1 in one round and keeps it",
          "[scenarios][s1][linux]") {
  const auto m = two_nodes();
  const tree_t& tree = *m->tree;
  auto sys = std::make_unique<model::system<linux_defaults, L>>(tree);
  sys->reset();
  const s1_tasks t = fork_s1(*sys);
  REQUIRE_FALSE(work_conserving(tree, sys->snap()));  // the starting state violates I1

  // Round 1, CPUs in order. CPU 0: MC has no other task; at NUMA should_we_balance()
  // names CPU 1 → stop. CPU 1: MC sees only R alone on CPU 0 (group_weight 1,
  // sum_h_nr_running 1 → balanced); NUMA pulls make[1] from CPU 4 (previous test).
  // CPU 2: local util 1024+512 = 1536 (the moved task carries util 512), node 1 has 7
  // tasks, util 512+3*1024 = 3584, 409600 < 3584*117 = 419328 → overloaded;
  // imbalance 4096-1536 = 2560; CPU 4 has one task left, so CPU 5 (boost 1024) gives one.
  // CPU 3: local util 2048; node 1: 6 tasks, util 3072, runnable 6144:
  // 4096*117 = 479232 < 614400 → overloaded; imbalance 2048; CPU 6 gives one.
  // After round 1: node 0 = R, m, m, m; node 1 = m, m, m, m+m. No idle CPU: I1 holds.
  const model::round_report r1 = sys->round();
  CHECK(r1.migrations == 3);
  CHECK(r1.idle_cpus == 0);
  CHECK(r1.overloaded_cpus == 1);
  CHECK(work_conserving(tree, sys->snap()));
  for (std::size_t c = 0; c < 8; ++c) CHECK(sys->snap().cpus[c].nr_running == (c == 7 ? 2U : 1U));
  REQUIRE(sys->log().size() == 3);
  const std::array<std::uint32_t, 3> moved{t.make[1], t.make[3], t.make[5]};
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(sys->log()[i].move.task == moved[i]);
    CHECK(sys->log()[i].move.src == 4 + i);
    CHECK(sys->log()[i].move.dst == 1 + i);
    CHECK(sys->log()[i].move.level == tree.domain_of(1, numa_index(tree, 1)).level);
  }

  // Later rounds never cross the nodes: node 0 is fully busy (util 4096: 100*4096 >
  // 117*4096 fails) with avg_load (1024+3*128)*1024/4096 = 352 >= node 1's
  // (3*128+256)*1024/4096 = 160 → balanced at NUMA. Inside node 1 Linux does rotate the
  // fifth make thread, for fairness: CPU 4's MC balance sees local {4} fully_busy,
  // avg 128, busiest {7} overloaded, avg 256, domain avg 640*1024/4096 = 160:
  // imbalance = min((256-160)*1024, (160-128)*1024)/1024 = 32 (migrate_load). The waiting
  // thread's h_load 128 passes shr_bound(128, nr_balance_failed) <= 32 only after two
  // failures. Round 1 saw CPU 4 as has_spare (its remaining task still carried util 512)
  // → balanced, no failure; rounds 2 and 3 fail (128 > 32, 64 > 32); round 4 moves
  // 7 → 4 at MC (32 <= 32). So no quiet fixpoint, but I1 holds after every round.
  const std::uint8_t mc_level = tree.domain_of(4, 0).level;
  const std::size_t before = sys->log().size();
  for (int i = 0; i < 15; ++i) {
    const model::round_report r = sys->round();
    CHECK(r.idle_cpus == 0);
    CHECK(work_conserving(tree, sys->snap()));
  }
  REQUIRE(sys->log().size() > before);
  const model::logged_migration& first_later = sys->log()[before];
  CHECK(first_later.round == 4);
  CHECK(first_later.move.src == 7);
  CHECK(first_later.move.dst == 4);
  CHECK(first_later.move.level == mc_level);
  CHECK(first_later.move.reason == migration_reason::periodic);
  for (std::size_t i = before; i < sys->log().size(); ++i) {
    CHECK(sys->log()[i].move.src >= 4);
    CHECK(sys->log()[i].move.dst >= 4);
  }
}

TEST_CASE("the min-load pack's first S1 decision is half the gap between busiest max and local min",
          "[scenarios][s1][wasted_cores]") {
  const auto m = two_nodes();
  const tree_t& tree = *m->tree;
  auto sys = std::make_unique<model::system<wasted_cores_rules, L>>(tree);
  sys->reset();
  const s1_tasks t = fork_s1(*sys);
  auto snap = std::make_unique<snapshot<L>>(sys->snap());
  const std::size_t k = numa_index(tree, 1);
  const nanoseconds now = sys->default_round_length();
  lb_env<wasted_cores_rules, L> env = env_for<wasted_cores_rules>(tree, *snap, 1, k, cpu_idle_type::idle, now);

  // Node 0 loads [1024, 0, 0, 0]: min 0. Node 1 loads [256, 256, 256, 256]: min 256,
  // max 256. local.min 0 < busiest.min 256 → steal, migrate_load,
  // imbalance = (busiest.max - local.min) / 2 = (256 - 0) / 2 = 128.
  const wasted_cores::group_load_range local = wasted_cores::load_range(env, 0);
  const wasted_cores::group_load_range remote = wasted_cores::load_range(env, 1);
  CHECK(local.min_load == 0);
  CHECK(local.max_load == 1024);
  CHECK(remote.min_load == 256);
  CHECK(remote.max_load == 256);
  const src_group_decision d = wasted_cores::min_load_src_group::find(env);
  CHECK(d.group == 1);
  CHECK(d.type == migration_type::migrate_load);
  CHECK(d.imbalance == 128);
  CHECK(d.fbq == fbq_type::all);
  env.apply(d);

  // find_src_rq, migrate_load (fbq stays `all`: the min-load rule gathers no NUMA stats):
  // the highest load per capacity, 256*1024 each, first one kept → CPU 4. detach: the
  // running make[0] is skipped, make[1] has h_load 128 <= 128 → taken, imbalance 0 → stop.
  const std::size_t src = linux_src_rq::find(env, 1);
  REQUIRE(src == 4);
  env.src_cpu = src;
  env.loop_max = 2;
  detached_tasks out;
  CHECK(linux_detach::detach(env, *snap, out) == 1);
  REQUIRE(out.size() == 1);
  CHECK(out[0] == t.make[1]);
  CHECK(env.imbalance == 0);

  // At CPU 1's MC level first (what a tick does before NUMA): local {1} min 0, busiest
  // {0} (R) min 1024 → imbalance (1024-0)/2 = 512; but find_src_rq leaves a lone task
  // whose load 1024 exceeds the imbalance → no source CPU: nothing moves at MC.
  auto snap_mc = std::make_unique<snapshot<L>>(sys->snap());
  lb_env<wasted_cores_rules, L> mc = env_for<wasted_cores_rules>(tree, *snap_mc, 1, 0, cpu_idle_type::idle, now);
  const src_group_decision at_mc = wasted_cores::min_load_src_group::find(mc);
  REQUIRE(at_mc.group != no_group);
  const auto g = static_cast<std::size_t>(at_mc.group);
  CHECK(tree.span(tree.group_of(*mc.sd, g)) == mask::of(0));
  CHECK(at_mc.imbalance == 512);
  mc.apply(at_mc);
  CHECK(linux_src_rq::find(mc, g) == no_cpu);
}

TEST_CASE("the min-load pack also reaches work conservation on S1 after one round",
          "[scenarios][s1][wasted_cores]") {
  const auto m = two_nodes();
  const tree_t& tree = *m->tree;
  auto sys = std::make_unique<model::system<wasted_cores_rules, L>>(tree);
  sys->reset();
  fork_s1(*sys);

  // Round 1: CPU 1 pulls from CPU 4 (imbalance 128, above). CPU 2: node 0 min is still 0
  // (CPU 2 itself), node 1 = [128, 256, 256, 256] min 128 → imbalance (256-0)/2 = 128;
  // CPU 5 has the highest load (CPU 4's lone 128 is not above 128 but 256 > 128) →
  // takes its waiting make thread (128 <= 128). CPU 3 likewise from CPU 6. Same end
  // state as Linux: node 0 = R, m, m, m; node 1 = m, m, m, m+m.
  const model::round_report r1 = sys->round();
  CHECK(r1.migrations == 3);
  CHECK(r1.idle_cpus == 0);
  CHECK(work_conserving(tree, sys->snap()));
  for (std::size_t c = 0; c < 8; ++c) CHECK(sys->snap().cpus[c].nr_running == (c == 7 ? 2U : 1U));

  // Afterwards min(node 0) = 128 = min(node 1): the NUMA level is balanced. Inside node 1
  // CPU 4's MC balance compares {4} (min 128) with {7} (min 256): imbalance
  // (256-128)/2 = 64; h_load 128 > 64 fails in round 1 (nr_balance_failed 1), and in
  // round 2 shr_bound gives 128 >> 1 = 64 <= 64 → 7 → 4 at MC. The rule keeps rotating
  // the odd thread inside node 1, but never empties a CPU: I1 holds in every round.
  const std::size_t before = sys->log().size();
  for (int i = 0; i < 12; ++i) {
    const model::round_report r = sys->round();
    CHECK(r.idle_cpus == 0);
    CHECK(work_conserving(tree, sys->snap()));
  }
  REQUIRE(sys->log().size() > before);
  CHECK(sys->log()[before].round == 2);
  CHECK(sys->log()[before].move.src == 7);
  CHECK(sys->log()[before].move.dst == 4);
  CHECK(sys->log()[before].move.level == tree.domain_of(4, 0).level);
  for (std::size_t i = before; i < sys->log().size(); ++i) {
    CHECK(sys->log()[i].move.src >= 4);
    CHECK(sys->log()[i].move.dst >= 4);
  }
}

TEST_CASE("with two R threads the Linux pack still leaves no idle CPU next to a waiting make thread",
          "[scenarios][s1][linux]") {
  // The paper's workload had two R processes. R on CPUs 0 and 1, CPUs 2-3 idle, make
  // threads as before. CPU 2 at NUMA: local util 2048, 2 tasks, has_spare; node 1
  // overloaded → migrate_util, imbalance 4096 - 2048 = 2048 → pulls one make thread
  // from CPU 4 (512 <= 2048, then CPU 4 is down to one task); CPU 3: local util 2560,
  // node 1 now 7 tasks, util 3584 → overloaded, imbalance 1536 → one from CPU 5.
  // End of round 1: no idle CPU, CPUs 6 and 7 each run two make threads.
  const auto m = two_nodes();
  const tree_t& tree = *m->tree;
  auto sys = std::make_unique<model::system<linux_defaults, L>>(tree);
  sys->reset();
  REQUIRE(sys->fork({1, 1024, 1024}, 0) != no_task);
  REQUIRE(sys->fork({2, 1024, 1024}, 1) != no_task);
  for (std::size_t i = 0; i < 8; ++i) REQUIRE(sys->fork({10 + i, 128, 1024}, 4 + i / 2) != no_task);
  const model::round_report r1 = sys->round();
  CHECK(r1.migrations == 2);
  REQUIRE(sys->log().size() == 2);
  CHECK(sys->log()[0].move.src == 4);
  CHECK(sys->log()[0].move.dst == 2);
  CHECK(sys->log()[1].move.src == 5);
  CHECK(sys->log()[1].move.dst == 3);
  const std::array<std::uint32_t, 8> expected{1, 1, 1, 1, 1, 1, 2, 2};
  for (std::size_t c = 0; c < 8; ++c) CHECK(sys->snap().cpus[c].nr_running == expected[c]);
  for (int i = 0; i < 10; ++i) {
    CHECK(sys->round().idle_cpus == 0);
    CHECK(work_conserving(tree, sys->snap()));
  }
}
