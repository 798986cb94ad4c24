// Cost of the load balancer's central step, "find the busiest group and compute the
// imbalance" (kernel: update_sd_lb_stats() + the decision tree of
// sched_balance_find_src_group(), i.e. linux_src_group::find on an environment from
// make_lb_env), at each domain level of CPU 0, reported per CPU scanned; and of a whole
// periodic balance.
//
// Load: 1.5 CPU hogs per CPU on average, CPU c running (3, 2, 1, 0)[c % 4] hogs, so a
// quarter of the CPUs are idle and every SMT core holds one idle thread or more.
#include <balancekit/balancer.hpp>
#include <balancekit/domains.hpp>
#include <balancekit/model/system.hpp>
#include <balancekit/topology/machines.hpp>

#include <benchmark/benchmark.h>

#include "machine_4096.hpp"

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

namespace {
using namespace balancekit;

/// A machine with its domains and a loaded snapshot, built once per process.
template <class L>
struct loaded_machine {
  std::unique_ptr<topology<L>> topo = std::make_unique<topology<L>>();
  std::unique_ptr<domain_tree<L>> tree = std::make_unique<domain_tree<L>>();
  std::unique_ptr<snapshot<L>> snap = std::make_unique<snapshot<L>>();
  std::unique_ptr<balance_state<linux_defaults, L>> state = std::make_unique<balance_state<linux_defaults, L>>();
  nanoseconds now = 0;
  bool ok = false;

  explicit loaded_machine(const machine_spec& spec) {
    if (!make_topology(spec, *topo) || !domain_tree<L>::build(*topo, balancer_domain_options(), *tree)) return;
    // The model gives every task the signals a steady hog has (shared CPUs split util).
    auto sys = std::make_unique<model::system<linux_defaults, L>>(*tree);
    sys->reset();
    std::uint64_t id = 1;
    for (std::size_t c : tree->cpu_map())
      for (std::size_t k = 0; k < 3 - c % 4; ++k)
        if (sys->fork({id++, nice_0_load, sched_capacity_scale}, c) == no_task) return;
    *snap = sys->snap();
    state->reset(*tree, 0);
    now = sys->default_round_length();
    ok = true;
  }
};

template <class L>
void find_src_group(benchmark::State& state, const loaded_machine<L>* m, std::size_t k) {
  const domain_tree<L>& tree = *m->tree;
  const auto& sd = tree.domain_of(0, k);
  // CPU 0 runs three hogs: a busy CPU's periodic balance. The rule only reads its
  // environment, so one environment serves every iteration.
  const auto env = make_lb_env<linux_defaults>(tree, *m->snap, m->state.get(), 0, k, cpu_idle_type::not_idle, m->now);
  for (auto _ : state) {
    const src_group_decision d = linux_src_group::find(env);
    benchmark::DoNotOptimize(d);
  }
  const auto weight = static_cast<double>(sd.span_weight);
  state.counters["cpus"] = weight;
  state.counters["level"] = static_cast<double>(sd.level);
  state.counters["ns_per_cpu"] = benchmark::Counter(weight * static_cast<double>(state.iterations()),
                                                    benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// A whole periodic balance of an idle CPU (CPU 3: no hogs, the first idle CPU of each of
// its groups, so it balances every level), from the same state each iteration.
void BM_on_tick_hygon384(benchmark::State& state, const loaded_machine<default_limits>* m) {
  using L = default_limits;
  const domain_tree<L>& tree = *m->tree;
  const balancer<linux_defaults, L> b{tree};
  auto snap = std::make_unique<snapshot<L>>();
  auto bstate = std::make_unique<balance_state<linux_defaults, L>>();
  std::size_t moved = 0;
  std::size_t domains = 0;
  for (auto _ : state) {
    state.PauseTiming();
    *snap = *m->snap;
    bstate->reset(tree, 0);
    state.ResumeTiming();
    const balance_result<L> r = b.on_tick(3, m->now, *snap, *bstate);
    moved = r.migrations.size();
    domains = r.domains_balanced;
    benchmark::DoNotOptimize(moved);
  }
  state.counters["migrations"] = static_cast<double>(moved);
  state.counters["domains"] = static_cast<double>(domains);
}

template <class L>
void register_levels(const char* machine, const loaded_machine<L>* m) {
  if (!m->ok) {
    std::fprintf(stderr, "balance_bench: could not build %s\n", machine);
    return;
  }
  const domain_tree<L>& tree = *m->tree;
  for (std::size_t k = 0; k < tree.nr_domains(0); ++k) {
    const std::string_view level = tree.name(tree.domain_of(0, k));
    // Several NUMA levels share the name: the second one is "NUMA-2", and so on.
    std::size_t same = 1;
    for (std::size_t j = 0; j < k; ++j) if (tree.name(tree.domain_of(0, j)) == level) ++same;
    std::string name = std::string("find_src_group/") + machine + "/level:" + std::string(level);
    if (same > 1) name += "-" + std::to_string(same);
    benchmark::RegisterBenchmark(name.c_str(), [m, k](benchmark::State& s) { find_src_group<L>(s, m, k); })
        ->Unit(benchmark::kMicrosecond);
  }
}

// Builds the machines once and registers one benchmark per level (names need the tree).
const bool registered = [] {
  static const loaded_machine<default_limits> hygon{machines::hygon384.spec};
  static const loaded_machine<large_limits> big{bench::machine_4096()};
  register_levels("hygon384", &hygon);
  register_levels("4096", &big);
  if (hygon.ok)
    benchmark::RegisterBenchmark("on_tick/hygon384/idle_cpu", [](benchmark::State& s) { BM_on_tick_hygon384(s, &hygon); })
        ->Unit(benchmark::kMicrosecond);
  return true;
}();
}  // namespace
