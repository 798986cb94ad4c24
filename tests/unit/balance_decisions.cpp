// Pure decision tables of the load balancer on hand-made statistics. Every expected value
// is derived by hand from kernel/sched/fair.c (v6.16); the arithmetic is in the comments.
#include <balancekit/balancer/lb_env.hpp>
#include <balancekit/policy/imbalance.hpp>
#include <balancekit/policy/pack.hpp>
#include <balancekit/policy/selection.hpp>
#include <balancekit/stats/group_stats.hpp>
#include <balancekit/stats/snapshot.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <memory>

#include "support/rows.hpp"

using namespace balancekit;
using L = small_limits;
using env_t = lb_env<linux_defaults, L>;
using dom_t = domain_tree<L>::domain;

namespace {

// A domain filled by hand: only the fields the decision functions read.
constexpr dom_t make_domain(sd_flags flags, std::uint16_t imbalance_pct = 117, std::uint32_t imb_numa_nr = 0) {
  dom_t d{};
  d.flags = flags;
  d.imbalance_pct = imbalance_pct;
  d.imb_numa_nr = imb_numa_nr;
  d.cache_nice_tries = 1;
  return d;
}

constexpr sd_flags mc_flags() { return sd_flags{sd_flag::share_llc, sd_flag::prefer_sibling, sd_flag::balance_newidle}; }
constexpr sd_flags pkg_flags() { return sd_flags{sd_flag::prefer_sibling, sd_flag::balance_newidle}; }
constexpr sd_flags numa_flags() { return sd_flags{sd_flag::numa, sd_flag::balance_newidle}; }
constexpr sd_flags smt_group_flags() { return sd_flags{sd_flag::share_cpucapacity, sd_flag::share_llc, sd_flag::prefer_sibling}; }

// Group statistics with the fields the classification reads.
constexpr sg_lb_stats group(std::uint32_t nr, std::uint32_t weight, std::uint64_t cap, std::uint64_t util_sum,
                            std::uint64_t runnable) {
  sg_lb_stats s{};
  s.sum_nr_running = nr;
  s.sum_h_nr_running = nr;
  s.group_weight = weight;
  s.group_capacity = cap;
  s.group_util = util_sum;
  s.group_runnable = runnable;
  return s;
}

constexpr sg_lb_stats typed(group_type t, std::uint32_t nr, std::uint32_t weight, std::uint32_t idle,
                            std::uint16_t cores = 0) {
  sg_lb_stats s{};
  s.type = t;
  s.sum_nr_running = nr;
  s.sum_h_nr_running = nr;
  s.group_weight = weight;
  s.idle_cpus = idle;
  s.cores = cores == 0 ? static_cast<std::uint16_t>(weight) : cores;
  s.group_capacity = 1024ULL * weight;
  return s;
}

constexpr env_t env_on(const dom_t& d, cpu_idle_type idle) {
  env_t e{};
  e.sd = &d;
  e.idle = idle;
  return e;
}

// ---------------------------------------------------------------------- constexpr tables

// group_classify at the imbalance_pct = 117 boundaries.
constexpr test::row classification_rows[] = {
    {"util 1000 on capacity 1170: 1170*100 = 117000 == 1000*117, not '>' → no capacity → fully busy",
     [] { return group_classify(117, false, group(1, 1, 1170, 1000, 0)) == group_type::fully_busy; }},
    {"util 999: 999*117 = 116883 < 117000 → has capacity",
     [] { return group_classify(117, false, group(1, 1, 1170, 999, 0)) == group_type::has_spare; }},
    {"runnable 1170 on capacity 1000: 1000*117 = 117000 < 1170*100 = 117000 is false → still spare",
     [] { return group_classify(117, false, group(2, 2, 1000, 0, 1170)) == group_type::has_spare; }},
    {"runnable 1171: 117000 < 117100 → no capacity → fully busy (2 tasks on 2 CPUs)",
     [] { return group_classify(117, false, group(2, 2, 1000, 0, 1171)) == group_type::fully_busy; }},
    {"3 tasks on 2 CPUs, runnable 1171: 117000 < 117100 → overloaded",
     [] { return group_classify(117, false, group(3, 2, 1000, 0, 1171)) == group_type::overloaded; }},
    {"3 tasks, util 1000 on 1170: 1170*100 < 1000*117 is false → not overloaded",
     [] { return group_classify(117, false, group(3, 2, 1170, 1000, 0)) == group_type::fully_busy; }},
    {"3 tasks, util 1001: 117000 < 117117 → overloaded",
     [] { return group_classify(117, false, group(3, 2, 1170, 1001, 0)) == group_type::overloaded; }},
    {"sum_nr_running < weight: spare whatever the util (5000 > capacity 2048)",
     [] { return group_classify(117, false, group(1, 2, 2048, 5000, 5000)) == group_type::has_spare; }},
};

// sibling_imbalance for equal and unequal cores.
constexpr std::int64_t sibling(cpu_idle_type idle, const sg_lb_stats& busiest, const sg_lb_stats& local) {
  const dom_t d = make_domain(mc_flags());
  return sibling_imbalance(env_on(d, idle), busiest, local);
}
constexpr test::row sibling_rows[] = {
    {"equal cores (2/2): 5 - 2 = 3",
     [] {
       return sibling(cpu_idle_type::idle, typed(group_type::overloaded, 5, 4, 0, 2),
                      typed(group_type::has_spare, 2, 4, 2, 2)) == 3;
     }},
    {"equal cores, local busier: lsub_positive(2 - 3) = 0",
     [] {
       return sibling(cpu_idle_type::idle, typed(group_type::fully_busy, 2, 4, 2, 2),
                      typed(group_type::has_spare, 3, 4, 1, 2)) == 0;
     }},
    {"nb=4, nl=2, b=6, l=1: 2*6 = 12, - 4*1 = 8; (2*8 + 2 + 4) / (2 + 4) = 22/6 = 3",
     [] {
       return sibling(cpu_idle_type::idle, typed(group_type::overloaded, 6, 8, 0, 4),
                      typed(group_type::has_spare, 1, 4, 3, 2)) == 3;
     }},
    {"nb=4, nl=1, b=2, l=0: 1*2 = 2; (4 + 1 + 4) / 5 = 1 → empty local, b > 1 → 2",
     [] {
       return sibling(cpu_idle_type::idle, typed(group_type::has_spare, 2, 8, 6, 4),
                      typed(group_type::has_spare, 0, 2, 2, 1)) == 2;
     }},
    {"same with b=1: 1; (2 + 5) / 5 = 1; b > 1 fails → stays 1",
     [] {
       return sibling(cpu_idle_type::idle, typed(group_type::has_spare, 1, 8, 7, 4),
                      typed(group_type::has_spare, 0, 2, 2, 1)) == 1;
     }},
    {"dst not idle → 0, whatever the counts",
     [] {
       return sibling(cpu_idle_type::not_idle, typed(group_type::overloaded, 5, 4, 0, 2),
                      typed(group_type::has_spare, 0, 4, 4, 2)) == 0;
     }},
    {"busiest with no task → 0",
     [] {
       return sibling(cpu_idle_type::idle, typed(group_type::has_spare, 0, 4, 4, 2),
                      typed(group_type::has_spare, 0, 4, 4, 2)) == 0;
     }},
};

// calculate_imbalance: the early branches by group type.
constexpr src_group_decision imbalance_of(sd_flags flags, const sg_lb_stats& busiest, const sg_lb_stats& local) {
  const dom_t d = make_domain(flags);
  sd_lb_stats s{};
  s.busiest = 1;
  s.busiest_stat = busiest;
  s.local_stat = local;
  return calculate_imbalance(env_on(d, cpu_idle_type::idle), s);
}
constexpr sg_lb_stats misfit_group() {
  sg_lb_stats s = typed(group_type::misfit_task, 1, 4, 3);
  s.group_misfit_task_load = 737;
  return s;
}
constexpr test::row imbalance_type_rows[] = {
    {"a misfit group on an asymmetric domain: migrate_misfit, 1",
     [] {
       const src_group_decision d = imbalance_of(sd_flags{sd_flag::asym_cpucapacity}, misfit_group(), sg_lb_stats{});
       return d.type == migration_type::migrate_misfit && d.imbalance == 1 && d.group == 1;
     }},
    {"a misfit group elsewhere (a CPU squeezed by RT/IRQ): its load moves as migrate_load 737",
     [] {
       const src_group_decision d = imbalance_of(mc_flags(), misfit_group(), sg_lb_stats{});
       return d.type == migration_type::migrate_load && d.imbalance == 737;
     }},
    {"an smt_balance busiest group: migrate_task 1",
     [] {
       const src_group_decision d =
           imbalance_of(mc_flags(), typed(group_type::smt_balance, 2, 2, 0), typed(group_type::overloaded, 9, 2, 0));
       return d.type == migration_type::migrate_task && d.imbalance == 1;
     }},
    {"an imbalanced busiest group: migrate_task 1",
     [] {
       const src_group_decision d =
           imbalance_of(mc_flags(), typed(group_type::imbalanced, 2, 2, 0), typed(group_type::overloaded, 9, 2, 0));
       return d.type == migration_type::migrate_task && d.imbalance == 1;
     }},
};

// find_src_group_decision: the exits before calculate_imbalance.
constexpr src_group_decision decide(cpu_idle_type idle, int busiest, const sg_lb_stats& b, const sg_lb_stats& l) {
  const dom_t mc = make_domain(sd_flags{sd_flag::share_llc});
  env_t e = env_on(mc, idle);
  e.imbalance = 99;
  sd_lb_stats s{};
  s.busiest = busiest;
  s.busiest_stat = b;
  s.local_stat = l;
  return find_src_group_decision(e, s);
}
constexpr test::row decision_exit_rows[] = {
    {"no busiest group: balanced, imbalance 0",
     [] {
       const src_group_decision d = decide(cpu_idle_type::idle, no_group, sd_lb_stats::init_busiest(), sg_lb_stats{});
       return d.group == no_group && d.imbalance == 0;
     }},
    {"local fully busy, busiest has spare: local type > busiest type → balanced",
     [] {
       return decide(cpu_idle_type::idle, 1, typed(group_type::has_spare, 3, 4, 1), typed(group_type::fully_busy, 4, 4, 0))
                  .group == no_group;
     }},
    {"busiest fully busy and dst busy: let an idle CPU pull → balanced",
     [] {
       return decide(cpu_idle_type::not_idle, 1, typed(group_type::fully_busy, 4, 4, 0),
                     typed(group_type::has_spare, 0, 4, 4))
                  .group == no_group;
     }},
};

// Exception 2's state seen from the idle CPU 0 alone in its LLC (docs/invariants.md,
// docs/kernel-oracle.md): local {0} (idle, its group without flags: its one-CPU child was
// degenerate), busiest LLC {5,6,7} with two hogs, one idle CPU, SD_PREFER_SIBLING from its MC.
// `local_flags`: what CPU 0's own group carries (none here; a CPU with a child LLC would
// carry its SD_PREFER_SIBLING).
template <class Sibling>
constexpr src_group_decision lone_llc_view(sd_flags local_flags = {}) {
  const dom_t pkg = make_domain(sd_flags{sd_flag::balance_newidle});
  env_t e = env_on(pkg, cpu_idle_type::idle);
  sd_lb_stats s{};
  s.busiest = 1;
  s.busiest_stat = typed(group_type::has_spare, 2, 3, 1);
  s.busiest_stat.flags = mc_flags();
  s.local_stat = typed(group_type::has_spare, 0, 1, 1);
  s.local_stat.flags = local_flags;
  s.prefer_sibling = true;  // update_sd_lb_stats() since v6.6: the busiest group's flag
  return find_src_group_decision<Sibling>(e, s);
}
constexpr test::row prefer_sibling_rows[] = {
    {"v6.16: sibling_imbalance (1·2 − 3·0 = 2; (2·2 + 1 + 3) / 4 = 2) > 1 → force: migrate_task, 2 >> 1 = 1",
     [] {
       const src_group_decision d = lone_llc_view<prefer_sibling_per_core>();
       return d.group == 1 && d.type == migration_type::migrate_task && d.imbalance == 1;
     }},
    {"6.1: no child domain on CPU 0, so no prefer_sibling; 1 idle ≤ 1 + 1 → balanced",
     [] { return lone_llc_view<prefer_sibling_task_count>().group == no_group; }},
    {"6.1 with a child preferring siblings: 2 > 0 + 1 → force; nr_diff 2 >> 1 = 1",
     [] {
       const src_group_decision d = lone_llc_view<prefer_sibling_task_count>(mc_flags());
       return d.group == 1 && d.imbalance == 1;
     }},
};

}  // namespace

TEST_CASE("Linux 6.1 and v6.16 part ways on prefer-sibling between groups of different sizes",
          "[balance][decisions][constexpr][linux-6.1]") {
  STATIC_REQUIRE(test::rows_hold_at_compile_time<prefer_sibling_rows>());
  test::check_rows(prefer_sibling_rows);
}

TEST_CASE("The classification boundaries sit exactly at imbalance_pct 117", "[balance][decisions][constexpr]") {
  STATIC_REQUIRE(test::rows_hold_at_compile_time<classification_rows>());
  test::check_rows(classification_rows);
}

TEST_CASE("Sibling imbalance evens tasks per core and rounds", "[balance][decisions][constexpr]") {
  STATIC_REQUIRE(test::rows_hold_at_compile_time<sibling_rows>());
  test::check_rows(sibling_rows);
}

TEST_CASE("Misfit, SMT-balance and imbalanced busiest groups set their migration type directly",
          "[balance][decisions][constexpr]") {
  STATIC_REQUIRE(test::rows_hold_at_compile_time<imbalance_type_rows>());
  test::check_rows(imbalance_type_rows);
}

TEST_CASE("The busiest-group search exits balanced before computing an imbalance", "[balance][decisions][constexpr]") {
  STATIC_REQUIRE(test::rows_hold_at_compile_time<decision_exit_rows>());
  test::check_rows(decision_exit_rows);
}

// ---------------------------------------------------------------------- classification

TEST_CASE("A group with exactly as many tasks as CPUs is never overloaded", "[balance][decisions]") {
  // sum_nr_running == weight: group_is_overloaded() returns false before looking at util.
  const sg_lb_stats s = group(4, 4, 4096, 8000, 9000);
  CHECK_FALSE(group_is_overloaded(117, s));
  // ...but has no capacity: not < weight, and 4096*117 = 479232 < 9000*100 = 900000.
  CHECK_FALSE(group_has_capacity(117, s));
  CHECK(group_classify(117, false, s) == group_type::fully_busy);
  // One more task: 5 > 4 and 4096*100 = 409600 < 8000*117 = 936000 → overloaded.
  CHECK(group_is_overloaded(117, group(5, 4, 4096, 8000, 9000)));
}

TEST_CASE("The utilization capacity test is strict at 85.5 percent", "[balance][decisions]") {
  // 2 CPUs, capacity 2340: 2340*100 = 234000; util 2000*117 = 234000 (exactly 1/1.17 = 85.47%).
  CHECK_FALSE(group_has_capacity(117, group(2, 2, 2340, 2000, 0)));
  CHECK(group_has_capacity(117, group(2, 2, 2340, 1999, 0)));  // 1999*117 = 233883 < 234000
  // With imbalance_pct 110 (SMT): 2340*100 = 234000 > 2000*110 = 220000 → capacity.
  CHECK(group_has_capacity(110, group(2, 2, 2340, 2000, 0)));
}

TEST_CASE("The runnable test says no capacity only above 117 percent of capacity", "[balance][decisions]") {
  // capacity 2048: 2048*117 = 239616; runnable 2396*100 = 239600 → not less → still spare.
  CHECK(group_has_capacity(117, group(2, 2, 2048, 0, 2396)));
  // runnable 2397: 239700 > 239616 → no capacity.
  CHECK_FALSE(group_has_capacity(117, group(2, 2, 2048, 0, 2397)));
  // Overloaded takes the same test once there are more tasks than CPUs.
  CHECK_FALSE(group_is_overloaded(117, group(3, 2, 2048, 0, 2396)));
  CHECK(group_is_overloaded(117, group(3, 2, 2048, 0, 2397)));
}

TEST_CASE("The group type follows the kernel's priority order", "[balance][decisions]") {
  sg_lb_stats s = group(3, 2, 2048, 2048, 0);  // 2048*100 < 2048*117 → overloaded
  s.group_smt_balance = true;
  s.group_misfit_task_load = 500;
  // Overloaded beats the sgc imbalance flag.
  CHECK(group_classify(117, true, s) == group_type::overloaded);
  s = group(2, 2, 2048, 100, 100);  // spare on its own
  s.group_smt_balance = true;
  s.group_misfit_task_load = 500;
  CHECK(group_classify(117, true, s) == group_type::imbalanced);
  CHECK(group_classify(117, false, s) == group_type::smt_balance);
  s.group_smt_balance = false;
  CHECK(group_classify(117, false, s) == group_type::misfit_task);
  s.group_misfit_task_load = 0;
  CHECK(group_classify(117, false, s) == group_type::has_spare);
  // the enum order is the pulling order
  STATIC_REQUIRE(group_type::has_spare < group_type::fully_busy);
  STATIC_REQUIRE(group_type::fully_busy < group_type::misfit_task);
  STATIC_REQUIRE(group_type::misfit_task < group_type::smt_balance);
  STATIC_REQUIRE(group_type::smt_balance < group_type::asym_packing);
  STATIC_REQUIRE(group_type::imbalanced < group_type::overloaded);
}

// ---------------------------------------------------------------------- adjust_numa_imbalance

TEST_CASE("A NUMA imbalance of up to two tasks is kept while the destination runs few tasks", "[balance][decisions]") {
  // dst_running <= imb_numa_nr and imbalance <= 2 → 0.
  CHECK(adjust_numa_imbalance(2, 3, 4) == 0);
  CHECK(adjust_numa_imbalance(1, 4, 4) == 0);  // dst_running == imb_numa_nr is still "few"
  // imbalance 3 > NUMA_IMBALANCE_MIN → kept.
  CHECK(adjust_numa_imbalance(3, 3, 4) == 3);
  // dst_running 5 > imb_numa_nr 4 → returned unchanged, even 2 or a negative value.
  CHECK(adjust_numa_imbalance(2, 5, 4) == 2);
  CHECK(adjust_numa_imbalance(-1, 5, 4) == -1);
  CHECK(adjust_numa_imbalance(-1, 1, 4) == 0);  // -1 <= 2
}

// ---------------------------------------------------------------------- calculate_imbalance

TEST_CASE("Across LLCs an overloaded busiest group fills the local spare utilization", "[balance][decisions]") {
  const dom_t pkg = make_domain(pkg_flags());
  env_t e = env_on(pkg, cpu_idle_type::not_idle);
  sd_lb_stats s{};
  s.busiest = 1;
  s.busiest_stat = typed(group_type::overloaded, 9, 4, 0);
  s.local_stat = typed(group_type::has_spare, 3, 4, 1);
  s.local_stat.group_capacity = 4096;
  s.local_stat.group_util = 1500;
  const src_group_decision d = calculate_imbalance(e, s);
  // max(4096, 1500) - 1500 = 2596
  CHECK(d.type == migration_type::migrate_util);
  CHECK(d.imbalance == 2596);
}

TEST_CASE("A full local utilization pulls one task only when the destination is idle", "[balance][decisions]") {
  const dom_t pkg = make_domain(pkg_flags());
  sd_lb_stats s{};
  s.busiest = 1;
  s.busiest_stat = typed(group_type::overloaded, 9, 4, 0);
  s.local_stat = typed(group_type::has_spare, 3, 4, 1);
  s.local_stat.group_capacity = 4096;
  s.local_stat.group_util = 4200;  // max(4096, 4200) - 4200 = 0
  SECTION("idle destination: migrate_task 1") {
    env_t e = env_on(pkg, cpu_idle_type::idle);
    const src_group_decision d = calculate_imbalance(e, s);
    CHECK(d.type == migration_type::migrate_task);
    CHECK(d.imbalance == 1);
  }
  SECTION("busy destination: migrate_util 0") {
    env_t e = env_on(pkg, cpu_idle_type::not_idle);
    const src_group_decision d = calculate_imbalance(e, s);
    CHECK(d.type == migration_type::migrate_util);
    CHECK(d.imbalance == 0);
  }
}

TEST_CASE("With prefer_sibling the spare local group takes half the sibling imbalance", "[balance][decisions]") {
  const dom_t mc = make_domain(mc_flags());
  env_t e = env_on(mc, cpu_idle_type::idle);
  sd_lb_stats s{};
  s.busiest = 1;
  s.prefer_sibling = true;
  s.busiest_stat = typed(group_type::fully_busy, 5, 4, 0, 2);
  s.local_stat = typed(group_type::has_spare, 1, 4, 3, 2);
  const src_group_decision d = calculate_imbalance(e, s);
  // equal cores: 5 - 1 = 4; 4 >> 1 = 2. The idle-CPU rule would give (3 - 0) >> 1 = 1.
  CHECK(d.type == migration_type::migrate_task);
  CHECK(d.imbalance == 2);
}

TEST_CASE("A one-CPU busiest group uses the sibling imbalance even without prefer_sibling", "[balance][decisions]") {
  const dom_t mc = make_domain(sd_flags{sd_flag::share_llc});
  env_t e = env_on(mc, cpu_idle_type::idle);
  sd_lb_stats s{};
  s.busiest = 1;
  s.busiest_stat = typed(group_type::overloaded, 3, 1, 0);
  s.local_stat = typed(group_type::has_spare, 0, 1, 1);
  const src_group_decision d = calculate_imbalance(e, s);
  // cores 1/1: 3 - 0 = 3; 3 >> 1 = 1 (the idle-CPU rule would give (1 - 0) >> 1 = 0).
  CHECK(d.type == migration_type::migrate_task);
  CHECK(d.imbalance == 1);
}

TEST_CASE("Inside an LLC the spare local group takes half the idle-CPU difference", "[balance][decisions]") {
  const dom_t mc = make_domain(sd_flags{sd_flag::share_llc});
  env_t e = env_on(mc, cpu_idle_type::not_idle);
  sd_lb_stats s{};
  s.busiest = 1;
  s.busiest_stat = typed(group_type::overloaded, 6, 4, 0);
  s.local_stat = typed(group_type::has_spare, 0, 8, 5);
  const src_group_decision d = calculate_imbalance(e, s);
  // (5 - 0) >> 1 = 2
  CHECK(d.type == migration_type::migrate_task);
  CHECK(d.imbalance == 2);
}

TEST_CASE("A busiest group with more idle CPUs wraps the unsigned difference as the kernel does",
          "[balance][decisions]") {
  // Kernel: max_t(long, 0, (local->idle_cpus - busiest->idle_cpus)) with unsigned int fields:
  // 0u - 1u = 4294967295 (unsigned int), converted to long 4294967295, >> 1 = 2147483647.
  const dom_t mc = make_domain(sd_flags{sd_flag::share_llc});
  env_t e = env_on(mc, cpu_idle_type::not_idle);
  sd_lb_stats s{};
  s.busiest = 1;
  s.busiest_stat = typed(group_type::overloaded, 5, 4, 1);
  s.local_stat = typed(group_type::has_spare, 2, 2, 0);
  const src_group_decision d = calculate_imbalance(e, s);
  CHECK(d.type == migration_type::migrate_task);
  CHECK(d.imbalance == 2147483647);
}

TEST_CASE("On a NUMA domain the wrapped idle-CPU difference becomes minus one", "[balance][decisions]") {
  // A fully busy busiest group (one idle CPU and one CPU with two tasks) does not take the
  // migrate_util branch, so the idle-CPU rule runs: 0u - 1u = 4294967295 as long;
  // adjust_numa_imbalance(int imbalance, ...) truncates it to (int)-1.
  sd_lb_stats s{};
  s.busiest = 1;
  s.busiest_stat = typed(group_type::fully_busy, 4, 4, 1);
  SECTION("a busy destination node: -1 is returned unchanged and -1 >> 1 = -1") {
    const dom_t numa = make_domain(numa_flags(), 117, 2);
    env_t e = env_on(numa, cpu_idle_type::not_idle);
    s.local_stat = typed(group_type::has_spare, 4, 8, 0);  // dst_running = 4 + 1 = 5 > 2
    const src_group_decision d = calculate_imbalance(e, s);
    CHECK(d.type == migration_type::migrate_task);
    CHECK(d.imbalance == -1);
  }
  SECTION("a lightly loaded destination node: -1 <= 2 gives 0") {
    const dom_t numa = make_domain(numa_flags(), 117, 2);
    env_t e = env_on(numa, cpu_idle_type::not_idle);
    s.local_stat = typed(group_type::has_spare, 0, 8, 0);  // dst_running = 0 + 1 = 1 <= 2
    const src_group_decision d = calculate_imbalance(e, s);
    CHECK(d.imbalance == 0);
  }
}

TEST_CASE("On a NUMA domain a small idle-CPU imbalance is allowed to stay", "[balance][decisions]") {
  const dom_t numa = make_domain(numa_flags(), 117, 2);
  sd_lb_stats s{};
  s.busiest = 1;
  s.busiest_stat = typed(group_type::fully_busy, 4, 4, 0);
  SECTION("difference 2 on a lightly loaded node: 0") {
    env_t e = env_on(numa, cpu_idle_type::idle);
    s.local_stat = typed(group_type::has_spare, 0, 4, 2);  // (2 - 0) = 2 <= 2, dst_running 1 <= 2
    const src_group_decision d = calculate_imbalance(e, s);
    CHECK(d.imbalance == 0);
  }
  SECTION("difference 4: kept, then halved to 2") {
    env_t e = env_on(numa, cpu_idle_type::idle);
    s.local_stat = typed(group_type::has_spare, 0, 4, 4);  // 4 > 2 → 4 >> 1 = 2
    const src_group_decision d = calculate_imbalance(e, s);
    CHECK(d.imbalance == 2);
  }
  SECTION("difference 2 on a busier node: 2 >> 1 = 1") {
    env_t e = env_on(numa, cpu_idle_type::idle);
    s.local_stat = typed(group_type::has_spare, 2, 4, 2);  // dst_running 3 > 2 → 2
    const src_group_decision d = calculate_imbalance(e, s);
    CHECK(d.imbalance == 1);
  }
}

TEST_CASE("A fully busy local group more loaded than the busiest group pulls nothing", "[balance][decisions]") {
  const dom_t mc = make_domain(sd_flags{sd_flag::share_llc});
  env_t e = env_on(mc, cpu_idle_type::not_idle);
  sd_lb_stats s{};
  s.busiest = 1;
  s.local_stat = typed(group_type::fully_busy, 2, 2, 0);
  s.local_stat.group_load = 2048;  // 2048*1024/2048 = 1024
  s.busiest_stat = typed(group_type::overloaded, 3, 1, 0);
  s.busiest_stat.avg_load = 1000;
  const src_group_decision d = calculate_imbalance(e, s);
  CHECK(s.local_stat.avg_load == 1024);
  CHECK(d.imbalance == 0);  // 1024 >= 1000
}

TEST_CASE("A fully busy local group above the domain average pulls nothing", "[balance][decisions]") {
  const dom_t mc = make_domain(sd_flags{sd_flag::share_llc});
  env_t e = env_on(mc, cpu_idle_type::not_idle);
  sd_lb_stats s{};
  s.busiest = 1;
  s.local_stat = typed(group_type::fully_busy, 2, 2, 0);
  s.local_stat.group_load = 2048;  // avg 1024
  s.busiest_stat = typed(group_type::overloaded, 3, 1, 0);
  s.busiest_stat.group_load = 3072;
  s.busiest_stat.avg_load = 3072;  // 3072*1024/1024
  // a third, idle group of 8 CPUs: total load 5120, capacity 2048 + 1024 + 8192 = 11264
  s.total_load = 5120;
  s.total_capacity = 11264;
  const src_group_decision d = calculate_imbalance(e, s);
  // 5120*1024/11264 = 5242880/11264 = 465 (465.45 truncated); 1024 >= 465
  CHECK(s.avg_load == 465);
  CHECK(d.imbalance == 0);
}

TEST_CASE("A fully busy local group below average takes the smaller of the two load gaps", "[balance][decisions]") {
  const dom_t mc = make_domain(sd_flags{sd_flag::share_llc});
  env_t e = env_on(mc, cpu_idle_type::not_idle);
  sd_lb_stats s{};
  s.busiest = 1;
  s.local_stat = typed(group_type::fully_busy, 1, 1, 0);
  s.local_stat.group_capacity = 1000;  // RT pressure on the local CPU
  s.local_stat.group_load = 300;       // 300*1024/1000 = 307200/1000 = 307
  s.busiest_stat = typed(group_type::overloaded, 5, 2, 0);
  s.busiest_stat.group_capacity = 2048;
  s.busiest_stat.group_load = 5000;
  s.busiest_stat.avg_load = 2500;  // 5000*1024/2048
  s.total_load = 5300;
  s.total_capacity = 3048;
  const src_group_decision d = calculate_imbalance(e, s);
  // sds avg: 5300*1024/3048 = 5427200/3048 = 1780 (1780.58 truncated)
  // from busiest: (2500 - 1780)*2048 = 720*2048 = 1474560
  // to local:     (1780 - 307)*1000  = 1473*1000 = 1473000
  // min = 1473000; /1024 = 1438 (1438.48 truncated)
  CHECK(s.local_stat.avg_load == 307);
  CHECK(s.avg_load == 1780);
  CHECK(d.type == migration_type::migrate_load);
  CHECK(d.imbalance == 1438);
}

TEST_CASE("Two overloaded groups move the load that brings both to the domain average", "[balance][decisions]") {
  const dom_t mc = make_domain(sd_flags{sd_flag::share_llc});
  env_t e = env_on(mc, cpu_idle_type::not_idle);
  sd_lb_stats s{};
  s.busiest = 1;
  s.local_stat = typed(group_type::overloaded, 3, 2, 0);
  s.local_stat.avg_load = 1100;
  s.busiest_stat = typed(group_type::overloaded, 7, 3, 0);
  s.busiest_stat.avg_load = 2000;
  s.avg_load = 1550;  // as the decision tree leaves it; local avg_load is not recomputed
  const src_group_decision d = calculate_imbalance(e, s);
  // from: (2000 - 1550)*3072 = 450*3072 = 1382400; to: (1550 - 1100)*2048 = 921600
  // min 921600 / 1024 = 900
  CHECK(s.local_stat.avg_load == 1100);
  CHECK(d.type == migration_type::migrate_load);
  CHECK(d.imbalance == 900);
}

// ---------------------------------------------------------------------- find_src_group_decision

TEST_CASE("A misfit busiest group is balanced even when the local group is busier", "[balance][decisions]") {
  const dom_t asym = make_domain(sd_flags{sd_flag::asym_cpucapacity});
  env_t e = env_on(asym, cpu_idle_type::not_idle);
  sd_lb_stats s{};
  s.busiest = 1;
  s.local_stat = typed(group_type::overloaded, 9, 4, 0);
  s.busiest_stat = typed(group_type::misfit_task, 1, 4, 3);
  s.busiest_stat.group_misfit_task_load = 900;
  const src_group_decision d = find_src_group_decision(e, s);
  CHECK(d.group == 1);
  CHECK(d.type == migration_type::migrate_misfit);
  CHECK(d.imbalance == 1);
}

TEST_CASE("An imbalanced busiest group is balanced even when the local group is overloaded", "[balance][decisions]") {
  const dom_t mc = make_domain(sd_flags{sd_flag::share_llc});
  env_t e = env_on(mc, cpu_idle_type::not_idle);
  sd_lb_stats s{};
  s.busiest = 1;
  s.local_stat = typed(group_type::overloaded, 9, 4, 0);
  s.busiest_stat = typed(group_type::imbalanced, 2, 4, 2);
  const src_group_decision d = find_src_group_decision(e, s);
  CHECK(d.group == 1);
  CHECK(d.type == migration_type::migrate_task);
  CHECK(d.imbalance == 1);
}

TEST_CASE("An overloaded local group at least as loaded as the busiest one stays balanced", "[balance][decisions]") {
  const dom_t mc = make_domain(sd_flags{sd_flag::share_llc});
  env_t e = env_on(mc, cpu_idle_type::not_idle);
  sd_lb_stats s{};
  s.busiest = 1;
  s.local_stat = typed(group_type::overloaded, 3, 1, 0);
  s.local_stat.avg_load = 1500;
  s.busiest_stat = typed(group_type::overloaded, 3, 1, 0);
  s.busiest_stat.avg_load = 1500;  // 1500 >= 1500
  s.total_load = 3000;
  s.total_capacity = 2048;
  const src_group_decision d = find_src_group_decision(e, s);
  CHECK(d.group == no_group);
  CHECK(d.imbalance == 0);
}

TEST_CASE("An overloaded local group more loaded than the domain average stays balanced", "[balance][decisions]") {
  const dom_t mc = make_domain(sd_flags{sd_flag::share_llc});
  env_t e = env_on(mc, cpu_idle_type::not_idle);
  sd_lb_stats s{};
  s.busiest = 1;
  s.local_stat = typed(group_type::overloaded, 3, 1, 0);
  s.local_stat.avg_load = 1500;
  s.busiest_stat = typed(group_type::overloaded, 3, 1, 0);
  s.busiest_stat.avg_load = 2000;
  // a third, idle group: total load 3500 on capacity 4096 → 3500*1024/4096 = 875 <= 1500
  s.total_load = 3500;
  s.total_capacity = 4096;
  const src_group_decision d = find_src_group_decision(e, s);
  CHECK(d.group == no_group);
  CHECK(s.avg_load == 875);
}

TEST_CASE("Overloaded groups within imbalance_pct of each other stay balanced", "[balance][decisions]") {
  const dom_t mc = make_domain(sd_flags{sd_flag::share_llc});
  env_t e = env_on(mc, cpu_idle_type::not_idle);
  sd_lb_stats s{};
  s.busiest = 1;
  s.local_stat = typed(group_type::overloaded, 3, 1, 0);
  s.local_stat.group_load = 1000;
  s.local_stat.avg_load = 1000;
  s.busiest_stat = typed(group_type::overloaded, 3, 1, 0);
  s.total_capacity = 2048;
  SECTION("busiest 1170: 100*1170 = 117000 <= 117*1000 = 117000 → balanced") {
    s.busiest_stat.avg_load = 1170;
    s.total_load = 2170;  // avg 2170*1024/2048 = 1085 > 1000, so the pct test decides
    const src_group_decision d = find_src_group_decision(e, s);
    CHECK(d.group == no_group);
    CHECK(s.avg_load == 1085);
  }
  SECTION("busiest 1171: 117100 > 117000 → force, migrate_load") {
    s.busiest_stat.avg_load = 1171;
    s.total_load = 2171;  // 2171*1024/2048 = 1085 (1085.5 truncated)
    const src_group_decision d = find_src_group_decision(e, s);
    CHECK(d.group == 1);
    // from (1171 - 1085)*1024 = 88064, to (1085 - 1000)*1024 = 87040 → 87040/1024 = 85
    CHECK(d.type == migration_type::migrate_load);
    CHECK(d.imbalance == 85);
  }
}

TEST_CASE("Prefer-sibling forces a balance the idle-CPU rule would refuse", "[balance][decisions]") {
  const dom_t mc = make_domain(mc_flags());
  env_t e = env_on(mc, cpu_idle_type::idle);
  sd_lb_stats s{};
  s.busiest = 1;
  s.local_stat = typed(group_type::has_spare, 1, 2, 1, 2);
  s.busiest_stat = typed(group_type::fully_busy, 4, 2, 0, 2);  // many small tasks
  SECTION("prefer_sibling: sibling imbalance 4 - 1 = 3 > 1 → force, 3 >> 1 = 1") {
    s.prefer_sibling = true;
    const src_group_decision d = find_src_group_decision(e, s);
    CHECK(d.group == 1);
    CHECK(d.type == migration_type::migrate_task);
    CHECK(d.imbalance == 1);
  }
  SECTION("no prefer_sibling: local idle 1 <= busiest idle 0 + 1 → balanced") {
    const src_group_decision d = find_src_group_decision(e, s);
    CHECK(d.group == no_group);
  }
}

TEST_CASE("An SMT busiest group forces a pull to a non-SMT local group", "[balance][decisions]") {
  const dom_t mc = make_domain(sd_flags{sd_flag::share_llc});
  env_t e = env_on(mc, cpu_idle_type::idle);
  sd_lb_stats s{};
  s.busiest = 1;
  s.busiest_stat = typed(group_type::smt_balance, 2, 2, 1, 1);
  s.busiest_stat.flags = smt_group_flags();
  s.local_stat = typed(group_type::has_spare, 0, 2, 2, 2);
  SECTION("non-SMT local: force, migrate_task 1") {
    const src_group_decision d = find_src_group_decision(e, s);
    CHECK(d.group == 1);
    CHECK(d.type == migration_type::migrate_task);
    CHECK(d.imbalance == 1);
  }
  SECTION("SMT local: idle 2 <= 1 + 1 → balanced") {
    s.local_stat.flags = smt_group_flags();
    const src_group_decision d = find_src_group_decision(e, s);
    CHECK(d.group == no_group);
  }
}

TEST_CASE("An idle-CPU difference of more than one forces a balance", "[balance][decisions]") {
  const dom_t mc = make_domain(sd_flags{sd_flag::share_llc});
  env_t e = env_on(mc, cpu_idle_type::idle);
  sd_lb_stats s{};
  s.busiest = 1;
  s.busiest_stat = typed(group_type::has_spare, 3, 4, 1);
  SECTION("local idle 2 <= 1 + 1: balanced") {
    s.local_stat = typed(group_type::has_spare, 2, 4, 2);
    const src_group_decision d = find_src_group_decision(e, s);
    CHECK(d.group == no_group);
  }
  SECTION("local idle 3: force, (3 - 1) >> 1 = 1") {
    s.local_stat = typed(group_type::has_spare, 1, 4, 3);
    const src_group_decision d = find_src_group_decision(e, s);
    CHECK(d.group == 1);
    CHECK(d.type == migration_type::migrate_task);
    CHECK(d.imbalance == 1);
  }
}

TEST_CASE("A one-CPU busiest group with a single task is left alone", "[balance][decisions]") {
  const dom_t mc = make_domain(sd_flags{sd_flag::share_llc});
  env_t e = env_on(mc, cpu_idle_type::idle);
  sd_lb_stats s{};
  s.busiest = 1;
  s.local_stat = typed(group_type::has_spare, 0, 1, 1);
  SECTION("one task: balanced") {
    s.busiest_stat = typed(group_type::has_spare, 1, 1, 0);
    const src_group_decision d = find_src_group_decision(e, s);
    CHECK(d.group == no_group);
  }
  SECTION("two tasks: force, sibling imbalance (2 - 0) >> 1 = 1") {
    s.busiest_stat = typed(group_type::has_spare, 2, 1, 0);
    const src_group_decision d = find_src_group_decision(e, s);
    CHECK(d.group == 1);
    CHECK(d.type == migration_type::migrate_task);
    CHECK(d.imbalance == 1);
  }
}

TEST_CASE("An overloaded busiest group is balanced even from a busy CPU", "[balance][decisions]") {
  const dom_t mc = make_domain(sd_flags{sd_flag::share_llc});
  env_t e = env_on(mc, cpu_idle_type::not_idle);
  sd_lb_stats s{};
  s.busiest = 1;
  s.busiest_stat = typed(group_type::overloaded, 6, 4, 0);
  s.local_stat = typed(group_type::has_spare, 2, 4, 2);
  const src_group_decision d = find_src_group_decision(e, s);
  CHECK(d.group == 1);
  // inside an LLC: (2 - 0) >> 1 = 1
  CHECK(d.type == migration_type::migrate_task);
  CHECK(d.imbalance == 1);
}

TEST_CASE("A forced balance may still end with a zero imbalance", "[balance][decisions]") {
  // busiest overloaded, local fully busy with avg 1024 >= busiest avg 1000: force, imbalance 0
  const dom_t mc = make_domain(sd_flags{sd_flag::share_llc});
  env_t e = env_on(mc, cpu_idle_type::not_idle);
  sd_lb_stats s{};
  s.busiest = 1;
  s.local_stat = typed(group_type::fully_busy, 2, 2, 0);
  s.local_stat.group_load = 2048;
  s.busiest_stat = typed(group_type::overloaded, 3, 1, 0);
  s.busiest_stat.avg_load = 1000;
  const src_group_decision d = find_src_group_decision(e, s);
  CHECK(d.group == 1);
  CHECK(d.imbalance == 0);
}

// ---------------------------------------------------------------------- update_sd_pick_busiest

namespace {
struct pick_fixture {
  std::unique_ptr<snapshot<L>> snap = std::make_unique<snapshot<L>>();
  dom_t sd = make_domain(sd_flags{sd_flag::share_llc});
  env_t env{};
  sd_lb_stats sds{};
  pick_fixture() {
    env.sd = &sd;
    env.snap = snap.get();
    env.dst_cpu = 0;
    env.idle = cpu_idle_type::idle;
  }
  void set_busiest(const sg_lb_stats& b) {
    sds.busiest = 1;
    sds.busiest_stat = b;
  }
  bool pick(const sg_lb_stats& s) const { return update_sd_pick_busiest(env, sds, s); }
};
}  // namespace

TEST_CASE("A group with no fair task is never the busiest", "[balance][decisions][pick]") {
  pick_fixture f;
  sg_lb_stats s = typed(group_type::overloaded, 0, 2, 0);
  s.sum_nr_running = 3;  // RT tasks only
  CHECK_FALSE(f.pick(s));
}

TEST_CASE("A higher group type always wins the busiest comparison", "[balance][decisions][pick]") {
  pick_fixture f;
  // against init_sd_lb_stats(): has_spare with UINT_MAX idle CPUs
  CHECK(f.pick(typed(group_type::fully_busy, 2, 2, 0)));
  f.set_busiest(typed(group_type::misfit_task, 1, 2, 1));
  CHECK(f.pick(typed(group_type::smt_balance, 2, 2, 1)));
  CHECK_FALSE(f.pick(typed(group_type::fully_busy, 8, 2, 0)));
}

TEST_CASE("Among overloaded groups the higher average load wins", "[balance][decisions][pick]") {
  pick_fixture f;
  sg_lb_stats b = typed(group_type::overloaded, 3, 2, 0);
  b.avg_load = 1400;
  f.set_busiest(b);
  sg_lb_stats s = typed(group_type::overloaded, 3, 2, 0);
  s.avg_load = 1401;
  CHECK(f.pick(s));
  s.avg_load = 1400;
  CHECK_FALSE(f.pick(s));  // equal: the first one stays
}

TEST_CASE("The first imbalanced group found stays the busiest", "[balance][decisions][pick]") {
  pick_fixture f;
  f.set_busiest(typed(group_type::imbalanced, 1, 2, 1));
  CHECK_FALSE(f.pick(typed(group_type::imbalanced, 9, 2, 0)));
}

TEST_CASE("Among misfit groups the larger misfit load wins", "[balance][decisions][pick]") {
  pick_fixture f;
  sg_lb_stats b = typed(group_type::misfit_task, 1, 2, 1);
  b.group_misfit_task_load = 500;
  f.set_busiest(b);
  sg_lb_stats s = b;
  s.group_misfit_task_load = 600;
  CHECK(f.pick(s));
  s.group_misfit_task_load = 500;
  CHECK_FALSE(f.pick(s));
}

TEST_CASE("Among fully busy groups the later one wins unless the busiest is SMT", "[balance][decisions][pick]") {
  pick_fixture f;
  f.set_busiest(typed(group_type::fully_busy, 2, 2, 0));
  // avg_load 0 == 0 and a non-SMT busiest: the later group wins
  CHECK(f.pick(typed(group_type::fully_busy, 2, 2, 0)));
  sg_lb_stats b = typed(group_type::fully_busy, 2, 2, 0);
  b.flags = smt_group_flags();
  f.set_busiest(b);
  CHECK_FALSE(f.pick(typed(group_type::fully_busy, 2, 2, 0)));
  // smt_balance groups with no idle CPU use the same rule
  sg_lb_stats sb = typed(group_type::smt_balance, 2, 2, 0);
  sb.flags = smt_group_flags();
  f.set_busiest(sb);
  CHECK_FALSE(f.pick(sb));
}

TEST_CASE("Among groups with spare capacity fewer idle CPUs then more tasks win", "[balance][decisions][pick]") {
  pick_fixture f;
  f.set_busiest(typed(group_type::has_spare, 2, 4, 2));
  CHECK_FALSE(f.pick(typed(group_type::has_spare, 3, 4, 3)));  // more idle CPUs
  CHECK(f.pick(typed(group_type::has_spare, 1, 4, 1)));        // fewer idle CPUs
  CHECK(f.pick(typed(group_type::has_spare, 3, 4, 2)));        // same idle, more tasks
  CHECK_FALSE(f.pick(typed(group_type::has_spare, 2, 4, 2)));  // same idle, same tasks
  // smt_balance groups with idle CPUs use the same rule
  f.set_busiest(typed(group_type::smt_balance, 2, 2, 1));
  CHECK_FALSE(f.pick(typed(group_type::smt_balance, 2, 2, 1)));
  CHECK(f.pick(typed(group_type::smt_balance, 3, 2, 1)));
}

TEST_CASE("A spare SMT core with one task does not replace a non-SMT busiest group", "[balance][decisions][pick]") {
  pick_fixture f;
  f.set_busiest(typed(group_type::has_spare, 1, 2, 1));
  sg_lb_stats smt1 = typed(group_type::has_spare, 1, 2, 1);
  smt1.flags = smt_group_flags();
  CHECK_FALSE(f.pick(smt1));
  sg_lb_stats smt2 = typed(group_type::has_spare, 2, 2, 0);
  smt2.flags = smt_group_flags();
  CHECK(f.pick(smt2));
  // a non-SMT group replaces an SMT busiest even with more idle CPUs
  f.set_busiest(smt2);
  CHECK(f.pick(typed(group_type::has_spare, 1, 4, 3)));
}

TEST_CASE("On asymmetric capacity misfit groups only go to a bigger, spare destination", "[balance][decisions][pick]") {
  pick_fixture f;
  f.sd = make_domain(sd_flags{sd_flag::asym_cpucapacity});
  f.snap->cpus[0].capacity = 1024;
  sg_lb_stats s = typed(group_type::misfit_task, 1, 4, 3);
  s.group_misfit_task_load = 400;
  s.max_capacity = 1024;
  f.sds.local_stat = typed(group_type::has_spare, 0, 4, 4);
  // capacity_greater(1024, 1024): 1024*1024 > 1024*1078 is false → not pulled
  CHECK_FALSE(f.pick(s));
  s.max_capacity = 446;  // 1024*1024 = 1048576 > 446*1078 = 480788
  CHECK(f.pick(s));
  f.sds.local_stat.type = group_type::fully_busy;
  CHECK_FALSE(f.pick(s));
  // a spare group of bigger CPUs is not drained to a small destination
  f.snap->cpus[0].capacity = 446;
  f.sds.local_stat.type = group_type::has_spare;
  sg_lb_stats big = typed(group_type::has_spare, 2, 4, 2);
  big.min_capacity = 1024;  // 1024*1024 > 446*1078
  CHECK_FALSE(f.pick(big));
}
