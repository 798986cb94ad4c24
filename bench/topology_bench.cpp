// Cost of building topologies from a spec and of walking masks, reported per CPU.
#include <balancekit/topology/machines.hpp>

#include <benchmark/benchmark.h>

#include "machine_4096.hpp"

#include <memory>

namespace {
using namespace balancekit;

template <class L>
void build_from_spec(benchmark::State& state, machine_spec spec) {
  auto t = std::make_unique<topology<L>>();
  std::size_t cpus = 0;
  for (auto _ : state) {
    const status s = make_topology(spec, *t);
    if (!s) state.SkipWithError(s.error_value().message.c_str());
    cpus = t->nr_cpus();
    benchmark::DoNotOptimize(t.get());
  }
  state.counters["cpus"] = static_cast<double>(cpus);
  state.counters["ns_per_cpu"] = benchmark::Counter(static_cast<double>(cpus) * static_cast<double>(state.iterations()),
                                                    benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_build_hygon384(benchmark::State& state) { build_from_spec<default_limits>(state, machines::hygon384.spec); }
BENCHMARK(BM_build_hygon384)->Unit(benchmark::kMicrosecond);

void BM_build_4096(benchmark::State& state) {
  build_from_spec<large_limits>(state, {bench::levels_4096});  // levels only: no SLIT to parse
}
BENCHMARK(BM_build_4096)->Unit(benchmark::kMillisecond);

void BM_cpumask_iterate_4096(benchmark::State& state) {
  const auto m = *cpumask<4096>::parse("0-4095:3/7");
  for (auto _ : state) {
    std::size_t sum = 0;
    for (std::size_t c : m) sum += c;
    benchmark::DoNotOptimize(sum);
  }
  state.counters["ns_per_cpu"] = benchmark::Counter(static_cast<double>(m.weight()) * static_cast<double>(state.iterations()),
                                                    benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_cpumask_iterate_4096);
}  // namespace
