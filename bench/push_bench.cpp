// One push decision with its claim (seed 002, policy/push.hpp) on the lock-free tracker:
// a 16-CPU and a 256-CPU LLC, alone and with a second thread pushing in the same LLC.
// Each iteration claims a target (find_target in claim mode) and releases it, so the
// state repeats; half the LLC is idle, every other CPU, so a scan meets busy CPUs too.
// "worst" leaves only the CPU just before the pusher idle: the scan visits the whole LLC.
#include <benchmark/benchmark.h>

#include <balancekit/policy/push.hpp>

#include <cstddef>
#include <memory>

namespace {
using namespace balancekit;
using L = limits<256, 1, 1, 256>;
using tracker = push::atomic_tracker<L>;

// One tracker per LLC size, shared by the threads of a contended run.
tracker& shared_tracker(std::size_t cpus, bool worst) {
  static auto t16 = std::make_unique<tracker>();
  static auto t256 = std::make_unique<tracker>();
  static auto w16 = std::make_unique<tracker>();
  static auto w256 = std::make_unique<tracker>();
  tracker& t = worst ? (cpus == 16 ? *w16 : *w256) : (cpus == 16 ? *t16 : *t256);
  if (t.nr_llcs() == 0) {
    (void)t.attach_uniform(cpus, cpus);
    for (std::size_t c = 0; c < cpus; ++c)
      if (worst ? c + 1 == cpus - 1 : c % 2 == 1) t.set_idle(c);
  }
  return t;
}

void push_claim(benchmark::State& state) {
  const auto cpus = static_cast<std::size_t>(state.range(0));
  const bool worst = state.range(1) != 0;
  tracker& t = shared_tracker(cpus, worst);
  // Pushers are busy CPUs: 0 and 2; in the worst case the last CPU, whose scan wraps round
  // to the CPU before it.
  const std::size_t self = worst ? cpus - 1 : static_cast<std::size_t>(2 * state.thread_index());
  const cpumask<L::max_cpus> anywhere = cpumask<L::max_cpus>::range(0, cpus - 1);
  const push::search s{push_reach::llc, false, push::scan_mode::claim, 1000};
  std::size_t found = 0;
  for (auto _ : state) {
    const std::size_t c = t.find_target(self, anywhere, s, 0);
    if (c != no_cpu) {
      ++found;
      (void)t.release(c, self);
    }
    benchmark::DoNotOptimize(c);
  }
  state.counters["found_share"] =
      benchmark::Counter(static_cast<double>(found) / static_cast<double>(state.iterations()), benchmark::Counter::kAvgThreads);
}
}  // namespace

BENCHMARK(push_claim)->ArgNames({"llc_cpus", "worst"})->Args({16, 0})->Args({256, 0})->Args({16, 1})->Args({256, 1});
BENCHMARK(push_claim)->ArgNames({"llc_cpus", "worst"})->Args({16, 0})->Args({256, 0})->Threads(2);
