// Cost of aggregation's bookkeeping on hygon384 (issue 11): one `account` call (what a tick
// or any update_curr of a thread pays), one preferred-LLC `scan` (every CPU's occupancy,
// once per epoch per process), one `next_scope` decision over the 24 LLCs in affinity
// order, and the topology-aware member's whole scope decision after a scan (`rescope`:
// the affinity order from the domains, the process's utilization, the rule), per call in
// ns; and a whole periodic balance of an idle CPU under Linux's rules and under each
// member, whose rules weigh the queued tasks against the balancing CPU's LLC in every
// group above the LLC.
#include <balancekit/balancer.hpp>
#include <balancekit/domains.hpp>
#include <balancekit/policy/aggregation.hpp>
#include <balancekit/topology/machines.hpp>

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace {
using namespace balancekit;
namespace ag = balancekit::aggregation;
using L = default_limits;
using state_t = ag::occupancy_state<L, 8>;
constexpr std::uint32_t hz = 250;
// Tolerance 100 lifts the thread and footprint limits, so that every scan does its work.
constexpr ag::occupancy_tunables tun{0, 5, 100};

struct hygon {
  std::unique_ptr<topology<L>> topo = std::make_unique<topology<L>>();
  std::unique_ptr<domain_tree<L>> tree = std::make_unique<domain_tree<L>>();
  std::unique_ptr<state_t> st = std::make_unique<state_t>();
  bool ok = false;
  hygon() {
    ok = make_topology(machines::hygon384.spec, *topo) && domain_tree<L>::build(*topo, balancer_domain_options(), *tree);
    if (!ok) return;
    // Process 0 has run on every CPU; the others on none.
    for (std::size_t c : tree->cpu_map()) ok = ok && ag::account(*st, *tree, c, 0, 1'000'000, 0, {64, 0}, 32 << 20, tun, hz);
  }
};
hygon& machine() {
  static hygon m;
  return m;
}

void BM_aggregation_account(benchmark::State& state) {
  hygon& m = machine();
  if (!m.ok) return state.SkipWithError("machine did not build");
  jiffies_t now = 0;
  std::size_t cpu = 0;
  for (auto _ : state) {
    // A tick's slice on the next CPU, an epoch every 8 calls.
    benchmark::DoNotOptimize(ag::account(*m.st, *m.tree, cpu, 0, 4'000'000, now / 8, {64, 0}, 32 << 20, tun, hz));
    cpu = cpu + 1 == 384 ? 0 : cpu + 1;
    ++now;
  }
}
BENCHMARK(BM_aggregation_account);

void BM_aggregation_scan(benchmark::State& state) {
  hygon& m = machine();
  if (!m.ok) return state.SkipWithError("machine did not build");
  const cpumask<L::max_cpus> running = cpumask<L::max_cpus>::range(0, 63);
  for (auto _ : state) {
    const jiffies_t now = m.st->processes[0].next_scan;  // every scan due
    benchmark::DoNotOptimize(ag::scan(*m.st, *m.tree, 0, 0, now, running, {64, 0}, 32 << 20, tun, hz));
  }
}
BENCHMARK(BM_aggregation_scan);

void BM_aggregation_next_scope(benchmark::State& state) {
  hygon& m = machine();
  if (!m.ok) return state.SkipWithError("machine did not build");
  static_vector<std::size_t, L::max_cpus> order;
  ag::affinity_order(*m.topo, *m.tree, 0, order);
  std::vector<std::uint64_t> caps;
  for (std::size_t llc : order) caps.push_back(m.tree->llc_size(llc) * 1024);
  std::uint64_t util = 0;
  std::size_t scope = 0;
  for (auto _ : state) {
    scope = ag::next_scope(caps, util, scope, ag::damped_scope);
    benchmark::DoNotOptimize(scope);
    util = util > 300'000 ? 0 : util + 997;  // ramps over every scope length
  }
}
BENCHMARK(BM_aggregation_next_scope);

// The snapshot of BM_on_tick_one_process below: 576 threads of one process.
std::unique_ptr<snapshot<L>> one_process(const domain_tree<L>& tree) {
  auto loaded = std::make_unique<snapshot<L>>();
  for (std::size_t c : tree.cpu_map()) {
    const std::uint64_t n = 3 - c % 4;
    for (std::uint64_t k = 0; k < n; ++k) {
      task_state<L> t;
      t.util = t.util_est = sched_capacity_scale / n;
      t.runnable = sched_capacity_scale;
      t.process = 0;
      if (loaded->add_task(t, c, loaded->curr(c) == no_task) == no_task) return nullptr;
      account_enqueue(loaded->cpus[c], t);
    }
  }
  return loaded;
}

using topology_rules = rules<linux_defaults, with_aggregation<ag::topology_aware<>>>;

// Process 0 preferring CPU 3's LLC, with all of every CPU's recent runtime (occupancy
// 1023 everywhere) and the scope its utilization gives (the RFC's rule: every LLC).
template <class P>
void prefer_cpu3(const domain_tree<L>& tree, const snapshot<L>& snap, balance_state<P, L>& st) {
  auto& occ = [&]() -> auto& {
    if constexpr (requires { st.aggregation.cache; }) return st.aggregation.cache.occupancy;
    else return st.aggregation.occupancy;
  }();
  occ.processes[0].preferred_cpu = 3;
  for (std::size_t c : tree.cpu_map()) occ.pcpu[0][c].runtime = occ.cpus[c].runtime = 1'000'000;
  if constexpr (requires { st.aggregation.scopes; }) P::aggregation::template rescope<P>(tree, snap, 0, 0, st.aggregation);
}

void BM_aggregation_rescope(benchmark::State& state) {
  hygon& m = machine();
  if (!m.ok) return state.SkipWithError("machine did not build");
  const auto snap = one_process(*m.tree);
  if (!snap) return state.SkipWithError("snapshot full");
  auto st = std::make_unique<balance_state<topology_rules, L>>();
  st->reset(*m.tree, 0);
  prefer_cpu3(*m.tree, *snap, *st);
  for (auto _ : state) {
    topology_rules::aggregation::rescope<topology_rules>(*m.tree, *snap, 0, 0, st->aggregation);
    benchmark::DoNotOptimize(st->aggregation.scopes[0].length);
  }
  state.counters["scope_llcs"] = st->aggregation.scopes[0].length;
}
BENCHMARK(BM_aggregation_rescope);

// 576 threads of one process, CPU c running (3, 2, 1, 0)[c % 4] of them with the signals
// of hogs sharing their CPU; the process prefers CPU 3's LLC. CPU 3 (idle) runs its
// periodic balance from the same state each iteration.
template <class P>
void BM_on_tick_one_process(benchmark::State& state) {
  hygon& m = machine();
  if (!m.ok) return state.SkipWithError("machine did not build");
  const domain_tree<L>& tree = *m.tree;
  const auto loaded = one_process(tree);
  if (!loaded) return state.SkipWithError("snapshot full");
  const balancer<P, L> b{tree};
  auto snap = std::make_unique<snapshot<L>>();
  auto bstate = std::make_unique<balance_state<P, L>>();
  const nanoseconds now = 1'000'000'000;
  std::size_t moved = 0;
  for (auto _ : state) {
    state.PauseTiming();
    *snap = *loaded;
    bstate->reset(tree, 0);
    if constexpr (detail::aggregation_active<P>) prefer_cpu3(tree, *snap, *bstate);
    state.ResumeTiming();
    const balance_result<L> r = b.on_tick(3, now, *snap, *bstate);
    moved = r.migrations.size();
    benchmark::DoNotOptimize(moved);
  }
  state.counters["migrations"] = static_cast<double>(moved);
}
BENCHMARK(BM_on_tick_one_process<linux_defaults>)->Name("on_tick/hygon384/one_process/linux")->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_on_tick_one_process<rules<linux_defaults, with_aggregation<ag::llc_centric<>>>>)
    ->Name("on_tick/hygon384/one_process/llc_centric")
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_on_tick_one_process<topology_rules>)
    ->Name("on_tick/hygon384/one_process/topology_aware")
    ->Unit(benchmark::kMicrosecond);

}  // namespace
