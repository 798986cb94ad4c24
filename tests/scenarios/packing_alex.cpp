// Seed 000's example, settled in numbers: "8 tasks with 25% util, that just can full fill 2
// CPUs" (Alex Shi) on the seed's 4-socket x 16-LCPU machine. One dispatcher task on CPU 20
// (utilization 100) wakes eight tasks of utilization 255 (just under 25 %: Guittot's light
// test is strict, and 256 is not light), whose previous CPUs are 0, 8, …, 56 — two per
// socket. Every policy of the packing family places them; the test prints the CPUs, cores
// and sockets each one uses and holds utilization-aware packing to the fewest CPUs that keep
// each under 80 %, in one socket.
#include <balancekit/balancer.hpp>
#include <balancekit/topology/machines.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <iostream>
#include <memory>
#include <set>
#include <string>

#include "support/balance_machine.hpp"

using namespace balancekit;

namespace {
using L = small_limits;
constexpr std::uint64_t task_util = 255;
constexpr std::uint64_t dispatcher_util = 100;
constexpr std::size_t dispatcher_cpu = 20;

struct usage {
  std::size_t cpus = 0;
  std::size_t cores = 0;
  std::size_t sockets = 0;
  std::uint64_t fullest = 0;  ///< the highest CPU utilization after placement
};

// `batch`: all eight decided at one instant, enqueued after the last; otherwise each is
// enqueued before the next wakeup, a microsecond later.
template <class Packing>
usage place_eight(bool batch) {
  using P = rules<linux_defaults, with_packing<Packing>>;
  test::balance_machine<L> m;
  REQUIRE(test::build_balance_machine(machines::seed64.spec, m).empty());
  auto snap = std::make_unique<snapshot<L>>();
  auto state = std::make_unique<balance_state<P, L>>();
  state->reset(*m.tree, 0);
  task_state<L> d;
  d.util = d.util_est = d.runnable = dispatcher_util;
  snap->add_task(d, dispatcher_cpu, true);
  account_enqueue(snap->cpus[dispatcher_cpu], d);
  const balancer<P, L> b{*m.tree};
  std::set<std::size_t> cpus;
  std::uint32_t placed[8];
  std::size_t where[8];
  for (std::size_t i = 0; i < 8; ++i) {
    task_state<L> t;
    t.util = t.util_est = t.runnable = task_util;
    placed[i] = snap->add_sleeping_task(t);
    const nanoseconds now = batch ? 1'000'000 : 1'000'000 + static_cast<nanoseconds>(i) * 1000;
    const auto r = b.on_wakeup(placed[i], 8 * i, dispatcher_cpu, 0, now, *snap, *state);
    REQUIRE(r);
    where[i] = r->cpu;
    if (!batch) snap->enqueue_task(placed[i], r->cpu);
  }
  if (batch)
    for (std::size_t i = 0; i < 8; ++i) snap->enqueue_task(placed[i], where[i]);
  usage u;
  std::set<std::size_t> cores, sockets;
  for (std::size_t i = 0; i < 8; ++i) {
    cpus.insert(where[i]);
    cores.insert(where[i] / 2);  // seed64: threads 2k and 2k+1 are one core
    sockets.insert(where[i] / 16);
  }
  for (std::size_t c : m.tree->cpu_map()) u.fullest = std::max<std::uint64_t>(u.fullest, snap->cpus[c].util);
  u.cpus = cpus.size();
  u.cores = cores.size();
  u.sockets = sockets.size();
  return u;
}

template <class Packing>
usage report(const std::string& name, bool batch) {
  const usage u = place_eight<Packing>(batch);
  std::cerr << "  " << (batch ? "batch     " : "sequential") << "  " << name << ": " << u.cpus << " CPUs, " << u.cores
            << " cores, " << u.sockets << (u.sockets == 1 ? " socket" : " sockets") << ", fullest CPU at " << u.fullest << '\n';
  return u;
}
}  // namespace

TEST_CASE("Eight tasks of 25 % on seed64: utilization-aware packing uses the fewest CPUs, in one socket",
          "[packing][alex]") {
  // The fewest CPUs, by arithmetic alone: a CPU holds k tasks while (base + 255 k) · 100 <
  // 80 · 1024; an idle CPU holds 3 (765), the dispatcher's CPU 2 (610). Eight tasks need 3
  // CPUs (3 + 3 + 2).
  std::size_t per_idle_cpu = 0;
  while ((task_util * (per_idle_cpu + 1)) * 100 < 80 * 1024) ++per_idle_cpu;
  REQUIRE(per_idle_cpu == 3);
  const std::size_t fewest = (8 + per_idle_cpu - 1) / per_idle_cpu;

  for (const bool batch : {false, true}) {
    report<packing::none>("Linux (no packing)", batch);
    report<packing::guittot<packing::buddy_conf::conf0>>("Guittot conf0", batch);
    report<packing::guittot<packing::buddy_conf::conf1>>("Guittot conf1", batch);
    report<packing::guittot<packing::buddy_conf::conf2>>("Guittot conf2", batch);
    report<packing::guittot_topology<packing::power_line::smt>>("Guittot topology (threads share power)", batch);
    report<packing::shi_power<packing::shi_mode::powersaving>>("Shi powersaving", batch);
    report<packing::shi_power<packing::shi_mode::balance>>("Shi balance", batch);
    const usage ours = report<packing::utilization_aware<80>>("utilization-aware 80 %", batch);
    CHECK(ours.cpus == fewest);
    CHECK(ours.sockets == 1);
    CHECK(ours.fullest * 100 < 80 * 1024);
  }
}
