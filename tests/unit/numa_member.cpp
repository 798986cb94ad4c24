// NUMA balancing as a pack member (seed 003; numa::mainline, numa::autonuma): the scanner's
// gate, a task sent to its memory's node, the balancer's migrate_degrades_locality, the
// interplay with aggregation's preferred LLC, and the fault path's allocations. Each
// expectation is derived by hand in its comment from the kernel's rules (docs/numa.md).
#include <balancekit/balancer.hpp>
#include <balancekit/policy/aggregation.hpp>
#include <balancekit/policy/numa/member.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "support/alloc_counter.hpp"
#include "support/balance_machine.hpp"

using namespace balancekit;

namespace {
using L = small_limits;
template <class N>
using numa_rules = rules<linux_defaults, with_numa<N>>;
constexpr nanoseconds ms = 1'000'000;

static_assert(check_pack<numa_rules<numa::mainline>, L>());
static_assert(check_pack<numa_rules<numa::autonuma>, L>());
static_assert(detail::numa_active<numa_rules<numa::mainline>>);
static_assert(!detail::numa_active<linux_defaults>);

template <class P>
struct world : test::balance_world<P, L> {};

// Two packages of one node each, four CPUs a node (0-3 on node 0, 4-7 on node 1), SLIT 20
// between them: CPU 0's domains are MC (0-3) and NUMA (0-7).
template <class P>
std::unique_ptr<world<P>> two_nodes() {
  auto w = std::make_unique<world<P>>();
  REQUIRE(test::build_balance_machine({"package:2 numa:1 l3:1 core:4 pu:1", "10 20;20 10"}, *w).empty());
  REQUIRE(w->tree->nr_domains(0) == 2);
  w->state->reset(*w->tree, 0);
  REQUIRE(w->state->numa.attached);
  REQUIRE(w->state->numa.dist.nodes == 2);
  return w;
}

template <class P>
std::uint32_t queue(world<P>& w, std::size_t cpu) {
  const std::uint32_t i = test::queue_task(w, cpu, no_process, 512);
  REQUIRE(i != no_task);
  return i;
}

// A page on node 1 whose last fault came from CPU 5 (node 1), by pid 77: for mainline its
// cpupid, for AutoNUMA its last node.
template <class P>
numa::page_word remote_page() {
  return {1, P::numa::which == numa::design::mainline ? numa::cpupid::of(5, 77).value : 1U};
}

// Task 0 (pid 1) runs on CPU 0 and faults twice on node 1's pages from there, each time in
// a new pass over its memory. Neither page moves: mainline's two-stage filter refuses a
// stamp from another node than the fault's, AutoNUMA's filter cancels on a node change.
// The first fault's placement has no statistics yet, so no preferred node and no move.
// The second's averages the first fault in: all faults on node 1, the preferred node is 1,
// and the task is not there: task_numa_migrate (mainline) or the CPU following its memory
// (AutoNUMA) finds node 1 idle and takes its first idle core, CPU 4, a move (no swap).
template <class P>
void sent_to_its_memory() {
  auto w = two_nodes<P>();
  auto& st = w->state->numa;
  const std::uint32_t t = queue(*w, 0);
  P::numa::template task_new<P>(t, 1, no_process, 16384, 0, st);
  P::numa::end_pass(t, st);
  numa::page_word a = remote_page<P>();
  const numa::fault_outcome first =
      P::numa::template fault<P>(*w->tree, *w->snap, 0, t, a, 100, false, 1000 * ms, 1000 * ms, st);
  CHECK(a.node == 1);
  CHECK_FALSE(first.migrate_page);
  CHECK(first.move_to == no_cpu);
  CHECK(st.tasks[t].preferred_nid == no_node);
  P::numa::end_pass(t, st);
  numa::page_word b = remote_page<P>();
  const numa::fault_outcome second =
      P::numa::template fault<P>(*w->tree, *w->snap, 0, t, b, 100, false, 2000 * ms, 2000 * ms, st);
  CHECK(st.tasks[t].preferred_nid == 1);
  CHECK(second.hinted);
  CHECK(second.move_to == 4);
  CHECK(second.swap_with == no_task);
  CHECK(st.tasks[t].hints == 1);
  CHECK(st.tasks[t].hints_followed == 1);
  CHECK(P::numa::preferred_node_cpu(t, st) == 4);  // node 1 as its first CPU
}
}  // namespace

TEST_CASE("A task whose memory is on another node is sent to an idle CPU there at its next pass", "[numa][member]") {
  SECTION("mainline") { sent_to_its_memory<numa_rules<numa::mainline>>(); }
  SECTION("AutoNUMA") { sent_to_its_memory<numa_rules<numa::autonuma>>(); }
}

// task_numa_migrate's swap (v6). Task 0 (pid 1) on CPU 0 prefers node 1 (all its faults
// there, as above); node 1 is fully busy (a task of util 1024 on each of CPUs 4-7, load
// 4096 against node 0's 1024, so a move would worsen the balance: no move). Each of those
// tasks has all its faults on node 0 and prefers it. With CPU 4's task: imp = 1000 (ours)
// + 1000 − 0 (its weights at the source and here) = 2000, + 2000 / 8 for a partner going
// home = 2250, equal loads: a swap, and the search stops there. But a swap puts the partner
// on the source CPU itself: when the partners may run on CPU 1 of node 0 and not on CPU 0,
// there is no swap (the kernel tests env->src_cpu), and no other node to try.
template <class P>
numa::fault_outcome swap_search(bool partners_allowed_on_cpu0) {
  auto w = two_nodes<P>();
  auto& st = w->state->numa;
  const std::uint32_t t = queue(*w, 0);
  P::numa::template task_new<P>(t, 1, no_process, 16384, 0, st);
  for (std::size_t c = 4; c < 8; ++c) {
    task_state<L> o;
    o.id = c;
    o.util = o.util_est = o.runnable = sched_capacity_scale;
    o.allowed = cpumask<L::max_cpus>::range(4, 7);
    o.allowed.set(partners_allowed_on_cpu0 ? 0 : 1);
    const std::uint32_t i = w->snap->add_task(o, c, true);
    REQUIRE(i != no_task);
    account_enqueue(w->snap->cpus[c], o);
    P::numa::template task_new<P>(i, i + 1, no_process, 16384, 0, st);
    st.tasks[i].faulted = true;
    st.tasks[i].faults.mem.n[0][1] = 100;
    st.tasks[i].faults.total = 100;
    st.tasks[i].preferred_nid = 0;
  }
  P::numa::end_pass(t, st);
  numa::page_word a = remote_page<P>();
  (void)P::numa::template fault<P>(*w->tree, *w->snap, 0, t, a, 100, false, 1000 * ms, 1000 * ms, st);
  P::numa::end_pass(t, st);
  numa::page_word b = remote_page<P>();
  return P::numa::template fault<P>(*w->tree, *w->snap, 0, t, b, 100, false, 2000 * ms, 2000 * ms, st);
}

TEST_CASE("task_numa_migrate swaps with a task going home, only one allowed on the source CPU", "[numa][member]") {
  using P = numa_rules<numa::mainline>;
  const numa::fault_outcome swap = swap_search<P>(true);
  CHECK(swap.hinted);
  CHECK(swap.move_to == 4);
  CHECK(swap.swap_with == 1);  // the task running on CPU 4
  const numa::fault_outcome none = swap_search<P>(false);
  CHECK(none.hinted);
  CHECK(none.move_to == no_cpu);
  CHECK(none.swap_with == no_task);
}

// The scanner's gate (task_tick_numa): a task of 64 MiB (one 256 MB window, so the
// minimum period is max(1000 / 10, 1000 / 1) = 1000 ms) scans first when both its
// runtime and the wall clock pass the scan delay (1000 ms), then once per period of
// runtime, and never before the mm's next scan (a period of wall time after the last).
TEST_CASE("A task scans after the scan delay, then once per period of its runtime", "[numa][member]") {
  using P = numa_rules<numa::mainline>;
  auto w = two_nodes<P>();
  auto& st = w->state->numa;
  const std::uint32_t t = queue(*w, 0);
  P::numa::task_new<P>(t, 1, no_process, 16384, 0, st);
  CHECK_FALSE(P::numa::task_tick<P>(t, 1000 * ms, 1000 * ms, st));  // runtime not past the delay
  CHECK(P::numa::task_tick<P>(t, 1004 * ms, 1004 * ms, st));
  CHECK(st.tasks[t].scan_period_ms == 1000);
  CHECK_FALSE(P::numa::task_tick<P>(t, 1996 * ms, 1996 * ms, st));  // runtime not past 1000 + 1000
  CHECK_FALSE(P::numa::task_tick<P>(t, 2004 * ms, 2003 * ms, st));  // the mm's next scan is at 2004
  CHECK_FALSE(P::numa::task_tick<P>(t, 2008 * ms, 2008 * ms, st));  // that period's stamp is spent
  CHECK(P::numa::task_tick<P>(t, 3004 * ms, 3004 * ms, st));
}

// migrate_degrades_locality() for a task on CPU 0 (node 0) that the NUMA domain's balance
// would move to CPU 4 (node 1):
//  - preferred node 0 and CPU 0 runs a task not at home besides it (2 running, 1 at home):
//    leaving degrades (1); with both at home, no opinion (0);
//  - preferred node 1: it improves (-1);
//  - no preferred node, faults 30 on node 0 and 10 on node 1: on a direct topology the
//    weights are 1000 · 30 / 40 = 750 and 250, so it degrades by 500; from an idle CPU's
//    balance, no opinion (an idle core is worse).
TEST_CASE("The NUMA member answers migrate_degrades_locality for the NUMA domain's balance", "[numa][member]") {
  using P = numa_rules<numa::mainline>;
  auto w = two_nodes<P>();
  auto& st = w->state->numa;
  const std::uint32_t t = queue(*w, 0);
  P::numa::task_new<P>(t, 1, no_process, 16384, 0, st);
  auto& tn = st.tasks[t];
  tn.faulted = true;
  auto env = make_lb_env<P>(*w->tree, *w->snap, w->state.get(), 4, 1, cpu_idle_type::not_idle, 0);
  env.src_cpu = 0;
  tn.preferred_nid = 0;
  w->snap->cpus[0].nr_running = 2;
  w->snap->cpus[0].nr_preferred_running = 1;
  CHECK(P::numa::degrades_locality(env, t, st) == 1);
  w->snap->cpus[0].nr_preferred_running = 2;
  CHECK(P::numa::degrades_locality(env, t, st) == 0);
  tn.preferred_nid = 1;
  CHECK(P::numa::degrades_locality(env, t, st) == -1);
  tn.preferred_nid = no_node;
  tn.faults.mem.n[0][1] = 30;
  tn.faults.mem.n[1][1] = 10;
  tn.faults.total = 40;
  CHECK(P::numa::degrades_locality(env, t, st) == 500);
  auto idle_env = make_lb_env<P>(*w->tree, *w->snap, w->state.get(), 4, 1, cpu_idle_type::idle, 0);
  idle_env.src_cpu = 0;
  CHECK(P::numa::degrades_locality(idle_env, t, st) == 0);
  // Inside the node's LLC domain, NUMA locality has no say.
  auto llc_env = make_lb_env<P>(*w->tree, *w->snap, w->state.get(), 1, 0, cpu_idle_type::not_idle, 0);
  llc_env.src_cpu = 0;
  CHECK(P::numa::degrades_locality(llc_env, t, st) == 0);
}

// The interplay (get_pref_llc() in the merged series): process 0 prefers the LLC of CPU 4
// (node 1) and its task 0's NUMA-preferred node is 0. NUMA first: the task has no
// preferred LLC. Cache first: it keeps the LLC. And a cache_first member's placement takes
// the LLC's node as the preferred node where its faults say node 0.
TEST_CASE("NUMA first drops a preferred LLC on another node; cache first keeps it and moves the node", "[numa][interplay]") {
  using agg = aggregation::llc_centric<4>;
  using first = rules<linux_defaults, with_aggregation<agg>, with_numa<numa::mainline>>;
  using cache = rules<linux_defaults, with_aggregation<agg>, with_numa<numa::mainline_cache_first>>;
  auto nf = two_nodes<first>();
  auto cf = two_nodes<cache>();
  for (auto* snap : {nf->snap.get(), cf->snap.get()}) {
    task_state<L> t;
    t.process = 0;
    t.numa_preferred_node = 0;  // node 0, as its first CPU
    REQUIRE(snap->add_task(t, 0, true) == 0);
  }
  nf->state->aggregation.occupancy.processes[0].preferred_cpu = 4;
  cf->state->aggregation.occupancy.processes[0].preferred_cpu = 4;
  CHECK(agg::preferred_llc_of<first>(*nf->tree, *nf->snap, nf->state->aggregation, 0) == no_cpu);
  CHECK(agg::preferred_llc_of<cache>(*cf->tree, *cf->snap, cf->state->aggregation, 0) == 4);

  auto& st = cf->state->numa;
  cache::numa::task_new<cache>(0, 1, 0, 16384, 0, st);
  cache::numa::end_pass(0, st);
  numa::page_word local{0, numa::cpupid::of(1, 77).value};
  (void)cache::numa::fault<cache>(*cf->tree, *cf->snap, 0, 0, local, 100, true, 1000 * ms, 1000 * ms, st, 4);
  cache::numa::end_pass(0, st);
  numa::page_word again{0, numa::cpupid::of(1, 77).value};
  (void)cache::numa::fault<cache>(*cf->tree, *cf->snap, 0, 0, again, 100, true, 2000 * ms, 2000 * ms, st, 4);
  CHECK(st.tasks[0].faults.mem.on(0) != 0);
  CHECK(st.tasks[0].faults.mem.on(1) == 0);
  CHECK(st.tasks[0].preferred_nid == 1);  // the LLC's node, not the faults'
}

// Zero allocations on the fault path (filter, classification, group join, placement pass,
// task_numa_migrate) and in the balancer's locality check.
TEST_CASE("The NUMA fault and placement paths allocate nothing", "[numa][allocation]") {
  using P = numa_rules<numa::mainline>;
  auto w = two_nodes<P>();
  auto& st = w->state->numa;
  const std::uint32_t t = queue(*w, 0);
  (void)queue(*w, 4);
  P::numa::task_new<P>(t, 1, no_process, 16384, 0, st);
  P::numa::task_new<P>(1, 2, no_process, 16384, 0, st);
  auto env = make_lb_env<P>(*w->tree, *w->snap, w->state.get(), 4, 1, cpu_idle_type::not_idle, 0);
  env.src_cpu = 0;
  std::int64_t sink = 0;
  const std::size_t allocated = test::allocations_during([&] {
    for (int pass = 1; pass <= 50; ++pass) {
      P::numa::end_pass(t, st);
      numa::page_word pg = remote_page<P>();
      const nanoseconds at = pass * 1000 * ms;
      const auto out = P::numa::fault<P>(*w->tree, *w->snap, 0, t, pg, 100, true, at, at, st);
      sink += static_cast<std::int64_t>(out.move_to) + P::numa::degrades_locality(env, t, st);
      (void)P::numa::task_tick<P>(t, at, at, st);
      P::numa::account(t, 0, 4 * ms, at, st);
    }
  });
  CHECK(allocated == 0);
  CHECK(st.tasks[t].hints > 0);  // the path ran as far as task_numa_migrate
  CHECK(sink != 0);
}
