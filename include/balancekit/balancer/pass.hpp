/// \file
/// One balancing attempt of one domain, in the three parts the kernel's function has: the
/// pull loop, the failure bookkeeping (and the active balance it may escalate to), and the
/// back-off of the balance interval.
///
/// kernel: sched_balance_rq() (ex load_balance), active_load_balance_cpu_stop(),
/// detach_one_task() — kernel/sched/fair.c (v6.16).
///
/// Every decision is the pack's: `should_balance`, `src_group`, `src_rq`, `detach`,
/// `active_balance`, and `can_migrate` for the stopper's task; the placement family observes
/// each attempt that gathers statistics (kernel: update_idle_cpu_scan() at the end of
/// update_sd_lb_stats()). What is left here is the kernel's control flow between them.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>

#include <balancekit/balancer/lb_env.hpp>
#include <balancekit/balancer/result.hpp>
#include <balancekit/balancer/state.hpp>
#include <balancekit/core/index.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/core/units.hpp>
#include <balancekit/domains/domain_tree.hpp>
#include <balancekit/policy/pack.hpp>
#include <balancekit/policy/task_selection.hpp>
#include <balancekit/stats/snapshot.hpp>

namespace balancekit::detail {

template <class P, limits_pack L>
struct balance_pass {
  using tree_type = domain_tree<L>;
  using env_type = lb_env<P, L>;
  static constexpr std::uint32_t max_pinned_interval = 512;  ///< kernel: MAX_PINNED_INTERVAL (ms)

  /// kernel: sched_balance_rq() for `cpu`'s `k`-th domain. Returns the number of tasks
  /// pulled; migrations are appended to `out`.
  static constexpr int run(const tree_type& tree, std::size_t cpu, std::size_t k, cpu_idle_type idle, nanoseconds now,
                           snapshot<L>& snap, balance_state<P, L>& state, balance_result<L>& out,
                           bool& continue_balancing) {
    env_type env = make_lb_env<P>(tree, snap, &state, cpu, k, idle, now);
    // The balancing CPU's own domain: env.dst_cpu may move to another CPU of its group.
    domain_balance_state& ds = state.cpus[cpu].sd[k];
    ++out.domains_balanced;
    const pull_result pulled = pull(env, snap, state, out, continue_balancing);
    if (pulled.path == exit_path::done) {
      switch (settle(env, cpu, ds, pulled, snap, state, out)) {
        case outcome::over: return pulled.moved;
        case outcome::pushed: return 0;
        case outcome::one_pinned: break;
      }
    }
    back_off(env, ds, pulled.path, state);
    return 0;
  }

private:
  // How the pull loop ended (kernel: the labels it jumps to).
  enum class exit_path { done, balanced, all_pinned };
  struct pull_result {
    exit_path path = exit_path::done;
    int moved = 0;
    std::size_t busiest = no_cpu;
  };

  // Affinity stopped a pull: tell (or clear) the parent level's group (kernel: sgc->imbalance).
  static constexpr void set_parent_imbalance(const env_type& env, balance_state<P, L>& state, bool on) {
    if (env.parent != nullptr) state.group_imbalance.set(env.parent->level, env.tree->group_of(*env.parent, 0).id, on);
  }

  static constexpr migration make_migration(const snapshot<L>& snap, std::uint32_t t, std::size_t src, std::size_t dst,
                                            std::size_t level, migration_reason reason, migration_type type,
                                            std::uint64_t src_load, std::uint64_t dst_load) {
    return migration{t,
                     snap.task_at(t).id,
                     static_cast<std::uint16_t>(src),
                     static_cast<std::uint16_t>(dst),
                     static_cast<std::uint8_t>(level),
                     reason,
                     type,
                     src_load,
                     dst_load};
  }

  // The pull loop: the kernel's `redo` (drop an all-pinned source and look again) around
  // `more_balance` (retry to another CPU of our group what affinity kept from us).
  static constexpr pull_result pull(env_type& env, snapshot<L>& snap, balance_state<P, L>& state,
                                    balance_result<L>& out, bool& continue_balancing) {
    const migration_reason reason =
        env.idle == cpu_idle_type::newly_idle ? migration_reason::newidle : migration_reason::periodic;
    pull_result r;
    for (;;) {  // kernel: the `redo` label
      if (!P::should_balance::check(env)) {
        continue_balancing = false;
        r.path = exit_path::balanced;
        return r;
      }
      // The placement family sees the statistics' inputs (Linux's: the LLC's scan depth).
      P::placement::observe_balance(std::as_const(env), state.placement);
      const src_group_decision d = P::src_group::find(std::as_const(env));
      if (env.parent == nullptr) snap.overloaded = d.overloaded;  // kernel: set_rd_overloaded()
      env.apply(d);
      if (d.group == no_group) {
        r.path = exit_path::balanced;
        return r;
      }
      r.busiest = P::src_rq::find(std::as_const(env), static_cast<std::size_t>(d.group));
      if (r.busiest == no_cpu) {
        r.path = exit_path::balanced;
        return r;
      }
      env.src_cpu = r.busiest;
      env.flags |= lbf::all_pinned;
      if (snap.cpus[r.busiest].nr_running <= 1) return r;
      env.loop_max = std::min(env.tun.nr_migrate, snap.cpus[r.busiest].nr_running);
      for (;;) {  // kernel: the `more_balance` label
        if (out.migrations.size() + detached_tasks::capacity() > balance_result<L>::capacity) break;
        detached_tasks detached;
        std::uint64_t src_load = snap.cpus[r.busiest].load;
        std::uint64_t dst_load = snap.cpus[env.dst_cpu].load;
        const std::size_t n = P::detach::detach(env, snap, detached);
        if (n != 0) {
          attach_tasks(snap, detached, env.dst_cpu);
          for (std::uint32_t t : detached) {
            out.migrations.push_back(
                make_migration(snap, t, r.busiest, env.dst_cpu, env.sd->level, reason, env.mtype, src_load, dst_load));
            src_load -= std::min(src_load, snap.task_at(t).load);
            dst_load += snap.task_at(t).load;
          }
          r.moved += static_cast<int>(n);
        }
        // Tasks that could not come here may go to another CPU of our group.
        if ((env.flags & lbf::dst_pinned) != 0 && env.imbalance > 0) {
          env.cpus.reset(env.dst_cpu);
          env.dst_cpu = env.new_dst_cpu;
          env.flags &= ~lbf::dst_pinned;
          env.loop = 0;
          continue;
        }
        break;
      }
      if ((env.flags & lbf::some_pinned) != 0 && env.imbalance > 0) set_parent_imbalance(env, state, true);
      if ((env.flags & lbf::all_pinned) == 0) return r;
      env.cpus.reset(r.busiest);
      if (env.cpus.subset_of(env.dst_grpmask)) {
        r.path = exit_path::all_pinned;
        return r;
      }
      env.loop = 0;  // redo without that CPU
    }
  }

  // What the failure bookkeeping leaves to do.
  enum class outcome {
    over,        ///< the attempt is over, with the tasks the pull moved
    pushed,      ///< the stopper ran an active balance
    one_pinned,  ///< the running task may not come here: back off (kernel: out_one_pinned)
  };

  // The failure bookkeeping after a pull that found a source: count a failed attempt and
  // maybe escalate to an active balance towards `cpu`, the balancing CPU.
  static constexpr outcome settle(env_type& env, std::size_t cpu, domain_balance_state& ds, const pull_result& pulled,
                                  snapshot<L>& snap, balance_state<P, L>& state, balance_result<L>& out) {
    if (pulled.moved != 0) {
      ds.nr_balance_failed = 0;
    } else {
      if (env.idle != cpu_idle_type::newly_idle && env.mtype != migration_type::migrate_misfit) ++ds.nr_balance_failed;
      env.nr_balance_failed = ds.nr_balance_failed;
      if (P::active_balance::needed(std::as_const(env))) {
        const std::uint32_t curr = snap.curr(pulled.busiest);
        if (curr != no_task && !snap.task_at(curr).allowed.test(cpu)) return outcome::one_pinned;
        env.flags &= ~lbf::all_pinned;
        ds.balance_interval = env.sd->min_interval;
        active_load_balance_cpu_stop(*env.tree, pulled.busiest, cpu, env.mtype, env.now, snap, state, out);
        return outcome::pushed;
      }
    }
    ds.balance_interval = env.sd->min_interval;  // we were unbalanced: balance again soon
    return outcome::over;
  }

  // The back-off after a balanced or pinned attempt (kernel: out_balanced, out_all_pinned,
  // out_one_pinned): the balance interval doubles, up to max_interval, or up to
  // MAX_PINNED_INTERVAL when every task was pinned.
  static constexpr void back_off(const env_type& env, domain_balance_state& ds, exit_path path,
                                 balance_state<P, L>& state) {
    if (path == exit_path::balanced && (env.flags & lbf::all_pinned) == 0) set_parent_imbalance(env, state, false);
    if (path == exit_path::balanced || path == exit_path::all_pinned) ds.nr_balance_failed = 0;
    // Newidle and misfit balances do not back off.
    if (env.idle == cpu_idle_type::newly_idle || env.mtype == migration_type::migrate_misfit) return;
    if (((env.flags & lbf::all_pinned) != 0 && ds.balance_interval < max_pinned_interval) ||
        ds.balance_interval < env.sd->max_interval)
      ds.balance_interval *= 2;
  }

  // kernel: active_load_balance_cpu_stop(): on `busiest`, push one task to `target` through
  // the lowest of target's domains that spans busiest, hotness ignored.
  static constexpr void active_load_balance_cpu_stop(const tree_type& tree, std::size_t busiest, std::size_t target,
                                                     migration_type mtype, nanoseconds now, snapshot<L>& snap,
                                                     balance_state<P, L>& state, balance_result<L>& out) {
    // The stopper itself counts as running: one fair task is enough to push.
    if (snap.cpus[busiest].nr_running == 0) return;
    for (std::size_t k = 0; k < tree.nr_domains(target); ++k) {
      const auto& sd = tree.domain_of(target, k);
      if (!tree.span(sd).test(busiest)) continue;
      env_type env = make_lb_env<P>(tree, snap, &state, target, k, cpu_idle_type::idle, now);
      env.src_cpu = busiest;
      env.flags = lbf::active_lb;
      env.mtype = mtype;  // the LLC pass's push must take a task that prefers target's LLC
      // kernel: detach_one_task(): the first movable task from the tail.
      for (std::uint32_t t = snap.tail(busiest); t != no_task; t = snap.prev(t)) {
        if (!P::can_migrate::check(env, t)) continue;
        const migration m = make_migration(snap, t, busiest, target, sd.level, migration_reason::active, mtype,
                                           snap.cpus[busiest].load, snap.cpus[target].load);
        snap.move_task(t, target);
        out.migrations.push_back(m);
        state.cpus[target].sd[k].nr_balance_failed = 0;
        break;
      }
      return;
    }
  }
};

}  // namespace balancekit::detail
