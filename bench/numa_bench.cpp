// NUMA balancing's per-fault and per-placement costs (seed 003, policy/numa/), on an
// 8-node two-hop machine of our own (10 local, 16 one hop, 22 two hops: a glueless mesh).
//  - numa_fault: one hinting fault: mainline's migration filter on the page's stamp and
//    the fault recorded in the task's buffers;
//  - numa_placement: one placement pass: the averaging over 8 nodes, then the group's
//    preferred node on the (glueless mesh) topology.
// And the pack member's whole paths on opteron64 (8 nodes, 64 CPUs, a task on each):
//  - numa_member_fault: a hinting fault between placements (the filter, the
//    classification with the group lookup, the locality, the record);
//  - numa_member_placement: a fault that opens a new pass: the placement pass, then
//    task_numa_migrate over the 8 nodes for a task away from its preferred node (both
//    nodes' sums from the snapshot, the compare loop over the preferred node's CPUs, then
//    the other nodes).
#include <benchmark/benchmark.h>

#include <balancekit/balancer.hpp>
#include <balancekit/domains.hpp>
#include <balancekit/policy/numa.hpp>
#include <balancekit/topology/machines.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>

namespace {
using namespace balancekit::numa;
constexpr std::size_t nodes = 8;

distances<nodes> t8() {
  // Node pairs whose ids differ by 3 or 5 (xor) are two hops apart; the rest one hop.
  distances<nodes> d;
  d.nodes = nodes;
  for (std::size_t a = 0; a < nodes; ++a)
    for (std::size_t b = 0; b < nodes; ++b) d.d[a][b] = a == b ? 10 : ((a ^ b) == 3 || (a ^ b) == 5 ? 22 : 16);
  return d;
}

void numa_fault(benchmark::State& state) {
  task_faults<nodes> t;
  group_faults<nodes> g;
  for (std::size_t n = 0; n < nodes; ++n) g.cpu.n[n][0] = g.mem.n[n][0] = 100 + 10 * n;
  const faulting_task<nodes> p{100, 1, 9, &g};
  cpupid page = cpupid::of(9, 55);
  std::size_t cpu = 0;
  for (auto _ : state) {
    cpu = (cpu + 9) % 64;
    const bool migrate = mainline_filter::should_migrate(page, p, 0, cpu, [](std::size_t c) { return c / 8; });
    const fault f{migrate ? cpu / 8 : 0, cpu / 8, 1, false, false, migrate, false};
    benchmark::DoNotOptimize(record(t, f));
    if (t.local > (std::uint64_t{1} << 40)) t = {};
  }
}

void numa_placement(benchmark::State& state) {
  const distances<nodes> d = t8();
  const topology_type type = classify_topology(d);
  task_faults<nodes> t;
  group_faults<nodes> g;
  g.total = 0;
  for (std::size_t n = 0; n < nodes; ++n) {
    g.mem.n[n][1] = 50 * n;
    g.total += 50 * n;
  }
  for (auto _ : state) {
    for (std::size_t n = 0; n < nodes; ++n) {
      t.mem_buf.n[n][1] = 10 + n;
      t.cpu_buf.n[n][1] = 10 + n;
    }
    t.local = t.remote = 40;
    const placement_pass pass = decay(t, 3'000'000, 4'000'000, nodes);
    benchmark::DoNotOptimize(preferred_group_nid(g, d, type, pass.max_node));
  }
  state.counters["glueless_mesh"] = type == topology_type::glueless_mesh ? 1 : 0;
}
}  // namespace

namespace {
using namespace balancekit;
using L = default_limits;
using P = rules<linux_defaults, with_numa<numa::mainline>>;

struct opteron {
  std::unique_ptr<topology<L>> topo = std::make_unique<topology<L>>();
  std::unique_ptr<domain_tree<L>> tree = std::make_unique<domain_tree<L>>();
  std::unique_ptr<snapshot<L>> snap = std::make_unique<snapshot<L>>();
  std::unique_ptr<balance_state<P, L>> st = std::make_unique<balance_state<P, L>>();
  bool ok = false;
  opteron() {
    ok = make_topology(machines::opteron64.spec, *topo) && domain_tree<L>::build(*topo, balancer_domain_options(), *tree);
    if (!ok) return;
    st->reset(*tree, 0);
    for (std::size_t c : tree->cpu_map()) {
      task_state<L> t;
      t.util = t.util_est = t.runnable = sched_capacity_scale;
      const std::uint32_t i = snap->add_task(t, c, true);
      ok = ok && i != no_task;
      account_enqueue(snap->cpus[c], t);
      P::numa::task_new<P>(i, i + 1, no_process, 65536, 0, st->numa);
    }
  }
};

void numa_member_fault(benchmark::State& state) {
  opteron m;
  if (!m.ok) return state.SkipWithError("machine did not build");
  auto& st = m.st->numa;
  constexpr nanoseconds now = 5'000'000'000;
  numa::page_word page{3, numa::cpupid::of(40, 41).value};
  (void)P::numa::fault<P>(*m.tree, *m.snap, 0, 0, page, 1, true, now, now, st);  // the pass's placement, once
  std::uint64_t n = 0;
  for (auto _ : state) {
    page = {3, numa::cpupid::of(40, 41).value};  // a shared page of node 5, stamped from another node
    const numa::fault_outcome out = P::numa::fault<P>(*m.tree, *m.snap, 0, 0, page, 1, true, now, now, st);
    benchmark::DoNotOptimize(out);
    if (++n == 1'000'000) {  // keep the counters far from overflow
      st.tasks[0].faults = {};
      n = 0;
    }
  }
}

void numa_member_placement(benchmark::State& state) {
  opteron m;
  if (!m.ok) return state.SkipWithError("machine did not build");
  auto& st = m.st->numa;
  nanoseconds now = 1'000'000'000;
  std::uint64_t moves = 0;
  std::uint64_t calls = 0;
  for (auto _ : state) {
    P::numa::end_pass(0, st);
    now += 2'000'000'000;  // past the retry interval: each fault opens a pass and asks to move
    numa::page_word page{5, numa::cpupid::of(40, 41).value};
    const numa::fault_outcome out = P::numa::fault<P>(*m.tree, *m.snap, 0, 0, page, 64, true, now, now, st);
    moves += out.hinted ? 1 : 0;
    ++calls;
    benchmark::DoNotOptimize(out);
  }
  state.counters["asked_to_move"] = calls != 0 ? static_cast<double>(moves) / static_cast<double>(calls) : 0;
}
}  // namespace

BENCHMARK(numa_fault);
BENCHMARK(numa_placement);
BENCHMARK(numa_member_fault);
BENCHMARK(numa_member_placement);
