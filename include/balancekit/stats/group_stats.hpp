/// \file
/// Group statistics and classification: what one balancing CPU learns about each group of
/// a domain, and which group it picks as the busiest.
///
/// kernel: struct sg_lb_stats, struct sd_lb_stats, update_sg_lb_stats(), group_classify(),
/// group_has_capacity(), group_is_overloaded(), update_sd_pick_busiest(),
/// update_sd_lb_stats(), sibling_imbalance(), fbq_classify_group(), fbq_classify_rq(),
/// check_cpu_capacity(), fits_capacity(), capacity_greater() — kernel/sched/fair.c (v6.16).
///
/// Every function is pure: the statistics of a group come from the snapshot, never from
/// a cache. Group capacity is therefore the sum of the snapshot's `capacity` over the
/// group's span; the kernel refreshes the local group's capacity on each periodic balance
/// and lets other groups' be up to a balance interval old, which only matters while
/// RT/IRQ pressure changes.
///
/// Not modelled, and why it is exact anyway for the domains balancekit builds:
///  - `group_asym_packing`: needs SD_ASYM_PACKING (x86 ITMT, POWER), which no built
///    topology level carries; the enumerator and its branches exist for completeness.
///  - EAS (`rd->pd`, overutilized): balancekit builds no energy model, so the kernel's
///    "EAS active and not overutilized → balanced" branch never fires.
#pragma once

#include <cstddef>
#include <cstdint>

#include <balancekit/domains/domain_tree.hpp>
#include <balancekit/stats/lb_env.hpp>

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

/// The per-group "affinity stopped the balance below" flags (kernel: sgc->imbalance),
/// keyed like the kernel's sched_group_capacity: by level and capacity-record CPU.
template <limits_pack L>
class group_imbalance_flags {
public:
  [[nodiscard]] constexpr bool get(std::size_t level, std::size_t id) const { return bits_[level].test(id); }
  constexpr void set(std::size_t level, std::size_t id, bool on) {
    if (on) bits_[level].set(id); else bits_[level].reset(id);
  }
  constexpr void clear() noexcept { for (auto& b : bits_) b.clear(); }

private:
  std::array<cpumask<L::max_cpus>, L::max_levels> bits_{};
};

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

/// kernel: update_sg_lb_stats(). `g` is the group's position in the domain's list.
template <limits_pack L>
constexpr void update_sg_lb_stats(const lb_env<L>& env, const group_imbalance_flags<L>* imbalance_flags,
                                  std::size_t g, bool local_group, sg_lb_stats& sgs, bool& sg_overloaded) {
  const auto& tree = *env.tree;
  const auto& grp = tree.group_of(*env.sd, g);
  const bool at_root = env.parent == nullptr;
  const bool numa = env.has(sd_flag::numa);
  const bool asym_cap = env.has(sd_flag::asym_cpucapacity);
  sgs = sg_lb_stats{};
  sgs.min_capacity = ~std::uint64_t{0};
  for (std::size_t i : tree.span(grp)) {
    const cpu_state& rq = env.cpu(i);
    // sgc->capacity covers the whole span, not just env->cpus.
    sgs.group_capacity += rq.capacity;
    if (rq.capacity < sgs.min_capacity) sgs.min_capacity = rq.capacity;
    if (rq.capacity > sgs.max_capacity) sgs.max_capacity = rq.capacity;
    if (!env.cpus.test(i)) continue;
    sgs.group_load += rq.load;
    sgs.group_util += cpu_util_cfs(rq);
    sgs.group_runnable += rq.runnable;
    sgs.sum_h_nr_running += rq.h_nr_runnable;
    sgs.sum_nr_running += rq.nr_running;
    if (rq.nr_running == 0 && rq.is_idle()) {
      ++sgs.idle_cpus;
      continue;
    }
    if (at_root && rq.nr_running > 1) sg_overloaded = true;
    if (numa) {
      sgs.nr_numa_running += rq.nr_numa_running;
      sgs.nr_preferred_running += rq.nr_preferred_running;
    }
    if (local_group) continue;
    if (asym_cap) {
      if (sgs.group_misfit_task_load < rq.misfit_task_load) {
        sgs.group_misfit_task_load = rq.misfit_task_load;
        sg_overloaded = true;
      }
    } else if (env.dst_idle() && rq.h_nr_runnable == 1 && check_cpu_capacity(rq, env.sd->imbalance_pct)) {
      // kernel: sched_reduced_capacity(): a lone task on a CPU that RT/IRQ squeeze.
      if (sgs.group_misfit_task_load < rq.load) sgs.group_misfit_task_load = rq.load;
    }
  }
  if (sgs.group_capacity == 0) sgs.min_capacity = 0;
  sgs.group_weight = grp.weight;
  sgs.cores = grp.cores;
  sgs.flags = grp.flags;
  // kernel: smt_balance(): a busy SMT core next to an idle destination.
  sgs.group_smt_balance = !local_group && env.dst_idle() && grp.flags.has(sd_flag::share_cpucapacity) &&
                          sgs.sum_h_nr_running > 1;
  const bool imbalanced = imbalance_flags != nullptr && imbalance_flags->get(env.sd->level, grp.id);
  sgs.type = group_classify(env.sd->imbalance_pct, imbalanced, sgs);
  if (sgs.type == group_type::overloaded) sgs.avg_load = sgs.group_load * sched_capacity_scale / sgs.group_capacity;
}

namespace detail {
/// kernel: smt_vs_nonsmt_groups().
[[nodiscard]] constexpr bool smt_vs_nonsmt(const sg_lb_stats& a, const sg_lb_stats& b) noexcept {
  return a.flags.has(sd_flag::share_cpucapacity) != b.flags.has(sd_flag::share_cpucapacity);
}
}  // namespace detail

/// kernel: update_sd_pick_busiest(): does `sgs` replace the current busiest group?
template <limits_pack L>
[[nodiscard]] constexpr bool update_sd_pick_busiest(const lb_env<L>& env, const sd_lb_stats& sds, const sg_lb_stats& sgs) {
  const sg_lb_stats& busiest = sds.busiest_stat;
  const bool asym_cap = env.has(sd_flag::asym_cpucapacity);
  const std::uint64_t dst_capacity = env.cpu(env.dst_cpu).capacity;
  if (sgs.sum_h_nr_running == 0) return false;
  // Misfit tasks only go to a noticeably bigger CPU, and only one with spare room.
  if (asym_cap && sgs.type == group_type::misfit_task &&
      (!capacity_greater(dst_capacity, sgs.max_capacity) || sds.local_stat.type != group_type::has_spare))
    return false;
  if (sgs.type > busiest.type) return true;
  if (sgs.type < busiest.type) return false;

  bool idle_cpus_rule = false;  // the kernel's `has_spare:` label
  switch (sgs.type) {
    case group_type::overloaded:
      return sgs.avg_load > busiest.avg_load;
    case group_type::imbalanced:
      return false;  // keep the first one found
    case group_type::asym_packing:
      return false;  // unreachable: no built domain has SD_ASYM_PACKING
    case group_type::misfit_task:
      return sgs.group_misfit_task_load > busiest.group_misfit_task_load;
    case group_type::smt_balance:
      if (sgs.idle_cpus != 0 || busiest.idle_cpus != 0) {
        idle_cpus_rule = true;
        break;
      }
      [[fallthrough]];
    case group_type::fully_busy:
      // avg_load is 0 for groups that are not overloaded, so the later group usually wins.
      if (sgs.avg_load < busiest.avg_load) return false;
      if (sgs.avg_load == busiest.avg_load && busiest.flags.has(sd_flag::share_cpucapacity)) return false;
      break;
    case group_type::has_spare:
      if (sds.busiest >= 0 && detail::smt_vs_nonsmt(busiest, sgs))
        return !(sgs.flags.has(sd_flag::share_cpucapacity) && sgs.sum_h_nr_running <= 1);
      idle_cpus_rule = true;
      break;
  }
  if (idle_cpus_rule) {
    if (sgs.idle_cpus > busiest.idle_cpus) return false;
    if (sgs.idle_cpus == busiest.idle_cpus && sgs.sum_nr_running <= busiest.sum_nr_running) return false;
  }
  // Do not pull to a smaller CPU what a bigger one can run.
  if (asym_cap && sgs.type <= group_type::fully_busy && capacity_greater(sgs.min_capacity, dst_capacity)) return false;
  return true;
}

/// kernel: update_sd_lb_stats(): the local group, the busiest group, and the domain's
/// totals. Also sets `env.fbq` on NUMA domains, as the kernel does.
template <limits_pack L>
constexpr void update_sd_lb_stats(lb_env<L>& env, const group_imbalance_flags<L>* imbalance_flags, sd_lb_stats& sds) {
  sds = sd_lb_stats{};
  const auto& tree = *env.tree;
  sg_lb_stats tmp{};
  for (std::size_t g = 0; g < env.sd->nr_groups; ++g) {
    const bool local_group = tree.span(tree.group_of(*env.sd, g)).test(env.dst_cpu);
    sg_lb_stats& sgs = local_group ? sds.local_stat : tmp;
    if (local_group) sds.local = static_cast<int>(g);
    update_sg_lb_stats(env, imbalance_flags, g, local_group, sgs, sds.overloaded);
    if (!local_group && update_sd_pick_busiest(env, sds, sgs)) {
      sds.busiest = static_cast<int>(g);
      sds.busiest_stat = sgs;
    }
    sds.total_load += sgs.group_load;
    sds.total_capacity += sgs.group_capacity;
  }
  if (sds.busiest >= 0) sds.prefer_sibling = sds.busiest_stat.flags.has(sd_flag::prefer_sibling);
  if (env.has(sd_flag::numa)) env.fbq = fbq_classify_group(sds.busiest_stat);
}

/// kernel: sibling_imbalance(): how many tasks to move so both groups run as many tasks
/// per core (rounded), and at least one into an empty group.
template <limits_pack L>
[[nodiscard]] constexpr std::int64_t sibling_imbalance(const lb_env<L>& env, const sg_lb_stats& busiest,
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

}  // namespace balancekit
