/// \file
/// The placement family: where a waking, forked or exec'ed task runs. Linux's rule, exactly,
/// and `placement::none`, which leaves a task where it was.
///
/// kernel: select_task_rq_fair() — kernel/sched/fair.c (v6.16); its fast path is
/// policy/wakeup.hpp, its slow path policy/find_dst.hpp.
///
/// A placement policy has three members the balancer calls:
///  - `select(env, state)`: the placement itself (`on_wakeup`, `on_fork`, `on_exec`);
///  - `note_idle(tree, snap, cpu, state)`: a CPU went idle (`on_cpu_idle`);
///  - `observe_balance(env, state)`: the balancer is about to gather the statistics of a
///    balancing attempt (Linux's SIS_UTIL scan depth comes from those of the LLC's domain).
#pragma once

#include <cstddef>
#include <cstdint>

#include <balancekit/balancer/lb_env.hpp>
#include <balancekit/balancer/state.hpp>
#include <balancekit/balancer/wake_env.hpp>
#include <balancekit/core/cpumask.hpp>
#include <balancekit/core/index.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/domains/domain_tree.hpp>
#include <balancekit/domains/flags.hpp>
#include <balancekit/policy/find_dst.hpp>
#include <balancekit/policy/wakeup.hpp>
#include <balancekit/stats/snapshot.hpp>

namespace balancekit {

struct placement_family;

/// The Linux rule (kernel: select_task_rq_fair()): a wakeup first records the wakee flip
/// and may prefer the waker's CPU (wake_wide(), wake_affine() at the lowest domain spanning
/// both CPUs), then looks for an idle CPU near the chosen target (select_idle_sibling()); a
/// fork or exec, or a wakeup whose domains carry its SD_BALANCE_* flag, takes the slow path
/// from the highest such domain (sched_balance_find_dst_cpu()).
struct linux_placement {
  using family = placement_family;
  template <limits_pack L>
  using state = wake_state<L>;

  template <class P, limits_pack L>
  static constexpr placement_decision select(const wake_env<P, L>& env, wake_state<L>& st) {
    const auto& tree = *env.tree;
    const task_state<L>& p = env.p();
    const std::size_t cpu = env.this_cpu;
    const std::size_t prev_cpu = env.prev_cpu;
    const bool ttwu = (env.flags & wf::ttwu) != 0;
    // The waker sleeps after the wakeup (an exiting waker is not modelled).
    const bool sync = (env.flags & wf::sync) != 0;
    // "SD_flags and WF_flags share the first nibble".
    const sd_flag flag = (env.flags & wf::exec) != 0   ? sd_flag::balance_exec
                         : (env.flags & wf::fork) != 0 ? sd_flag::balance_fork
                                                       : sd_flag::balance_wake;
    std::size_t new_cpu = prev_cpu;
    bool want_affine = false;
    if (env.new_task()) {
      // kernel: dup_task_struct() copies the parent's wakee bookkeeping into the child;
      // wake_up_new_task() then sets recent_used_cpu to the parent's CPU.
      st.tasks[env.task] = st.current(env);
      st.tasks[env.task].recent_used_cpu = prev_cpu;
    }
    if (ttwu) {
      record_wakee(env, st);
      if ((env.flags & wf::current_cpu) != 0 && p.allowed.test(cpu))
        return {cpu, placement_branch::current_cpu, cpu};
      // (EAS runs only with an energy model; there is none.)
      want_affine = !wake_wide(env, st) && p.allowed.test(cpu);
    }
    int sd = -1;
    for (std::size_t k = 0; k < tree.nr_domains(cpu); ++k) {
      const auto& tmp = tree.domain_of(cpu, k);
      // Both CPUs in this domain: the waker's CPU is a valid SD_WAKE_AFFINE target.
      if (want_affine && tmp.flags.has(sd_flag::wake_affine) && tree.span(tmp).test(prev_cpu)) {
        if (cpu != prev_cpu) new_cpu = wake_affine(env, tmp, cpu, prev_cpu, sync);
        sd = -1;  // prefer wake_affine over balance flags
        break;
      }
      // Usually only exec and fork: no domain has SD_BALANCE_WAKE by default.
      if (tmp.flags.has(flag)) {
        sd = static_cast<int>(k);
      } else if (!want_affine) {
        break;
      }
    }
    if (sd >= 0) return find_dst_cpu(env, cpu, static_cast<std::size_t>(sd), flag);
    if (ttwu) return select_idle_sibling(env, st, prev_cpu, new_cpu);
    return {new_cpu, placement_branch::stay, new_cpu};
  }

  template <limits_pack L>
  static constexpr void note_idle(const domain_tree<L>& tree, const snapshot<L>& snap, std::size_t cpu,
                                  wake_state<L>& st) {
    update_idle_core(tree, snap, cpu, st);
  }

  template <class P, limits_pack L>
  static constexpr void observe_balance(const lb_env<P, L>& env, wake_state<L>& st) {
    update_idle_cpu_scan(env, st);
  }
};

/// kernel: select_fallback_rq() (core.c): for a task the policy placed on a CPU it may not
/// use, the first allowed online CPU of the node of `cpu`, else the first allowed online
/// CPU; `no_cpu` when there is none (the kernel would then widen the task's affinity).
template <limits_pack L>
[[nodiscard]] constexpr std::size_t select_fallback_rq(const domain_tree<L>& tree, const cpumask<L::max_cpus>& allowed,
                                                       std::size_t cpu) {
  if (tree.cpu_map().test(cpu))
    for (std::size_t c : tree.node_mask(cpu))
      if (allowed.test(c)) return c;
  return (allowed & tree.cpu_map()).first();
}

namespace placement {
/// No placement policy: a task stays on its previous CPU (a new one on its parent's), and
/// nothing is remembered.
struct none {
  using family = placement_family;
  template <limits_pack L>
  using state = no_state<placement_family>;

  template <class P, limits_pack L, class S>
  static constexpr placement_decision select(const wake_env<P, L>& env, S& /*state*/) noexcept {
    return {env.prev_cpu, placement_branch::stay, env.prev_cpu};
  }
  template <limits_pack L, class S>
  static constexpr void note_idle(const domain_tree<L>&, const snapshot<L>&, std::size_t, S&) noexcept {}
  template <class P, limits_pack L, class S>
  static constexpr void observe_balance(const lb_env<P, L>&, S&) noexcept {}
};
}  // namespace placement

}  // namespace balancekit
