// The simulator with the pack's NUMA member (seed 003): memory on nodes, the scanner, the
// hinting faults and their costs, the remote-access slowdown, and the two designs' answers
// to a task whose memory is elsewhere. Expectations derived by hand from the cost model
// (docs/simulator.md, "Memory") in each comment.
#include <balancekit/balancer.hpp>
#include <balancekit/model/simulator.hpp>
#include <balancekit/policy/numa/member.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "support/balance_machine.hpp"

using namespace balancekit;

namespace {
using L = small_limits;
using mask = cpumask<L::max_cpus>;
constexpr nanoseconds ms = 1'000'000;
template <class N>
using numa_rules = rules<linux_defaults, with_numa<N>>;

// Two nodes of four CPUs (0-3, 4-7), SLIT 20 between them. One hog on CPU 4 (node 1),
// pinned there until `release` (never when 0), with 64 MiB of private memory starting on
// node 0, spending half its time on memory.
template <class P>
std::unique_ptr<model::simulator<P, L>> remote_hog(const test::balance_machine<L>& m, nanoseconds release) {
  auto sim = std::make_unique<model::simulator<P, L>>(*m.tree);
  sim->reset();
  model::sim_task<L> t;
  t.allowed = mask::of(4);
  t.numa_pages = 16384;
  t.dram_permille = 500;
  t.memory_node = 0;
  REQUIRE(sim->spawn(t, 4) == 0);
  if (release != 0) {
    sim->run_until(release);
    REQUIRE(sim->set_affinity(0, mask::range(0, 7)));
  }
  return sim;
}
test::balance_machine<L> two_nodes() {
  test::balance_machine<L> m;
  REQUIRE(test::build_balance_machine({"package:2 numa:1 l3:1 core:4 pu:1", "10 20;20 10"}, m).empty());
  return m;
}
}  // namespace

// Mainline, the hog pinned. All its accesses go to node 0 at distance 20: it runs at
// 1 / (1 + 0.5 · (20 / 10 − 1)) = 2/3 of its speed. Its runtime passes the scan delay
// (1000 ms) at the 1004 ms tick: it scans its one window (64 MiB < 256 MB: all 16 regions,
// a whole pass). At the 1008 ms tick it faults on each region: first faults in early life
// migrate at once, so all 16384 pages move to node 1, none of the faults local, each page
// costing a fault (900 ns) and a migration (2300 ns): 52.4288 ms during which it gets no
// work done. From then on it runs at full speed. Work by 2 s: 1008 · 2/3 = 672 ms, plus
// 2000 − 1008 − 52.4288 = 939.5712 ms. Its next scan needs 2000 ms of runtime, more than
// it has at 2 s.
TEST_CASE("A pinned task's remote pages migrate at its first faults and it speeds up by the SLIT ratio",
          "[numa][simulator]") {
  const auto m = two_nodes();
  auto sim = remote_hog<numa_rules<numa::mainline>>(m, 0);
  sim->run_until(1000 * ms);
  CHECK(sim->metrics().work_done == Approx(666.667 * ms).epsilon(1e-5));
  CHECK(sim->numa_local_share() == 0);
  sim->run_until(2000 * ms);
  const auto& mt = sim->metrics();
  CHECK(mt.numa_faults == 16384);
  CHECK(mt.numa_faults_local == 0);
  CHECK(mt.numa_pages_migrated == 16384);
  CHECK(mt.numa_fault_time == 16384 * (900 + 2300));
  CHECK(mt.work_done == Approx(1611.5712 * ms).epsilon(1e-5));
  CHECK(sim->numa_local_share() == 1'000'000);
  CHECK(sim->state().numa.tasks[0].preferred_nid == no_node);  // the next pass sets it
}

// Released at 500 ms, the hog may go anywhere. Its first faults (1008 ms, as above) find
// the placement pass with nothing averaged yet: no preferred node, and a scan with no
// faults doubles the period to 2000 ms and puts the mm's next scan a period on, at 3008.
// The 3004 tick passes the runtime stamp (1000 + 2000) 4 ms before that: the stamp is
// spent without a scan, as in task_tick_numa(), so the next scan comes at the 5004 tick
// (runtime past 3000 + 2000) and its faults at 5008. Mainline moves the memory to the
// task: at 1008 the pages follow it to node 1; at 5008 the averaged faults name node 1,
// where it runs: no move. AutoNUMA moves the task to the memory: its first faults only
// record node 1 on each page; at 5008 the first region's second fault from node 1 migrates it (the same node
// twice), then placement averages pass 1 (all on node 0): preferred node 0, and the CPU
// follows its memory to node 0's first idle core, CPU 0. Its other 15 regions wait for
// its next tick on node 0, where their faults cancel (another node than last time).
TEST_CASE("Mainline moves the memory to the task; AutoNUMA moves the task to the memory", "[numa][simulator]") {
  const auto m = two_nodes();
  auto mainline = remote_hog<numa_rules<numa::mainline>>(m, 500 * ms);
  auto autonuma = remote_hog<numa_rules<numa::autonuma>>(m, 500 * ms);
  mainline->run_until(5100 * ms);
  autonuma->run_until(5100 * ms);
  CHECK(mainline->snap().cpu_of(0) == 4);
  CHECK(mainline->metrics().numa_pages_migrated == 16384);
  CHECK(mainline->metrics().migrations_numa == 0);
  CHECK(mainline->state().numa.tasks[0].preferred_nid == 1);
  CHECK(autonuma->snap().cpu_of(0) == 0);
  CHECK(autonuma->metrics().migrations_numa == 1);
  CHECK(autonuma->metrics().numa_pages_migrated == 1024);
  CHECK(autonuma->state().numa.tasks[0].preferred_nid == 0);
  CHECK(autonuma->snap().task_at(0).numa_preferred_node == 0);
  CHECK(autonuma->snap().cpus[0].nr_numa_running == 1);
  CHECK(autonuma->snap().cpus[0].nr_preferred_running == 1);
  // 15 of its 16 regions are on node 0, where it runs.
  CHECK(autonuma->numa_local_share() == 15 * 1'000'000 / 16);
}

// The round model has no clock for scans: a NUMA member changes nothing there.
TEST_CASE("The round model runs no NUMA scans", "[numa][simulator][rounds]") {
  const auto m = two_nodes();
  auto sim = std::make_unique<model::simulator<numa_rules<numa::mainline>, L>>(*m.tree);
  sim->reset(model::sim_mode::rounds);
  model::sim_task<L> t;
  t.numa_pages = 16384;
  t.memory_node = 0;
  REQUIRE(sim->spawn(t, 4) == 0);
  REQUIRE(sim->enqueue_at(0, 4));
  for (int i = 1; i <= 100; ++i) {
    sim->advance_clock(i * 100 * ms);
    sim->balance_cpu(4);
  }
  CHECK(sim->metrics().numa_faults == 0);
}
