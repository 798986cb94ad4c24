/// \file
/// Group statistics and classification: what one balancing CPU learns about each group of
/// a domain. (Which group it then picks is a rule: policy/selection.hpp.)
///
/// kernel: struct sg_lb_stats, struct sd_lb_stats, update_sg_lb_stats(), group_classify(),
/// group_has_capacity(), group_is_overloaded(), fbq_classify_group(), fbq_classify_rq(),
/// check_cpu_capacity(), fits_capacity(), capacity_greater() — kernel/sched/fair.c (v6.16).
///
/// Every function is pure: the statistics of a group come from the snapshot — scanned, or
/// from the `group_sums` its owner keeps in step with it (stats/group_sums.hpp), which give
/// the same numbers. Group capacity is therefore the sum of the snapshot's `capacity` over
/// the group's span; the kernel refreshes the local group's capacity on each periodic
/// balance and lets other groups' be up to a balance interval old, which only matters
/// while RT/IRQ pressure changes.
///
/// Not modelled, and why it is exact anyway for the domains balancekit builds:
///  - `group_asym_packing`: needs SD_ASYM_PACKING (x86 ITMT, POWER), which no built
///    topology level carries; the enumerator and its branches exist for completeness.
///  - EAS (`rd->pd`, overutilized): balancekit builds no energy model, so the kernel's
///    "EAS active and not overutilized → balanced" branch never fires.
#pragma once

#include <cstddef>
#include <cstdint>

#include <balancekit/balancer/lb_env.hpp>
#include <balancekit/balancer/state.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/core/units.hpp>
#include <balancekit/domains/domain_tree.hpp>
#include <balancekit/domains/flags.hpp>
#include <balancekit/stats/group_sums.hpp>
#include <balancekit/stats/snapshot.hpp>

namespace balancekit {

/// kernel: fits_capacity(): `cap` fits in `max` with 20% headroom.
[[nodiscard]] constexpr bool fits_capacity(std::uint64_t cap, std::uint64_t max) noexcept { return cap * 1280 < max * 1024; }
/// kernel: capacity_greater(): `a` is more than ~5% bigger than `b`.
[[nodiscard]] constexpr bool capacity_greater(std::uint64_t a, std::uint64_t b) noexcept { return a * 1024 > b * 1078; }

/// kernel: check_cpu_capacity(): RT/DL/IRQ took a noticeable part of the CPU.
[[nodiscard]] constexpr bool check_cpu_capacity(const cpu_state& c, std::uint32_t imbalance_pct) noexcept {
  return c.capacity * imbalance_pct < c.arch_capacity * 100;
}

/// kernel: struct sg_lb_stats.
struct sg_lb_stats {
  std::uint64_t avg_load = 0;  ///< load per capacity, only for overloaded groups
  std::uint64_t group_load = 0;
  std::uint64_t group_capacity = 0;
  std::uint64_t group_util = 0;
  std::uint64_t group_runnable = 0;
  std::uint32_t sum_nr_running = 0;
  std::uint32_t sum_h_nr_running = 0;
  // unsigned, as in the kernel: calculate_imbalance() subtracts two of these.
  std::uint32_t idle_cpus = 0;
  std::uint32_t group_weight = 0;
  group_type type = group_type::has_spare;
  bool group_asym_packing = false;
  bool group_smt_balance = false;
  std::uint64_t group_misfit_task_load = 0;
  std::uint32_t nr_pref_dst = 0;  ///< cache-aware balancing: its tasks that prefer the destination's LLC
  std::uint32_t nr_numa_running = 0;
  std::uint32_t nr_preferred_running = 0;
  // Not in the kernel's struct: read from the sched_group there.
  std::uint64_t min_capacity = 0;
  std::uint64_t max_capacity = 0;
  std::uint16_t cores = 0;
  sd_flags flags{};  ///< the group's flags (its child domain's)
};

/// kernel: struct sd_lb_stats. Groups are identified by their position in the domain's
/// list (0 = the local group), -1 for none.
struct sd_lb_stats {
  int busiest = -1;
  int local = -1;
  std::uint64_t total_load = 0;
  std::uint64_t total_capacity = 0;
  std::uint64_t avg_load = 0;
  bool prefer_sibling = false;
  bool overloaded = false;  ///< some CPU runs more than one task (root domain only)
  /// The busiest group's NUMA classification on SD_NUMA domains (kernel: the env->fbq_type
  /// update_sd_lb_stats() sets); elsewhere the environment's, unchanged.
  fbq_type fbq = fbq_type::all;
  sg_lb_stats busiest_stat = init_busiest();
  sg_lb_stats local_stat{};

  // kernel: init_sd_lb_stats(): the busiest candidate starts as the least busy possible.
  static constexpr sg_lb_stats init_busiest() noexcept {
    sg_lb_stats s;
    s.idle_cpus = 0xFFFFFFFFU;
    s.type = group_type::has_spare;
    return s;
  }
};

/// kernel: group_has_capacity().
[[nodiscard]] constexpr bool group_has_capacity(std::uint32_t imbalance_pct, const sg_lb_stats& s) noexcept {
  if (s.sum_nr_running < s.group_weight) return true;
  if (s.group_capacity * imbalance_pct < s.group_runnable * 100) return false;
  if (s.group_capacity * 100 > s.group_util * imbalance_pct) return true;
  return false;
}

/// kernel: group_is_overloaded().
[[nodiscard]] constexpr bool group_is_overloaded(std::uint32_t imbalance_pct, const sg_lb_stats& s) noexcept {
  if (s.sum_nr_running <= s.group_weight) return false;
  if (s.group_capacity * 100 < s.group_util * imbalance_pct) return true;
  if (s.group_capacity * imbalance_pct < s.group_runnable * 100) return true;
  return false;
}

/// kernel: group_classify(). `imbalanced` is the group's sgc->imbalance flag.
[[nodiscard]] constexpr group_type group_classify(std::uint32_t imbalance_pct, bool imbalanced,
                                                  const sg_lb_stats& s) noexcept {
  if (group_is_overloaded(imbalance_pct, s)) return group_type::overloaded;
  if (imbalanced) return group_type::imbalanced;
  if (s.group_asym_packing) return group_type::asym_packing;
  if (s.group_smt_balance) return group_type::smt_balance;
  if (s.group_misfit_task_load != 0) return group_type::misfit_task;
  if (!group_has_capacity(imbalance_pct, s)) return group_type::fully_busy;
  return group_type::has_spare;
}

/// kernel: fbq_classify_group() (CONFIG_NUMA_BALANCING).
[[nodiscard]] constexpr fbq_type fbq_classify_group(const sg_lb_stats& s) noexcept {
  if (s.sum_h_nr_running > s.nr_numa_running) return fbq_type::regular;
  if (s.sum_h_nr_running > s.nr_preferred_running) return fbq_type::remote;
  return fbq_type::all;
}
/// kernel: fbq_classify_rq() (CONFIG_NUMA_BALANCING).
[[nodiscard]] constexpr fbq_type fbq_classify_rq(const cpu_state& c) noexcept {
  if (c.nr_running > c.nr_numa_running) return fbq_type::regular;
  if (c.nr_running > c.nr_preferred_running) return fbq_type::remote;
  return fbq_type::all;
}

namespace detail {
/// kernel: is_core_idle(): every SMT sibling of `cpu` is idle.
template <limits_pack L>
[[nodiscard]] constexpr bool is_core_idle(const domain_tree<L>& tree, const snapshot<L>& snap, std::size_t cpu) {
  if (tree.nr_domains(cpu) == 0) return true;
  const auto& d0 = tree.domain_of(cpu, 0);
  if (!d0.flags.has(sd_flag::share_cpucapacity)) return true;
  for (std::size_t s : tree.span(d0))
    if (s != cpu && !snap.cpus[s].is_idle()) return false;
  return true;
}
}  // namespace detail

namespace detail {
/// The owner's `group_sums` for the group when they give exactly what the scan below
/// would, else null: kept for this tree, every CPU of the group still a candidate, and no
/// per-CPU maximum to take (a remote group's misfit load on asymmetric domains, or a
/// squeezed CPU's load when the destination is idle).
template <class P, limits_pack L>
[[nodiscard]] constexpr const typename group_sums<L>::sums* kept_sums(const lb_env<P, L>& env,
                                                                      const typename domain_tree<L>::group& grp,
                                                                      bool local_group, bool asym_cap) {
  if (env.state == nullptr || env.state->sums == nullptr || !env.state->sums->bound_to(*env.tree)) return nullptr;
  const auto& tree = *env.tree;
  if (!tree.span(grp).subset_of_within(env.cpus, tree.span_first(grp), tree.span_last(grp))) return nullptr;
  const auto& k = env.state->sums->of(grp);
  if (local_group || (!asym_cap && (!env.dst_idle() || k.total.squeezed == 0))) return &k;
  return nullptr;
}
}  // namespace detail

/// kernel: update_sg_lb_stats(). `g` is the group's position in the domain's list; the
/// group's sgc->imbalance flag comes from `env.state` (none without a state).
template <class P, limits_pack L>
constexpr void update_sg_lb_stats(const lb_env<P, L>& env, std::size_t g, bool local_group, sg_lb_stats& sgs,
                                  bool& sg_overloaded) {
  const auto& tree = *env.tree;
  const auto& grp = tree.group_of(*env.sd, g);
  const bool at_root = env.parent == nullptr;
  const bool numa = env.has(sd_flag::numa);
  const bool asym_cap = env.has(sd_flag::asym_cpucapacity);
  // Sums in a local, not through the reference: the compiler must assume that `sgs` may
  // alias the snapshot's counters and would store every field at every CPU.
  sg_lb_stats s{};
  bool overloaded = false;
  if (const auto* kept = detail::kept_sums(env, grp, local_group, asym_cap)) {
    const auto& k = *kept;
    s.group_capacity = k.total.capacity;
    s.min_capacity = k.min_capacity;
    s.max_capacity = k.max_capacity;
    s.group_load = k.total.load;
    s.group_util = k.total.util;
    s.group_runnable = k.total.runnable;
    s.sum_h_nr_running = static_cast<std::uint32_t>(k.total.h_nr_runnable);
    s.sum_nr_running = static_cast<std::uint32_t>(k.total.nr_running);
    s.idle_cpus = static_cast<std::uint32_t>(k.total.idle);
    if (numa) {
      s.nr_numa_running = static_cast<std::uint32_t>(k.total.nr_numa_running);
      s.nr_preferred_running = static_cast<std::uint32_t>(k.total.nr_preferred_running);
    }
    overloaded = at_root && k.total.overloaded != 0;
  } else {
    s.min_capacity = ~std::uint64_t{0};
    for (std::size_t i : tree.cpus_of(grp)) {
      const cpu_state& rq = env.cpu(i);
      // sgc->capacity covers the whole span, not just env->cpus.
      s.group_capacity += rq.capacity;
      if (rq.capacity < s.min_capacity) s.min_capacity = rq.capacity;
      if (rq.capacity > s.max_capacity) s.max_capacity = rq.capacity;
      if (!env.cpus.test(i)) continue;
      s.group_load += rq.load;
      s.group_util += cpu_util_cfs(rq);
      s.group_runnable += rq.runnable;
      s.sum_h_nr_running += rq.h_nr_runnable;
      s.sum_nr_running += rq.nr_running;
      if (rq.nr_running == 0 && rq.is_idle()) {
        ++s.idle_cpus;
        continue;
      }
      if (at_root && rq.nr_running > 1) overloaded = true;
      if (numa) {
        s.nr_numa_running += rq.nr_numa_running;
        s.nr_preferred_running += rq.nr_preferred_running;
      }
      if (local_group) continue;
      if (asym_cap) {
        if (s.group_misfit_task_load < rq.misfit_task_load) {
          s.group_misfit_task_load = rq.misfit_task_load;
          overloaded = true;
        }
      } else if (env.dst_idle() && rq.h_nr_runnable == 1 && check_cpu_capacity(rq, env.sd->imbalance_pct)) {
        // kernel: sched_reduced_capacity(): a lone task on a CPU that RT/IRQ squeeze.
        if (s.group_misfit_task_load < rq.load) s.group_misfit_task_load = rq.load;
      }
    }
    if (s.group_capacity == 0) s.min_capacity = 0;
  }
  sgs = s;
  if (overloaded) sg_overloaded = true;
  sgs.group_weight = grp.weight;
  sgs.cores = grp.cores;
  sgs.flags = grp.flags;
  // kernel: smt_balance(): a busy SMT core next to an idle destination.
  sgs.group_smt_balance = !local_group && env.dst_idle() && grp.flags.has(sd_flag::share_cpucapacity) &&
                          sgs.sum_h_nr_running > 1;
  const bool imbalanced = env.state != nullptr && env.state->group_imbalance.get(env.sd->level, grp.id);
  sgs.type = group_classify(env.sd->imbalance_pct, imbalanced, sgs);
  // Cache-aware balancing: a group holding tasks that prefer the destination's LLC ranks
  // below overloaded and above every other type (group_llc_balance).
  if constexpr (detail::aggregation_active<P>) {
    if (!local_group && sgs.type < group_type::overloaded && env.state != nullptr) {
      sgs.nr_pref_dst = P::aggregation::llc_balance(env, grp, env.state->aggregation);
      if (sgs.nr_pref_dst != 0) sgs.type = group_type::llc_balance;
    }
  }
  if (sgs.type == group_type::overloaded) sgs.avg_load = sgs.group_load * sched_capacity_scale / sgs.group_capacity;
}

namespace detail {
/// kernel: smt_vs_nonsmt_groups().
[[nodiscard]] constexpr bool smt_vs_nonsmt(const sg_lb_stats& a, const sg_lb_stats& b) noexcept {
  return a.flags.has(sd_flag::share_cpucapacity) != b.flags.has(sd_flag::share_cpucapacity);
}
}  // namespace detail

}  // namespace balancekit
