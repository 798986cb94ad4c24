/// \file
/// Aggregation (seed 001) so far: occupancy accounting, the preferred LLC, the migration
/// hint and the pack member of the LLC-centric baseline, as the cache-aware scheduling
/// series keeps them ("sched: Cache aware load-balancing", Peter Zijlstra, Chen Yu, Tim
/// Chen; v1 Oct 2025 to v4 Apr 2026, queued in PZ's queue.git sched/cache;
/// reference/seed-proposals.md §2.2–2.5).
///
/// kernel: account_mm_sched(), __update_mm_sched(), fraction_mm_sched(),
/// task_tick_cache(), task_cache_work(), update_avg_scale(), exceed_llc_nr(),
/// exceed_llc_capacity(), get_sched_cache_scale(), can_migrate_llc(),
/// can_migrate_llc_task(), update_llc_busiest(), migrate_degrades_llc(), alb_break_llc();
/// seed 001's affinity gain and can_migrate_node() in our reading of their digest.
///
/// What a process is. The kernel aggregates the threads of one mm; here a *process* is a
/// task group the embedder names by index (0 .. MaxProcesses − 1), so that any grouping —
/// an mm, a cgroup, a tag — can stand for it.
///
/// The accounting. Every CPU keeps a runtime and an epoch; every (process, CPU) pair keeps
/// the process's runtime there and the epoch it was last brought to. Time is in jiffies,
/// as the kernel keeps epochs; `account` adds a running slice to both runtimes after
/// halving each once per epoch that passed (a geometric decay, r = 1/2 per epoch).
/// Occupancy is the process's share of the CPU's recent runtime, scaled to NICE_0_LOAD.
///
/// The preferred LLC. A scan (`scan`, at most once per epoch per process) sums occupancy
/// over each LLC's CPUs — the sum, not the average, so that 3 threads on an 8-CPU LLC beat
/// 2 on a 4-CPU LLC — and moves the preference to the best LLC's busiest CPU only when the
/// best sum is more than twice the current preferred LLC's. The preference is dropped when
/// the process has not been scanned for `affinity_timeout` epochs, runs one thread, or
/// exceeds the LLC's thread or footprint limit, both scaled by `aggr_tolerance`.
///
/// The topology-aware scope of seed 001: its affinity order of LLCs (`affinity_order`),
/// the process's utilization (`process_util`) and the scope rules (`next_scope`: the RFC's
/// and ours, with hysteresis); the NUMA interplay (`interplay`: NUMA first, as merged, or
/// cache first, as seed 001).
///
/// The pack members `llc_centric` (the LLC-centric baseline) and `topology_aware` (seed
/// 001's scope) hold this state and answer the balance rules' questions
/// (docs/aggregation.md).
///
/// Everything is caller-owned state and pure functions over it; nothing allocates.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string_view>

#include <balancekit/balancer/lb_env.hpp>
#include <balancekit/balancer/wake_env.hpp>
#include <balancekit/core/cpumask.hpp>
#include <balancekit/core/error.hpp>
#include <balancekit/core/index.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/core/units.hpp>
#include <balancekit/core/static_vector.hpp>
#include <balancekit/domains/domain_tree.hpp>
#include <balancekit/domains/flags.hpp>
#include <balancekit/policy/numa/interplay.hpp>
#include <balancekit/policy/pack.hpp>
#include <balancekit/policy/wakeup.hpp>
#include <balancekit/stats/snapshot.hpp>
#include <balancekit/topology/topology.hpp>

namespace balancekit::aggregation {

/// The knobs (debugfs sched/llc_balancing/…) with the series' defaults.
struct occupancy_tunables {
  /// llc_epoch_period in jiffies; 0 means the kernel's EPOCH_PERIOD, HZ/100 (integer
  /// division: 2 jiffies = 8 ms at Debian's HZ=250, 10 ms at HZ=1000).
  jiffies_t epoch_period = 0;
  /// llc_epoch_affinity_timeout: epochs without a scan after which the preference lapses.
  std::uint32_t affinity_timeout = 5;
  /// llc_aggr_tolerance: 0 turns aggregation off, 100 or more lifts both limits, k scales
  /// them by 1 + (k − 1)·mul (get_sched_cache_scale()).
  std::uint32_t aggr_tolerance = 1;

  [[nodiscard]] constexpr jiffies_t period(std::uint32_t hz) const noexcept {
    const jiffies_t p = epoch_period != 0 ? epoch_period : hz / 100;
    return p != 0 ? p : 1;
  }
};

/// kernel: get_sched_cache_scale(mul): 0 when aggregation is off, `unlimited` from 100 on.
inline constexpr std::uint64_t unlimited = std::numeric_limits<std::uint64_t>::max();
[[nodiscard]] constexpr std::uint64_t cache_scale(std::uint32_t tolerance, std::uint64_t mul) noexcept {
  if (tolerance == 0) return 0;
  if (tolerance >= 100) return unlimited;
  return 1 + (tolerance - 1) * mul;
}

/// kernel: exceed_llc_nr(): the process's average of running threads, counted in SMT
/// threads, exceeds `scale(1)` LLCs' worth of CPUs.
[[nodiscard]] constexpr bool exceeds_llc_threads(std::uint64_t nr_running_avg, std::uint64_t smt_threads,
                                                 std::uint64_t llc_cpus, std::uint32_t tolerance) noexcept {
  const std::uint64_t scale = cache_scale(tolerance, 1);
  if (scale == unlimited) return false;
  return nr_running_avg * smt_threads > scale * llc_cpus;
}

/// kernel: exceed_llc_capacity(): the process's footprint (RSS: anonymous and shmem pages)
/// reaches `scale(256)` LLCs. An LLC of unknown size (0 bytes) is always exceeded, as the
/// kernel treats a CPU without cache information.
[[nodiscard]] constexpr bool exceeds_llc_footprint(std::uint64_t footprint_bytes, std::uint64_t llc_bytes,
                                                   std::uint32_t tolerance) noexcept {
  const std::uint64_t scale = cache_scale(tolerance, 256);
  if (scale == unlimited) return false;
  return llc_bytes * scale <= footprint_bytes;
}

/// What the accounting keeps, for `MaxProcesses` processes on limits `L`.
template <limits_pack L, std::size_t MaxProcesses>
struct occupancy_state {
  struct cpu_clock {
    std::uint64_t runtime = 0;  ///< rq->cpu_runtime, ns, decayed
    std::uint64_t epoch = 0;    ///< rq->cpu_epoch
    jiffies_t epoch_next = 0;   ///< rq->cpu_epoch_next
  };
  struct process_cpu {
    std::uint64_t runtime = 0;  ///< pcpu_sched->runtime, ns, decayed
    std::uint64_t epoch = 0;    ///< pcpu_sched->epoch
  };
  struct process {
    std::size_t preferred_cpu = no_cpu;  ///< sc_stat.cpu; its LLC is the preferred LLC
    std::uint64_t epoch = 0;             ///< sc_stat.epoch: the CPU epoch of its last scan request
    jiffies_t next_scan = 0;             ///< sc_stat.next_scan
    std::uint64_t nr_running_avg = 0;    ///< sc_stat.nr_running_avg
  };
  std::array<cpu_clock, L::max_cpus> cpus{};
  std::array<process, MaxProcesses> processes{};
  std::array<std::array<process_cpu, L::max_cpus>, MaxProcesses> pcpu{};
};

/// What the accounting needs to know of a process at a step: its live threads and its
/// footprint (bytes).
struct process_facts {
  std::uint32_t nr_threads = 1;
  std::uint64_t footprint = 0;
  friend constexpr bool operator==(const process_facts&, const process_facts&) = default;
};

namespace detail {
/// kernel: __shr_u64(): a shift by 64 or more empties the value.
[[nodiscard]] constexpr std::uint64_t halve_times(std::uint64_t v, std::uint64_t n) noexcept {
  return n >= 64 ? 0 : v >> n;
}

/// The CPUs sharing `cpu`'s LLC (the CPU alone when it has no LLC domain).
template <limits_pack L>
[[nodiscard]] constexpr cpumask<L::max_cpus> llc_mask(const domain_tree<L>& tree, std::size_t cpu) {
  const int k = tree.sd_llc(cpu);
  return k < 0 ? cpumask<L::max_cpus>::of(cpu) : tree.span(tree.domain_of(cpu, static_cast<std::size_t>(k)));
}

template <limits_pack L, std::size_t M>
[[nodiscard]] constexpr status check(const domain_tree<L>& tree, std::size_t cpu, std::size_t process) {
  if (process >= M) {
    error e{errc::out_of_range, "aggregation: process "};
    return e << process << " is not one of the state's " << M << " processes";
  }
  if (cpu >= L::max_cpus || !tree.cpu_map().test(cpu)) {
    error e{errc::out_of_range, "aggregation: CPU "};
    return e << cpu << " is not an online CPU of the domains";
  }
  return {};
}

// What both account_mm_sched() and task_cache_work() refuse to aggregate: a process of
// one thread, or one over the LLC's thread limit (exceed_llc_nr(): sd_llc_size and, with
// SMT active, the CPU's threads) or footprint limit.
template <limits_pack L, std::size_t M>
[[nodiscard]] constexpr bool beyond_aggregation(const typename occupancy_state<L, M>::process& p,
                                                const domain_tree<L>& tree, std::size_t cpu,
                                                const process_facts& facts, std::uint64_t llc_bytes,
                                                const occupancy_tunables& tun) {
  const std::uint64_t smt = tree.smt_active() ? tree.smt_mask(cpu).weight() : 1;
  return facts.nr_threads <= 1 || exceeds_llc_threads(p.nr_running_avg, smt, tree.llc_size(cpu), tun.aggr_tolerance) ||
         exceeds_llc_footprint(facts.footprint, llc_bytes, tun.aggr_tolerance);
}
}  // namespace detail

/// kernel: __update_mm_sched(): brings CPU `cpu`'s epoch up to `now` (halving its runtime
/// once per epoch passed), then the process's epoch there to the CPU's.
template <limits_pack L, std::size_t M>
constexpr void update_epoch(occupancy_state<L, M>& st, std::size_t cpu, std::size_t process, jiffies_t now,
                            jiffies_t period) {
  auto& rq = st.cpus[cpu];
  if (now > rq.epoch_next) {
    const auto n = static_cast<std::uint64_t>((now - rq.epoch_next + period - 1) / period);
    rq.epoch += n;
    rq.epoch_next += static_cast<jiffies_t>(n) * period;
    rq.runtime = detail::halve_times(rq.runtime, n);
  }
  auto& pc = st.pcpu[process][cpu];
  if (const std::uint64_t n = rq.epoch - pc.epoch; n != 0) {
    pc.epoch += n;
    pc.runtime = detail::halve_times(pc.runtime, n);
  }
}

/// kernel: account_mm_sched(): a thread of `process` ran `delta_exec` ns on `cpu` (at
/// `now`, in jiffies). Adds it to both runtimes, and drops the process's preference when
/// it lapsed (no scan for `affinity_timeout` epochs), the process runs one thread, or it
/// exceeds the LLC's thread or footprint limit.
template <limits_pack L, std::size_t M>
constexpr status account(occupancy_state<L, M>& st, const domain_tree<L>& tree, std::size_t cpu, std::size_t process,
                         std::uint64_t delta_exec, jiffies_t now, const process_facts& facts, std::uint64_t llc_bytes,
                         const occupancy_tunables& tun, std::uint32_t hz) {
  if (status s = detail::check<L, M>(tree, cpu, process); !s) return s;
  update_epoch(st, cpu, process, now, tun.period(hz));
  st.pcpu[process][cpu].runtime += delta_exec;
  st.cpus[cpu].runtime += delta_exec;
  auto& p = st.processes[process];
  if (st.cpus[cpu].epoch - p.epoch > tun.affinity_timeout ||
      detail::beyond_aggregation<L, M>(p, tree, cpu, facts, llc_bytes, tun))
    p.preferred_cpu = no_cpu;
  return {};
}

/// kernel: fraction_mm_sched(): the process's share of CPU `cpu`'s recent runtime, × 1024
/// (NICE_0_LOAD). Brings the epochs up to `now` first, as the kernel does.
template <limits_pack L, std::size_t M>
constexpr std::uint64_t occupancy(occupancy_state<L, M>& st, std::size_t cpu, std::size_t process, jiffies_t now,
                                  jiffies_t period) {
  update_epoch(st, cpu, process, now, period);
  return nice_0_load * st.pcpu[process][cpu].runtime / (st.cpus[cpu].runtime + 1);
}

/// kernel: task_tick_cache(): at a tick of a thread of `process` on `cpu`, whether a scan
/// should be queued (once per CPU epoch per process; the process notes the epoch).
template <limits_pack L, std::size_t M>
constexpr bool scan_due(occupancy_state<L, M>& st, std::size_t cpu, std::size_t process) {
  auto& p = st.processes[process];
  if (p.epoch == st.cpus[cpu].epoch) return false;
  p.epoch = st.cpus[cpu].epoch;
  return true;
}

/// What a scan found: each LLC's summed occupancy is not kept; the winner is.
struct scan_result {
  bool scanned = false;          ///< false: rate-limited (next_scan not reached)
  std::size_t best_cpu = no_cpu;  ///< the busiest CPU of the LLC with the highest sum
  std::uint64_t best_sum = 0;
  std::uint64_t current_sum = 0;  ///< the current preferred LLC's sum (0 without one)
  bool switched = false;
};

/// kernel: task_cache_work() scanning every online CPU (NUMA balancing off): for each LLC,
/// in the order of its lowest CPU, the sum of the process's occupancy over its CPUs and its
/// busiest CPU; the preference moves to the best LLC's busiest CPU when the best sum is more
/// than twice the current preferred LLC's. `running` holds the CPUs whose current task is a
/// thread of the process: their count feeds the running-thread average (an EWMA whose
/// divisor is clamp(LLC CPUs / 4, 2, 8), taken on `curr_cpu`'s LLC). A process that runs
/// one thread or exceeds a limit loses its preference and is not scanned.
template <limits_pack L, std::size_t M>
constexpr result<scan_result> scan(occupancy_state<L, M>& st, const domain_tree<L>& tree, std::size_t process,
                                   std::size_t curr_cpu, jiffies_t now, const cpumask<L::max_cpus>& running,
                                   const process_facts& facts, std::uint64_t llc_bytes, const occupancy_tunables& tun,
                                   std::uint32_t hz) {
  if (status s = detail::check<L, M>(tree, curr_cpu, process); !s) return s.error_value();
  auto& p = st.processes[process];
  scan_result r;
  if (now < p.next_scan) return r;
  const jiffies_t period = tun.period(hz);
  p.next_scan = now + period;
  r.scanned = true;
  if (detail::beyond_aggregation<L, M>(p, tree, curr_cpu, facts, llc_bytes, tun)) {
    p.preferred_cpu = no_cpu;
    return r;
  }
  std::uint64_t nr_running = 0;
  cpumask<L::max_cpus> left = tree.cpu_map();
  for (std::size_t c = left.first(); c != cpumask<L::max_cpus>::npos; c = left.next(c)) {
    const cpumask<L::max_cpus> llc = detail::llc_mask(tree, c);
    std::uint64_t sum = 0;
    std::uint64_t most = 0;
    std::size_t busiest = no_cpu;
    for (std::size_t i : llc) {
      const std::uint64_t occ = occupancy(st, i, process, now, period);
      sum += occ;
      if (occ > most) {
        most = occ;
        busiest = i;
      }
      if (running.test(i)) ++nr_running;
    }
    if (sum > r.best_sum) {
      r.best_sum = sum;
      r.best_cpu = busiest;
    }
    if (p.preferred_cpu != no_cpu && llc.test(p.preferred_cpu)) r.current_sum = sum;
    left -= llc;
  }
  if (r.best_sum > 2 * r.current_sum) {
    p.preferred_cpu = r.best_cpu;
    r.switched = true;
  }
  // update_avg_scale(): signed difference, truncated toward zero.
  const auto divisor = static_cast<std::int64_t>(std::min<std::uint64_t>(std::max<std::uint64_t>(tree.llc_size(curr_cpu) >> 2, 2), 8));
  const auto diff = static_cast<std::int64_t>(nr_running) - static_cast<std::int64_t>(p.nr_running_avg);
  p.nr_running_avg = static_cast<std::uint64_t>(static_cast<std::int64_t>(p.nr_running_avg) + diff / divisor);
  return r;
}

// -- the LLC-centric baseline's migration hint ------------------------------------------

/// kernel: enum llc_mig — what cache-aware balancing says of one migration.
enum class llc_mig : std::uint8_t {
  forbid,        ///< N: respect the LLC preference, do not move
  llc,           ///< Y: move, for the preference
  unrestricted,  ///< G: no opinion; generic load balancing decides
};

/// The knobs of the migration hint (debugfs sched/llc_balancing/…), the series' defaults.
struct llc_balance_tunables {
  std::uint32_t overaggr_pct = 50;  ///< llc_overload_pct: an LLC is busy from this share of its capacity
  std::uint32_t imb_pct = 20;       ///< llc_imb_pct: how much busier counts as busier
};

/// An LLC's utilization and capacity as the last periodic balance recorded them
/// (get_llc_stats()); `known` is false before any was recorded.
struct llc_stats {
  std::uint64_t util = 0;
  std::uint64_t capacity = 0;
  bool known = true;
};

/// kernel: fits_llc_capacity(): the LLC is not busy.
[[nodiscard]] constexpr bool fits_llc_capacity(std::uint64_t util, std::uint64_t capacity, std::uint32_t pct) noexcept {
  return util * 100 < capacity * pct;
}
/// kernel: util_greater(): `a` is more than imb_pct percent above `b`.
[[nodiscard]] constexpr bool util_greater(std::uint64_t a, std::uint64_t b, std::uint32_t imb_pct) noexcept {
  return a * 100 > b * (100 + imb_pct);
}

/// kernel: can_migrate_llc() (v1 03/19): moving a task of utilization `tsk_util` from `src`
/// to `dst`, towards the process's preferred LLC (`to_pref`) or out of it. Both LLCs busy
/// (before the move): generic balancing decides. Into the preferred LLC: refused only when
/// it would then be busy and more than imb_pct above the source. Out of it: refused when
/// the preferred LLC would no longer be busy, or would not stay more than imb_pct above
/// the destination — the higher bar to leave is the hysteresis against ping-pong.
[[nodiscard]] constexpr llc_mig can_migrate_llc(const llc_stats& src, const llc_stats& dst, std::uint64_t tsk_util,
                                                bool to_pref, const llc_balance_tunables& t = {}) noexcept {
  if (!src.known || !dst.known) return llc_mig::unrestricted;
  if (!fits_llc_capacity(dst.util, dst.capacity, t.overaggr_pct) &&
      !fits_llc_capacity(src.util, src.capacity, t.overaggr_pct))
    return llc_mig::unrestricted;
  const std::uint64_t src_after = src.util < tsk_util ? 0 : src.util - tsk_util;
  const std::uint64_t dst_after = dst.util + tsk_util;
  if (to_pref) {
    if (!fits_llc_capacity(dst_after, dst.capacity, t.overaggr_pct) && util_greater(dst_after, src_after, t.imb_pct))
      return llc_mig::forbid;
  } else if (fits_llc_capacity(src_after, src.capacity, t.overaggr_pct) || !util_greater(src_after, dst_after, t.imb_pct)) {
    return llc_mig::forbid;
  }
  return llc_mig::llc;
}

/// kernel: can_migrate_llc_task(): which way a move from `src_cpu` to `dst_cpu` goes for a
/// process whose preferred CPU is `preferred_cpu` — into its preferred LLC (true), out of
/// it (false), or neither (no preference, the same LLC, or two other LLCs: nothing).
template <limits_pack L>
[[nodiscard]] constexpr std::optional<bool> towards_preferred(const domain_tree<L>& tree, std::size_t src_cpu,
                                                              std::size_t dst_cpu, std::size_t preferred_cpu) {
  if (preferred_cpu == no_cpu || tree.cpus_share_cache(src_cpu, dst_cpu)) return std::nullopt;
  if (tree.cpus_share_cache(dst_cpu, preferred_cpu)) return true;
  if (tree.cpus_share_cache(src_cpu, preferred_cpu)) return false;
  return std::nullopt;
}

// -- the LLC-centric baseline's balancing decisions (§2.5) ---------------------------------
// Each is a pure decision the balance family will consult once the pack member is wired:
// which groups are llc_balance, which of them is the source, in which order a source's
// tasks are tried, which moves are refused, which active balances are vetoed.

/// kernel: the llc_balance test on a group (group_llc_balance): it holds tasks preferring
/// the destination LLC, and moving one of them there is an LLC migration by
/// can_migrate_llc(a CPU of the group, dst, 0, to_pref).
[[nodiscard]] constexpr bool group_llc_balance(std::uint32_t nr_pref_dst, const llc_stats& group_llc,
                                               const llc_stats& dst_llc, const llc_balance_tunables& t = {}) noexcept {
  return nr_pref_dst > 0 && can_migrate_llc(group_llc, dst_llc, 0, true, t) == llc_mig::llc;
}

/// kernel: update_llc_busiest(): among the llc_balance groups, the one holding the most
/// tasks that prefer the destination LLC (the first on a tie), or `no_cpu` when none is.
/// `nr_pref_dst[g]` and `llc_balance[g]` describe group g.
[[nodiscard]] constexpr std::size_t llc_busiest(std::span<const std::uint32_t> nr_pref_dst,
                                                std::span<const bool> llc_balance) noexcept {
  std::size_t best = no_cpu;
  for (std::size_t g = 0; g < nr_pref_dst.size() && g < llc_balance.size(); ++g)
    if (llc_balance[g] && (best == no_cpu || nr_pref_dst[g] > nr_pref_dst[best])) best = g;
  return best;
}

/// The order in which a source run queue's tasks are tried (§2.5 step 6), lowest first.
enum class detach_class : std::uint8_t { prefers_dst, no_preference, prefers_other, prefers_src };

/// The class of a task whose preferred LLC is `pref` (`no_cpu`: none) moving from `src_llc`
/// to `dst_llc`.
[[nodiscard]] constexpr detach_class classify_for_detach(std::size_t pref, std::size_t src_llc,
                                                         std::size_t dst_llc) noexcept {
  if (pref == no_cpu) return detach_class::no_preference;
  if (pref == dst_llc) return detach_class::prefers_dst;
  if (pref == src_llc) return detach_class::prefers_src;
  return detach_class::prefers_other;
}

/// Stable-sorts `tasks` into the detach order; `pref_of(task)` gives a task's preferred LLC.
template <std::size_t N, class PrefOf>
constexpr void order_for_detach(static_vector<std::uint32_t, N>& tasks, std::size_t src_llc, std::size_t dst_llc,
                                PrefOf&& pref_of) {
  auto rank = [&](std::uint32_t t) { return static_cast<int>(classify_for_detach(pref_of(t), src_llc, dst_llc)); };
  for (std::size_t i = 1; i < tasks.size(); ++i) {
    const std::uint32_t t = tasks[i];
    std::size_t j = i;
    for (; j > 0 && rank(tasks[j - 1]) > rank(t); --j) tasks[j] = tasks[j - 1];
    tasks[j] = t;
  }
}

/// kernel: migrate_degrades_llc() in can_migrate_task(): whether a move of a task that
/// prefers `pref` from `src_llc` to `dst_llc` is refused. Under migrate_llc_task
/// (`llc_pass`) only tasks preferring the destination move; otherwise a move the hint
/// forbids is refused. Both rules are waived once the domain failed cache_nice_tries + 1
/// times.
[[nodiscard]] constexpr bool migrate_degrades_llc(std::size_t pref, std::size_t dst_llc, bool llc_pass, llc_mig hint,
                                                  std::uint32_t nr_balance_failed,
                                                  std::uint32_t cache_nice_tries) noexcept {
  if (nr_balance_failed >= cache_nice_tries + 1) return false;
  if (llc_pass) return pref != dst_llc;
  return hint == llc_mig::forbid;
}

/// kernel: alb_break_llc(): an active balance would take the only runnable task of the
/// source (or its running one) off its preferred LLC while can_migrate_llc(…, to_pref =
/// false) forbids leaving it: vetoed.
[[nodiscard]] constexpr bool active_balance_breaks_llc(std::size_t pref, std::size_t src_llc, bool only_or_running,
                                                       llc_mig leave_hint) noexcept {
  return pref == src_llc && only_or_running && leave_hint == llc_mig::forbid;
}

// -- the topology-aware scope (seed 001) ---------------------------------------------------

namespace detail {
// The affinity order, given each LLC's node (`node_of(llc id)`, an index) and each node's
// distance from the preferred node (`distance(node)`).
template <limits_pack L, class NodeOf, class Distance>
constexpr void affinity_order(const domain_tree<L>& tree, std::size_t preferred_cpu, NodeOf&& node_of,
                              Distance&& distance, static_vector<std::size_t, L::max_cpus>& out) {
  out.clear();
  const std::size_t pref_llc = tree.llc_id(preferred_cpu);
  const std::size_t pref_node = node_of(pref_llc);
  static_vector<std::size_t, L::max_cpus> llcs;  // every LLC id, ascending
  for (std::size_t c : tree.cpu_map())
    if (tree.llc_id(c) == c) llcs.push_back(c);
  // The preferred node: position difference from the preferred LLC.
  static_vector<std::size_t, L::max_cpus> home;
  for (std::size_t l : llcs)
    if (node_of(l) == pref_node) home.push_back(l);
  std::size_t at = 0;
  while (home[at] != pref_llc) ++at;
  out.push_back(pref_llc);
  for (std::size_t d = 1; out.size() < home.size(); ++d) {
    if (at >= d) out.push_back(home[at - d]);
    if (at + d < home.size()) out.push_back(home[at + d]);
  }
  // The other nodes, nearest first.
  auto before = [&](std::size_t a, std::size_t b) {
    const auto da = distance(a);
    const auto db = distance(b);
    if (da != db) return da < db;
    const std::size_t ga = a > pref_node ? a - pref_node : pref_node - a;
    const std::size_t gb = b > pref_node ? b - pref_node : pref_node - b;
    if (ga != gb) return ga < gb;
    return std::min(a, pref_node) < std::min(b, pref_node);
  };
  static_vector<std::size_t, L::max_cpus> nodes;
  for (std::size_t l : llcs) {
    const std::size_t n = node_of(l);
    if (n == pref_node || std::find(nodes.begin(), nodes.end(), n) != nodes.end()) continue;
    std::size_t i = nodes.size();
    nodes.push_back(n);
    for (; i > 0 && before(n, nodes[i - 1]); --i) nodes[i] = nodes[i - 1];
    nodes[i] = n;
  }
  for (std::size_t n : nodes)
    for (std::size_t l : llcs)
      if (node_of(l) == n) out.push_back(l);
}
}  // namespace detail

/// The LLCs of `tree` in affinity order from the LLC of `preferred_cpu` outward, as ids
/// (`domain_tree::llc_id`, an LLC's first CPU), into `out`: the preferred LLC; the other
/// LLCs of its node, nearest position first (the series orders them by a synthetic LLC
/// distance matrix it calls "no physical meaning"; ours is the difference of their
/// positions in the node, the lower id on a tie); then the other nodes by the total order
/// (distance, |node − preferred node|, the lower node) of the series' 02/23 as Tim Chen
/// reduced it, each node's LLCs ascending. An LLC belongs to the node of its first CPU.
/// The scope of seed 001 is a prefix of this sequence.
template <limits_pack L>
constexpr void affinity_order(const topology<L>& topo, const domain_tree<L>& tree, std::size_t preferred_cpu,
                              static_vector<std::size_t, L::max_cpus>& out) {
  const std::size_t pref_node = topo.node_of(preferred_cpu);
  detail::affinity_order(
      tree, preferred_cpu, [&](std::size_t llc) { return topo.node_of(llc); },
      [&](std::size_t n) { return topo.distance(pref_node, n); }, out);
}

/// The same order from the domains alone, as a balancer that holds no topology sees it:
/// nodes are the domains' node spans, numbered by their first CPUs in ascending order (the
/// firmware's numbering wherever it numbers nodes in CPU order), and a node's distance is
/// that of the smallest NUMA level of the preferred CPU's domains spanning it (the
/// kernel's sched_domains_numa_distance, which is the SLIT's).
template <limits_pack L>
constexpr void affinity_order(const domain_tree<L>& tree, std::size_t preferred_cpu,
                              static_vector<std::size_t, L::max_cpus>& out) {
  static_vector<std::size_t, L::max_cpus> firsts;  // each node's first CPU, ascending
  for (std::size_t c : tree.cpu_map())
    if (tree.node_mask(c).first() == c) firsts.push_back(c);
  auto node_of = [&](std::size_t cpu) {
    return static_cast<std::size_t>(std::find(firsts.begin(), firsts.end(), tree.node_mask(cpu).first()) - firsts.begin());
  };
  auto distance = [&](std::size_t n) -> std::uint16_t {
    const std::size_t to = firsts[n];
    if (tree.node_mask(preferred_cpu).test(to)) return 10;
    for (std::size_t k = 0; k < tree.nr_domains(preferred_cpu); ++k) {
      const auto& d = tree.domain_of(preferred_cpu, k);
      const auto& lvl = tree.levels()[d.level];
      if (lvl.is_numa && lvl.numa_distance != 0 && tree.span(d).test(to)) return lvl.numa_distance;
    }
    return std::numeric_limits<std::uint16_t>::max();  // no domain joins them
  };
  detail::affinity_order(tree, preferred_cpu, node_of, distance, out);
}

/// How the scope is chosen. The scope is a prefix of the affinity order (a number of
/// LLCs); a prefix *fits* a utilization under p percent when the utilization is below p
/// percent of the prefix's summed capacity (`fits_llc_capacity` applied to the prefix).
/// A scope grows when it no longer fits under `grow_pct`, to the shortest prefix that
/// does; it shrinks only to a prefix that fits under `shrink_pct`. Seed 001's RFC takes the
/// shortest prefix that fits under the baseline's 50 % every time (`rfc_scope`); with
/// `shrink_pct` below `grow_pct` a demand between the two thresholds never moves the scope
/// (`damped_scope`, ours, docs/aggregation.md).
struct scope_rule {
  std::uint32_t grow_pct = 50;
  std::uint32_t shrink_pct = 50;
  /// Keep the scope's LLCs while the process's preferred LLC moves inside them: the affinity
  /// order is recomputed only when the preference leaves the scope (the topology-aware
  /// member's rescope).
  bool sticky_anchor = false;
};
/// The RFC's rule: the shortest prefix that fits under the LLC-centric baseline's 50 %.
inline constexpr scope_rule rfc_scope{50, 50, false};
/// Ours: the RFC's growth line, 50 % — on a 2-way SMT LLC, one busy thread per core, past
/// which a second thread adds only what the core's shared pipeline gives (docs/results.md:
/// a growth line at 80 % lost 16 % at 16 threads in the simulator) — and a scope shrinks
/// only to a prefix that would be under 25 %, half of it, so that a demand near the line
/// never moves the scope back and forth; nor does a preferred LLC that moves within the scope
/// (the baseline's 2× switch, as threads move between the scope's LLCs) re-aim it.
inline constexpr scope_rule damped_scope{50, 25, true};

/// The shortest prefix of `capacities` (LLC capacities in affinity order) that fits `util`
/// under `pct` percent; all of them when none does (the top level).
[[nodiscard]] constexpr std::size_t fitting_prefix(std::span<const std::uint64_t> capacities, std::uint64_t util,
                                                   std::uint32_t pct) noexcept {
  std::uint64_t cap = 0;
  for (std::size_t k = 0; k < capacities.size(); ++k) {
    cap += capacities[k];
    if (fits_llc_capacity(util, cap, pct)) return k + 1;
  }
  return capacities.size();
}

/// The next scope (a prefix length, 1..n) for a process of utilization `util` whose scope
/// is `current` LLCs long (0: none yet).
[[nodiscard]] constexpr std::size_t next_scope(std::span<const std::uint64_t> capacities, std::uint64_t util,
                                               std::size_t current, const scope_rule& rule) noexcept {
  const std::size_t grown = fitting_prefix(capacities, util, rule.grow_pct);
  if (current == 0 || current > capacities.size() || grown > current) return grown;
  return std::min(current, fitting_prefix(capacities, util, rule.shrink_pct));
}

/// Seed 001's estimate of a process's utilization (its 20/23): Σ over CPUs of the CPU's
/// utilization (`cpu_util`, indexed by CPU) × the process's occupancy there (at most all
/// of it).
template <limits_pack L, std::size_t M>
constexpr std::uint64_t process_util(occupancy_state<L, M>& st, const domain_tree<L>& tree,
                                     std::span<const std::uint64_t, L::max_cpus> cpu_util, std::size_t process,
                                     jiffies_t now, jiffies_t period) {
  std::uint64_t sum = 0;
  for (std::size_t c : tree.cpu_map())
    sum += cpu_util[c] * std::min<std::uint64_t>(occupancy(st, c, process, now, period), nice_0_load) / nice_0_load;
  return sum;
}

// -- the affinity gain and the cross-domain hint (seed 001, our reading) --------------------
// The series' patches 11/23 and 12/23 are not public; a digest of them and of PZ's review
// is (reference/seed-proposals.md §3.1). What follows is our reading of that digest,
// docs/aggregation.md says where it had to choose.

/// The weight bounds of the affinity gain: per LLC clamp(…, 1, 1024), per node
/// clamp(…, 4, 1024) (the digest of 12/23).
inline constexpr std::uint64_t gain_weight_max = 1024;
inline constexpr std::uint64_t llc_gain_floor = 1;
inline constexpr std::uint64_t node_gain_floor = 4;

/// Seed 001's affinity gain of moving a task from `src` to `dst` (12/23), which replaces the
/// binary "prefers the destination's LLC": Σ over the domains i (LLCs or nodes) that are
/// nearer to dst than to src of tasks_preferring(i) × clamp(dist(i, src) − dist(i, dst),
/// floor, 1024). `preferring[i]`, `to_src[i]` and `to_dst[i]` describe domain i; the three
/// spans have one entry per domain. A larger gain picks the source group and run queue.
[[nodiscard]] constexpr std::uint64_t affinity_gain(std::span<const std::uint32_t> preferring,
                                                    std::span<const std::uint64_t> to_src,
                                                    std::span<const std::uint64_t> to_dst, std::uint64_t floor) noexcept {
  std::uint64_t gain = 0;
  const std::size_t n = std::min({preferring.size(), to_src.size(), to_dst.size()});
  for (std::size_t i = 0; i < n; ++i) {
    if (preferring[i] == 0 || to_dst[i] >= to_src[i]) continue;
    gain += preferring[i] * std::clamp<std::uint64_t>(to_src[i] - to_dst[i], floor, gain_weight_max);
  }
  return gain;
}

/// can_migrate_node() (11/23), our reading: the hint for a move between two domains of the
/// process's scope (LLCs or nodes), with the task's utilization moved. The destination
/// takes it when it still has room afterwards (not busy under overaggr_pct); otherwise
/// only by the peak-lowering escape — the source is more than imb_pct above the
/// destination and at least dst + 2 · tsk_util, so that the move lowers the larger of the
/// two — without which a 7-task LLC next to a 4-task one freezes. Unknown statistics: no
/// opinion.
[[nodiscard]] constexpr llc_mig can_migrate_node(const llc_stats& src, const llc_stats& dst, std::uint64_t tsk_util,
                                                 const llc_balance_tunables& t = {}) noexcept {
  if (!src.known || !dst.known) return llc_mig::unrestricted;
  if (fits_llc_capacity(dst.util + tsk_util, dst.capacity, t.overaggr_pct)) return llc_mig::llc;
  if (util_greater(src.util, dst.util, t.imb_pct) && src.util >= dst.util + 2 * tsk_util) return llc_mig::llc;
  return llc_mig::forbid;
}

/// The digest's "nearer LLCs can veto, with the candidate task's util included": a move
/// to a farther domain is vetoed while one of the `nearer` ones (nearer to the source in
/// affinity order than the destination) would still have room with the task in it.
[[nodiscard]] constexpr bool nearer_vetoes(std::span<const llc_stats> nearer, std::uint64_t tsk_util,
                                           const llc_balance_tunables& t = {}) noexcept {
  for (const llc_stats& s : nearer)
    if (s.known && fits_llc_capacity(s.util + tsk_util, s.capacity, t.overaggr_pct)) return true;
  return false;
}

// -- the NUMA interplay ---------------------------------------------------------------------


/// A task's preferences after the interplay: an LLC id (`domain_tree::llc_id`) and a node,
/// either of which may be none.
struct task_preference {
  std::size_t llc = no_cpu;
  std::size_t node = no_node;
  friend constexpr bool operator==(const task_preference&, const task_preference&) = default;
};

/// The preferences of a task of a process whose preferred CPU is `process_cpu` (`no_cpu`:
/// none) and whose NUMA-preferred node is `numa_node` (`no_node`: none, or NUMA balancing
/// off). Under both rules a preferred LLC lies inside the preferred node when there is one.
template <limits_pack L>
[[nodiscard]] constexpr task_preference interplay(const topology<L>& topo, const domain_tree<L>& tree,
                                                  std::size_t process_cpu, std::size_t numa_node,
                                                  numa_interplay rule) {
  if (process_cpu == no_cpu) return {no_cpu, numa_node};
  const std::size_t llc = tree.llc_id(process_cpu);
  const std::size_t llc_node = topo.node_of(llc);
  if (numa_node == no_node || numa_node == llc_node) return {llc, llc_node};
  if (rule == numa_interplay::numa_first) return {no_cpu, numa_node};
  return {llc, llc_node};
}

/// The preferred LLC of a process, as the id of its LLC (`domain_tree::llc_id`), or
/// `no_cpu` without a preference.
template <limits_pack L, std::size_t M>
[[nodiscard]] constexpr std::size_t preferred_llc(const occupancy_state<L, M>& st, const domain_tree<L>& tree,
                                                  std::size_t process) {
  const std::size_t c = st.processes[process].preferred_cpu;
  return c == no_cpu ? no_cpu : tree.llc_id(c);
}

// -- the pack member ------------------------------------------------------------------------

namespace detail {
/// An LLC's utilization (Σ cpu_util_cfs) and capacity now, from the snapshot. (The kernel
/// reads what its last periodic balance of the LLC recorded; the current values are what
/// that record approximates.)
template <limits_pack L>
[[nodiscard]] constexpr llc_stats llc_now(const domain_tree<L>& tree, const snapshot<L>& snap, std::size_t cpu) {
  llc_stats s;
  for (std::size_t c : llc_mask(tree, cpu)) {
    s.util += cpu_util_cfs(snap.cpus[c]);
    s.capacity += snap.cpus[c].capacity;
  }
  return s;
}
}  // namespace detail

/// The LLC-centric baseline as the pack's `aggregation` member: the cache-aware series as
/// queued for mainline, which balances only — the series dropped its wakeup path (it
/// aggregated at wakeup and load balancing undid it; reference/seed-proposals.md §2.6), so
/// wakeups stay Linux's. The embedder calls `account` at every update_curr() of a task and
/// `task_tick` at its ticks, and names each task's process (`task_state::process`; its
/// threads and footprint through `note_thread`); the balance rules consult the rest. Up to
/// `MaxProcesses` processes; the knobs are the pack's `aggregation_tuning`
/// (`aggregation_tunables`, the series' defaults), changed one at a time with
/// `with_tunable<&aggregation_tunables::aggr_tolerance, 90U>`.
template <std::size_t MaxProcesses = 64>
struct llc_centric {
  using family = aggregation_family;
  static constexpr bool active = true;
  static constexpr std::size_t max_processes = MaxProcesses;

  /// The pack's knobs, as the accounting and the hint take them. Out-of-range percentages
  /// stop the build: a busy line above 100 % never trips, an imbalance margin above 100 %
  /// asks for more than twice the load.
  template <class P>
  static constexpr bool valid_tuning = P::aggregation_tuning.overaggr_pct >= 1 && P::aggregation_tuning.overaggr_pct <= 100 &&
                                       P::aggregation_tuning.imb_pct <= 100;
  template <class P>
  static constexpr occupancy_tunables occupancy_of = {P::aggregation_tuning.epoch_period,
                                                      P::aggregation_tuning.affinity_timeout,
                                                      P::aggregation_tuning.aggr_tolerance};
  template <class P>
  static constexpr llc_balance_tunables balance_of = {P::aggregation_tuning.overaggr_pct, P::aggregation_tuning.imb_pct};

  template <limits_pack L>
  struct state {
    occupancy_state<L, MaxProcesses> occupancy{};
    std::array<process_facts, MaxProcesses> facts = no_threads();
  };

  /// Every process without threads yet.
  [[nodiscard]] static constexpr std::array<process_facts, MaxProcesses> no_threads() noexcept {
    std::array<process_facts, MaxProcesses> a{};
    for (process_facts& f : a) f.nr_threads = 0;
    return a;
  }

  /// A thread of `process` starts (`delta` +1) or exits (−1), keeping `footprint` bytes hot
  /// (added, or taken away). An unknown process is an `out_of_range` error, nothing changed.
  template <limits_pack L>
  static constexpr status note_thread(state<L>& st, std::uint32_t process, int delta, std::uint64_t footprint) {
    if (process >= MaxProcesses) {
      error e{errc::out_of_range, "aggregation: process "};
      return e << process << " is not one of the " << MaxProcesses << " processes the member keeps";
    }
    process_facts& f = st.facts[process];
    if (delta > 0) {
      f.nr_threads += static_cast<std::uint32_t>(delta);
      f.footprint += footprint;
    } else {
      const auto d = static_cast<std::uint32_t>(-delta);
      f.nr_threads = f.nr_threads > d ? f.nr_threads - d : 0;
      f.footprint = f.footprint > footprint ? f.footprint - footprint : 0;
    }
    return {};
  }

  /// kernel: account_mm_sched(): task `t` ran `delta_ns` on `cpu`, up to `now`. A task of
  /// no process (or one beyond MaxProcesses, which `note_thread` refuses) is not counted.
  template <class P, limits_pack L>
  static constexpr void account(const domain_tree<L>& tree, const snapshot<L>& snap, std::size_t cpu, std::uint32_t t,
                                std::uint64_t delta_ns, jiffies_t now, state<L>& st) {
    static_assert(valid_tuning<P>, "aggregation_tuning: overaggr_pct must be 1..100 and imb_pct 0..100");
    const std::uint32_t p = snap.task_at(t).process;
    if (p >= MaxProcesses || !tree.cpu_map().test(cpu)) return;
    (void)aggregation::account(st.occupancy, tree, cpu, p, delta_ns, now, st.facts[p], P::aggregation_tuning.llc_bytes,
                               occupancy_of<P>, P::balance_tuning.hz);
  }

  /// kernel: task_tick_cache() and the task_cache_work() it queues (run at once here): at a
  /// tick of task `t` on `cpu`, a scan of its process's occupancy, once per epoch.
  template <class P, limits_pack L>
  static constexpr void task_tick(const domain_tree<L>& tree, const snapshot<L>& snap, std::size_t cpu, std::uint32_t t,
                                  jiffies_t now, state<L>& st) {
    (void)tick_scan<P>(tree, snap, cpu, t, now, st);
  }

  /// `task_tick`, saying which process it scanned (`no_process`: none).
  template <class P, limits_pack L>
  static constexpr std::uint32_t tick_scan(const domain_tree<L>& tree, const snapshot<L>& snap, std::size_t cpu,
                                           std::uint32_t t, jiffies_t now, state<L>& st) {
    const std::uint32_t p = snap.task_at(t).process;
    if (p >= MaxProcesses || !tree.cpu_map().test(cpu) || !scan_due(st.occupancy, cpu, p)) return no_process;
    cpumask<L::max_cpus> running;
    for (std::size_t c : tree.cpu_map())
      if (const std::uint32_t u = snap.curr(c); u != no_task && snap.task_at(u).process == p) running.set(c);
    const auto r = scan(st.occupancy, tree, p, cpu, now, running, st.facts[p], P::aggregation_tuning.llc_bytes,
                        occupancy_of<P>, P::balance_tuning.hz);
    return r && r->scanned ? p : no_process;
  }

  /// The LLC (its id) task `t`'s process prefers, or `no_cpu`. When the pack's NUMA member
  /// puts NUMA first (`numa_interplay::numa_first`), a task whose NUMA-preferred node is not
  /// that LLC's has none (get_pref_llc()).
  template <class P, limits_pack L>
  [[nodiscard]] static constexpr std::size_t preferred_llc_of(const domain_tree<L>& tree, const snapshot<L>& snap,
                                                              const state<L>& st, std::uint32_t t) {
    const std::uint32_t p = snap.task_at(t).process;
    const std::size_t llc = p >= MaxProcesses ? no_cpu : preferred_llc(st.occupancy, tree, p);
    if constexpr (balancekit::detail::numa_active<P>) {
      const std::size_t node = snap.task_at(t).numa_preferred_node;
      if (P::numa::interplay == numa_interplay::numa_first && llc != no_cpu && node != no_cpu &&
          !tree.node_mask(llc).test(node))
        return no_cpu;
    }
    return llc;
  }

  // -- what the balance rules ask ----------------------------------------------------------
  /// kernel: llc_balance(): on a domain above the LLC, the number of group `g`'s tasks
  /// that prefer the destination's LLC when moving one there is an LLC migration
  /// (can_migrate_llc(the LLC of the group's first CPU, dst, 0, into)); else 0.
  template <class P, limits_pack L>
  [[nodiscard]] static constexpr std::uint32_t llc_balance(const lb_env<P, L>& env, const typename domain_tree<L>::group& g,
                                                           const state<L>& st) {
    if (env.has(sd_flag::share_llc)) return 0;
    const auto& tree = *env.tree;
    const auto& snap = *env.snap;
    std::uint32_t n = 0;
    for (std::size_t c : tree.cpus_of(g))
      if (env.cpus.test(c)) n += prefer_dst(env, c, st);
    if (n == 0) return 0;
    const llc_stats src = detail::llc_now(tree, snap, tree.span_first(g));
    return group_llc_balance(n, src, detail::llc_now(tree, snap, env.dst_cpu), balance_of<P>) ? n : 0;
  }

  /// The tasks queued on `cpu` that prefer the destination's LLC (the LLC pass's source run
  /// queue queues the most).
  template <class P, limits_pack L>
  [[nodiscard]] static constexpr std::uint32_t prefer_dst(const lb_env<P, L>& env, std::size_t cpu, const state<L>& st) {
    const std::size_t dst_llc = env.tree->llc_id(env.dst_cpu);
    std::uint32_t n = 0;
    for (std::uint32_t t = env.snap->head(cpu); t != no_task; t = env.snap->next(t))
      if (preferred_llc_of<P>(*env.tree, *env.snap, st, t) == dst_llc) ++n;
    return n;
  }

  /// Task `t`'s place in the detach order between two LLCs (classify_for_detach); 0 for
  /// every task inside one LLC, which keeps Linux's order.
  template <class P, limits_pack L>
  [[nodiscard]] static constexpr int detach_rank(const lb_env<P, L>& env, std::uint32_t t, const state<L>& st) {
    const auto& tree = *env.tree;
    if (tree.cpus_share_cache(env.src_cpu, env.dst_cpu)) return 0;
    return static_cast<int>(
        classify_for_detach(preferred_llc_of<P>(tree, *env.snap, st, t), tree.llc_id(env.src_cpu), tree.llc_id(env.dst_cpu)));
  }

  /// migrate_degrades_llc(): whether moving task `t` from env.src_cpu to env.dst_cpu is
  /// refused for its LLC preference (the LLC pass moves only tasks preferring dst's LLC;
  /// otherwise a move can_migrate_llc_task() forbids), until the domain failed
  /// cache_nice_tries + 1 times.
  template <class P, limits_pack L>
  [[nodiscard]] static constexpr bool degrades(const lb_env<P, L>& env, std::uint32_t t, const state<L>& st) {
    const auto& tree = *env.tree;
    if (tree.cpus_share_cache(env.src_cpu, env.dst_cpu)) return false;
    const std::size_t pref = preferred_llc_of<P>(tree, *env.snap, st, t);
    return migrate_degrades_llc(pref, tree.llc_id(env.dst_cpu), env.mtype == migration_type::migrate_llc_task,
                                hint(env, t, pref), env.nr_balance_failed, env.sd->cache_nice_tries);
  }

  /// alb_break_llc(): an active balance would take the source's running task off its
  /// preferred LLC while leaving is forbidden.
  template <class P, limits_pack L>
  [[nodiscard]] static constexpr bool breaks_active(const lb_env<P, L>& env, const state<L>& st) {
    const std::uint32_t t = env.snap->curr(env.src_cpu);
    if (t == no_task) return false;
    const std::size_t pref = preferred_llc_of<P>(*env.tree, *env.snap, st, t);
    return active_balance_breaks_llc(pref, env.tree->llc_id(env.src_cpu), true, hint(env, t, pref));
  }

private:
  // can_migrate_llc_task(): the hint for task `t` (preferring LLC `pref`) moving from
  // env.src_cpu to env.dst_cpu, with its utilization moved.
  template <class P, limits_pack L>
  [[nodiscard]] static constexpr llc_mig hint(const lb_env<P, L>& env, std::uint32_t t, std::size_t pref) {
    const auto& tree = *env.tree;
    const auto way = towards_preferred(tree, env.src_cpu, env.dst_cpu, pref);
    if (!way) return llc_mig::unrestricted;
    return can_migrate_llc(detail::llc_now(tree, *env.snap, env.src_cpu), detail::llc_now(tree, *env.snap, env.dst_cpu),
                           env.snap->task_at(t).util, *way, balance_of<P>);
  }
};


/// Seed 001's topology-aware scope as the pack's `aggregation` member, on the LLC-centric
/// baseline's accounting and preferred LLC: each process's *scope* is a prefix of the
/// affinity order from its preferred LLC (`affinity_order`, from the domains alone), chosen
/// by `Rule` from the process's utilization (`process_util`) at every scan — `rfc_scope`,
/// the shortest prefix under 50 % every time, as the RFC; `damped_scope`, ours, with
/// hysteresis. The balance rules then treat the scope as the baseline treats the preferred
/// LLC (docs/aggregation.md, part 4):
///  - a task outside the scope prefers every LLC inside it: LLC passes pull it in, and the
///    group and run queue to pull from are those of the largest affinity gain (each task
///    weighs clamp(its LLC's position − the destination's, 1, 1024), floor 4 across nodes);
///  - inside the scope any LLC with room may take a task (`can_migrate_node`, with the
///    peak-lowering escape), nearer or not;
///  - leaving the scope is refused while the scope is not busy or not more than imb_pct
///    above the destination (`can_migrate_llc` with the scope as the preferred LLC), and an
///    active balance that would take a running task out is vetoed;
///  - "busy" and "room" are under the rule's growth threshold, which the scope was sized by
///    (the RFC's 50 % is the baseline's overaggr_pct);
///  - an LLC pass forces even where siblings are not preferred (14/23), so the scope
///    gathers across nodes too;
///  - a wakeup that Linux's placement put outside the scope, or on a busy CPU, goes to an
///    idle CPU of the scope (`place`), so that wakeups do not undo what balancing gathers.
template <std::size_t MaxProcesses = 64, scope_rule Rule = rfc_scope>
struct topology_aware {
  static_assert(Rule.grow_pct >= 1 && Rule.grow_pct <= 100 && Rule.shrink_pct <= Rule.grow_pct,
                "a scope rule grows past 1..100 % of the scope's capacity and shrinks below at most that");
  using family = aggregation_family;
  using baseline = llc_centric<MaxProcesses>;
  static constexpr bool active = true;
  static constexpr bool ignores_prefer_sibling = true;
  static constexpr bool places = true;
  static constexpr std::size_t max_processes = MaxProcesses;
  static constexpr scope_rule rule = Rule;

  /// A process's scope: its length in LLCs (0: none) and each CPU's LLC's position in the
  /// affinity order it is a prefix of.
  template <limits_pack L>
  struct scope {
    std::uint32_t length = 0;
    std::uint32_t llcs = 0;  ///< the LLCs in the order
    std::uint64_t util = 0;  ///< the process's utilization at the last scan
    std::array<std::uint16_t, L::max_cpus> rank{};
    std::array<std::uint16_t, L::max_cpus> order{};  ///< the LLC ids in affinity order; the scope is a prefix
  };
  template <limits_pack L>
  struct state {
    typename baseline::template state<L> cache{};
    std::array<scope<L>, MaxProcesses> scopes{};
  };

  template <limits_pack L>
  static constexpr status note_thread(state<L>& st, std::uint32_t process, int delta, std::uint64_t footprint) {
    return baseline::note_thread(st.cache, process, delta, footprint);
  }

  template <class P, limits_pack L>
  static constexpr void account(const domain_tree<L>& tree, const snapshot<L>& snap, std::size_t cpu, std::uint32_t t,
                                std::uint64_t delta_ns, jiffies_t now, state<L>& st) {
    baseline::template account<P>(tree, snap, cpu, t, delta_ns, now, st.cache);
  }

  /// The baseline's scan, then the scope of the process it scanned.
  template <class P, limits_pack L>
  static constexpr void task_tick(const domain_tree<L>& tree, const snapshot<L>& snap, std::size_t cpu, std::uint32_t t,
                                  jiffies_t now, state<L>& st) {
    const std::uint32_t p = baseline::template tick_scan<P>(tree, snap, cpu, t, now, st.cache);
    if (p != no_process) rescope<P>(tree, snap, p, now, st);
  }

  /// Process `p`'s scope from its preferred LLC and utilization now (none without a
  /// preferred LLC). The affinity order is recomputed from the preferred LLC, except under
  /// a sticky rule while the preferred LLC lies inside the scope.
  template <class P, limits_pack L>
  static constexpr void rescope(const domain_tree<L>& tree, const snapshot<L>& snap, std::uint32_t p, jiffies_t now,
                                state<L>& st) {
    static_assert(L::max_cpus <= std::numeric_limits<std::uint16_t>::max());
    scope<L>& sc = st.scopes[p];
    const std::size_t pref = st.cache.occupancy.processes[p].preferred_cpu;
    if (pref == no_cpu) {
      sc.length = 0;
      return;
    }
    if (!(Rule.sticky_anchor && sc.length != 0 && sc.rank[pref] < sc.length)) {
      static_vector<std::size_t, L::max_cpus> order;
      affinity_order(tree, pref, order);
      sc.llcs = static_cast<std::uint32_t>(order.size());
      for (std::size_t k = 0; k < order.size(); ++k) {
        sc.order[k] = static_cast<std::uint16_t>(order[k]);
        for (std::size_t c : detail::llc_mask(tree, order[k])) sc.rank[c] = static_cast<std::uint16_t>(k);
      }
    }
    std::array<std::uint64_t, L::max_cpus> caps{};  // by position in the order
    for (std::size_t k = 0; k < sc.llcs; ++k)
      for (std::size_t c : detail::llc_mask(tree, sc.order[k])) caps[k] += snap.cpus[c].capacity;
    std::array<std::uint64_t, L::max_cpus> util{};
    for (std::size_t c : tree.cpu_map()) util[c] = cpu_util_cfs(snap.cpus[c]);
    sc.util = process_util(st.cache.occupancy, tree, std::span<const std::uint64_t, L::max_cpus>(util), p, now,
                           baseline::template occupancy_of<P>.period(P::balance_tuning.hz));
    sc.length = static_cast<std::uint32_t>(
        next_scope(std::span<const std::uint64_t>(caps.data(), sc.llcs), sc.util, sc.length, Rule));
  }

  /// Whether `cpu` lies in task `t`'s process's scope.
  template <limits_pack L>
  [[nodiscard]] static constexpr bool in_scope(const snapshot<L>& snap, const state<L>& st, std::uint32_t t,
                                               std::size_t cpu) {
    const std::uint32_t p = snap.task_at(t).process;
    return has_scope(st, p) && st.scopes[p].rank[cpu] < st.scopes[p].length;
  }

  // -- what the balance rules ask ----------------------------------------------------------
  /// group_llc_balance on a domain above the LLC: the affinity gain of the group's tasks
  /// that would enter their scope at the destination, when the destination's LLC may take
  /// one (can_migrate_node(the LLC of the group's first CPU, dst, 0)); else 0.
  template <class P, limits_pack L>
  [[nodiscard]] static constexpr std::uint32_t llc_balance(const lb_env<P, L>& env, const typename domain_tree<L>::group& g,
                                                           const state<L>& st) {
    if (env.has(sd_flag::share_llc)) return 0;
    const auto& tree = *env.tree;
    std::uint32_t gain = 0;
    for (std::size_t c : tree.cpus_of(g))
      if (env.cpus.test(c)) gain += prefer_dst(env, c, st);
    if (gain == 0) return 0;
    const llc_mig m = can_migrate_node(detail::llc_now(tree, *env.snap, tree.span_first(g)),
                                       detail::llc_now(tree, *env.snap, env.dst_cpu), 0, balance_of<P>());
    return m == llc_mig::llc ? gain : 0;
  }

  /// The affinity gain of moving `cpu`'s queued tasks that would enter their scope at the
  /// destination (the LLC pass's source run queue has the largest).
  template <class P, limits_pack L>
  [[nodiscard]] static constexpr std::uint32_t prefer_dst(const lb_env<P, L>& env, std::size_t cpu, const state<L>& st) {
    const auto& tree = *env.tree;
    const auto& snap = *env.snap;
    std::uint64_t gain = 0;
    for (std::uint32_t t = snap.head(cpu); t != no_task; t = snap.next(t))
      if (classify(tree, snap, st, t, cpu, env.dst_cpu) == scope_move::into) gain += gain_of(tree, snap, st, t, cpu, env.dst_cpu);
    return static_cast<std::uint32_t>(std::min<std::uint64_t>(gain, std::numeric_limits<std::uint32_t>::max()));
  }

  /// Between two LLCs: tasks entering their scope first, then tasks of no scope, then the
  /// rest, tasks leaving their scope last.
  template <class P, limits_pack L>
  [[nodiscard]] static constexpr int detach_rank(const lb_env<P, L>& env, std::uint32_t t, const state<L>& st) {
    const auto& snap = *env.snap;
    switch (classify(*env.tree, snap, st, t, env.src_cpu, env.dst_cpu)) {
      case scope_move::into: return static_cast<int>(detach_class::prefers_dst);
      case scope_move::leaving: return static_cast<int>(detach_class::prefers_src);
      case scope_move::within: return static_cast<int>(detach_class::prefers_other);
      case scope_move::unscoped: break;
    }
    if (env.tree->cpus_share_cache(env.src_cpu, env.dst_cpu)) return 0;
    return static_cast<int>(has_scope(st, snap.task_at(t).process) ? detach_class::prefers_other
                                                                   : detach_class::no_preference);
  }

  /// Whether moving `t` from env.src_cpu to env.dst_cpu is refused for its scope: an LLC
  /// pass moves only tasks entering their scope; otherwise a move the scope's hint forbids
  /// is refused; both until the domain failed cache_nice_tries + 1 times.
  template <class P, limits_pack L>
  [[nodiscard]] static constexpr bool degrades(const lb_env<P, L>& env, std::uint32_t t, const state<L>& st) {
    if (env.nr_balance_failed >= static_cast<std::uint32_t>(env.sd->cache_nice_tries) + 1) return false;
    const scope_move m = classify(*env.tree, *env.snap, st, t, env.src_cpu, env.dst_cpu);
    if (env.mtype == migration_type::migrate_llc_task) return m != scope_move::into;
    return hint(env, st, t, m) == llc_mig::forbid;
  }

  /// An active balance would take the source's running task out of its scope while
  /// leaving is forbidden.
  template <class P, limits_pack L>
  [[nodiscard]] static constexpr bool breaks_active(const lb_env<P, L>& env, const state<L>& st) {
    const std::uint32_t t = env.snap->curr(env.src_cpu);
    if (t == no_task) return false;
    const scope_move m = classify(*env.tree, *env.snap, st, t, env.src_cpu, env.dst_cpu);
    return m == scope_move::leaving && hint(env, st, t, m) == llc_mig::forbid;
  }

  // -- what wakeup placement asks ------------------------------------------------------------
  /// A wakeup (not a fork) of a task whose process has a scope, that Linux's placement put
  /// on a CPU outside the scope or on a busy one, goes to an idle CPU of the scope — the
  /// LLCs in affinity order, each scanned from its first CPU — when there is one; else it
  /// stays where Linux put it (a full scope does not stack wakeups).
  template <class P, limits_pack L>
  [[nodiscard]] static constexpr placement_decision place(const wake_env<P, L>& env, const state<L>& st,
                                                          placement_decision d) {
    if ((env.flags & wf::ttwu) == 0 || d.cpu == no_cpu || !has_scope(st, env.p().process)) return d;
    const scope<L>& sc = st.scopes[env.p().process];
    // "Idle" as the fast path takes it (available_idle_cpu() || sched_idle_cpu()).
    const auto idle = [&](std::size_t c) { return balancekit::detail::idle_or_sched_idle(env, c); };
    if (sc.rank[d.cpu] < sc.length && idle(d.cpu)) return d;
    for (std::size_t k = 0; k < sc.length; ++k)
      for (std::size_t c : detail::llc_mask(*env.tree, sc.order[k]))
        if (env.p().allowed.test(c) && idle(c)) return {c, placement_branch::scope_idle, d.target};
    return d;
  }

private:
  // How a move between two LLCs relates to the task's process's scope (`unscoped`: no scope,
  // or neither end in it).
  enum class scope_move : std::uint8_t { unscoped, into, within, leaving };

  // The hint's busy line is the rule's growth threshold: the scope was sized to fit under
  // it, so a move that keeps an LLC of the scope under it keeps the scope what it was sized
  // for, and one that needs the scope busier than that to leave is one the scope's growth
  // would make anyway. (The RFC's rule grows at the baseline's overaggr_pct, 50: the same.)
  template <class P>
  static constexpr llc_balance_tunables balance_of() noexcept {
    return {Rule.grow_pct, P::aggregation_tuning.imb_pct};
  }

  template <limits_pack L>
  [[nodiscard]] static constexpr bool has_scope(const state<L>& st, std::uint32_t p) {
    return p < MaxProcesses && st.scopes[p].length != 0 && st.cache.occupancy.processes[p].preferred_cpu != no_cpu;
  }

  // Which way a move of task `t` from `src` to `dst` goes for its process's scope.
  template <limits_pack L>
  [[nodiscard]] static constexpr scope_move classify(const domain_tree<L>& tree, const snapshot<L>& snap, const state<L>& st,
                                               std::uint32_t t, std::size_t src, std::size_t dst) {
    if (tree.cpus_share_cache(src, dst) || !has_scope(st, snap.task_at(t).process)) return scope_move::unscoped;
    const bool from = in_scope(snap, st, t, src);
    const bool to = in_scope(snap, st, t, dst);
    if (to) return from ? scope_move::within : scope_move::into;
    return from ? scope_move::leaving : scope_move::unscoped;
  }

  // Seed 001's affinity gain of one task: its anchor is its process's preferred LLC, a
  // domain's distance from it is its position in the affinity order.
  template <limits_pack L>
  [[nodiscard]] static constexpr std::uint64_t gain_of(const domain_tree<L>& tree, const snapshot<L>& snap,
                                                       const state<L>& st, std::uint32_t t, std::size_t src,
                                                       std::size_t dst) {
    const scope<L>& sc = st.scopes[snap.task_at(t).process];
    const std::uint32_t one = 1;
    const std::uint64_t to_src = sc.rank[src];
    const std::uint64_t to_dst = sc.rank[dst];
    return affinity_gain({&one, 1}, {&to_src, 1}, {&to_dst, 1},
                         tree.node_mask(src).test(dst) ? llc_gain_floor : node_gain_floor);
  }

  // The scope's utilization and capacity now.
  template <limits_pack L>
  [[nodiscard]] static constexpr llc_stats scope_now(const snapshot<L>& snap, const scope<L>& sc,
                                                     const domain_tree<L>& tree) {
    llc_stats s;
    for (std::size_t c : tree.cpu_map())
      if (sc.rank[c] < sc.length) {
        s.util += cpu_util_cfs(snap.cpus[c]);
        s.capacity += snap.cpus[c].capacity;
      }
    return s;
  }

  template <class P, limits_pack L>
  [[nodiscard]] static constexpr llc_mig hint(const lb_env<P, L>& env, const state<L>& st, std::uint32_t t, scope_move m) {
    const auto& tree = *env.tree;
    const auto& snap = *env.snap;
    const std::uint64_t util = snap.task_at(t).util;
    switch (m) {
      case scope_move::into:
      case scope_move::within:
        return can_migrate_node(detail::llc_now(tree, snap, env.src_cpu), detail::llc_now(tree, snap, env.dst_cpu), util,
                                balance_of<P>());
      case scope_move::leaving:
        return can_migrate_llc(scope_now(snap, st.scopes[snap.task_at(t).process], tree),
                               detail::llc_now(tree, snap, env.dst_cpu), util, false, balance_of<P>());
      case scope_move::unscoped: break;
    }
    return llc_mig::unrestricted;
  }
};

}  // namespace balancekit::aggregation
