// Cost of building scheduling domains (the whole build_sched_domains equivalent), per CPU.
#include <balancekit/domains.hpp>
#include <balancekit/topology/machines.hpp>

#include <benchmark/benchmark.h>

#include <memory>
#include <string>

namespace {
using namespace balancekit;

template <class L>
void build_domains(benchmark::State& state, machine_spec spec) {
  auto topo = std::make_unique<topology<L>>();
  if (status s = make_topology(spec, *topo); !s) {
    state.SkipWithError(s.error_value().message.c_str());
    return;
  }
  auto tree = std::make_unique<domain_tree<L>>();
  for (auto _ : state) {
    const status s = domain_tree<L>::build(*topo, {}, *tree);
    if (!s) state.SkipWithError(s.error_value().message.c_str());
    benchmark::DoNotOptimize(tree.get());
  }
  const auto cpus = static_cast<double>(topo->nr_cpus());
  state.counters["cpus"] = cpus;
  state.counters["ns_per_cpu"] =
      benchmark::Counter(cpus * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_domains_hygon384(benchmark::State& state) { build_domains<default_limits>(state, machines::hygon384.spec); }
BENCHMARK(BM_domains_hygon384)->Unit(benchmark::kMillisecond);

// 4096 CPUs: 8 sockets x 4 nodes x 4 LLCs x 16 cores x 2 threads; SLIT 12 within a
// socket, 32 across.
std::string two_level_distances(int sockets, int nodes_per_socket) {
  std::string m;
  const int n = sockets * nodes_per_socket;
  for (int a = 0; a < n; ++a) {
    for (int b = 0; b < n; ++b)
      m += (a == b ? "10" : a / nodes_per_socket == b / nodes_per_socket ? "12" : "32") + std::string(b + 1 < n ? " " : "");
    m += a + 1 < n ? ";" : "";
  }
  return m;
}

void BM_domains_4096(benchmark::State& state) {
  static const std::string distances = two_level_distances(8, 4);
  build_domains<large_limits>(state, {"package:8 numa:4 l3:4 core:16 pu:2", distances});
}
BENCHMARK(BM_domains_4096)->Unit(benchmark::kMillisecond);
}  // namespace
