// Cost of placement decisions (issue 9): a wakeup through select_idle_sibling() on a
// 16-CPU LLC with 0 %, 50 % and 90 % of its CPUs busy, on hygon384 and on a 4096-CPU
// machine with the same LLC size (the cost should follow the LLC, not the machine);
// Guittot's wake check; utilization-aware packing; the fork slow path on hygon384.
//
// The rest of each machine runs one CPU hog per CPU. The measured LLC is CPU 0's; its
// first k CPUs (0..k-1) are busy, so the target (CPU 0, the waker) and prev (CPU 1) are busy
// for 50 % and 90 %, and the scan from target + 1 meets k - 1 busy CPUs before an idle one.
// The LLC's hints are what the kernel would hold: a scan depth of the whole LLC and
// has_idle_cores set while a core is idle.
#include <balancekit/balancer.hpp>
#include <balancekit/domains.hpp>
#include <balancekit/topology/machines.hpp>

#include <benchmark/benchmark.h>

#include "machine_4096.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {
using namespace balancekit;

// 4096 CPUs with 16-CPU LLCs: 8 sockets x 4 nodes x 8 LLCs x 8 cores x 2 threads, the
// SLIT of bench/machine_4096.hpp (the spec keeps a view of the matrix: it lives forever).
inline machine_spec machine_4096_llc16() { return {"package:8 numa:4 l3:8 core:8 pu:2", bench::distances_4096()}; }

template <class P, class L>
struct placed_machine {
  std::unique_ptr<topology<L>> topo = std::make_unique<topology<L>>();
  std::unique_ptr<domain_tree<L>> tree = std::make_unique<domain_tree<L>>();
  std::unique_ptr<snapshot<L>> snap = std::make_unique<snapshot<L>>();
  std::unique_ptr<balance_state<P, L>> state = std::make_unique<balance_state<P, L>>();
  std::uint32_t sleeper = no_task;
  bool ok = false;

  // `busy_in_llc` of CPU 0's LLC are busy (CPUs 0, 1, …); every CPU outside it runs one hog
  // when `loaded`.
  placed_machine(const machine_spec& spec, std::size_t busy_in_llc, bool loaded = true, std::uint64_t util = 300) {
    if (!make_topology(spec, *topo) || !domain_tree<L>::build(*topo, balancer_domain_options(), *tree)) return;
    state->reset(*tree, 0);
    const int k = tree->sd_llc(0);
    const auto& llc = tree->span(tree->domain_of(0, static_cast<std::size_t>(k)));
    std::size_t n = 0;
    for (std::size_t c : tree->cpu_map()) {
      const bool in_llc = llc.test(c);
      if (in_llc ? n++ >= busy_in_llc : !loaded) continue;
      task_state<L> t;
      t.util = t.util_est = t.runnable = 1024;
      if (snap->add_task(t, c, true) == no_task) return;
      account_enqueue(snap->cpus[c], t);
    }
    for (std::size_t c : tree->cpu_map()) {
      auto& hint = state->placement.llc[tree->llc_id(c)];
      hint.nr_idle_scan = static_cast<std::int32_t>(tree->llc_size(c));
      if (snap->cpus[c].nr_running == 0) update_idle_core(*tree, *snap, c, state->placement);
    }
    task_state<L> p;
    p.util = p.util_est = p.runnable = util;
    sleeper = snap->add_sleeping_task(p);
    ok = sleeper != no_task;
  }
};

// Each iteration is a wakeup of its own instant: for utilization-aware packing, a batch of
// one (its claims do not pile up over the iterations).
template <class P, class L>
void wakeup(benchmark::State& s, placed_machine<P, L>* m, std::size_t prev, std::size_t waker) {
  const balancer<P, L> b{*m->tree};
  std::size_t cpu = no_cpu;
  placement_branch why{};
  nanoseconds now = 1'000'000;
  for (auto _ : s) {
    const auto r = b.on_wakeup(m->sleeper, prev, waker, 0, ++now, *m->snap, *m->state);
    cpu = r->cpu;
    why = r->why;
    benchmark::DoNotOptimize(cpu);
  }
  s.counters["cpu"] = static_cast<double>(cpu);
  s.counters["branch"] = static_cast<double>(why);
  s.SetLabel(std::string(to_string(why)));
}

template <class P, class L>
void fork(benchmark::State& s, placed_machine<P, L>* m, std::size_t parent) {
  const balancer<P, L> b{*m->tree};
  std::size_t cpu = no_cpu;
  for (auto _ : s) {
    const auto r = b.on_fork(m->sleeper, parent, 1'000'000, *m->snap, *m->state);
    cpu = r->cpu;
    benchmark::DoNotOptimize(cpu);
  }
  s.counters["cpu"] = static_cast<double>(cpu);
}

template <class P, class L>
void add(const std::string& name, placed_machine<P, L>* m, std::size_t prev, std::size_t waker) {
  if (!m->ok) {
    std::fprintf(stderr, "placement_bench: could not build %s\n", name.c_str());
    return;
  }
  benchmark::RegisterBenchmark(name.c_str(), [m, prev, waker](benchmark::State& s) { wakeup(s, m, prev, waker); });
}

// The machines live as long as the process: the registered benchmarks point into them.
template <class T>
T* keep(std::unique_ptr<T> p) {
  static std::vector<std::shared_ptr<void>> store;
  T* raw = p.get();
  store.push_back(std::shared_ptr<T>(std::move(p)));
  return raw;
}

using util_pack = rules<linux_defaults, with_packing<packing::utilization_aware<80>>>;
using guittot_pack = rules<linux_defaults, with_packing<packing::guittot<packing::buddy_conf::conf0>>>;

const bool registered = [] {
  using D = default_limits;
  using G = large_limits;
  for (const std::size_t busy : {0U, 8U, 14U}) {
    const std::string pct = std::to_string(busy * 100 / 16);
    auto* h = keep(std::make_unique<placed_machine<linux_defaults, D>>(machines::hygon384.spec, busy));
    auto* g = keep(std::make_unique<placed_machine<linux_defaults, G>>(machine_4096_llc16(), busy));
    add("select_idle_sibling/hygon384/busy:" + pct + "%", h, 1, 0);
    add("select_idle_sibling/4096/busy:" + pct + "%", g, 1, 0);
  }
  // Guittot's check from a busy CPU whose buddy is idle (conf0: CPU 17's buddy is its
  // socket's first CPU, 0, whose hog has left): O(1).
  auto* gh = keep(std::make_unique<placed_machine<guittot_pack, D>>(machines::hygon384.spec, 16, true, 100));
  gh->snap->dequeue_task(0);
  add("guittot_wake/hygon384", gh, 17, 17);
  auto* gg = keep(std::make_unique<placed_machine<guittot_pack, G>>(machine_4096_llc16(), 16, true, 100));
  gg->snap->dequeue_task(0);
  add("guittot_wake/4096", gg, 17, 17);
  // Utilization-aware packing: on a loaded machine the first scope holds CPUs in use; on an
  // idle machine with one CPU in use on the other socket the walk reaches the top domain.
  auto* uh = keep(std::make_unique<placed_machine<util_pack, D>>(machines::hygon384.spec, 8, true, 100));
  add("utilization_aware/hygon384/loaded", uh, 1, 0);
  auto* ui = keep(std::make_unique<placed_machine<util_pack, D>>(machines::hygon384.spec, 0, false, 100));
  {
    task_state<D> t;
    t.util = t.util_est = t.runnable = 300;
    ui->snap->add_task(t, 300, true);
    account_enqueue(ui->snap->cpus[300], t);
  }
  add("utilization_aware/hygon384/idle_far_pack", ui, 1, 0);
  // The fork slow path from CPU 0 of the loaded hygon384.
  auto* fh = keep(std::make_unique<placed_machine<linux_defaults, D>>(machines::hygon384.spec, 8, true, 1024));
  if (fh->ok)
    benchmark::RegisterBenchmark("fork_slow_path/hygon384", [fh](benchmark::State& s) { fork(s, fh, 0); })
        ->Unit(benchmark::kMicrosecond);
  return true;
}();
}  // namespace
