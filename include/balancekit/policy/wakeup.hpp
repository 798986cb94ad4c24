/// \file
/// Linux's wakeup fast path: wake_wide() and wake_affine() pick the target (the waker's CPU
/// or the previous one), then select_idle_sibling() looks for an idle CPU near it, inside
/// the target's LLC.
///
/// kernel: record_wakee(), wake_wide(), wake_affine(), wake_affine_idle(),
/// wake_affine_weight(), util_fits_cpu(), asym_fits_cpu(), select_idle_sibling(),
/// select_idle_smt(), select_idle_core(), select_idle_cpu(), select_idle_capacity(),
/// __update_idle_core(), update_idle_cpu_scan() — kernel/sched/fair.c (v6.16).
///
/// What the kernel keeps in task_struct and in the LLC's sched_domain_shared, this keeps in
/// `wake_state`, the placement family's state: each task's wakee flips and recently used
/// CPU, each LLC's has_idle_cores hint and SIS_UTIL scan depth. Two of those the embedder
/// keeps true by calling the balancer when it happens (docs/placement.md): a CPU that goes
/// idle (`on_cpu_idle`, the kernel's __update_idle_core), and the LLC's scan depth, which the
/// balancer's periodic balance of an LLC-wide domain refreshes itself.
///
/// Not modelled, and exact anyway: uclamp (off until userspace sets a clamp, so
/// util_fits_cpu() is fits_capacity()), core scheduling cookies (they match without core
/// scheduling), vCPU preemption (bare metal), delayed dequeue (none in the snapshot), EAS
/// (no energy model, so the root domain counts as overutilized and EAS never runs).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include <balancekit/balancer/lb_env.hpp>
#include <balancekit/balancer/wake_env.hpp>
#include <balancekit/core/cpumask.hpp>
#include <balancekit/core/index.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/core/units.hpp>
#include <balancekit/domains/domain_tree.hpp>
#include <balancekit/domains/flags.hpp>
#include <balancekit/stats/group_stats.hpp>
#include <balancekit/stats/snapshot.hpp>

namespace balancekit {

/// What Linux's placement remembers between calls (kernel: task_struct's wakee_flips,
/// wakee_flip_decay_ts, last_wakee and recent_used_cpu; sched_domain_shared's
/// has_idle_cores and nr_idle_scan). Tasks are keyed by their snapshot index, LLCs by their
/// first CPU (the kernel's sd_llc_id).
template <limits_pack L>
struct wake_state {
  struct task_memory {
    std::uint32_t wakee_flips = 0;
    jiffies_t wakee_flip_decay_ts = 0;
    std::uint32_t last_wakee = no_task;
    std::size_t recent_used_cpu = no_cpu;  ///< the kernel sets it to the parent's CPU at fork
    friend constexpr bool operator==(const task_memory&, const task_memory&) = default;
  };
  struct llc_shared {
    bool has_idle_cores = false;
    /// SIS_UTIL's scan depth. 0 until the first periodic balance of the LLC's domain, as in
    /// the kernel (the shared struct starts zeroed): until then select_idle_cpu() scans nothing.
    std::int32_t nr_idle_scan = 0;
    friend constexpr bool operator==(const llc_shared&, const llc_shared&) = default;
  };
  std::array<task_memory, L::max_tasks> tasks{};
  /// The idle task of each CPU, the kernel's `current` for a wakeup from an idle CPU.
  std::array<task_memory, L::max_cpus> idle_tasks{};
  std::array<llc_shared, L::max_cpus> llc{};

  /// The wakee bookkeeping of the waker `env` names: its task, or its CPU's idle task.
  template <class Env>
  [[nodiscard]] constexpr task_memory& current(const Env& env) {
    return env.waker != no_task ? tasks[env.waker] : idle_tasks[env.this_cpu];
  }
  template <class Env>
  [[nodiscard]] constexpr const task_memory& current(const Env& env) const {
    return env.waker != no_task ? tasks[env.waker] : idle_tasks[env.this_cpu];
  }
  friend constexpr bool operator==(const wake_state&, const wake_state&) = default;
};

namespace detail {
// kernel: available_idle_cpu() || sched_idle_cpu(), the fast path's test for "idle".
template <class P, limits_pack L>
[[nodiscard]] constexpr bool idle_or_sched_idle(const wake_env<P, L>& env, std::size_t cpu) {
  return env.cpu(cpu).is_idle() || env.cpu(cpu).is_sched_idle();
}
}  // namespace detail

/// kernel: util_fits_cpu() with uclamp unused (its default): 1 when `util` fits the CPU's
/// capacity with 20% headroom, else 0.
[[nodiscard]] constexpr int util_fits_cpu(std::uint64_t util, const cpu_state& c) noexcept {
  return fits_capacity(util, c.capacity) ? 1 : 0;
}

/// kernel: asym_fits_cpu(): on machines with asymmetric capacity, the task must fit the CPU.
template <class P, limits_pack L>
[[nodiscard]] constexpr bool asym_fits_cpu(const wake_env<P, L>& env, std::size_t cpu) {
  if (!env.tree->asym_cpucapacity_active()) return true;
  const task_state<L>& p = env.p();
  return util_fits_cpu(p.util > p.util_est ? p.util : p.util_est, env.cpu(cpu)) > 0;
}

/// kernel: record_wakee(): the waker's wakee flips halve once a second, and count one more
/// when it wakes another task than last time.
template <class P, limits_pack L>
constexpr void record_wakee(const wake_env<P, L>& env, wake_state<L>& st) {
  auto& w = st.current(env);
  if (env.jiffies > w.wakee_flip_decay_ts + static_cast<jiffies_t>(P::balance_tuning.hz)) {
    w.wakee_flips >>= 1;
    w.wakee_flip_decay_ts = env.jiffies;
  }
  if (w.last_wakee != env.task) {
    w.last_wakee = env.task;
    ++w.wakee_flips;
  }
}

/// kernel: wake_wide(): a waker of many (flips of at least the LLC size in one partner, and
/// that many times more in the other) spreads its wakees instead of pulling them close.
template <class P, limits_pack L>
[[nodiscard]] constexpr bool wake_wide(const wake_env<P, L>& env, const wake_state<L>& st) {
  std::uint32_t master = st.current(env).wakee_flips;
  std::uint32_t slave = st.tasks[env.task].wakee_flips;
  const auto factor = static_cast<std::uint32_t>(env.tree->llc_size(env.this_cpu));
  if (master < slave) {
    const std::uint32_t t = master;
    master = slave;
    slave = t;
  }
  return !(slave < factor || master < slave * factor);
}

/// kernel: wake_affine_idle(): an idle waker CPU sharing prev's cache (prev itself if idle
/// too), the waker's CPU for a sync wakeup of its only task, an idle prev; else no_cpu.
template <class P, limits_pack L>
[[nodiscard]] constexpr std::size_t wake_affine_idle(const wake_env<P, L>& env, std::size_t this_cpu,
                                                     std::size_t prev_cpu, bool sync) {
  if (env.cpu(this_cpu).is_idle() && env.tree->cpus_share_cache(this_cpu, prev_cpu))
    return env.cpu(prev_cpu).is_idle() ? prev_cpu : this_cpu;
  if (sync && env.cpu(this_cpu).nr_running == 1) return this_cpu;  // no delayed dequeue to discount
  if (env.cpu(prev_cpu).is_idle()) return prev_cpu;
  return no_cpu;
}

/// kernel: wake_affine_weight(): the waker's CPU when its load with the task, per capacity
/// of the other, is below prev's without it (prev favoured by half of imbalance_pct with
/// WA_BIAS). The kernel computes in s64 from unsigned longs; so does this.
template <class P, limits_pack L>
[[nodiscard]] constexpr std::size_t wake_affine_weight(const wake_env<P, L>& env,
                                                       const typename domain_tree<L>::domain& sd,
                                                       std::size_t this_cpu, std::size_t prev_cpu, bool sync) {
  // Unsigned arithmetic wrapped back into s64, as the kernel's mixed s64/unsigned long does.
  auto s64 = [](std::uint64_t v) { return static_cast<std::int64_t>(v); };
  auto u64 = [](std::int64_t v) { return static_cast<std::uint64_t>(v); };
  std::int64_t this_eff_load = s64(env.cpu(this_cpu).load);
  if (sync) {
    // The idle task of a CPU woken from idle carries no load.
    const std::uint64_t current_load = env.waker != no_task ? env.snap->task_at(env.waker).h_load : 0;
    if (current_load > u64(this_eff_load)) return this_cpu;
    this_eff_load = s64(u64(this_eff_load) - current_load);
  }
  const std::uint64_t task_load = env.p().h_load;
  this_eff_load = s64(u64(this_eff_load) + task_load);
  if (env.tun.wa_bias) this_eff_load *= 100;
  this_eff_load = s64(u64(this_eff_load) * env.cpu(prev_cpu).capacity);

  std::int64_t prev_eff_load = s64(env.cpu(prev_cpu).load);
  prev_eff_load = s64(u64(prev_eff_load) - task_load);
  if (env.tun.wa_bias) prev_eff_load *= 100 + (sd.imbalance_pct - 100) / 2;
  prev_eff_load = s64(u64(prev_eff_load) * env.cpu(this_cpu).capacity);
  // Sync: at equal loads, leave stacking on the waker to select_idle_sibling().
  if (sync) prev_eff_load += 1;
  return this_eff_load < prev_eff_load ? this_cpu : no_cpu;
}

/// kernel: wake_affine(): the waker's CPU if the idle or the weight test says so, else prev.
template <class P, limits_pack L>
[[nodiscard]] constexpr std::size_t wake_affine(const wake_env<P, L>& env, const typename domain_tree<L>::domain& sd,
                                                std::size_t this_cpu, std::size_t prev_cpu, bool sync) {
  std::size_t target = no_cpu;
  if (env.tun.wa_idle) target = wake_affine_idle(env, this_cpu, prev_cpu, sync);
  if (env.tun.wa_weight && target == no_cpu) target = wake_affine_weight(env, sd, this_cpu, prev_cpu, sync);
  return target == this_cpu ? this_cpu : prev_cpu;
}

/// kernel: select_idle_smt(): an idle SMT sibling of `target` the task may use, in `sd`
/// (the LLC domain).
template <class P, limits_pack L>
[[nodiscard]] constexpr std::size_t select_idle_smt(const wake_env<P, L>& env, const typename domain_tree<L>::domain& sd,
                                                    std::size_t target) {
  const auto& tree = *env.tree;
  const auto& llc = tree.span(sd);
  for (std::size_t cpu : tree.smt_mask(target).within(tree.span_first(sd), tree.span_last(sd))) {
    if (cpu == target || !llc.test(cpu) || !env.p().allowed.test(cpu)) continue;
    if (detail::idle_or_sched_idle(env, cpu)) return cpu;
  }
  return no_cpu;
}

/// kernel: select_idle_core(): `core` if every SMT sibling of it is idle; remembers the
/// first idle (or SCHED_IDLE) CPU of `cpus` seen in `idle_cpu`; drops a busy core's
/// siblings from `cpus`. [lo, hi] bounds the LLC the scan is in: mask work stays there.
template <class P, limits_pack L>
constexpr std::size_t select_idle_core(const wake_env<P, L>& env, std::size_t core, cpumask<L::max_cpus>& cpus,
                                       std::size_t& idle_cpu, std::size_t lo, std::size_t hi) {
  bool idle = true;
  for (std::size_t cpu : env.tree->smt_mask(core).within(lo, hi)) {
    if (!env.cpu(cpu).is_idle()) {
      idle = false;
      if (idle_cpu == no_cpu) {
        if (env.cpu(cpu).is_sched_idle() && cpus.test(cpu)) {
          idle_cpu = cpu;
          break;
        }
        continue;
      }
      break;
    }
    if (idle_cpu == no_cpu && cpus.test(cpu)) idle_cpu = cpu;
  }
  if (idle) return core;
  cpus.subtract_within(env.tree->smt_mask(core), lo, hi);
  return no_cpu;
}

/// kernel: select_idle_cpu(): scan the LLC (`llc_k` is target's LLC domain) from target + 1,
/// wrapping: for a whole idle core when the LLC has one, else for an idle CPU, at most
/// SIS_UTIL's nr_idle_scan of them; the target's cluster first on cluster machines. A scan
/// for cores that finds none clears the LLC's hint.
template <class P, limits_pack L>
constexpr std::size_t select_idle_cpu(const wake_env<P, L>& env, wake_state<L>& st, std::size_t llc_k,
                                      bool has_idle_core, std::size_t target) {
  const auto& tree = *env.tree;
  const auto& sd = tree.domain_of(target, llc_k);
  // Every mask below lies in the LLC's span: work on its words only, so the cost follows the
  // LLC, not the machine (the kernel's masks are as wide as nr_cpu_ids).
  const std::size_t lo = tree.span_first(sd);
  const std::size_t hi = tree.span_last(sd);
  auto cpus = cpumask<L::max_cpus>::and_within(tree.span(sd), env.p().allowed, lo, hi);
  std::size_t idle_cpu = no_cpu;
  std::int64_t nr = 0x7FFFFFFF;
  if (env.tun.sis_util) {
    // "because !--nr is the condition to stop scan"; an LLC with no scan depth left is
    // unlikely to have an idle CPU.
    nr = st.llc[tree.llc_id(target)].nr_idle_scan + 1;
    if (nr == 1) return no_cpu;
  }
  if (tree.cluster_active()) {
    const auto& sg = tree.group_of(sd, 0);
    if (sg.flags.has(sd_flag::cluster)) {
      for (std::size_t cpu : tree.span(sg).wrap(target + 1, lo, hi)) {
        if (!cpus.test(cpu)) continue;
        if (has_idle_core) {
          const std::size_t i = select_idle_core(env, cpu, cpus, idle_cpu, lo, hi);
          if (i != no_cpu) return i;
        } else {
          if (--nr <= 0) return no_cpu;
          if (detail::idle_or_sched_idle(env, cpu)) return cpu;
        }
      }
      cpus.subtract_within(tree.span(sg), lo, hi);
    }
  }
  for (std::size_t cpu : cpus.wrap(target + 1, lo, hi)) {
    // select_idle_core() may drop CPUs of `cpus` not reached yet: skip them as the kernel's
    // for_each_cpu_wrap() does, reading the mask as it goes.
    if (!cpus.test(cpu)) continue;
    if (has_idle_core) {
      const std::size_t i = select_idle_core(env, cpu, cpus, idle_cpu, lo, hi);
      if (i != no_cpu) return i;
    } else {
      if (--nr <= 0) return no_cpu;
      if (detail::idle_or_sched_idle(env, cpu)) {
        idle_cpu = cpu;
        break;
      }
    }
  }
  if (has_idle_core) st.llc[tree.llc_id(target)].has_idle_cores = false;
  return idle_cpu;
}

/// kernel: select_idle_capacity(): on asymmetric machines, the first idle CPU of the domain
/// (from target, wrapping) the task fits; failing that, the idle CPU of most capacity.
template <class P, limits_pack L>
[[nodiscard]] constexpr std::size_t select_idle_capacity(const wake_env<P, L>& env, std::size_t asym_k,
                                                         std::size_t target) {
  const auto& tree = *env.tree;
  const auto& sd = tree.domain_of(target, asym_k);
  const std::size_t lo = tree.span_first(sd);
  const std::size_t hi = tree.span_last(sd);
  const auto cpus = cpumask<L::max_cpus>::and_within(tree.span(sd), env.p().allowed, lo, hi);
  const task_state<L>& p = env.p();
  const std::uint64_t task_util = p.util > p.util_est ? p.util : p.util_est;
  std::uint64_t best_cap = 0;
  int best_fits = 0;
  std::size_t best_cpu = no_cpu;
  for (std::size_t cpu : cpus.wrap(target, lo, hi)) {
    const std::uint64_t cpu_cap = env.cpu(cpu).capacity;
    if (!detail::idle_or_sched_idle(env, cpu)) continue;
    const int fits = util_fits_cpu(task_util, env.cpu(cpu));
    if (fits > 0) return cpu;
    // (fits < 0 needs a uclamp_min, which is never set here.)
    if (fits < best_fits || (fits == best_fits && cpu_cap > best_cap)) {
      best_cap = cpu_cap;
      best_cpu = cpu;
      best_fits = fits;
    }
  }
  return best_cpu;
}

/// kernel: select_idle_sibling(): an idle CPU near `target` (the waker's or the previous
/// CPU), in this order: target, prev, a per-CPU kthread's own CPU, the recently used CPU,
/// then a scan of the LLC (of the asymmetric-capacity domain on such machines).
template <class P, limits_pack L>
constexpr placement_decision select_idle_sibling(const wake_env<P, L>& env, wake_state<L>& st, std::size_t prev,
                                                 std::size_t target) {
  const auto& tree = *env.tree;
  const task_state<L>& p = env.p();
  auto decided = [&](std::size_t cpu, placement_branch why) { return placement_decision{cpu, why, target}; };

  if (detail::idle_or_sched_idle(env, target) && asym_fits_cpu(env, target))
    return decided(target, placement_branch::idle_target);

  // If the previous CPU is cache affine and idle, don't be stupid.
  std::size_t prev_aff = no_cpu;
  if (prev != target && tree.cpus_share_cache(prev, target) && detail::idle_or_sched_idle(env, prev) &&
      asym_fits_cpu(env, prev)) {
    if (!tree.cluster_active() || tree.cpus_share_resources(prev, target))
      return decided(prev, placement_branch::idle_prev);
    prev_aff = prev;
  }

  // A per-CPU kthread (an IO completion, say) waking the task on the CPU it runs on.
  if (env.waker != no_task && (env.flags & wf::from_interrupt) == 0) {
    const task_state<L>& current = env.snap->task_at(env.waker);
    if (current.kthread && current.allowed.weight() == 1 && prev == env.this_cpu &&
        env.cpu(env.this_cpu).nr_running <= 1 && asym_fits_cpu(env, prev))
      return decided(prev, placement_branch::kthread_stack);
  }

  // A recently used CPU as a potential idle candidate.
  std::size_t recent_used_cpu = st.tasks[env.task].recent_used_cpu;
  st.tasks[env.task].recent_used_cpu = prev;
  if (recent_used_cpu != prev && recent_used_cpu != target && recent_used_cpu != no_cpu &&
      tree.cpu_map().test(recent_used_cpu) && tree.cpus_share_cache(recent_used_cpu, target) &&
      detail::idle_or_sched_idle(env, recent_used_cpu) && p.allowed.test(recent_used_cpu) &&
      asym_fits_cpu(env, recent_used_cpu)) {
    if (!tree.cluster_active() || tree.cpus_share_resources(recent_used_cpu, target))
      return decided(recent_used_cpu, placement_branch::idle_recent);
  } else {
    recent_used_cpu = no_cpu;
  }

  // Asymmetric capacity: the domain of interest is sd_asym_cpucapacity, not sd_llc.
  if (tree.asym_cpucapacity_active()) {
    const int k = tree.sd_asym_cpucapacity(target);
    if (k >= 0) {
      const std::size_t i = select_idle_capacity(env, static_cast<std::size_t>(k), target);
      return i != no_cpu ? decided(i, placement_branch::idle_capacity) : decided(target, placement_branch::capacity_target);
    }
  }

  const int llc_k = tree.sd_llc(target);
  if (llc_k < 0) return decided(target, placement_branch::no_llc);
  const auto& llc_sd = tree.domain_of(target, static_cast<std::size_t>(llc_k));

  bool has_idle_core = false;
  if (tree.smt_active()) {
    has_idle_core = st.llc[tree.llc_id(target)].has_idle_cores;
    if (!has_idle_core && tree.cpus_share_cache(prev, target)) {
      const std::size_t i = select_idle_smt(env, llc_sd, prev);
      if (i != no_cpu) return decided(i, placement_branch::idle_smt);
    }
  }

  const std::size_t i = select_idle_cpu(env, st, static_cast<std::size_t>(llc_k), has_idle_core, target);
  if (i != no_cpu) {
    // A scan for cores returns a whole idle core, or else the first idle CPU it saw.
    bool core = has_idle_core;
    for (std::size_t sibling : tree.smt_mask(i)) core = core && env.cpu(sibling).is_idle();
    return decided(i, core ? placement_branch::idle_core : placement_branch::idle_cpu);
  }

  // On cluster machines prev or the recent CPU may still be idle outside target's cluster.
  if (prev_aff != no_cpu) return decided(prev_aff, placement_branch::cluster_prev);
  if (recent_used_cpu != no_cpu) return decided(recent_used_cpu, placement_branch::cluster_recent);
  return decided(target, placement_branch::busy_target);
}

/// kernel: __update_idle_core(): when `cpu` goes idle and every SMT sibling is idle too,
/// its LLC has an idle core.
template <limits_pack L>
constexpr void update_idle_core(const domain_tree<L>& tree, const snapshot<L>& snap, std::size_t cpu,
                                wake_state<L>& st) {
  if (!tree.smt_active() || tree.sd_llc(cpu) < 0) return;  // no sd_llc_shared to write
  auto& shared = st.llc[tree.llc_id(cpu)];
  if (shared.has_idle_cores) return;
  for (std::size_t sibling : tree.smt_mask(cpu))
    if (sibling != cpu && !snap.cpus[sibling].is_idle()) return;
  shared.has_idle_cores = true;
}

/// kernel: update_idle_cpu_scan(): at a periodic balance of an LLC-wide domain, SIS_UTIL's
/// scan depth from the LLC's summed utilization (the equations of the kernel's comment):
///   x = sum_util / llc_weight                                           [3]
///   y = 1024 - min(x² · pct² / (10000 · 1024), 1024)                    [4]
///   nr_idle_scan = y · llc_weight / 1024                                [2]
/// so the scan stops once the LLC is 100/pct (85 % at pct 117) utilized.
template <class P, limits_pack L>
constexpr void update_idle_cpu_scan(const lb_env<P, L>& env, wake_state<L>& st) {
  if (!P::placement_tuning.sis_util || env.idle == cpu_idle_type::newly_idle) return;
  const auto& tree = *env.tree;
  const std::size_t llc_weight = tree.llc_size(env.dst_cpu);
  if (env.sd->span_weight != llc_weight || tree.sd_llc(env.dst_cpu) < 0) return;
  // update_sd_lb_stats()'s sum of group_util: cpu_util_cfs() over the CPUs still balanced.
  std::uint64_t sum_util = 0;
  for (std::size_t i : env.cpus) sum_util += cpu_util_cfs(env.cpu(i));
  const std::uint64_t x = sum_util / llc_weight;
  const std::uint64_t pct = env.sd->imbalance_pct;
  std::uint64_t tmp = x * x * pct * pct / (10000 * sched_capacity_scale);
  if (tmp > sched_capacity_scale) tmp = sched_capacity_scale;
  const std::uint64_t y = (sched_capacity_scale - tmp) * llc_weight / sched_capacity_scale;
  st.llc[tree.llc_id(env.dst_cpu)].nr_idle_scan = static_cast<std::int32_t>(y);
}

}  // namespace balancekit
