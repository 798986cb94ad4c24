// Speed of the time-driven simulator (issue 10): simulated seconds per wall second on
// hygon384 with 576 CPU hogs (1.5 per CPU, spread from CPU 0 before timing starts), and
// with 1000 light tasks that each run 0.1 ms every 1 ms — about 10^6 wakeups per simulated
// second, the load the issue sets for message-passing workloads; and hackbench-like groups.
// The counter `sim_s_per_wall_s` is the figure of merit (goal: hogs ≥ 20, wakeups ≥ 1).
#include <balancekit/balancer.hpp>
#include <balancekit/domains.hpp>
#include <balancekit/model/simulator.hpp>
#include <balancekit/model/workloads.hpp>
#include <balancekit/topology/machines.hpp>

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <memory>

namespace {
using namespace balancekit;
using L = default_limits;
using sim_t = model::simulator<linux_defaults, L>;

struct warmed {
  std::unique_ptr<topology<L>> topo = std::make_unique<topology<L>>();
  std::unique_ptr<domain_tree<L>> tree = std::make_unique<domain_tree<L>>();
  std::unique_ptr<sim_t> sim;
  bool ok = false;
  warmed(const model::workload& w, nanoseconds warm) {
    if (!make_topology(machines::hygon384.spec, *topo) || !domain_tree<L>::build(*topo, balancer_domain_options(), *tree))
      return;
    sim = std::make_unique<sim_t>(*tree);
    sim->reset();
    ok = model::run_workload(*sim, w, warm, warm, [](nanoseconds) {});
  }
};

void run(benchmark::State& state, warmed& m) {
  if (!m.ok) {
    state.SkipWithError("machine did not build");
    return;
  }
  constexpr nanoseconds step = 100'000'000;  // 0.1 simulated s per iteration
  for (auto _ : state) m.sim->run_until(m.sim->now() + step);
  state.counters["sim_s_per_wall_s"] = benchmark::Counter(0.1 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_simulate_hogs_hygon384(benchmark::State& state) {
  model::workload w;
  w.hogs = 576;
  static warmed m(w, 1'000'000'000);
  run(state, m);
}
BENCHMARK(BM_simulate_hogs_hygon384)->Unit(benchmark::kMillisecond);

void BM_simulate_wakeups_hygon384(benchmark::State& state) {
  model::workload w;
  w.light = 1000;
  w.work = 100'000;
  w.period = 1'000'000;
  w.start = model::start_mode::forked;
  static warmed m(w, 100'000'000);
  run(state, m);
}
BENCHMARK(BM_simulate_wakeups_hygon384)->Unit(benchmark::kMillisecond);

// 1000 tasks in 25 hackbench-like groups of 20 writers and 20 readers (20 us a message),
// forked from CPU 0; `wakeups_per_sim_s` says how many wakeups the messages cause.
void BM_simulate_hackbench_hygon384(benchmark::State& state) {
  model::workload w;
  w.groups = 25;
  w.fds = 20;
  w.work = 20'000;
  w.start = model::start_mode::forked;
  static warmed m(w, 1'000'000'000);
  const std::uint64_t wakeups = m.ok ? m.sim->metrics().wakeups : 0;
  const nanoseconds start = m.ok ? m.sim->now() : 0;
  run(state, m);
  if (m.ok && m.sim->now() > start)
    state.counters["wakeups_per_sim_s"] =
        static_cast<double>(m.sim->metrics().wakeups - wakeups) * 1e9 / static_cast<double>(m.sim->now() - start);
}
BENCHMARK(BM_simulate_hackbench_hygon384)->Unit(benchmark::kMillisecond);

}  // namespace
