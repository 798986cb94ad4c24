/// \file
/// Named workloads for the simulator, in code: each is a parameter struct and a function
/// that spawns its tasks. `run_workload` drives a simulator through a workload's phases
/// (tasks pinned to their start CPU are released after `release_after`), calling back
/// every `step` of simulated time so that a caller can sample or show progress.
///
/// Built so far: CPU hogs, light periodic tasks (run `work` of every `period`), waker/wakee
/// pairs that pass one message back and forth (each side works `work`, then wakes the
/// other with WF_SYNC and sleeps — a pipe ping-pong), hackbench-like message groups,
/// schbench-like messengers with workers, fork/exit churn, and Wasted Cores S1–S4 (Lozi et
/// al., EuroSys 2016, §3; reference/verification-anchors.md (b)). S4's hotplug cycle is a
/// change of domains, which a simulator takes as input: the caller rebuilds them
/// (docs/simulator.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <balancekit/core/cpumask.hpp>
#include <balancekit/core/index.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/core/units.hpp>
#include <balancekit/model/simulator.hpp>

namespace balancekit::model {

/// How the tasks of a workload start.
enum class start_mode : std::uint8_t {
  released,  ///< pinned to the start CPU, then released all at once (as `taskset` would)
  forked,    ///< forked from the start CPU and placed by the pack
};

/// A workload: `hogs` CPU hogs, `light` periodic tasks (run `work` every `period`) and
/// `pairs` ping-pong pairs (`work` per turn), all started from `start_cpu`. Light tasks
/// start staggered over their period, in task order; in each pair the first task starts
/// working and the second waits for its message.
struct workload {
  std::size_t hogs = 0;
  std::size_t light = 0;
  std::size_t pairs = 0;
  /// Wasted Cores S1, Group Imbalance (Lozi et al., EuroSys 2016, §3.1): `s1_r` hogs of
  /// full weight (the R processes) start on the start CPU's node, one per CPU from the
  /// start CPU, and two hogs of a shared autogroup's weight (1024 / their number, at least
  /// 2: a make -j) start on every CPU of the other nodes; all pinned to their first CPU
  /// and released together. 0: no S1 tasks.
  std::size_t s1_r = 0;
  /// Wasted Cores S2, Scheduling Group Construction (§3.2): one application of `s2_tasks`
  /// CPU hogs allowed only on two nodes (a taskset), the start CPU's and the node of
  /// `s2_cpu`, all forked from the start CPU. Always forked: the threads are created on the
  /// first node and the taskset is theirs from birth, so `start` does not apply. 0: none.
  std::size_t s2_tasks = 0;
  std::size_t s2_cpu = 0;
  /// Wasted Cores S3, Overload-on-Wakeup (§3.3): one worker per CPU, of which `s3_pairs`
  /// are waker/wakee pairs whose both halves live on the start CPU's node X. Node X gets a
  /// CPU-bound worker on every CPU, `s3_pairs` of them wakers: each writes to its wakee
  /// after every `work` of CPU time and never blocks (a worker that releases a lock and
  /// goes on); a wakee works `work / 2` a message and sleeps when none is left. The other
  /// nodes get a hog on every CPU but the last `s3_pairs` (the workers that are X's wakees
  /// leave as many cores without one). Transient threads: `s3_transients` short-lived
  /// tasks, one every `period` forked from the other nodes' CPUs in turn, each working
  /// `work` and exiting. With node X full, a wakee woken from X (WF_SYNC, the waker
  /// running alone) is placed by wake_affine on X and Linux's idle search stops at X's
  /// LLC: it waits on a busy CPU while the other nodes' spare cores idle. 0: none.
  std::size_t s3_pairs = 0;
  std::size_t s3_transients = 0;
  /// Wasted Cores S4, Missing Scheduling Domains (§3.4): `s4_tasks` CPU hogs forked from
  /// the start CPU after a hotplug cycle. The cycle itself (domains rebuilt with a CPU
  /// offline, then online) is the caller's: the simulator runs on the domains it is given.
  /// 0: none.
  std::size_t s4_tasks = 0;
  /// hackbench-like groups (`hackbench -g groups -f fds`, pipes): each group has `fds`
  /// senders and `fds` receivers; a sender works `work` per message and writes to its
  /// group's receivers in turn without ever blocking (hackbench's 100-byte messages rarely
  /// fill a 64 KiB pipe); a receiver works `work / 2` per message (a read copies it, a
  /// write also wakes the reader) and sleeps when none is left. Writes wake readers with
  /// WF_SYNC, as pipes do. Every task is a thread of process 0 (`hackbench -T`: one mm),
  /// which an aggregation member keeps together.
  std::size_t groups = 0;
  std::size_t fds = 20;
  /// schbench-like (`schbench -m messengers -t workers`): every `period` each messenger
  /// works `messenger_work` and then wakes all its `workers` at once; each worker works
  /// `work` per wakeup and sleeps. Wake-up latency is the figure of merit. Every task is a
  /// thread of process 0, as schbench's are.
  std::size_t messengers = 0;
  std::size_t workers = 0;
  nanoseconds messenger_work = 10'000;
  /// Fork/exit churn: `churn` short-lived tasks forked from the start CPU, one every
  /// `period` (the first at once), each working `work` and exiting (a shell loop starting
  /// short commands).
  std::size_t churn = 0;
  nanoseconds work = 1'000'000;
  /// Every task's cache footprint and the share (‰) of its time spent on it: the inputs of
  /// the cost model's LLC over-subscription penalty (0: none).
  std::uint64_t footprint = 0;
  std::uint32_t memory_permille = 0;
  /// NUMA memory, for a pack whose numa member takes part (`sim_task`'s fields): each hog
  /// owns `numa_pages` private pages; with `numa_processes` > 0 hog i is a thread of
  /// process i mod `numa_processes`, whose threads share `shared_pages` and send
  /// `shared_permille` of their accesses there; every hog spends `dram_permille` of its
  /// time on memory (when local); pages start on `memory_node` (`no_node`: first touch,
  /// where their task first runs).
  std::uint64_t numa_pages = 0;
  std::size_t numa_processes = 0;
  std::uint64_t shared_pages = 0;
  std::uint32_t shared_permille = 0;
  std::uint32_t dram_permille = 0;
  std::size_t memory_node = no_node;
  nanoseconds period = 10'000'000;
  std::uint64_t weight = nice_0_load;
  std::size_t start_cpu = 0;
  start_mode start = start_mode::released;
  nanoseconds release_after = 20'000'000;
  /// 0: light tasks start evenly staggered over their period; otherwise each starts at a
  /// pseudo-random offset in [0, period) drawn from this seed (splitmix64). Hogs and pairs
  /// do not depend on it.
  std::uint64_t seed = 0;
};

namespace detail {
/// splitmix64, so that a seed gives the same offsets on every platform.
[[nodiscard]] constexpr std::uint64_t splitmix64(std::uint64_t& state) noexcept {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
}  // namespace detail

/// Spawns the workload's tasks into `sim` (ids 0, 1, …: hogs first). Returns false when
/// the simulator is full or the start CPU is not in the map.
template <class P, limits_pack L, std::size_t N>
constexpr bool spawn(simulator<P, L, N>& sim, const workload& w) {
  if (!sim.tree().cpu_map().test(w.start_cpu)) return false;
  const cpumask<L::max_cpus> first_allowed =
      w.start == start_mode::released ? cpumask<L::max_cpus>::of(w.start_cpu) : ~cpumask<L::max_cpus>{};
  std::uint64_t id = 0;
  std::uint64_t rng = w.seed;
  auto dressed = [&](sim_task<L> t) {
    t.footprint = w.footprint;
    t.memory_permille = w.memory_permille;
    return t;
  };
  for (std::size_t i = 0; i < w.hogs; ++i) {
    sim_task<L> t;
    t.id = id++;
    t.weight = w.weight;
    t.allowed = first_allowed;
    t.numa_pages = w.numa_pages;
    t.dram_permille = w.dram_permille;
    t.memory_node = w.memory_node;
    if (w.numa_processes != 0) {
      t.process = static_cast<std::uint32_t>(i % w.numa_processes);
      t.shared_pages = w.shared_pages;
      t.shared_permille = w.shared_permille;
    }
    if (sim.spawn(dressed(t), w.start_cpu) == no_task) return false;
  }
  for (std::size_t i = 0; i < w.light; ++i) {
    sim_task<L> t;
    t.id = id++;
    t.weight = w.weight;
    t.allowed = first_allowed;
    t.work = w.work;
    t.period = w.period;
    const nanoseconds offset =
        w.seed != 0 ? static_cast<nanoseconds>(detail::splitmix64(rng) % static_cast<std::uint64_t>(w.period))
                    : w.period * static_cast<nanoseconds>(i) / static_cast<nanoseconds>(w.light);
    if (sim.spawn(dressed(t), w.start_cpu, sim.now() + offset) == no_task) return false;
  }
  if (w.s1_r != 0) {
    const auto& tree = sim.tree();
    const cpumask<L::max_cpus> home = tree.node_mask(w.start_cpu) & tree.cpu_map();
    std::size_t r = 0;
    for (std::size_t c : home.wrap(w.start_cpu)) {
      if (r++ == w.s1_r) break;
      sim_task<L> t;
      t.id = id++;
      t.allowed = w.start == start_mode::released ? cpumask<L::max_cpus>::of(c) : ~cpumask<L::max_cpus>{};
      if (sim.spawn(dressed(t), c) == no_task) return false;
    }
    const std::size_t make = 2 * (tree.cpu_map().weight() - home.weight());
    const std::uint64_t share = make != 0 && nice_0_load / make > 2 ? nice_0_load / make : 2;
    for (std::size_t c : tree.cpu_map()) {
      if (home.test(c)) continue;
      for (int k = 0; k < 2; ++k) {
        sim_task<L> t;
        t.id = id++;
        t.weight = share;
        t.allowed = w.start == start_mode::released ? cpumask<L::max_cpus>::of(c) : ~cpumask<L::max_cpus>{};
        if (sim.spawn(dressed(t), c) == no_task) return false;
      }
    }
  }
  auto next_index = [&] { return static_cast<std::uint32_t>(sim.snap().tasks().size()); };
  if (w.s2_tasks != 0) {
    const auto& tree = sim.tree();
    if (!tree.cpu_map().test(w.s2_cpu)) return false;
    const cpumask<L::max_cpus> app = (tree.node_mask(w.start_cpu) | tree.node_mask(w.s2_cpu)) & tree.cpu_map();
    for (std::size_t i = 0; i < w.s2_tasks; ++i) {
      sim_task<L> t;
      t.id = id++;
      t.weight = w.weight;
      t.allowed = app;
      if (sim.spawn(dressed(t), w.start_cpu) == no_task) return false;
    }
  }
  if (w.s3_pairs != 0) {
    const auto& tree = sim.tree();
    const cpumask<L::max_cpus> x = tree.node_mask(w.start_cpu) & tree.cpu_map();
    const cpumask<L::max_cpus> others = tree.cpu_map() & ~x;
    if (w.s3_pairs > x.weight() || w.s3_pairs > others.weight()) return false;
    auto pinned = [&](std::size_t c) {
      return w.start == start_mode::released ? cpumask<L::max_cpus>::of(c) : ~cpumask<L::max_cpus>{};
    };
    // Node X: the wakers on the first CPUs from the start CPU, their wakees (asleep) on the
    // same CPUs, then hogs. A waker's wakee is the task spawned right after it.
    std::size_t k = 0;
    for (std::size_t c : x.wrap(w.start_cpu)) {
      sim_task<L> t;
      t.id = id++;
      t.weight = w.weight;
      t.allowed = pinned(c);
      if (k < w.s3_pairs) {
        t.work = w.work;
        t.partner = next_index() + 1;
        t.keeps_sending = true;
      }
      if (sim.spawn(dressed(t), c) == no_task) return false;
      if (k++ < w.s3_pairs) {
        sim_task<L> r;
        r.id = id++;
        r.weight = w.weight;
        r.work = w.work / 2 > 0 ? w.work / 2 : 1;
        r.wait_first = true;
        if (sim.spawn(dressed(r), c) == no_task) return false;
      }
    }
    // The other nodes: a hog per CPU but the last s3_pairs.
    const std::size_t hogs = others.weight() - w.s3_pairs;
    std::size_t h = 0;
    for (std::size_t c : others) {
      if (h++ == hogs) break;
      sim_task<L> t;
      t.id = id++;
      t.weight = w.weight;
      t.allowed = pinned(c);
      if (sim.spawn(dressed(t), c) == no_task) return false;
    }
    // Transient threads, forked from the other nodes' CPUs in turn (the release comes
    // first: the first one is due one period in).
    std::size_t i = 0;
    while (i < w.s3_transients) {
      for (std::size_t c : others) {
        if (i == w.s3_transients) break;
        sim_task<L> t;
        t.id = id++;
        t.weight = w.weight;
        t.work = w.work;
        t.exits = true;
        if (sim.spawn(dressed(t), c, sim.now() + static_cast<nanoseconds>(++i) * w.period) == no_task) return false;
      }
    }
  }
  for (std::size_t i = 0; i < w.s4_tasks; ++i) {
    sim_task<L> t;
    t.id = id++;
    t.weight = w.weight;
    if (sim.spawn(dressed(t), w.start_cpu) == no_task) return false;
  }
  for (std::size_t g = 0; g < w.groups; ++g) {
    const std::uint32_t readers = next_index() + static_cast<std::uint32_t>(w.fds);
    sim_task<L> t;
    t.weight = w.weight;
    t.allowed = first_allowed;
    t.work = w.work;
    t.partner = readers;
    t.recipients = static_cast<std::uint32_t>(w.fds);
    t.keeps_sending = true;
    t.process = 0;
    for (std::size_t i = 0; i < w.fds; ++i) {
      t.id = id++;
      t.first_recipient = static_cast<std::uint32_t>(i);
      if (sim.spawn(dressed(t), w.start_cpu) == no_task) return false;
    }
    sim_task<L> r;
    r.weight = w.weight;
    r.allowed = first_allowed;
    r.work = w.work / 2 > 0 ? w.work / 2 : 1;
    r.wait_first = true;
    r.process = 0;
    for (std::size_t i = 0; i < w.fds; ++i) {
      r.id = id++;
      if (sim.spawn(dressed(r), w.start_cpu) == no_task) return false;
    }
  }
  for (std::size_t m = 0; m < w.messengers; ++m) {
    sim_task<L> t;
    t.id = id++;
    t.weight = w.weight;
    t.allowed = first_allowed;
    t.work = w.messenger_work;
    t.period = w.period;
    t.partner = next_index() + 1;
    t.recipients = static_cast<std::uint32_t>(w.workers);
    t.broadcast = true;
    t.process = 0;
    if (w.workers == 0) t.partner = no_task;
    if (sim.spawn(dressed(t), w.start_cpu) == no_task) return false;
    sim_task<L> k;
    k.weight = w.weight;
    k.allowed = first_allowed;
    k.work = w.work;
    k.wait_first = true;
    k.process = 0;
    for (std::size_t i = 0; i < w.workers; ++i) {
      k.id = id++;
      if (sim.spawn(dressed(k), w.start_cpu) == no_task) return false;
    }
  }
  for (std::size_t i = 0; i < w.churn; ++i) {
    sim_task<L> t;
    t.id = id++;
    t.weight = w.weight;
    t.work = w.work;
    t.exits = true;
    if (sim.spawn(dressed(t), w.start_cpu, sim.now() + static_cast<nanoseconds>(i) * w.period) == no_task) return false;
  }
  for (std::size_t i = 0; i < w.pairs; ++i) {
    const auto first = static_cast<std::uint32_t>(sim.snap().tasks().size());
    sim_task<L> t;
    t.weight = w.weight;
    t.allowed = first_allowed;
    t.work = w.work;
    t.id = id++;
    t.partner = first + 1;
    if (sim.spawn(dressed(t), w.start_cpu) != first) return false;
    t.id = id++;
    t.partner = first;
    t.wait_first = true;
    if (sim.spawn(dressed(t), w.start_cpu) != first + 1) return false;
  }
  return true;
}

/// Runs `sim` through `w` until `until`, calling `on_step(now)` after every `step`.
template <class P, limits_pack L, std::size_t N, class OnStep>
constexpr bool run_workload(simulator<P, L, N>& sim, const workload& w, nanoseconds until, nanoseconds step,
                            OnStep&& on_step) {
  if (!spawn(sim, w)) return false;
  bool released = w.start != start_mode::released;
  for (nanoseconds t = sim.now() + step; sim.now() < until; t += step) {
    if (t > until) t = until;
    if (!released && t >= w.release_after) {
      sim.run_until(w.release_after);
      // Only tasks pinned to their start CPU are released: S2's taskset is the
      // application's own and stays.
      for (std::uint32_t i = 0; i < sim.snap().tasks().size(); ++i)
        if (sim.snap().task_at(i).allowed.weight() == 1) sim.set_affinity(i, ~cpumask<L::max_cpus>{});
      released = true;
    }
    sim.run_until(t);
    on_step(sim.now());
  }
  return true;
}

}  // namespace balancekit::model
