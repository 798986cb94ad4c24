/// \file
/// Which tasks leave the busiest run queue, and how many.
///
/// kernel: can_migrate_task(), task_hot(), detach_tasks(), attach_tasks(),
/// task_fits_cpu() — kernel/sched/fair.c (v6.16).
///
/// Two rules of the pack live here: `can_migrate` (may this task move to the destination?)
/// and `detach` (take tasks off the source). Linux's detach asks the pack's `can_migrate`,
/// and so does the active-balance stopper, so one changed task check serves both.
///
/// NUMA locality (migrate_degrades_locality()) is the pack's NUMA member's, when it has an
/// active one. Not modelled: delayed-dequeue tasks, CFS bandwidth throttling, per-CPU
/// kthreads (give them a one-CPU affinity), proxy execution, core scheduling cookies, and
/// the CACHE_HOT_BUDDY test (the snapshot carries no next-buddy hint; NEXT_BUDDY is off by
/// default).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include <balancekit/balancer/lb_env.hpp>
#include <balancekit/core/index.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/core/static_vector.hpp>
#include <balancekit/detail/contracts.hpp>
#include <balancekit/domains/flags.hpp>
#include <balancekit/stats/group_stats.hpp>
#include <balancekit/stats/snapshot.hpp>

namespace balancekit {

/// kernel: task_util_est().
template <limits_pack L>
[[nodiscard]] constexpr std::uint64_t task_util_est(const task_state<L>& p) noexcept {
  return p.util > p.util_est ? p.util : p.util_est;
}

/// kernel: task_fits_cpu() without uclamp: the task's utilization fits the CPU with 20% headroom.
template <limits_pack L>
[[nodiscard]] constexpr bool task_fits_cpu(const task_state<L>& p, const cpu_state& c) noexcept {
  return fits_capacity(task_util_est(p), c.capacity);
}

/// kernel: update_misfit_status() for the task running on a CPU (on machines with
/// asymmetric capacity): its h_load, at least 1, when it does not fit the CPU, may run
/// elsewhere, and the CPU is not already the biggest it may use (`max_allowed_capacity`,
/// the kernel's p->max_allowed_capacity); else 0.
template <limits_pack L>
[[nodiscard]] constexpr std::uint64_t misfit_task_load(const task_state<L>& p, const cpu_state& c,
                                                       std::uint64_t max_allowed_capacity) noexcept {
  if (p.allowed.weight() <= 1 || c.arch_capacity == max_allowed_capacity || task_fits_cpu(p, c)) return 0;
  return p.h_load > 1 ? p.h_load : 1;
}

/// kernel: task_hot(): the task ran on its CPU within the last `migration_cost`, so its
/// cache is probably still warm there. SMT siblings share their caches.
template <class P, limits_pack L>
[[nodiscard]] constexpr bool task_hot(const lb_env<P, L>& env, const task_state<L>& p) noexcept {
  if (env.has(sd_flag::share_cpucapacity)) return false;
  if (env.tun.migration_cost < 0) return true;
  if (env.tun.migration_cost == 0) return false;
  return env.now - p.exec_start < env.tun.migration_cost;
}

/// The Linux rule for "may task `t` (queued on env.src_cpu) move to env.dst_cpu?"
/// (kernel: can_migrate_task()). Updates the LBF_* flags and the alternative destination
/// in the environment, as the kernel does.
struct linux_can_migrate {
  template <class P, limits_pack L>
  [[nodiscard]] static constexpr bool check(lb_env<P, L>& env, std::uint32_t t) {
    const task_state<L>& p = env.snap->task_at(t);
    if (env.nr_balance_failed == 0 && env.cpu(env.dst_cpu).h_nr_runnable != 0 && !p.eligible) return false;
    if (!p.allowed.test(env.dst_cpu)) {
      env.flags |= lbf::some_pinned;
      // Remember another CPU of our group the task could go to (not when newly idle, not
      // twice in a pass, not for an active balance).
      if (env.idle == cpu_idle_type::newly_idle || (env.flags & (lbf::dst_pinned | lbf::active_lb)) != 0) return false;
      const auto candidates = env.dst_grpmask & env.cpus & p.allowed;
      if (candidates.any()) {
        env.flags |= lbf::dst_pinned;
        env.new_dst_cpu = candidates.first();
      }
      return false;
    }
    env.flags &= ~lbf::all_pinned;  // at least one task could run on dst
    // The active-balance stopper has preempted the task that was running.
    if (env.snap->running(t) && (env.flags & lbf::active_lb) == 0) return false;
    if constexpr (detail::aggregation_active<P>) {
      // Cache-aware balancing (migrate_degrades_llc()). An active balance skips it, as it
      // skips hotness, except when it pushes for the LLC pass: then too only a task that
      // prefers the destination's LLC goes.
      if (env.state != nullptr && ((env.flags & lbf::active_lb) == 0 || env.mtype == migration_type::migrate_llc_task) &&
          P::aggregation::degrades(std::as_const(env), t, env.state->aggregation))
        return false;
    }
    if ((env.flags & lbf::active_lb) != 0) return true;
    // NUMA locality first (migrate_degrades_locality()): > 0 degrades, < 0 improves, 0 no
    // opinion, which leaves it to cache hotness.
    std::int64_t degrades = 0;
    if constexpr (detail::numa_active<P>) {
      if (env.state != nullptr) degrades = P::numa::degrades_locality(std::as_const(env), t, env.state->numa);
    }
    const bool hot = degrades == 0 ? task_hot(env, p) : degrades > 0;
    return !hot || env.nr_balance_failed > env.sd->cache_nice_tries;
  }
};

/// Tasks taken off the source in one pass, in detach order (kernel: env->tasks).
using detached_tasks = static_vector<std::uint32_t, 64>;

/// The Linux rule for detaching: walk the source queue from its tail (least recently
/// queued), take what the pack's `can_migrate` lets move until the imbalance is spent,
/// `loop_max` tasks were looked at, or an idle destination would leave the source empty.
/// Tasks that cannot move are rotated to the head, as the kernel's list_move() does.
///
/// Requires: `snap` is the snapshot the environment reads (`env.snap == &snap`).
struct linux_detach {
  template <class P, limits_pack L>
  static constexpr std::size_t detach(lb_env<P, L>& env, snapshot<L>& snap, detached_tasks& out) {
    BALANCEKIT_EXPECTS(env.snap == &snap);
    const std::size_t src = env.src_cpu;
    std::size_t detached = 0;
    if (snap.cpus[src].nr_running <= 1) {
      env.flags &= ~lbf::all_pinned;
      return 0;
    }
    if (env.imbalance <= 0) return 0;
    if constexpr (detail::aggregation_active<P>) {
      if (env.state != nullptr) return detach_in_llc_order(env, snap, out);
    }
    // loop_max <= nr_migrate == loop_break, so the kernel's LBF_NEED_BREAK never fires here.
    while (snap.tail(src) != no_task && !out.full()) {
      const std::uint32_t t = snap.tail(src);
      if (!try_one(env, snap, t, out, detached)) break;
    }
    return detached;
  }

private:
  // One step of the walk: the stops, then task `t` detached or rotated to the head. False:
  // the walk is over.
  template <class P, limits_pack L>
  static constexpr bool try_one(lb_env<P, L>& env, snapshot<L>& snap, std::uint32_t t, detached_tasks& out,
                                std::size_t& detached) {
    const std::size_t src = env.src_cpu;
    if (env.dst_idle() && snap.cpus[src].nr_running <= 1) return false;  // never steal the last task
    if (++env.loop > env.loop_max) return false;
    if (!P::can_migrate::check(env, t) || !take(env, snap.task_at(t))) {
      snap.rotate_to_head(t);
      return true;
    }
    snap.dequeue_task(t);
    out.push_back(t);
    ++detached;
    if (env.tun.newidle_one_task && env.idle == cpu_idle_type::newly_idle) return false;
    return env.imbalance > 0;
  }

  // Cache-aware balancing's order: the tasks that prefer the destination's LLC first, then
  // those without a preference, those preferring another LLC, and those preferring the
  // source's last (P::aggregation::detach_rank), each class from the tail as Linux walks.
  template <class P, limits_pack L>
  static constexpr std::size_t detach_in_llc_order(lb_env<P, L>& env, snapshot<L>& snap, detached_tasks& out) {
    static_vector<std::uint32_t, L::max_tasks> order;
    static_vector<int, L::max_tasks> rank;
    for (std::uint32_t t = snap.tail(env.src_cpu); t != no_task; t = snap.prev(t)) {
      const int r = P::aggregation::detach_rank(std::as_const(env), t, env.state->aggregation);
      std::size_t j = order.size();
      order.push_back(t);
      rank.push_back(r);
      for (; j > 0 && rank[j - 1] > r; --j) {  // stable insertion
        order[j] = order[j - 1];
        rank[j] = rank[j - 1];
      }
      order[j] = t;
      rank[j] = r;
    }
    std::size_t detached = 0;
    for (const std::uint32_t t : order)
      if (out.full() || !try_one(env, snap, t, out, detached)) break;
    return detached;
  }

  // The amount test and bookkeeping of detach_tasks(); false means "skip this task".
  template <class P, limits_pack L>
  static constexpr bool take(lb_env<P, L>& env, const task_state<L>& p) {
    // kernel: shr_bound(): the bar drops by half with every failed attempt.
    const auto shr_bound = [&](std::uint64_t v) { return v >> (env.nr_balance_failed < 63 ? env.nr_balance_failed : 63); };
    switch (env.mtype) {
      case migration_type::migrate_load: {
        const std::uint64_t h_load = p.h_load > 0 ? p.h_load : 1;
        if (env.tun.lb_min && h_load < 16 && env.nr_balance_failed == 0) return false;
        if (shr_bound(h_load) > static_cast<std::uint64_t>(env.imbalance)) return false;
        env.imbalance -= static_cast<std::int64_t>(h_load);
        return true;
      }
      case migration_type::migrate_util: {
        const std::uint64_t u = task_util_est(p);
        if (shr_bound(u) > static_cast<std::uint64_t>(env.imbalance)) return false;
        env.imbalance -= static_cast<std::int64_t>(u);
        return true;
      }
      case migration_type::migrate_task:
        --env.imbalance;
        return true;
      case migration_type::migrate_misfit:
        if (task_fits_cpu(p, env.cpu(env.src_cpu))) return false;
        env.imbalance = 0;
        return true;
      case migration_type::migrate_llc_task:  // can_migrate let only a task preferring dst's LLC through
        --env.imbalance;
        return true;
    }
    return false;
  }
};

/// kernel: attach_tasks(): the detached tasks join `dst`, last detached first, so the
/// first one detached ends at the head of the destination's queue.
template <limits_pack L>
constexpr void attach_tasks(snapshot<L>& snap, const detached_tasks& tasks, std::size_t dst) {
  for (std::size_t i = tasks.size(); i-- > 0;) snap.enqueue_task(tasks[i], dst);
}

}  // namespace balancekit
