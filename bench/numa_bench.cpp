// NUMA balancing's per-fault and per-placement costs (seed 003, policy/numa/), on an
// 8-node two-hop machine of our own (10 local, 16 one hop, 22 two hops: a glueless mesh).
//  - numa_fault: one hinting fault: mainline's migration filter on the page's stamp and
//    the fault recorded in the task's buffers;
//  - numa_placement: one placement pass: the averaging over 8 nodes, then the group's
//    preferred node on the (glueless mesh) topology.
#include <benchmark/benchmark.h>

#include <balancekit/policy/numa.hpp>

#include <cstddef>
#include <cstdint>

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

BENCHMARK(numa_fault);
BENCHMARK(numa_placement);
