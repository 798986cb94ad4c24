// Wasted Cores S2–S4 (Lozi et al., EuroSys 2016, §3.2–3.4; reference/verification-anchors.md
// (b)) as simulator workloads on opteron64, the paper's machine as the notes model it: 8
// nodes of 8 CPUs (node n is CPUs 8n..8n+7, one LLC per node) with the T8 distances, under
// which nodes 1 and 2 are two hops apart. Expectations come from the mechanisms named in
// each comment, not from a run.
#include <balancekit/balancer.hpp>
#include <balancekit/domains/format.hpp>
#include <balancekit/model/simulator.hpp>
#include <balancekit/model/workloads.hpp>
#include <balancekit/policy/wasted_cores.hpp>
#include <balancekit/topology/machines.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include "support/balance_machine.hpp"

using namespace balancekit;
using L = small_limits;
using mask = cpumask<L::max_cpus>;

namespace {

constexpr nanoseconds ms = 1'000'000;
using idle_first = rules<linux_defaults, with_placement<wasted_cores::idle_first_placement>>;

// Wakeups (not forks) that a placement put on a busy CPU while a CPU the task may use, on
// another node, was idle: the paper's Overload-on-Wakeup event, counted as it happens.
struct wakeup_counts {
  std::uint64_t wakeups = 0;
  std::uint64_t busy_while_remote_idle = 0;
};
wakeup_counts counted{};

template <class Inner>
struct counting : Inner {
  template <class P, limits_pack Lp>
  static constexpr placement_decision select(const wake_env<P, Lp>& env, typename Inner::template state<Lp>& st) {
    const placement_decision d = Inner::select(env, st);
    if (!std::is_constant_evaluated() && (env.flags & wf::ttwu) != 0) {
      ++counted.wakeups;
      const auto idle = [&](std::size_t c) { return env.cpu(c).is_idle() || env.cpu(c).is_sched_idle(); };
      if (!idle(d.cpu)) {
        const auto& tree = *env.tree;
        for (std::size_t c : tree.cpu_map() & ~tree.node_mask(d.cpu))
          if (env.p().allowed.test(c) && idle(c)) {
            ++counted.busy_while_remote_idle;
            break;
          }
      }
    }
    return d;
  }
};
using linux_counted = rules<linux_defaults, with_placement<counting<linux_placement>>>;
using idle_first_counted = rules<linux_defaults, with_placement<counting<wasted_cores::idle_first_placement>>>;

std::unique_ptr<test::balance_machine<L>> opteron64() {
  auto m = std::make_unique<test::balance_machine<L>>();
  REQUIRE(test::build_balance_machine(machines::opteron64.spec, *m).empty());
  return m;
}

template <class P>
std::unique_ptr<model::simulator<P, L>> simulator_on(const domain_tree<L>& tree) {
  auto sim = std::make_unique<model::simulator<P, L>>(tree);
  sim->reset();
  return sim;
}

// Awake tasks per node (node n = CPUs 8n..8n+7 on opteron64).
template <class Sim>
std::array<std::size_t, 8> tasks_per_node(const Sim& sim) {
  std::array<std::size_t, 8> n{};
  for (std::uint32_t t = 0; t < sim.snap().tasks().size(); ++t)
    if (sim.snap().queued(t)) ++n[sim.snap().cpu_of(t) / 8];
  return n;
}

template <class Sim>
void run(Sim& sim, const model::workload& w, nanoseconds until) {
  REQUIRE(model::run_workload(sim, w, until, 100 * ms, [](nanoseconds) {}));
}

std::string sched_verbose(const domain_tree<L>& tree) {
  std::string text;
  format_sched_verbose(tree, [&](std::string_view part) { text += part; });
  return text;
}

}  // namespace

// S2. The application may run on nodes 1 and 2 only and has one thread per CPU of the two.
// The domains are built from each CPU's own perspective (build_overlap_sched_groups(), the
// paper's fix), so a node-2 CPU's NUMA groups do not lump node 1 with node 2: the expected
// result is 8 threads per node, none outside. The paper's buggy CPU-0-perspective groups
// are not built here.
TEST_CASE("The S2 application's threads split evenly over its two nodes and never leave them",
          "[simulator][wasted-cores]") {
  const auto m = opteron64();
  const mask app = m->tree->node_mask(8) | m->tree->node_mask(16);
  REQUIRE(app.weight() == 16);
  SECTION("forked from a node-1 CPU (the workload): the fork path spreads them") {
    auto sim = simulator_on<linux_defaults>(*m->tree);
    model::workload w;
    w.s2_tasks = 16;
    w.start_cpu = 8;
    w.s2_cpu = 16;
    run(*sim, w, 1000 * ms);
    const auto n = tasks_per_node(*sim);
    CHECK(n == std::array<std::size_t, 8>{0, 8, 8, 0, 0, 0, 0, 0});
    for (std::uint32_t t = 0; t < sim->snap().tasks().size(); ++t) CHECK(sim->snap().task_at(t).allowed == app);
  }
  SECTION("pinned to a node-1 CPU, then given the two nodes: the NUMA-level balance spreads them") {
    // Here the fork path cannot help: the threads start on CPU 8 and only load balancing,
    // at the level whose groups hold both nodes, can move half of them to node 2.
    auto sim = simulator_on<linux_defaults>(*m->tree);
    for (std::uint64_t i = 0; i < 16; ++i) {
      model::sim_task<L> t;
      t.id = i;
      t.allowed = mask::of(8);
      REQUIRE(sim->spawn(t, 8) == i);
    }
    sim->run_until(20 * ms);
    for (std::uint32_t i = 0; i < 16; ++i) REQUIRE(sim->set_affinity(i, app));
    sim->run_until(3000 * ms);
    // 8 and 8, or 9 and 7 either way: with 9 on node 1 and 7 on node 2, a node-2 CPU's
    // top level has the groups nodes {2,3,6,0} (its own, 25 idle CPUs) and {1,3,5,6}
    // (node 1's, 24 idle), and a has_spare busiest group with local->idle_cpus <=
    // busiest->idle_cpus + 1 counts as balanced (find_busiest_group()). No node 1 or 2
    // CPU idles while the other node has 8 or more.
    const auto n = tasks_per_node(*sim);
    CHECK(n[1] + n[2] == 16);
    CHECK(std::min(n[1], n[2]) >= 7);
    std::size_t doubled = 0;
    for (std::size_t c : app) {
      CHECK(sim->snap().cpus[c].nr_running <= 2);
      doubled += sim->snap().cpus[c].nr_running == 2 ? 1U : 0U;
    }
    CHECK(doubled == (n[1] == 8 ? 0U : 1U));
  }
}

// S3. Node 0 (X) has a CPU-bound worker on every CPU, three of them wakers that write to
// a wakee of their own after every 1 ms of CPU time; node 7's last three CPUs have no
// worker (the three wakees are those workers), and transient threads come and go on the
// other nodes. A wakee is woken from X with WF_SYNC by a waker running alone on its CPU:
// wake_affine_idle() picks the waker's CPU, and select_idle_sibling() looks for an idle
// CPU in X's LLC only — all busy — so it queues behind the waker while CPUs of node 7
// idle. The idle-first placement sends every wakeup to an idle CPU when one exists.
TEST_CASE("Under Linux the S3 wakee lands on a busy CPU while another node idles", "[simulator][wasted-cores]") {
  const auto m = opteron64();
  model::workload w;
  w.s3_pairs = 3;
  w.s3_transients = 100;  // one every 20 ms for 2 s (small_limits holds 256 tasks)
  w.work = ms;
  w.period = 20 * ms;
  counted = {};
  auto lin = simulator_on<linux_counted>(*m->tree);
  run(*lin, w, 2000 * ms);
  const wakeup_counts linux_counts = counted;
  counted = {};
  auto fix = simulator_on<idle_first_counted>(*m->tree);
  run(*fix, w, 2000 * ms);
  const wakeup_counts fix_counts = counted;

  // 64 workers on 64 CPUs at release, 3 of them wakees: the other nodes keep 3 CPUs
  // without a worker, so there is an idle CPU to waste whenever a wakee waits.
  // Each waker sends about 1000 messages a second; a wakee is woken by most of them (it
  // works 0.5 ms a message, so it sleeps between them when it runs alone). Once pulled to
  // an idle CPU of node 7, its next wakeup brings it back to X (sync, the waker alone on
  // its CPU): so a large share of the ~6000 wakeups in 2 s are the paper's event. A
  // conservative floor of a sixth:
  INFO("linux: " << linux_counts.wakeups << " wakeups, " << linux_counts.busy_while_remote_idle << " onto a busy CPU");
  CHECK(linux_counts.wakeups > 3000);
  CHECK(linux_counts.busy_while_remote_idle > linux_counts.wakeups / 6);
  // The fix never does it: an allowed idle CPU anywhere wins over a busy one (I18 past the LLC).
  CHECK(fix_counts.wakeups > 3000);
  CHECK(fix_counts.busy_while_remote_idle == 0);

  // The Wasted Cores measure: jiffies × idle CPUs a waiting task could have used. Under
  // Linux a waiting wakee leaves node 7's idle CPUs idle until a balance pulls it or the
  // waker's slice ends — at least ten of the jiffy boundaries it is sampled at, a floor
  // far below the thousands of such wakeups; under the fix nothing waits while an allowed
  // CPU idles (forks take the slow path's idlest CPU, wakeups an idle one), so the measure
  // stays near zero.
  INFO("idle while waiting: linux " << lin->metrics().idle_while_waiting << " ns, idle-first "
                                    << fix->metrics().idle_while_waiting << " ns");
  CHECK(lin->metrics().idle_while_waiting >= 10 * lin->tick_length());
  CHECK(fix->metrics().idle_while_waiting * 10 < lin->metrics().idle_while_waiting);
}

// S4. The kernel rebuilds its domains in place after a hotplug event; Linux 4.1 kept the
// number of levels in a global that the offline rebuild reset to the intra-node count, so
// after the cycle the NUMA levels were missing and new threads stayed on their parent's
// node. Our builder keeps no state between builds: rebuilt in the same object with CPU 5
// offline and then online, the domains equal the first build (I15), and 64 hogs forked
// from CPU 0 go one per CPU over every node (the fork path's NUMA levels are there:
// T8's distances are below RECLAIM_DISTANCE, so they keep SD_BALANCE_FORK).
TEST_CASE("After the S4 hotplug cycle the domains are the initial ones and forked threads reach every node",
          "[simulator][wasted-cores]") {
  const auto m = opteron64();
  const std::string initial = sched_verbose(*m->tree);
  std::size_t numa_levels = 0;
  for (const auto& l : m->tree->levels()) numa_levels += l.is_numa ? 1U : 0U;
  // T8 has distances 10, 16 and 22: NODE, then NUMA levels at 16 and 22.
  CHECK(numa_levels == 3);

  auto cycled = std::make_unique<domain_tree<L>>();
  REQUIRE(domain_tree<L>::build(*m->topo, balancer_domain_options(), *cycled));
  machine_spec offline = machines::opteron64.spec;
  offline.offline = "5";
  auto down = std::make_unique<topology<L>>();
  REQUIRE(make_topology(offline, *down));
  REQUIRE(domain_tree<L>::build(*down, balancer_domain_options(), *cycled));
  CHECK_FALSE(cycled->cpu_map().test(5));
  std::size_t numa_levels_offline = 0;
  for (const auto& l : cycled->levels()) numa_levels_offline += l.is_numa ? 1U : 0U;
  CHECK(numa_levels_offline == 3);  // node 0 keeps 7 CPUs: the distances are unchanged
  CHECK(sched_verbose(*cycled) != initial);
  auto up = std::make_unique<topology<L>>();
  REQUIRE(make_topology(machines::opteron64.spec, *up));
  REQUIRE(domain_tree<L>::build(*up, balancer_domain_options(), *cycled));
  CHECK(sched_verbose(*cycled) == initial);

  auto sim = simulator_on<linux_defaults>(*cycled);
  model::workload w;
  w.s4_tasks = 64;
  w.start_cpu = 0;
  w.start = model::start_mode::forked;
  run(*sim, w, 1000 * ms);
  CHECK(tasks_per_node(*sim) == std::array<std::size_t, 8>{8, 8, 8, 8, 8, 8, 8, 8});
}
