// Cost of building scheduling domains (the whole build_sched_domains equivalent), per CPU.
#include <balancekit/domains.hpp>
#include <balancekit/topology/machines.hpp>

#include <benchmark/benchmark.h>

#include "machine_4096.hpp"

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

void BM_domains_4096(benchmark::State& state) { build_domains<large_limits>(state, bench::machine_4096()); }
BENCHMARK(BM_domains_4096)->Unit(benchmark::kMillisecond);
}  // namespace
