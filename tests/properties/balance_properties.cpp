// Multi-round properties of the balancer in the system model: random machines × random
// task sets × affinities. Invariant ids are those of reference/verification-anchors.md;
// docs/invariants.md states each predicate and every exception Linux has by design.
#include <balancekit/balancer.hpp>
#include <balancekit/check/generators.hpp>
#include <balancekit/check/invariants.hpp>
#include <balancekit/model/system.hpp>
#include <balancekit/policy/ipanema.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <ostream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "support/balance_machine.hpp"
#include "support/machine_gen.hpp"
#include "support/property.hpp"
#include "support/tree_shapes.hpp"

using namespace balancekit;
namespace bc = balancekit::check;
using L = small_limits;
using tree_t = domain_tree<L>;
using mask = cpumask<L::max_cpus>;

namespace {

/// A task set, drawn from one seed so it is cheap and prints as one line.
struct workload {
  std::uint64_t seed = 0;
  unsigned tasks_per_100_cpus = 100;
  bool hogs = true;       ///< every task is a CPU hog (demand 1024): loads never change on their own
  bool same_weight = true;
  bool pinned = false;    ///< some tasks get a restricted affinity
  bool piled = false;     ///< every task starts on one CPU
  friend std::ostream& operator<<(std::ostream& os, const workload& w) {
    return os << "workload{seed=" << w.seed << " tasks/100cpus=" << w.tasks_per_100_cpus << " hogs=" << w.hogs
              << " same_weight=" << w.same_weight << " pinned=" << w.pinned << " piled=" << w.piled << "}";
  }
};

struct workload_options {
  bool hogs_only = false;
  bool same_weight_only = false;
  bool unpinned_only = false;
  unsigned max_per_100 = 250;  ///< at most this many tasks per 100 CPUs
};

rc::Gen<workload> gen_workload(workload_options o) {
  return rc::gen::exec([o] {
    workload w;
    w.seed = *rc::gen::noShrink(rc::gen::arbitrary<std::uint64_t>());
    std::vector<unsigned> factors;
    for (unsigned f : {25U, 50U, 100U, 150U, 250U})
      if (f <= o.max_per_100) factors.push_back(f);
    w.tasks_per_100_cpus = *rc::gen::elementOf(factors);
    w.hogs = o.hogs_only || *rc::gen::inRange(0, 10) < 7;
    w.same_weight = o.same_weight_only || *rc::gen::inRange(0, 10) < 5;
    w.pinned = !o.unpinned_only && *rc::gen::inRange(0, 10) < 4;
    w.piled = *rc::gen::inRange(0, 10) < 4;
    return w;
  });
}

using world = test::balance_machine<L>;

// Machines with more distinct distances than small_limits has levels do not build.
bool build(const bc::machine_shape& shape, world& w) { return test::build_balance_machine(shape.spec(), w).empty(); }

// Every group of every domain has as many CPUs and cores as its siblings. Offline CPUs
// and uneven LLCs break this, and then sibling_imbalance's per-core normalisation can
// make each side see the other as busier (see docs/invariants.md).
bool uniform_groups(const tree_t& t) {
  for (std::size_t cpu : t.cpu_map())
    for (std::size_t k = 0; k < t.nr_domains(cpu); ++k) {
      const auto& d = t.domain_of(cpu, k);
      for (std::size_t g = 1; g < d.nr_groups; ++g)
        if (t.group_of(d, g).cores != t.group_of(d, 0).cores || t.group_of(d, g).weight != t.group_of(d, 0).weight)
          return false;
    }
  return true;
}

// The online CPUs of the machine's largest capacity.
mask biggest_cpus(const world& wd) {
  std::uint64_t most = 0;
  for (std::size_t c : wd.tree->cpu_map()) most = std::max(most, wd.topo->capacity_of(c).value);
  mask m;
  for (std::size_t c : wd.tree->cpu_map())
    if (wd.topo->capacity_of(c).value == most) m.set(c);
  return m;
}

// Every group of `cpu`'s lowest domain is one CPU.
bool lowest_groups_single(const tree_t& t, std::size_t cpu) {
  const auto& d = t.domain_of(cpu, 0);
  for (std::size_t g = 0; g < d.nr_groups; ++g)
    if (t.group_of(d, g).weight != 1) return false;
  return true;
}

struct task_plan {
  model::task_spec<L> spec;
  std::size_t cpu = 0;
};

std::vector<task_plan> materialize(const workload& w, const world& wd) {
  bc::detail::bulk_random rnd{w.seed};
  std::vector<std::size_t> cpus(wd.tree->cpu_map().begin(), wd.tree->cpu_map().end());
  const std::size_t n = std::min<std::size_t>(L::max_tasks, std::max<std::size_t>(1, cpus.size() * w.tasks_per_100_cpus / 100));
  const std::size_t pile = cpus[rnd.in(0, cpus.size() - 1)];
  std::vector<task_plan> plan;
  for (std::size_t i = 0; i < n; ++i) {
    task_plan p;
    p.spec.id = i;
    constexpr std::uint64_t weights[] = {1024, 2048, 512, 128, 3121, 335};
    p.spec.weight = w.same_weight ? 1024 : weights[rnd.in(0, 5)];
    p.spec.demand = w.hogs ? 1024 : rnd.in(64, 1024);
    mask allowed = wd.tree->cpu_map();
    if (w.pinned && rnd.in(0, 2) == 0) {
      mask m;
      const std::size_t anchor = cpus[rnd.in(0, cpus.size() - 1)];
      switch (rnd.in(0, 2)) {
        case 0: m = wd.topo->cpus_of_node(wd.topo->node_of(anchor)); break;
        case 1: m.set(anchor); break;
        default:
          for (std::size_t c : cpus)
            if (rnd.in(0, 1) == 0) m.set(c);
      }
      m &= wd.tree->cpu_map();
      if (m.any()) allowed = m;
    }
    p.spec.allowed = allowed;
    p.cpu = w.piled && allowed.test(pile) ? pile : allowed.nth(rnd.in(0, allowed.weight() - 1));
    plan.push_back(p);
  }
  return plan;
}

template <class P>
std::unique_ptr<model::system<P, L>> start(const world& wd, const std::vector<task_plan>& plan) {
  auto sys = std::make_unique<model::system<P, L>>(*wd.tree);
  sys->reset();
  for (const task_plan& p : plan) {
    const bool forked = sys->fork(p.spec, p.cpu) != no_task;
    RC_ASSERT(forked);
  }
  return sys;
}

// The most cache_nice_tries of any domain: a level escalates to an active balance after
// cache_nice_tries + 3 failed attempts, so a quiet streak shorter than that proves nothing.
std::uint32_t quiet_window(const tree_t& t) {
  std::uint32_t c = 0;
  for (std::size_t cpu : t.cpu_map())
    for (std::size_t k = 0; k < t.nr_domains(cpu); ++k) c = std::max<std::uint32_t>(c, t.domain_of(cpu, k).cache_nice_tries);
  return c + 4;
}

using test::worst_case;  // docs/invariants.md quotes the worst cases

std::string describe(const bc::machine_shape& m, const workload& w) {
  std::ostringstream os;
  os << m << ' ' << w;
  return os.str();
}

}  // namespace

TEST_CASE("Balancing conserves tasks and keeps every run queue's sums exact", "[property][balance][conservation]") {
  REQUIRE(test::check("balance: I5 conservation", 60, [] {
    const bc::machine_shape shape = *test::small_machine();
    world wd;
    RC_PRE(build(shape, wd));
    const workload w = *gen_workload({});
    const auto plan = materialize(w, wd);
    auto sys = start<linux_defaults>(wd, plan);
    for (int r = 0; r < 12; ++r) {
      sys->round();
      // Between the round's moves and the next refresh, the sums are the kernel's
      // detach/attach arithmetic; both must equal the sums over the queued tasks.
      RC_ASSERT(bc::first_inconsistent_cpu(wd.tree->cpu_map(), sys->snap()) == static_cast<std::size_t>(-1));
    }
    std::size_t queued = 0;
    std::uint64_t weights = 0;
    for (std::uint32_t t = 0; t < sys->snap().tasks().size(); ++t) {
      queued += sys->snap().queued(t) ? 1U : 0U;
      weights += sys->snap().task_at(t).weight;
    }
    std::uint64_t planned = 0;
    for (const auto& p : plan) planned += p.spec.weight;
    RC_ASSERT(queued == plan.size());
    RC_ASSERT(weights == planned);
  }));
}

TEST_CASE("Every migration goes to a CPU the task may run on", "[property][balance][affinity]") {
  REQUIRE(test::check("balance: I6 affinity", 60, [] {
    const bc::machine_shape shape = *test::small_machine();
    world wd;
    RC_PRE(build(shape, wd));
    const workload w = *gen_workload({});
    auto sys = start<linux_defaults>(wd, materialize(w, wd));
    for (int r = 0; r < 12; ++r) sys->round();
    for (const auto& e : sys->log()) RC_ASSERT(sys->snap().task_at(e.move.task).allowed.test(e.move.dst));
    RC_ASSERT(bc::affinity_respected(sys->snap()));
  }));
}

TEST_CASE("Load moves at a CPU's lowest level go from a busier CPU to a less busy one",
          "[property][balance][no-useless-migration]") {
  // Lozi's I7 (src_load > dst_load, judged like his checker on the first task of each
  // detach batch) holds for Linux only where groups are single CPUs: at higher levels
  // Linux compares group averages, and a move from a CPU of load 3072 to one of 5120 is
  // what balances two groups (docs/invariants.md has the case). migrate_util moves fill
  // spare utilization and are not load moves. Capacities are symmetric, so load is load
  // per capacity.
  REQUIRE(test::check("balance: I7 no useless migration", 60, [] {
    const bc::machine_shape shape = *test::small_machine(false);
    world wd;
    RC_PRE(build(shape, wd));
    const workload w = *gen_workload({});
    auto sys = start<linux_defaults>(wd, materialize(w, wd));
    for (int r = 0; r < 16; ++r) sys->round();
    const auto& log = sys->log();
    for (std::size_t i = 0; i < log.size(); ++i) {
      const auto& e = log[i];
      if (e.move.type != migration_type::migrate_load) continue;
      if (wd.tree->nr_domains(e.move.dst) == 0 || wd.tree->domain_of(e.move.dst, 0).level != e.move.level) continue;
      // The lowest domain's groups are single CPUs, except where the levels below
      // degenerated (a CPU whose node siblings are offline starts at a NUMA level whose
      // groups are nodes): there too it is group averages that decide.
      if (!lowest_groups_single(*wd.tree, e.move.dst)) continue;
      if (i > 0) {
        const migration& p = log[i - 1].move;
        if (log[i - 1].round == e.round && p.src == e.move.src && p.dst == e.move.dst && p.level == e.move.level &&
            p.reason == e.move.reason)
          continue;
      }
      RC_LOG() << "round " << e.round << " task " << e.move.id << ' ' << e.move.src << "->" << e.move.dst << " level "
               << int(e.move.level) << ' ' << to_string(e.move.reason) << " loads " << e.move.src_load << " > "
               << e.move.dst_load << '\n';
      RC_ASSERT(bc::useful(e.move));
    }
  }));
}

TEST_CASE("Every move of Ipanema's steal is useful and strictly improving", "[property][balance][no-useless-migration][ipanema]") {
  REQUIRE(test::check("balance: I7 I8 ipanema", 60, [] {
    const bc::machine_shape shape = *test::small_machine();
    world wd;
    RC_PRE(build(shape, wd));
    const workload w = *gen_workload({.hogs_only = true});
    auto sys = start<ipanema_rules>(wd, materialize(w, wd));
    for (int r = 0; r < 16; ++r) sys->round();
    for (const auto& e : sys->log()) {
      RC_ASSERT(bc::useful(e.move));
      RC_ASSERT(bc::strictly_improving(e.move, sys->snap().task_at(e.move.task).load));
    }
  }));
}

namespace {

// I1: runs rounds until no idle CPU (on a fully idle core) sits beside a waiting task;
// returns how many it took, failing past a bound of 4·q·levels rounds.
std::uint32_t rounds_to_work_conservation(const world& wd, const std::vector<task_plan>& plan) {
  auto sys = start<linux_defaults>(wd, plan);
  const std::uint32_t bound = 4 * quiet_window(*wd.tree) * static_cast<std::uint32_t>(wd.tree->levels().size());
  std::uint32_t r = 0;
  auto violation = [&] {
    return bc::work_conservation(wd.tree->cpu_map(), sys->snap(), bc::cpus_on_idle_cores(*wd.tree, sys->snap()));
  };
  for (; r < bound; ++r) {
    if (!violation().found) break;
    sys->round();
  }
  const auto wit = violation();
  RC_LOG() << "idle " << wit.idle_cpu << " busy " << wit.busy_cpu << " task " << wit.task << " after " << r << '\n';
  RC_ASSERT(!wit.found);
  return r;
}

// I10: a quiescent run reaches a fixpoint within q·(tasks + levels) rounds; returns the
// system at the fixpoint and the last active round as a percentage of the bound.
template <class P>
std::pair<std::unique_ptr<model::system<P, L>>, double> run_to_fixpoint(const world& wd, const std::vector<task_plan>& plan) {
  auto sys = start<P>(wd, plan);
  const std::uint32_t q = quiet_window(*wd.tree);
  const auto levels = static_cast<std::uint32_t>(wd.tree->levels().size());
  const std::uint32_t bound = q * (static_cast<std::uint32_t>(plan.size()) + levels);
  bool converged = false;
  const std::uint32_t last = sys->run_to_fixpoint(bound + q, q, converged);
  RC_LOG() << "last active round " << last << " bound " << bound << '\n';
  RC_ASSERT(converged);
  RC_ASSERT(last <= bound);
  return {std::move(sys), double(last) / double(bound) * 100.0};
}

// I9: no placement of the tasks comes back within a quiescent run. A task may return to
// a CPU after other moves changed the group loads; what must not happen is the whole
// placement coming back (hogs' loads change only by migrations, so that is a cycle).
void check_no_placement_repeats(const world& wd, const std::vector<task_plan>& plan) {
  auto sys = start<linux_defaults>(wd, plan);
  std::vector<std::vector<std::size_t>> seen;
  auto placement = [&] {
    std::vector<std::size_t> p;
    for (std::uint32_t t = 0; t < sys->snap().tasks().size(); ++t) p.push_back(sys->snap().cpu_of(t));
    return p;
  };
  seen.push_back(placement());
  for (std::uint32_t r = 0, quiet = 0; r < 2000 && quiet < quiet_window(*wd.tree); ++r) {
    const auto rep = sys->round();
    quiet = rep.migrations == 0 ? quiet + 1 : 0;
    if (rep.migrations == 0) continue;
    auto p = placement();
    RC_LOG() << "round " << sys->rounds() << ':';
    for (std::size_t i = sys->log().size() - rep.migrations; i < sys->log().size(); ++i) {
      const migration& m = sys->log()[i].move;
      RC_LOG() << " task " << m.id << ' ' << m.src << "->" << m.dst << " (" << to_string(m.reason) << ", " << to_string(m.type) << ')';
    }
    RC_LOG() << '\n';
    RC_ASSERT(std::find(seen.begin(), seen.end(), p) == seen.end());
    seen.push_back(std::move(p));
  }
}

// An asymmetric machine on which I1 and I10 hold (docs/invariants.md, "Asymmetric
// capacity"): no SMT (exception 4: per-core task counts), no asymmetric domain that
// clears prefer_sibling below groups of several CPUs (exception 8: an overloaded group
// hides a misfit and (1 - 0) >> 1 = 0), and no more hogs than CPUs of the largest
// capacity (exception 10: an idle little CPU's pull and a big CPU's misfit pull take
// turns). I9 fails even there, while hogs still sit on little CPUs (exception 10).
struct asymmetric_case {
  bc::machine_shape shape;
  workload w;
  std::vector<task_plan> plan;
};

// Few drawn machines are asymmetric without SMT and keep prefer_sibling, and the tests'
// own shape conditions keep fewer: at RapidCheck's default of 10 discards per case these
// two properties gave up about once in 10 to 35 runs of the suite (seen this session).
constexpr int asymmetric_discard_ratio = 40;

asymmetric_case draw_asymmetric(world& wd, unsigned max_per_100) {
  asymmetric_case c{*test::asymmetric_machine(), {}, {}};
  RC_PRE(build(c.shape, wd));
  RC_PRE(wd.topo->asymmetric() && !test::has_smt(*wd.tree) && !test::asymmetry_clears_prefer_sibling(*wd.tree));
  c.w = *gen_workload({.hogs_only = true, .unpinned_only = true, .max_per_100 = max_per_100});
  c.plan = materialize(c.w, wd);
  const std::size_t biggest = biggest_cpus(wd).weight();
  if (c.plan.size() > biggest) c.plan.resize(biggest);
  return c;
}

}  // namespace

TEST_CASE("Work is conserved after quiescent rounds", "[property][balance][work-conservation]") {
  // Exceptions (by design): (1) SMT: task counts are balanced per core
  // (sibling_imbalance), so an idle thread whose sibling is busy need not pull from a core
  // that runs one task more; only CPUs on fully idle cores count as idle. (2) Asymmetric
  // capacity: see the asymmetric test below. (3) Affinity: pinned tasks are retried on
  // other CPUs of the local group and flag the parent group, with no guarantee. (4) Tasks
  // that do not use a whole CPU: two of them on one CPU are not "waiting" in any useful
  // sense, and Linux balances them by utilization. (5) Overlapping NUMA groups: an idle
  // CPU's own idleness can count in the group it would pull from, which then looks
  // has_spare, and only the busy CPU's own domains separate it from the idle one. So:
  // unpinned CPU hogs, groups the same from every perspective (docs/invariants.md has the
  // counterexamples).
  static worst_case worst{"rounds to I1", 0, ""};
  REQUIRE(test::check("balance: I1 work conservation", 80, [] {
    const bc::machine_shape shape = *test::small_machine(false);
    world wd;
    RC_PRE(build(shape, wd));
    RC_PRE(test::perspective_consistent(*wd.tree));
    const workload w = *gen_workload({.hogs_only = true, .unpinned_only = true});
    worst.see(rounds_to_work_conservation(wd, materialize(w, wd)), describe(shape, w));
  }));
}

TEST_CASE("Work is conserved on asymmetric machines while the biggest CPUs can hold every hog",
          "[property][balance][work-conservation][asymmetric]") {
  // Capacity asymmetry without SMT or a cleared prefer_sibling, hogs up to the number of
  // CPUs of the largest capacity (see draw_asymmetric()), groups the same from every
  // perspective as above. Idle little CPUs beside a misfit running alone are no violation (a running
  // task is not waiting); an idle CPU beside two hogs is, whatever the capacities.
  static worst_case worst{"rounds to I1 (asymmetric)", 0, ""};
  REQUIRE(test::check("balance: I1 work conservation, asymmetric", 80, [] {
    world wd;
    const asymmetric_case c = draw_asymmetric(wd, 250);
    RC_PRE(test::perspective_consistent(*wd.tree));
    worst.see(rounds_to_work_conservation(wd, c.plan), describe(c.shape, c.w));
  }, asymmetric_discard_ratio));
}

TEST_CASE("Quiescent runs of unpinned hogs reach a fixpoint within the derived bound", "[property][balance][convergence]") {
  // Exceptions (by design): with more hogs than CPUs the load rule keeps rotating the
  // surplus (nr_balance_failed relaxes shr_bound until a move passes); with overlapping
  // NUMA groups, or with sibling groups of different sizes (sibling_imbalance normalises
  // per core), two CPUs can each see the other's group as the busier one and an active
  // balance moves a lone task back and forth. So: at most one hog per CPU, machines whose
  // groups are the same from every perspective and uniform in size, and symmetric
  // capacity (asymmetric machines: the test below).
  static worst_case worst{"rounds to fixpoint per (tasks + levels)", 0, ""};
  REQUIRE(test::check("balance: I10 convergence", 80, [] {
    const bc::machine_shape shape = *test::small_machine(false);
    world wd;
    RC_PRE(build(shape, wd));
    RC_PRE(test::perspective_consistent(*wd.tree) && uniform_groups(*wd.tree));
    const workload w = *gen_workload({.hogs_only = true, .unpinned_only = true, .max_per_100 = 100});
    worst.see(run_to_fixpoint<linux_defaults>(wd, materialize(w, wd)).second, describe(shape, w));
  }));
}

TEST_CASE("Quiescent runs on asymmetric machines reach a fixpoint with no hog left on a CPU an idle one outsizes",
          "[property][balance][convergence][asymmetric]") {
  // Same domain as the asymmetric I1 test, plus the convergence test's shape conditions.
  // At the fixpoint every misfit has gone up: no hog runs on a CPU while an idle CPU is
  // bigger by fair.c's capacity_greater() margin (cap1 * 1024 > cap2 * 1078, about 5 %);
  // CPUs closer in capacity than that are the same to the misfit rule.
  static worst_case worst{"rounds to fixpoint per (tasks + levels), asymmetric", 0, ""};
  REQUIRE(test::check("balance: I10 convergence, asymmetric", 80, [] {
    world wd;
    const asymmetric_case c = draw_asymmetric(wd, 100);
    RC_PRE(test::perspective_consistent(*wd.tree) && uniform_groups(*wd.tree));
    const auto [sys, percent] = run_to_fixpoint<linux_defaults>(wd, c.plan);
    for (std::size_t busy : wd.tree->cpu_map()) {
      if (sys->snap().cpus[busy].nr_running == 0) continue;
      for (std::size_t idle : wd.tree->cpu_map()) {
        if (sys->snap().cpus[idle].nr_running != 0) continue;
        RC_LOG() << "hog on CPU " << busy << " (capacity " << wd.topo->capacity_of(busy).value << "), CPU " << idle
                 << " idle (capacity " << wd.topo->capacity_of(idle).value << ")\n";
        RC_ASSERT(wd.topo->capacity_of(idle).value * 1024 <= wd.topo->capacity_of(busy).value * 1078);
      }
    }
    worst.see(percent, describe(c.shape, c.w));
  }, asymmetric_discard_ratio));
}

TEST_CASE("No task ping-pongs in a quiescent run", "[property][balance][no-ping-pong]") {
  // Same domain of validity as convergence (see above). (Ipanema's steal needs no
  // exception: see the potential test below.)
  REQUIRE(test::check("balance: I9 no ping-pong", 60, [] {
    const bc::machine_shape shape = *test::small_machine(false);
    world wd;
    RC_PRE(build(shape, wd));
    RC_PRE(test::perspective_consistent(*wd.tree) && uniform_groups(*wd.tree));
    const workload w = *gen_workload({.hogs_only = true, .unpinned_only = true, .max_per_100 = 100});
    check_no_placement_repeats(wd, materialize(w, wd));
  }));
}

TEST_CASE("Ipanema's steal strictly lowers the potential and stops within its bound",
          "[property][balance][convergence][bounded-migrations][no-ping-pong][ipanema]") {
  // I8 → I9, I10, I11: each move needs gap > load, so Σ load² drops by 2w(gap − w) ≥ 2w;
  // with integer loads the total number of moves is at most (Φ0 − Φend) / (2 w_min).
  static worst_case worst{"ipanema migrations as % of the potential bound", 0, ""};
  REQUIRE(test::check("balance: I11 ipanema", 80, [] {
    const bc::machine_shape shape = *test::small_machine();
    world wd;
    RC_PRE(build(shape, wd));
    const workload w = *gen_workload({.hogs_only = true});
    const auto plan = materialize(w, wd);
    auto sys = start<ipanema_rules>(wd, plan);
    std::uint64_t w_min = ~std::uint64_t{0};
    for (const auto& p : plan) w_min = std::min(w_min, p.spec.weight);
    const std::uint64_t phi0 = bc::potential(wd.tree->cpu_map(), sys->snap());
    bool converged = false;
    std::uint64_t phi = phi0;
    for (std::uint32_t r = 0; r < 4000 && !converged; ++r) {
      const auto rep = sys->round();
      const std::uint64_t now = bc::potential(wd.tree->cpu_map(), sys->snap());
      if (rep.migrations > 0) RC_ASSERT(now < phi);
      phi = now;
      converged = rep.migrations == 0 && r > quiet_window(*wd.tree) && sys->log().empty() ? true : converged;
      if (rep.migrations == 0 && !sys->log().empty() && sys->log().back().round + quiet_window(*wd.tree) <= sys->rounds())
        converged = true;
      if (rep.migrations == 0 && sys->log().empty() && r >= quiet_window(*wd.tree)) converged = true;
    }
    RC_ASSERT(converged);
    for (const auto& e : sys->log()) RC_ASSERT(bc::strictly_improving(e.move, sys->snap().task_at(e.move.task).load));
    const std::uint64_t bound = (phi0 - phi) / (2 * w_min);
    RC_ASSERT(sys->total_migrations() <= bound);
    if (bound > 0) worst.see(100.0 * double(sys->total_migrations()) / double(bound), describe(shape, w));
  }));
}

TEST_CASE("One steal takes at most all but one of the busiest CPU's tasks", "[property][balance][bounded-migrations]") {
  // I11's per-steal half, which Linux has by construction: detach_tasks() never takes
  // the running task and an idle thief stops before the last one. (The potential half
  // needs I8, which Linux's rules do not have: see the Ipanema test above.) Hogs of one
  // weight, so a CPU's load before the batch counts its tasks.
  static worst_case worst{"migrations per task per level (Linux, observed)", 0, ""};
  REQUIRE(test::check("balance: I11 per-steal bound", 60, [] {
    const bc::machine_shape shape = *test::small_machine(false);
    world wd;
    RC_PRE(build(shape, wd));
    const workload w = *gen_workload({.hogs_only = true, .same_weight_only = true});
    const auto plan = materialize(w, wd);
    auto sys = start<linux_defaults>(wd, plan);
    for (int r = 0; r < 30; ++r) sys->round();
    const auto& log = sys->log();
    for (std::size_t i = 0; i < log.size();) {
      std::size_t j = i + 1;
      const migration& m = log[i].move;
      while (j < log.size() && log[j].round == log[i].round && log[j].move.src == m.src && log[j].move.dst == m.dst &&
             log[j].move.level == m.level && log[j].move.reason == m.reason)
        ++j;
      const std::uint64_t nr_before = m.src_load / nice_0_load;
      RC_LOG() << "batch of " << (j - i) << " from CPU " << m.src << " with " << nr_before << " tasks\n";
      if (m.reason != migration_reason::active) RC_ASSERT(j - i + 1 <= nr_before);
      i = j;
    }
    std::size_t depth = 1;
    for (std::size_t c : wd.tree->cpu_map()) depth = std::max(depth, wd.tree->nr_domains(c));
    worst.see(double(sys->total_migrations()) / double(depth * plan.size()), describe(shape, w));
  }));
}

TEST_CASE("A task-count pull at a CPU's lowest level never leaves the destination busier than the source",
          "[property][balance][no-overshoot]") {
  // I8's task-count form, which Linux has by construction: where a domain's groups are
  // single CPUs (a CPU's lowest level, unless an offline sibling made it a level of cores),
  // sibling_imbalance() is their task difference and calculate_imbalance() moves half of it
  // (imbalance >>= 1), so after a migrate_task batch of k tasks from a CPU with b tasks to
  // one with l, l + k <= b - k. Hogs of one weight, so a CPU's load before the batch counts
  // its tasks; active balances push one running task and are left out.
  REQUIRE(test::check("balance: no overshoot in task pulls", 60, [] {
    const bc::machine_shape shape = *test::small_machine(false);
    world wd;
    RC_PRE(build(shape, wd));
    const workload w = *gen_workload({.hogs_only = true, .same_weight_only = true, .unpinned_only = true});
    auto sys = start<linux_defaults>(wd, materialize(w, wd));
    for (int r = 0; r < 16; ++r) sys->round();
    const auto& log = sys->log();
    for (std::size_t i = 0; i < log.size();) {
      const migration& m = log[i].move;
      std::size_t j = i + 1;
      while (j < log.size() && log[j].round == log[i].round && log[j].move.src == m.src && log[j].move.dst == m.dst &&
             log[j].move.level == m.level && log[j].move.reason == m.reason)
        ++j;
      const int k_dst = wd.tree->find_domain(m.dst, m.level);
      const auto* d = k_dst >= 0 ? &wd.tree->domain_of(m.dst, static_cast<std::size_t>(k_dst)) : nullptr;
      const bool cpu_groups = d != nullptr && d->nr_groups == d->span_weight;
      if (cpu_groups && m.type == migration_type::migrate_task && m.reason != migration_reason::active) {
        const std::uint64_t src = m.src_load / nice_0_load;
        const std::uint64_t dst = m.dst_load / nice_0_load;
        const std::uint64_t k = j - i;
        RC_LOG() << "round " << log[i].round << ": " << k << " task(s) " << m.src << "->" << m.dst << " with " << src
                 << " and " << dst << " tasks before\n";
        RC_ASSERT(dst + k <= src - k);
      }
      i = j;
    }
  }));
}

TEST_CASE("Exactly one CPU of each group is its designated balancer", "[property][balance][designated-balancer]") {
  REQUIRE(test::check("balance: I16 designated balancer", 100, [] {
    const bc::machine_shape shape = *test::small_machine();
    world wd;
    RC_PRE(build(shape, wd));
    const workload w = *gen_workload({});
    auto sys = start<linux_defaults>(wd, materialize(w, wd));
    auto snap = std::make_unique<snapshot<L>>(sys->snap());
    const tree_t& t = *wd.tree;
    auto env_for = [&](std::size_t cpu, std::size_t k, cpu_idle_type idle) {
      return make_lb_env<linux_defaults>(t, *snap, nullptr, cpu, k, idle, 0);
    };
    for (std::size_t cpu : t.cpu_map())
      for (std::size_t k = 0; k < t.nr_domains(cpu); ++k) {
        const auto& d = t.domain_of(cpu, k);
        const mask& balance = t.balance_mask(t.group_of(d, 0));
        // The expected balancer, from the definition (SAS'24's behaviours).
        const bool smt = d.flags.has(sd_flag::share_cpucapacity);
        std::size_t first_idle_core = mask::npos, first_idle = mask::npos;
        for (std::size_t x : balance) {
          if (!snap->cpus[x].is_idle()) continue;
          if (first_idle == mask::npos) first_idle = x;
          bool core_idle = true;
          if (!smt && t.nr_domains(x) > 0 && t.domain_of(x, 0).flags.has(sd_flag::share_cpucapacity))
            for (std::size_t s : t.span(t.domain_of(x, 0))) core_idle = core_idle && snap->cpus[s].is_idle();
          if (core_idle && first_idle_core == mask::npos) first_idle_core = x;
        }
        const std::size_t expected =
            first_idle_core != mask::npos ? first_idle_core : first_idle != mask::npos ? first_idle : balance.first();
        RC_LOG() << "cpu " << cpu << " level " << t.name(d) << " expected " << expected << '\n';
        std::size_t yes = 0;
        bool all_answer = true;
        for (std::size_t x : balance) {
          // With overlapping NUMA groups, x may have lost that level as degenerate or
          // balance a different group there; it does not answer for this group then.
          const int kx = t.find_domain(x, d.level);
          if (kx < 0 || t.span(t.group_of(t.domain_of(x, static_cast<std::size_t>(kx)), 0)) != t.span(t.group_of(d, 0))) {
            all_answer = false;
            continue;
          }
          const bool says = linux_should_we_balance::check(env_for(x, static_cast<std::size_t>(kx), cpu_idle_type::not_idle));
          if (says) {
            RC_LOG() << "  says yes: " << x << '\n';
            ++yes;
            RC_ASSERT(x == expected);
          }
        }
        RC_ASSERT(yes <= 1U);
        if (all_answer) RC_ASSERT(yes == 1U);
        // Newly idle: every idle CPU balances for itself.
        if (snap->cpus[cpu].is_idle()) RC_ASSERT(linux_should_we_balance::check(env_for(cpu, k, cpu_idle_type::newly_idle)));
      }
  }));
}

namespace {
template <class P>
void check_idempotent(const world& wd, const std::vector<task_plan>& plan) {
  auto sys = start<P>(wd, plan);
  bool converged = false;
  (void)sys->run_to_fixpoint(4000, quiet_window(*wd.tree), converged);
  RC_ASSERT(converged);
  auto before = std::make_unique<snapshot<L>>(sys->snap());
  const auto rep = sys->round();
  RC_ASSERT(rep.migrations == 0U);
  for (std::size_t c : wd.tree->cpu_map()) {
    RC_ASSERT(before->head(c) == sys->snap().head(c));
    RC_ASSERT(before->curr(c) == sys->snap().curr(c));
    RC_ASSERT(before->cpus[c].load == sys->snap().cpus[c].load);
  }
  for (std::uint32_t t = 0; t < before->tasks().size(); ++t) RC_ASSERT(before->next(t) == sys->snap().next(t));
}
}  // namespace

TEST_CASE("A round at a fixpoint changes nothing", "[property][balance][idempotence]") {
  // Ipanema: any hogs. Linux: where it has a fixpoint (the convergence domain).
  REQUIRE(test::check("balance: I23 idempotence ipanema", 60, [] {
    const bc::machine_shape shape = *test::small_machine();
    world wd;
    RC_PRE(build(shape, wd));
    check_idempotent<ipanema_rules>(wd, materialize(*gen_workload({.hogs_only = true}), wd));
  }));
  REQUIRE(test::check("balance: I23 idempotence linux", 60, [] {
    const bc::machine_shape shape = *test::small_machine(false);
    world wd;
    RC_PRE(build(shape, wd));
    RC_PRE(test::perspective_consistent(*wd.tree) && uniform_groups(*wd.tree));
    check_idempotent<linux_defaults>(
        wd, materialize(*gen_workload({.hogs_only = true, .unpinned_only = true, .max_per_100 = 100}), wd));
  }));
}

TEST_CASE("The same inputs give the same decisions", "[property][balance][determinism]") {
  REQUIRE(test::check("balance: I24 determinism", 40, [] {
    const bc::machine_shape shape = *test::small_machine();
    world wd;
    RC_PRE(build(shape, wd));
    const workload w = *gen_workload({});
    const auto plan = materialize(w, wd);
    auto a = start<linux_defaults>(wd, plan);
    auto b = start<linux_defaults>(wd, plan);
    for (int r = 0; r < 20; ++r) {
      a->round();
      b->round();
    }
    RC_ASSERT(a->log().size() == b->log().size());
    for (std::size_t i = 0; i < a->log().size(); ++i) RC_ASSERT(a->log()[i].move == b->log()[i].move);
    for (std::size_t c : wd.tree->cpu_map()) RC_ASSERT(a->snap().cpus[c].load == b->snap().cpus[c].load);
  }));
}
