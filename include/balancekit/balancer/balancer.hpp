/// \file
/// The balancer: a policy pack run over a domain tree, and its entry points.
///
/// kernel: sched_balance_domains() (ex rebalance_domains), sched_balance_trigger(),
/// sched_balance_newidle() (ex newidle_balance), update_next_balance(),
/// update_newidle_cost() — kernel/sched/fair.c; select_task_rq(), try_to_wake_up(),
/// wake_up_new_task(), sched_exec() — kernel/sched/core.c (v6.16).
///
/// A balancer reads a `domain_tree` (built once) and works on two caller-owned values:
/// the `snapshot` (run queues; tasks it moves are moved in it, with the kernel's
/// accounting, so later levels see them as the kernel's would) and the `balance_state`
/// (per-CPU, per-domain intervals, failure counts, newidle costs, group imbalance flags,
/// and every family's state). A balancing call returns the migrations it made, in order; a
/// placement call returns the CPU and why, or an error naming a bad argument.
///
/// Differences from the kernel, all because one call runs alone and at once:
///  - an active balance runs its stopper immediately, in the same call;
///  - SD_SERIALIZE's global lock is always free (calls never overlap);
///  - newidle costs come from the pack's cost model, not from a clock.
/// The root domain's "overloaded" flag is the snapshot's `overloaded`: set as the kernel's
/// add_nr_running() sets it, refreshed by every root-level balance as the kernel's
/// update_sd_lb_stats() does, and read by the newly idle balance.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <utility>

#include <balancekit/balancer/lb_env.hpp>
#include <balancekit/balancer/pass.hpp>
#include <balancekit/balancer/result.hpp>
#include <balancekit/balancer/state.hpp>
#include <balancekit/balancer/tunables.hpp>
#include <balancekit/balancer/wake_env.hpp>
#include <balancekit/core/error.hpp>
#include <balancekit/core/index.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/core/units.hpp>
#include <balancekit/detail/contracts.hpp>
#include <balancekit/domains/domain_tree.hpp>
#include <balancekit/domains/flags.hpp>
#include <balancekit/domains/levels.hpp>
#include <balancekit/policy/interval.hpp>
#include <balancekit/policy/pack.hpp>
#include <balancekit/policy/placement.hpp>
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
    result_type out;
    on_tick(cpu, now, snap, state, out);
    return out;
  }

  /// `on_tick` appending to the caller's `out` (which it does not clear): a result holds
  /// room for every level's migrations, and a caller that balances often reuses one.
  constexpr void on_tick(std::size_t cpu, nanoseconds now, snapshot<L>& snap, state_type& state,
                         result_type& out) const {
    BALANCEKIT_EXPECTS(tree_->cpu_map().test(cpu));
    constexpr balance_tunables tun = P::balance_tuning;
    const jiffies_t j = to_jiffies(now, tun.hz);
    cpu_balance_state<L>& cs = state.cpus[cpu];
    const std::size_t nr = tree_->nr_domains(cpu);
    if (nr == 0 || j < cs.next_balance) return;
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
  }

  /// The balance of a CPU that just ran out of work (kernel: sched_balance_newidle()):
  /// domains bottom up while the expected idle time covers the balancing cost, stopping
  /// at the first pull. The CPU's `idle_stamp` becomes `now`, or 0 when it pulled work.
  constexpr result_type on_newidle(std::size_t cpu, nanoseconds now, snapshot<L>& snap, state_type& state) const {
    result_type out;
    on_newidle(cpu, now, snap, state, out);
    return out;
  }

  /// `on_newidle` appending to the caller's `out` (which it does not clear).
  constexpr void on_newidle(std::size_t cpu, nanoseconds now, snapshot<L>& snap, state_type& state,
                            result_type& out) const {
    BALANCEKIT_EXPECTS(tree_->cpu_map().test(cpu));
    constexpr balance_tunables tun = P::balance_tuning;
    const jiffies_t j = to_jiffies(now, tun.hz);
    cpu_balance_state<L>& cs = state.cpus[cpu];
    const cpu_state& rq = snap.cpus[cpu];
    jiffies_t next_balance = j + static_cast<jiffies_t>(tun.hz);
    if (rq.ttwu_pending) return;
    // Set before balancing so that the time spent balancing counts as idle time; the slow
    // path of placement prefers the most recently idled CPU by this stamp.
    snap.cpus[cpu].idle_stamp = now;
    const std::size_t nr = tree_->nr_domains(cpu);
    if (nr != 0) {
      if (!snap.overloaded || rq.avg_idle < cs.sd[0].max_newidle_lb_cost) {
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
    if (snap.cpus[cpu].nr_running != 0) snap.cpus[cpu].idle_stamp = 0;
  }

  /// A sleeping task wakes up (kernel: try_to_wake_up() → select_task_rq(p, task_cpu(p),
  /// WF_TTWU | flags)). `prev_cpu` is where it last ran; `waker_cpu` is the CPU doing the
  /// wakeup, and what runs there is the waker (`current`). `flags`: wf::sync,
  /// wf::current_cpu, wf::from_interrupt. The pack's packing policy decides first, then its
  /// placement policy. The task is not queued; the caller enqueues it on the returned CPU.
  constexpr result<placement_decision> on_wakeup(std::uint32_t task, std::size_t prev_cpu, std::size_t waker_cpu,
                                                 std::uint32_t flags, nanoseconds now, const snapshot<L>& snap,
                                                 state_type& state) const {
    if (status s = check_placement(task, prev_cpu, waker_cpu, snap, "wakeup", false); !s) return s.error_value();
    return place(task, prev_cpu, waker_cpu, wf::ttwu | (flags & ~(wf::exec | wf::fork | wf::ttwu)), now, snap, state);
  }

  /// A new task's first placement (kernel: wake_up_new_task() → select_task_rq(p,
  /// task_cpu(p), WF_FORK)). `parent_cpu` is where it was forked, which is also where the
  /// fork runs. The task is not queued (`snapshot::add_sleeping_task`).
  constexpr result<placement_decision> on_fork(std::uint32_t task, std::size_t parent_cpu, nanoseconds now,
                                               const snapshot<L>& snap, state_type& state) const {
    if (status s = check_placement(task, parent_cpu, parent_cpu, snap, "fork", false); !s) return s.error_value();
    return place(task, parent_cpu, parent_cpu, wf::fork, now, snap, state);
  }

  /// A task calls exec (kernel: sched_exec() → select_task_rq(p, task_cpu(p), WF_EXEC)). It
  /// runs on its CPU; the caller moves it to the returned one.
  constexpr result<placement_decision> on_exec(std::uint32_t task, nanoseconds now, const snapshot<L>& snap,
                                               state_type& state) const {
    if (task >= snap.tasks().size() || !snap.running(task))
      return error{errc::invalid_argument, "exec: the task must be one of the snapshot's running tasks"};
    const std::size_t cpu = snap.cpu_of(task);
    if (status s = check_placement(task, cpu, cpu, snap, "exec", true); !s) return s.error_value();
    return place(task, cpu, cpu, wf::exec, now, snap, state);
  }

  /// A CPU went idle (kernel: pick_next_task_idle() → __update_idle_core()): the placement
  /// family notes it (Linux's: its LLC may now have an idle core).
  constexpr void on_cpu_idle(std::size_t cpu, const snapshot<L>& snap, state_type& state) const {
    BALANCEKIT_EXPECTS(tree_->cpu_map().test(cpu));
    P::placement::note_idle(*tree_, snap, cpu, state.placement);
  }

  /// One balancing attempt of `cpu`'s `k`-th domain (kernel: sched_balance_rq()). Returns
  /// the number of tasks pulled; migrations are appended to `out`.
  constexpr int balance_domain(std::size_t cpu, std::size_t k, cpu_idle_type idle, nanoseconds now, snapshot<L>& snap,
                               state_type& state, result_type& out, bool& continue_balancing) const {
    BALANCEKIT_EXPECTS(tree_->cpu_map().test(cpu) && k < tree_->nr_domains(cpu));
    return detail::balance_pass<P, L>::run(*tree_, cpu, k, idle, now, snap, state, out, continue_balancing);
  }

private:
  // The arguments of a placement, checked: a bad one is an error value and nothing changes.
  constexpr status check_placement(std::uint32_t task, std::size_t prev_cpu, std::size_t this_cpu,
                                   const snapshot<L>& snap, std::string_view what, bool queued) const {
    auto fail = [&](errc code) {
      error e{code, what};
      e << ": ";
      return e;
    };
    if (task >= snap.tasks().size())
      return fail(errc::out_of_range) << "task " << task << " is not in the snapshot (" << snap.tasks().size()
                                      << " tasks)";
    if (!queued && snap.queued(task))
      return fail(errc::invalid_argument) << "task " << task << " is queued on CPU " << snap.cpu_of(task)
                                          << "; only a sleeping task is placed";
    for (std::size_t cpu : {prev_cpu, this_cpu})
      if (cpu >= L::max_cpus || !tree_->cpu_map().test(cpu))
        return fail(errc::out_of_range) << "CPU " << cpu << " is not one of the machine's online CPUs";
    if (!snap.task_at(task).allowed.intersects(tree_->cpu_map()))
      return fail(errc::invalid_argument) << "task " << task << " may run on no online CPU";
    return {};
  }

  // kernel: select_task_rq(): for a task that may run on more than one CPU, the packing
  // policy, then (when it does not decide) the placement policy, which an aggregation
  // member that places may revise; the only CPU otherwise; select_fallback_rq() when the
  // choice is not allowed.
  constexpr placement_decision place(std::uint32_t task, std::size_t prev_cpu, std::size_t this_cpu,
                                     std::uint32_t flags, nanoseconds now, const snapshot<L>& snap,
                                     state_type& state) const {
    const auto& allowed = snap.task_at(task).allowed;
    placement_decision d;
    if (allowed.more_than_one()) {
      const auto env = make_wake_env<P>(*tree_, snap, &state, task, prev_cpu, this_cpu, flags, now);
      d = P::packing::select(env, state.packing);
      if (d.cpu == no_cpu) d = P::placement::select(env, state.placement);
      if constexpr (detail::aggregation_places<P>) d = P::aggregation::place(env, std::as_const(state.aggregation), d);
    } else {
      d = {allowed.first(), placement_branch::single_cpu, prev_cpu};
    }
    if (d.cpu >= L::max_cpus || !allowed.test(d.cpu) || !tree_->cpu_map().test(d.cpu)) {
      d.cpu = select_fallback_rq(*tree_, allowed, prev_cpu);
      d.why = placement_branch::fallback;
    }
    return d;
  }

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

  const tree_type* tree_;
};

}  // namespace balancekit
