/// \file
/// Find the busiest group of a domain and how much to move from it.
///
/// kernel: sched_balance_find_src_group() (ex find_busiest_group), calculate_imbalance(),
/// sibling_imbalance(), adjust_numa_imbalance() — kernel/sched/fair.c (v6.16).
///
/// `find_src_group_decision` and `calculate_imbalance` work on statistics alone, so a
/// test can hand them any `sd_lb_stats`; `linux_src_group` gathers the statistics from a
/// snapshot first and is the `src_group` member of `linux_defaults`. All of them read the
/// environment and return their decision as a value.
///
/// The NUMA allowance inside the imbalance is the pack's `numa_imbalance` rule, reached
/// through the environment's pack, so a NUMA family changes it without copying this file.
///
/// The kernel's integer types are kept on purpose: `idle_cpus` is unsigned, so
/// `local.idle_cpus - busiest.idle_cpus` wraps when the busiest group has more idle CPUs
/// (reachable when the busiest group is overloaded inside an LLC), and
/// `adjust_numa_imbalance` takes an `int`. balancekit reproduces the resulting values
/// instead of "fixing" them, because its default must decide what Linux decides.
#pragma once

#include <cstdint>

#include <balancekit/balancer/lb_env.hpp>
#include <balancekit/core/index.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/core/units.hpp>
#include <balancekit/domains/flags.hpp>
#include <balancekit/policy/selection.hpp>
#include <balancekit/stats/group_stats.hpp>

namespace balancekit {

/// kernel: NUMA_IMBALANCE_MIN.
inline constexpr std::int32_t numa_imbalance_min = 2;

/// kernel: adjust_numa_imbalance(): while the destination node runs at most `imb_numa_nr`
/// tasks, leave an imbalance of up to two tasks (a communicating pair stays together).
[[nodiscard]] constexpr std::int64_t adjust_numa_imbalance(std::int32_t imbalance, std::int32_t dst_running,
                                                           std::int32_t imb_numa_nr) noexcept {
  if (dst_running > imb_numa_nr) return imbalance;
  if (imbalance <= numa_imbalance_min) return 0;
  return imbalance;
}

/// The Linux rule for the imbalance a NUMA domain tolerates: adjust_numa_imbalance().
struct linux_numa_imbalance {
  [[nodiscard]] static constexpr std::int64_t adjust(std::int32_t imbalance, std::int32_t dst_running,
                                                     std::int32_t imb_numa_nr) noexcept {
    return adjust_numa_imbalance(imbalance, dst_running, imb_numa_nr);
  }
};

/// kernel: sibling_imbalance(): how many tasks to move so both groups run as many tasks
/// per core (rounded), and at least one into an empty group.
template <class P, limits_pack L>
[[nodiscard]] constexpr std::int64_t sibling_imbalance(const lb_env<P, L>& env, const sg_lb_stats& busiest,
                                                       const sg_lb_stats& local) noexcept {
  if (!env.dst_idle() || busiest.sum_nr_running == 0) return 0;
  const std::int64_t nb = busiest.cores;
  const std::int64_t nl = local.cores;
  const std::int64_t b = busiest.sum_nr_running;
  const std::int64_t l = local.sum_nr_running;
  if (nb == nl) return b > l ? b - l : 0;
  std::int64_t imbalance = nl * b;
  imbalance = imbalance > nb * l ? imbalance - nb * l : 0;  // lsub_positive
  imbalance = (2 * imbalance + nl + nb) / (nl + nb);
  if (imbalance <= 1 && l == 0 && b > 1) imbalance = 2;
  return imbalance;
}

/// How Linux evens out running tasks between sibling groups when the domain prefers
/// siblings (or the busiest group is one CPU): since v6.6, per core (sibling_imbalance()),
/// and "prefers siblings" is the busiest group's SD_PREFER_SIBLING.
struct prefer_sibling_per_core {
  [[nodiscard]] static constexpr bool prefers(const sd_lb_stats& sds) noexcept { return sds.prefer_sibling; }
  /// kernel: find_busiest_group()'s "goto force_balance" for an idle-capable local group.
  template <class P, limits_pack L>
  [[nodiscard]] static constexpr bool force(const lb_env<P, L>& env, const sg_lb_stats& busiest,
                                            const sg_lb_stats& local) noexcept {
    return sibling_imbalance(env, busiest, local) > 1;
  }
  /// kernel: calculate_imbalance()'s migrate_task count before the final halving.
  template <class P, limits_pack L>
  [[nodiscard]] static constexpr std::int64_t imbalance(const lb_env<P, L>& env, const sg_lb_stats& busiest,
                                                        const sg_lb_stats& local) noexcept {
    return sibling_imbalance(env, busiest, local);
  }
};

/// Before v6.6 (Linux 6.1, Debian 12's kernel): the plain difference in running tasks,
/// whatever the groups' sizes and whether the destination is idle ("busiest->sum_nr_running
/// > local->sum_nr_running + 1", then "lsub_positive(&nr_diff, local->sum_nr_running)";
/// replaced by commit "sched/fair: Implement prefer sibling imbalance calculation between
/// asymmetric groups"), and "prefers siblings" is the balancing CPU's child domain's flag
/// ("child && child->flags & SD_PREFER_SIBLING"), which its own group carries — none for a
/// CPU whose child was a degenerate one-CPU domain.
struct prefer_sibling_task_count {
  [[nodiscard]] static constexpr bool prefers(const sd_lb_stats& sds) noexcept {
    return sds.local_stat.flags.has(sd_flag::prefer_sibling);
  }
  template <class P, limits_pack L>
  [[nodiscard]] static constexpr bool force(const lb_env<P, L>&, const sg_lb_stats& busiest,
                                            const sg_lb_stats& local) noexcept {
    return busiest.sum_nr_running > local.sum_nr_running + 1;
  }
  template <class P, limits_pack L>
  [[nodiscard]] static constexpr std::int64_t imbalance(const lb_env<P, L>&, const sg_lb_stats& busiest,
                                                        const sg_lb_stats& local) noexcept {
    return busiest.sum_nr_running > local.sum_nr_running ? busiest.sum_nr_running - local.sum_nr_running : 0;
  }
};

/// kernel: calculate_imbalance(): the migration type and the imbalance against the
/// busiest group (and, as the kernel does, the local and domain average loads in `sds`
/// when the load rule needs them). Where the kernel leaves env->migration_type alone, so
/// does the decision. `Sibling` is the prefer-sibling count (v6.16's by default).
template <class Sibling = prefer_sibling_per_core, class P, limits_pack L>
[[nodiscard]] constexpr src_group_decision calculate_imbalance(const lb_env<P, L>& env, sd_lb_stats& sds) {
  src_group_decision d{sds.busiest, env.mtype, 0, sds.fbq, sds.overloaded};
  sg_lb_stats& local = sds.local_stat;
  const sg_lb_stats& busiest = sds.busiest_stat;
  switch (busiest.type) {
    case group_type::misfit_task:
      if (env.has(sd_flag::asym_cpucapacity)) {
        d.type = migration_type::migrate_misfit;
        d.imbalance = 1;
      } else {  // a task on a CPU whose capacity RT/IRQ reduced: move its load
        d.type = migration_type::migrate_load;
        d.imbalance = static_cast<std::int64_t>(busiest.group_misfit_task_load);
      }
      return d;
    case group_type::asym_packing:
      d.type = migration_type::migrate_task;
      d.imbalance = busiest.sum_h_nr_running;
      return d;
    case group_type::smt_balance:
    case group_type::imbalanced:
      d.type = migration_type::migrate_task;
      d.imbalance = 1;
      return d;
    case group_type::llc_balance:  // one task per pass towards its preferred LLC
      d.type = migration_type::migrate_llc_task;
      d.imbalance = 1;
      return d;
    default:
      break;
  }

  if (local.type == group_type::has_spare) {
    if (busiest.type > group_type::fully_busy && !env.has(sd_flag::share_llc)) {
      // Across LLCs, fill the local group's spare capacity.
      d.type = migration_type::migrate_util;
      d.imbalance = static_cast<std::int64_t>(
          (local.group_capacity > local.group_util ? local.group_capacity : local.group_util) - local.group_util);
      if (env.dst_idle() && d.imbalance == 0) {
        d.type = migration_type::migrate_task;
        d.imbalance = 1;
      }
      return d;
    }
    d.type = migration_type::migrate_task;
    if (busiest.group_weight == 1 || Sibling::prefers(sds)) {
      d.imbalance = Sibling::imbalance(env, busiest, local);
    } else {
      // Unsigned subtraction, then max_t(long, 0, ...), as in the kernel.
      const auto diff = static_cast<std::uint32_t>(local.idle_cpus - busiest.idle_cpus);
      d.imbalance = static_cast<std::int64_t>(diff);
    }
    if (env.has(sd_flag::numa))
      d.imbalance = P::numa_imbalance::adjust(static_cast<std::int32_t>(d.imbalance),
                                              static_cast<std::int32_t>(local.sum_nr_running + 1),
                                              static_cast<std::int32_t>(env.sd->imb_numa_nr));
    d.imbalance >>= 1;  // move half the difference
    return d;
  }

  if (local.type < group_type::overloaded) {
    // The local group is about to become overloaded: compare loads per capacity.
    local.avg_load = local.group_load * sched_capacity_scale / local.group_capacity;
    if (local.avg_load >= busiest.avg_load) return d;
    sds.avg_load = sds.total_load * sched_capacity_scale / sds.total_capacity;
    if (local.avg_load >= sds.avg_load) return d;
  }
  // Unsigned like the kernel's: a difference that would be negative wraps and loses min().
  const std::uint64_t from_busiest = (busiest.avg_load - sds.avg_load) * busiest.group_capacity;
  const std::uint64_t to_local = (sds.avg_load - local.avg_load) * local.group_capacity;
  d.type = migration_type::migrate_load;
  d.imbalance = static_cast<std::int64_t>((from_busiest < to_local ? from_busiest : to_local) / sched_capacity_scale);
  return d;
}

/// kernel: the decision tree of sched_balance_find_src_group() after
/// update_sd_lb_stats(). When it decides to balance, the decision is calculate_imbalance()'s
/// (whose imbalance may still be 0); otherwise it names no group.
template <class Sibling = prefer_sibling_per_core, class P, limits_pack L>
[[nodiscard]] constexpr src_group_decision find_src_group_decision(const lb_env<P, L>& env, sd_lb_stats& sds) {
  src_group_decision balanced = src_group_decision::keep(env);
  balanced.fbq = sds.fbq;
  balanced.overloaded = sds.overloaded;
  if (sds.busiest < 0) return balanced;
  const sg_lb_stats& busiest = sds.busiest_stat;
  const sg_lb_stats& local = sds.local_stat;
  if (busiest.type == group_type::misfit_task) return calculate_imbalance<Sibling>(env, sds);
  // (EAS with an energy model and no overutilized CPU → balanced: never, no energy model.)
  // The checks below assume evenly loaded groups; an imbalanced group goes straight to the
  // imbalance.
  if (busiest.type == group_type::asym_packing || busiest.type == group_type::imbalanced)
    return calculate_imbalance<Sibling>(env, sds);
  if (local.type > busiest.type) return balanced;
  if (local.type == group_type::overloaded) {
    if (local.avg_load >= busiest.avg_load) return balanced;
    sds.avg_load = sds.total_load * sched_capacity_scale / sds.total_capacity;
    if (local.avg_load >= sds.avg_load) return balanced;
    if (100 * busiest.avg_load <= env.sd->imbalance_pct * local.avg_load) return balanced;
  }
  // The cache-aware series forces a group holding tasks that prefer the destination's LLC
  // where siblings are preferred (`busiest->group_type == group_llc_balance ||
  // sibling_imbalance() > 1`); a member may drop that condition for its LLC passes, as
  // seed 001's 14/23 does, so that they force across nodes too.
  if (local.type == group_type::has_spare) {
    const bool siblings = Sibling::prefers(sds);
    if (busiest.type == group_type::llc_balance && (siblings || detail::aggregation_ignores_prefer_sibling<P>))
      return calculate_imbalance<Sibling>(env, sds);
    if (siblings && Sibling::force(env, busiest, local)) return calculate_imbalance<Sibling>(env, sds);
  }
  if (busiest.type != group_type::overloaded) {
    if (!env.dst_idle()) return balanced;  // let an idle CPU pull instead
    if (busiest.type == group_type::smt_balance && detail::smt_vs_nonsmt(local, busiest))
      return calculate_imbalance<Sibling>(env, sds);
    // An idle-CPU difference of one would only move the imbalance elsewhere.
    if (busiest.group_weight > 1 && local.idle_cpus <= busiest.idle_cpus + 1) return balanced;
    if (busiest.sum_h_nr_running == 1) return balanced;  // nothing waits there
  }
  return calculate_imbalance<Sibling>(env, sds);
}

/// The Linux rule for the busiest group: statistics, selection, decision tree, imbalance.
/// A zero imbalance is no group to pull from. `Sibling`: how task counts are evened
/// between sibling groups.
template <class Sibling>
struct basic_linux_src_group {
  template <class P, limits_pack L>
  [[nodiscard]] static constexpr src_group_decision find(const lb_env<P, L>& env) {
    sd_lb_stats sds;
    update_sd_lb_stats(env, sds);
    src_group_decision d = find_src_group_decision<Sibling>(env, sds);
    if (d.imbalance == 0) d.group = no_group;
    return d;
  }
};

/// Linux v6.16's rule.
using linux_src_group = basic_linux_src_group<prefer_sibling_per_core>;

/// Linux 6.1's prefer-sibling count on v6.16's rule: the one difference between the two
/// kernels that the trajectory oracle's captures showed (docs/kernel-oracle.md). Other
/// differences (group_smt_balance, EEVDF) are not modelled.
using linux_6_1_src_group = basic_linux_src_group<prefer_sibling_task_count>;

}  // namespace balancekit
