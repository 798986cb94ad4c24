/// \file
/// The Wasted Cores fixes (Lozi et al., EuroSys 2016) as alternative members: the
/// "min-load" group comparison (§3.1, the Group Imbalance bug) for `src_group`, and the
/// idle-first wakeup (§3.3, Overload-on-Wakeup) for `placement`.
///
/// The paper's point: comparing groups by *average* load hides idle cores in a group that
/// also holds one heavy task. The fix compares each group's *least* loaded CPU instead:
/// the local group pulls from a group whose least loaded CPU is busier than its own, and
/// the imbalance is half the gap between the busiest group's most loaded CPU and the
/// local group's least loaded one.
///
/// The released patch (jplozi/wastedcores, patches/group_imbalance.patch, Linux 4.1)
/// computes min/max load per group and forces a balance when `local.min < busiest.min`,
/// with imbalance `(busiest.max - local.min) / 2`. Its update_sd_pick_busiest() change
/// ends up taking the last candidate group; this rule takes the group with the largest
/// minimum load (the paper's stated intent). The two agree whenever a domain has two
/// groups, as in the paper's scenario.
#pragma once

#include <cstddef>
#include <cstdint>

#include <balancekit/balancer/lb_env.hpp>
#include <balancekit/balancer/wake_env.hpp>
#include <balancekit/core/index.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/domains/domain_tree.hpp>
#include <balancekit/policy/pack.hpp>
#include <balancekit/policy/placement.hpp>
#include <balancekit/policy/wakeup.hpp>
#include <balancekit/stats/snapshot.hpp>

namespace balancekit {
namespace wasted_cores {

/// Per-group extremes of CPU load.
struct group_load_range {
  std::uint64_t min_load = ~std::uint64_t{0};
  std::uint64_t max_load = 0;
  std::uint32_t sum_h_nr_running = 0;
};

template <class P, limits_pack L>
[[nodiscard]] constexpr group_load_range load_range(const lb_env<P, L>& env, std::size_t g) {
  group_load_range r;
  const auto& tree = *env.tree;
  for (std::size_t i : tree.cpus_of(tree.group_of(*env.sd, g))) {
    if (!env.cpus.test(i)) continue;
    const cpu_state& c = env.cpu(i);
    if (c.load < r.min_load) r.min_load = c.load;
    if (c.load > r.max_load) r.max_load = c.load;
    r.sum_h_nr_running += c.h_nr_runnable;
  }
  return r;
}

/// The min-load `src_group` rule: the busiest group and a load imbalance, or balanced.
/// (It keeps no sgc->imbalance flags and no NUMA filter.)
struct min_load_src_group {
  template <class P, limits_pack L>
  [[nodiscard]] static constexpr src_group_decision find(const lb_env<P, L>& env) {
    src_group_decision d = src_group_decision::keep(env);
    const group_load_range local = load_range(env, 0);
    int busiest = no_group;
    group_load_range best;
    for (std::size_t g = 1; g < env.sd->nr_groups; ++g) {
      const group_load_range r = load_range(env, g);
      if (r.sum_h_nr_running == 0) continue;
      if (busiest == no_group || r.min_load > best.min_load) {
        busiest = static_cast<int>(g);
        best = r;
      }
    }
    if (busiest == no_group || local.min_load >= best.min_load) return d;
    d.type = migration_type::migrate_load;
    d.imbalance = best.max_load > local.min_load ? static_cast<std::int64_t>((best.max_load - local.min_load) / 2) : 0;
    d.group = d.imbalance > 0 ? busiest : no_group;
    return d;
  }
};

/// The Overload-on-Wakeup fix (§3.3) as a placement policy: a waking task goes to its
/// previous CPU if that is idle, else to the allowed CPU idle the longest anywhere on the
/// machine (the earliest `idle_stamp`; 0, never stamped, counts as longest; ties to the
/// lowest id), else where Linux would put it. Linux's own search stops at the LLC of the
/// target, so with that LLC busy a wakee waits on a busy CPU while another node idles
/// until a periodic balance (I18 extended past the LLC). Forks, execs, WF_CURRENT_CPU and
/// the wakee bookkeeping stay Linux's. O(CPUs) per wakeup that finds prev busy.
struct idle_first_placement {
  using family = placement_family;
  template <limits_pack L>
  using state = wake_state<L>;

  template <class P, limits_pack L>
  static constexpr placement_decision select(const wake_env<P, L>& env, wake_state<L>& st) {
    const task_state<L>& p = env.p();
    // Forks, execs and WF_CURRENT_CPU (the waker asks for its own CPU) stay Linux's.
    if ((env.flags & wf::ttwu) == 0 || ((env.flags & wf::current_cpu) != 0 && p.allowed.test(env.this_cpu)))
      return linux_placement::select(env, st);
    auto idle = [&](std::size_t c) { return env.cpu(c).is_idle() || env.cpu(c).is_sched_idle(); };
    std::size_t best = p.allowed.test(env.prev_cpu) && idle(env.prev_cpu) ? env.prev_cpu : no_cpu;
    if (best != no_cpu) {
      record_wakee(env, st);
      return {best, placement_branch::idle_prev, env.prev_cpu};
    }
    for (std::size_t c : env.tree->cpu_map())
      if (p.allowed.test(c) && idle(c) && (best == no_cpu || env.cpu(c).idle_stamp < env.cpu(best).idle_stamp)) best = c;
    if (best != no_cpu) {
      record_wakee(env, st);
      return {best, placement_branch::idle_longest, env.prev_cpu};
    }
    return linux_placement::select(env, st);
  }
  template <limits_pack L>
  static constexpr void note_idle(const domain_tree<L>& tree, const snapshot<L>& snap, std::size_t cpu,
                                  wake_state<L>& st) {
    linux_placement::note_idle(tree, snap, cpu, st);
  }
  template <class P, limits_pack L>
  static constexpr void observe_balance(const lb_env<P, L>& env, wake_state<L>& st) {
    linux_placement::observe_balance(env, st);
  }
};

}  // namespace wasted_cores

/// Linux's rules with the Wasted Cores min-load busiest-group rule.
struct wasted_cores_rules : rules<linux_defaults, with_src_group<wasted_cores::min_load_src_group>> {};

}  // namespace balancekit
