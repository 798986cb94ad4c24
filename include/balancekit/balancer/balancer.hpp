/// \file
/// The balancer: a policy pack run over a domain tree, and its entry points.
///
/// kernel: sched_balance_domains() (ex rebalance_domains), sched_balance_trigger(),
/// sched_balance_newidle() (ex newidle_balance), update_next_balance(),
/// update_newidle_cost() — kernel/sched/fair.c (v6.16).
///
/// A balancer reads a `domain_tree` (built once) and works on two caller-owned values:
/// the `snapshot` (run queues; tasks it moves are moved in it, with the kernel's
/// accounting, so later levels see them as the kernel's would) and the `balance_state`
/// (per-CPU, per-domain intervals, failure counts, newidle costs, group imbalance flags,
/// and every family's state). Each call returns the migrations it made, in order.
///
/// Differences from the kernel, all because one call runs alone and at once:
///  - an active balance runs its stopper immediately, in the same call;
///  - SD_SERIALIZE's global lock is always free (calls never overlap);
///  - newidle costs come from the pack's cost model, not from a clock;
///  - the root domain's "overloaded" flag is recomputed from the snapshot (the kernel
///    sets it on enqueue and clears it at root-level balances).
#pragma once

#include <cstddef>
#include <cstdint>

#include <balancekit/balancer/lb_env.hpp>
#include <balancekit/balancer/pass.hpp>
#include <balancekit/balancer/result.hpp>
#include <balancekit/balancer/state.hpp>
#include <balancekit/balancer/tunables.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/core/units.hpp>
#include <balancekit/detail/contracts.hpp>
#include <balancekit/domains/domain_tree.hpp>
#include <balancekit/domains/flags.hpp>
#include <balancekit/domains/levels.hpp>
#include <balancekit/policy/interval.hpp>
#include <balancekit/policy/pack.hpp>
#include <balancekit/stats/snapshot.hpp>

namespace balancekit {

/// Runs policy pack `P` over a domain tree.
///
/// Requires: the tree was built with `balancer_domain_options()` (its profile is
/// mainline); every entry point's CPU is in the tree's map.
///
/// **Example**
/// \code
/// balancekit::balancer<balancekit::linux_defaults, L> b{tree};
/// state.reset(tree, now);
/// auto r = b.on_tick(cpu, now, snap, state);
/// for (const auto& m : r.migrations) apply(m.id, m.src, m.dst);
/// \endcode
template <class P, limits_pack L>
class balancer {
  static_assert(check_pack<P, L>());

public:
  using pack = P;
  using tree_type = domain_tree<L>;
  using state_type = balance_state<P, L>;
  using result_type = balance_result<L>;

  constexpr explicit balancer(const tree_type& tree) noexcept : tree_(&tree) {
    BALANCEKIT_EXPECTS(tree.profile() == balancer_domain_options().profile);
  }

  [[nodiscard]] constexpr const tree_type& tree() const noexcept { return *tree_; }
  [[nodiscard]] static constexpr balance_tunables tunables() noexcept { return P::balance_tuning; }

  /// The periodic balance of `cpu` at time `now` (kernel: sched_balance_trigger() then
  /// sched_balance_domains()): every domain whose interval has elapsed is balanced,
  /// bottom up, until a level says another CPU balances for this group.
  constexpr result_type on_tick(std::size_t cpu, nanoseconds now, snapshot<L>& snap, state_type& state) const {
    BALANCEKIT_EXPECTS(tree_->cpu_map().test(cpu));
    result_type out;
    constexpr balance_tunables tun = P::balance_tuning;
    const jiffies_t j = to_jiffies(now, tun.hz);
    cpu_balance_state<L>& cs = state.cpus[cpu];
    const std::size_t nr = tree_->nr_domains(cpu);
    if (nr == 0 || j < cs.next_balance) return out;
    cpu_idle_type idle = snap.cpus[cpu].is_idle() ? cpu_idle_type::idle : cpu_idle_type::not_idle;
    bool busy = idle != cpu_idle_type::idle;
    jiffies_t next_balance = j + 60 * static_cast<jiffies_t>(tun.hz);
    bool update_next = false;
    bool need_decay = false;
    nanoseconds max_cost = 0;
    bool continue_balancing = true;
    for (std::size_t k = 0; k < nr; ++k) {
      const auto& sd = tree_->domain_of(cpu, k);
      domain_balance_state& ds = cs.sd[k];
      need_decay = update_newidle_cost(ds, 0, j);
      max_cost += ds.max_newidle_lb_cost;
      if (!continue_balancing) {
        if (need_decay) continue;
        break;
      }
      jiffies_t interval = interval_of(sd, ds, busy);
      if (j >= ds.last_balance + interval) {
        if (balance_domain(cpu, k, idle, now, snap, state, out, continue_balancing) != 0) {
          idle = snap.cpus[cpu].is_idle() ? cpu_idle_type::idle : cpu_idle_type::not_idle;
          busy = idle != cpu_idle_type::idle;
        }
        ds.last_balance = j;
        interval = interval_of(sd, ds, busy);
      }
      if (next_balance > ds.last_balance + interval) {
        next_balance = ds.last_balance + interval;
        update_next = true;
      }
    }
    if (need_decay) cs.max_idle_balance_cost = max_cost > tun.migration_cost ? max_cost : tun.migration_cost;
    if (update_next) cs.next_balance = next_balance;
    return out;
  }

  /// The balance of a CPU that just ran out of work (kernel: sched_balance_newidle()):
  /// domains bottom up while the expected idle time covers the balancing cost, stopping
  /// at the first pull.
  constexpr result_type on_newidle(std::size_t cpu, nanoseconds now, snapshot<L>& snap, state_type& state) const {
    BALANCEKIT_EXPECTS(tree_->cpu_map().test(cpu));
    result_type out;
    constexpr balance_tunables tun = P::balance_tuning;
    const jiffies_t j = to_jiffies(now, tun.hz);
    cpu_balance_state<L>& cs = state.cpus[cpu];
    const cpu_state& rq = snap.cpus[cpu];
    jiffies_t next_balance = j + static_cast<jiffies_t>(tun.hz);
    if (rq.ttwu_pending) return out;
    const std::size_t nr = tree_->nr_domains(cpu);
    if (nr != 0) {
      if (!root_overloaded(snap) || rq.avg_idle < cs.sd[0].max_newidle_lb_cost) {
        update_next_balance(tree_->domain_of(cpu, 0), cs.sd[0], next_balance);
      } else {
        nanoseconds curr_cost = 0;
        for (std::size_t k = 0; k < nr; ++k) {
          const auto& sd = tree_->domain_of(cpu, k);
          domain_balance_state& ds = cs.sd[k];
          update_next_balance(sd, ds, next_balance);
          if (snap.cpus[cpu].avg_idle < curr_cost + ds.max_newidle_lb_cost) break;
          int pulled = 0;
          bool continue_balancing = true;
          if (sd.flags.has(sd_flag::balance_newidle)) {
            pulled = balance_domain(cpu, k, cpu_idle_type::newly_idle, now, snap, state, out, continue_balancing);
            const nanoseconds cost = P::interval::newidle_cost(sd.span_weight);
            update_newidle_cost(ds, cost, j);
            curr_cost += cost;
          }
          if (pulled != 0 || !continue_balancing) break;
        }
        if (curr_cost > cs.max_idle_balance_cost) cs.max_idle_balance_cost = curr_cost;
      }
    }
    if (cs.next_balance > next_balance) cs.next_balance = next_balance;
    return out;
  }

  /// One balancing attempt of `cpu`'s `k`-th domain (kernel: sched_balance_rq()). Returns
  /// the number of tasks pulled; migrations are appended to `out`.
  constexpr int balance_domain(std::size_t cpu, std::size_t k, cpu_idle_type idle, nanoseconds now, snapshot<L>& snap,
                               state_type& state, result_type& out, bool& continue_balancing) const {
    BALANCEKIT_EXPECTS(tree_->cpu_map().test(cpu) && k < tree_->nr_domains(cpu));
    return detail::balance_pass<P, L>::run(*tree_, cpu, k, idle, now, snap, state, out, continue_balancing);
  }

private:
  constexpr jiffies_t interval_of(const typename tree_type::domain& sd, const domain_balance_state& ds, bool busy) const {
    constexpr balance_tunables tun = P::balance_tuning;
    return P::interval::balance_interval(ds.balance_interval, sd.busy_factor, busy, tun.hz,
                                         max_load_balance_interval(tun.hz, tree_->cpu_map().weight()));
  }

  // kernel: update_next_balance().
  constexpr void update_next_balance(const typename tree_type::domain& sd, const domain_balance_state& ds,
                                     jiffies_t& next_balance) const {
    const jiffies_t next = ds.last_balance + interval_of(sd, ds, false);
    if (next_balance > next) next_balance = next;
  }

  // kernel: update_newidle_cost(): keep the largest cost seen, decaying ~1% a second.
  static constexpr bool update_newidle_cost(domain_balance_state& ds, nanoseconds cost, jiffies_t j) {
    constexpr jiffies_t one_second = P::balance_tuning.hz;
    if (cost > ds.max_newidle_lb_cost) {
      ds.max_newidle_lb_cost = cost;
      ds.last_decay_max_lb_cost = j;
    } else if (j > ds.last_decay_max_lb_cost + one_second) {
      ds.max_newidle_lb_cost = ds.max_newidle_lb_cost * 253 / 256;
      ds.last_decay_max_lb_cost = j;
      return true;
    }
    return false;
  }

  // kernel: rd->overloaded: some CPU has a task waiting.
  constexpr bool root_overloaded(const snapshot<L>& snap) const {
    for (std::size_t c : tree_->cpu_map())
      if (snap.cpus[c].nr_running > 1) return true;
    return false;
  }

  const tree_type* tree_;
};

}  // namespace balancekit
