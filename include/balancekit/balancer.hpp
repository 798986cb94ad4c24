/// \file
/// Policy packs and the balancer's entry points.
///
/// kernel: sched_balance_rq() (ex load_balance), sched_balance_domains() (ex
/// rebalance_domains), sched_balance_trigger(), sched_balance_newidle() (ex
/// newidle_balance), active_load_balance_cpu_stop() — kernel/sched/fair.c (v6.16).
///
/// A balancer reads a `domain_tree` (built once) and works on two caller-owned values:
/// the `snapshot` (run queues; tasks it moves are moved in it, with the kernel's
/// accounting, so later levels see them as the kernel's would) and the `balance_state`
/// (per-CPU, per-domain intervals, failure counts, newidle costs, group imbalance flags).
/// Each call returns the migrations it made, in order.
///
/// Differences from the kernel, all because one call runs alone and at once:
///  - an active balance runs its stopper immediately, in the same call;
///  - SD_SERIALIZE's global lock is always free (calls never overlap);
///  - newidle costs come from the pack's cost model, not from a clock;
///  - the root domain's "overloaded" flag is recomputed from the snapshot (the kernel
///    sets it on enqueue and clears it at root-level balances).
#pragma once

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>

#include <balancekit/core/static_vector.hpp>
#include <balancekit/domains/domain_tree.hpp>
#include <balancekit/policy/active_balance.hpp>
#include <balancekit/policy/imbalance.hpp>
#include <balancekit/policy/interval.hpp>
#include <balancekit/policy/should_we_balance.hpp>
#include <balancekit/policy/src_rq.hpp>
#include <balancekit/policy/task_selection.hpp>
#include <balancekit/stats/group_stats.hpp>
#include <balancekit/stats/lb_env.hpp>
#include <balancekit/stats/snapshot.hpp>

namespace balancekit {

/// The domain options the balancer's rules expect: the rules are v6.16's, and so must be
/// the group flags they read (kernel_profile::mainline; see docs/domains.md).
[[nodiscard]] constexpr domain_options balancer_domain_options() noexcept {
  domain_options o;
  o.profile = kernel_profile::mainline;
  return o;
}

// -- the concepts a pack's members satisfy ------------------------------------------------

/// Finds the busiest group and sets the imbalance (kernel: sched_balance_find_src_group).
template <class P, class L>
concept src_group_policy = requires(lb_env<L>& env, const group_imbalance_flags<L>* flags) {
  { P::find(env, flags) } -> std::same_as<int>;
};
/// Finds the busiest run queue of a group (kernel: sched_balance_find_src_rq).
template <class P, class L>
concept src_rq_policy = requires(const lb_env<L>& env, std::size_t g) {
  { P::find(env, g) } -> std::same_as<std::size_t>;
};
/// Detaches tasks from the busiest run queue (kernel: detach_tasks).
template <class P, class L>
concept detach_policy = requires(lb_env<L>& env, detached_tasks& out) {
  { P::detach(env, out) } -> std::same_as<std::size_t>;
};
/// Decides the designated balancer (kernel: should_we_balance).
template <class P, class L>
concept balancer_choice_policy = requires(const lb_env<L>& env) {
  { P::check(env) } -> std::same_as<bool>;
};
/// Decides when a failed balance turns active (kernel: need_active_balance).
template <class P, class L>
concept active_balance_policy = requires(const lb_env<L>& env) {
  { P::needed(env) } -> std::same_as<bool>;
};
/// Balance intervals and newidle cost (kernel: get_sd_balance_interval).
template <class P>
concept interval_policy = requires(std::uint32_t ms, std::uint32_t w) {
  { P::balance_interval(ms, w, true, w, jiffies_t{}) } -> std::same_as<jiffies_t>;
  { P::newidle_cost(w) } -> std::same_as<nanoseconds>;
};

/// Linux's rules (v6.16), member by member. Derive and replace one member to change one rule:
/// \code
/// struct min_load_rules : balancekit::linux_defaults {
///   using src_group = balancekit::wasted_cores::min_load_src_group;
/// };
/// \endcode
struct linux_defaults {
  using src_group = linux_src_group;
  using src_rq = linux_src_rq;
  using detach = linux_detach;
  using should_balance = linux_should_we_balance;
  using active_balance = linux_active_balance;
  using interval = linux_interval;
  static constexpr balance_tunables tunables{};
};

/// A pack whose every member satisfies its concept.
template <class P, class L>
concept balance_policy_pack =
    src_group_policy<typename P::src_group, L> && src_rq_policy<typename P::src_rq, L> &&
    detach_policy<typename P::detach, L> && balancer_choice_policy<typename P::should_balance, L> &&
    active_balance_policy<typename P::active_balance, L> && interval_policy<typename P::interval> &&
    std::convertible_to<decltype(P::tunables), balance_tunables>;

// -- state and decisions --------------------------------------------------------------------

/// What one CPU's domain remembers between balances (kernel: fields of struct sched_domain).
struct domain_balance_state {
  std::uint32_t balance_interval = 0;     ///< ms; starts at min_interval, doubles while balanced
  std::uint32_t nr_balance_failed = 0;
  jiffies_t last_balance = 0;
  nanoseconds max_newidle_lb_cost = 0;
  jiffies_t last_decay_max_lb_cost = 0;
};

/// What one CPU remembers (kernel: fields of struct rq).
template <limits_pack L>
struct cpu_balance_state {
  jiffies_t next_balance = 0;
  nanoseconds max_idle_balance_cost = 500'000;
  std::array<domain_balance_state, L::max_levels> sd{};  ///< by attached domain, bottom up
};

/// Everything the balancer keeps between calls, owned by the caller.
template <limits_pack L>
struct balance_state {
  std::array<cpu_balance_state<L>, L::max_cpus> cpus{};
  group_imbalance_flags<L> group_imbalance{};  ///< kernel: sgc->imbalance

  /// The state right after the domains were attached at time `now` (kernel: sd_init and
  /// the run queue's initial values).
  constexpr void reset(const domain_tree<L>& tree, nanoseconds now, const balance_tunables& tun = {}) {
    const jiffies_t j = to_jiffies(now, tun.hz);
    group_imbalance.clear();
    for (std::size_t cpu = 0; cpu < L::max_cpus; ++cpu) {
      cpu_balance_state<L>& cs = cpus[cpu];
      cs = cpu_balance_state<L>{};
      cs.next_balance = j;
      cs.max_idle_balance_cost = tun.migration_cost;
      if (!tree.cpu_map().test(cpu)) continue;
      for (std::size_t k = 0; k < tree.nr_domains(cpu); ++k) {
        const auto& d = tree.domain_of(cpu, k);
        cs.sd[k] = domain_balance_state{d.min_interval, 0, j, 0, j};
      }
    }
  }
};

/// Why a task moved.
enum class migration_reason : std::uint8_t {
  periodic,  ///< the tick's balance (kernel: sched_balance_domains)
  newidle,   ///< a CPU running out of work pulled it
  active,    ///< the busiest CPU's stopper pushed it
};

[[nodiscard]] constexpr std::string_view to_string(migration_reason r) noexcept {
  constexpr std::string_view names[] = {"periodic", "newidle", "active"};
  return names[static_cast<std::size_t>(r)];
}

/// One task moved from `src` to `dst` while balancing the domain at build level `level`.
struct migration {
  std::uint32_t task = 0;  ///< index in the snapshot
  std::uint64_t id = 0;    ///< the task's `id`
  std::uint16_t src = 0;
  std::uint16_t dst = 0;
  std::uint8_t level = 0;
  migration_reason reason = migration_reason::periodic;
  migration_type type = migration_type::migrate_load;  ///< what the imbalance counted
  std::uint64_t src_load = 0;  ///< cpu_load(src) just before this task left
  std::uint64_t dst_load = 0;  ///< cpu_load(dst) just before this task arrived
  friend constexpr bool operator==(const migration&, const migration&) = default;
};

/// The migrations of one call, in the order they happened.
template <limits_pack L>
struct balance_result {
  /// Each domain's attempt detaches at most 64 tasks per pass (sysctl_sched_nr_migrate is 32).
  static constexpr std::size_t capacity = 65 * L::max_levels;
  static_vector<migration, capacity> migrations{};
  std::uint16_t domains_balanced = 0;  ///< sched_balance_rq() calls made
};

// -- the balancer -----------------------------------------------------------------------------

/// Runs a policy pack over a domain tree.
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
  static_assert(src_group_policy<typename P::src_group, L>,
                "P::src_group needs `static int find(lb_env<L>&, const group_imbalance_flags<L>*)`");
  static_assert(src_rq_policy<typename P::src_rq, L>,
                "P::src_rq needs `static std::size_t find(const lb_env<L>&, std::size_t group)`");
  static_assert(detach_policy<typename P::detach, L>,
                "P::detach needs `static std::size_t detach(lb_env<L>&, detached_tasks&)`");
  static_assert(balancer_choice_policy<typename P::should_balance, L>,
                "P::should_balance needs `static bool check(const lb_env<L>&)`");
  static_assert(active_balance_policy<typename P::active_balance, L>,
                "P::active_balance needs `static bool needed(const lb_env<L>&)`");
  static_assert(interval_policy<typename P::interval>,
                "P::interval needs `balance_interval(ms, busy_factor, busy, hz, max)` and `newidle_cost(span_weight)`");

public:
  using tree_type = domain_tree<L>;
  using result_type = balance_result<L>;
  static constexpr std::uint32_t max_pinned_interval = 512;  ///< kernel: MAX_PINNED_INTERVAL (ms)

  constexpr explicit balancer(const tree_type& tree) noexcept : tree_(&tree) {}

  [[nodiscard]] constexpr const tree_type& tree() const noexcept { return *tree_; }
  [[nodiscard]] static constexpr balance_tunables tunables() noexcept { return P::tunables; }

  /// The periodic balance of `cpu` at time `now` (kernel: sched_balance_trigger() then
  /// sched_balance_domains()): every domain whose interval has elapsed is balanced,
  /// bottom up, until a level says another CPU balances for this group.
  constexpr result_type on_tick(std::size_t cpu, nanoseconds now, snapshot<L>& snap, balance_state<L>& state) const {
    result_type out;
    const balance_tunables tun = P::tunables;
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
      need_decay = update_newidle_cost(ds, 0, j, tun.hz);
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
  constexpr result_type on_newidle(std::size_t cpu, nanoseconds now, snapshot<L>& snap, balance_state<L>& state) const {
    result_type out;
    const balance_tunables tun = P::tunables;
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
            update_newidle_cost(ds, cost, j, tun.hz);
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
                               balance_state<L>& state, result_type& out, bool& continue_balancing) const {
    const tree_type& tree = *tree_;
    const auto& sd = tree.domain_of(cpu, k);
    const bool has_parent = k + 1 < tree.nr_domains(cpu);
    domain_balance_state& ds = state.cpus[cpu].sd[k];
    lb_env<L> env = make_env(sd, cpu, idle, ds, now, snap);
    env.parent = has_parent ? &tree.domain_of(cpu, k + 1) : nullptr;
    env.cpus = tree.span(sd) & tree.cpu_map();
    env.dst_grpmask = tree.balance_mask(tree.group_of(sd, 0));
    env.fbq = fbq_type::all;
    const migration_reason reason = idle == cpu_idle_type::newly_idle ? migration_reason::newidle : migration_reason::periodic;
    ++out.domains_balanced;

    int ld_moved = 0;
    std::size_t busiest = 0;
    auto set_parent_imbalance = [&](bool on) {
      if (env.parent != nullptr) state.group_imbalance.set(env.parent->level, tree.group_of(*env.parent, 0).id, on);
    };
    enum class exit_path { done, balanced, all_pinned, one_pinned };
    exit_path path = exit_path::done;

    for (;;) {  // kernel: the `redo` label
      if (!P::should_balance::check(env)) {
        continue_balancing = false;
        path = exit_path::balanced;
        break;
      }
      const int group = P::src_group::find(env, &state.group_imbalance);
      if (group < 0) {
        path = exit_path::balanced;
        break;
      }
      busiest = P::src_rq::find(env, static_cast<std::size_t>(group));
      if (busiest == linux_src_rq::npos) {
        path = exit_path::balanced;
        break;
      }
      env.src_cpu = busiest;
      env.flags |= lbf::all_pinned;
      if (snap.cpus[busiest].nr_running > 1) {
        env.loop_max = std::min(env.tun.nr_migrate, snap.cpus[busiest].nr_running);
        for (;;) {  // kernel: the `more_balance` label
          if (out.migrations.size() + detached_tasks::capacity() > result_type::capacity) break;
          detached_tasks detached;
          std::uint64_t src_load = snap.cpus[busiest].load;
          std::uint64_t dst_load = snap.cpus[env.dst_cpu].load;
          const std::size_t n = P::detach::detach(env, detached);
          if (n != 0) {
            attach_tasks(snap, detached, env.dst_cpu);
            for (std::uint32_t t : detached) {
              migration m = make_migration(snap, t, busiest, env.dst_cpu, sd.level, reason);
              m.type = env.mtype;
              m.src_load = src_load;
              m.dst_load = dst_load;
              out.migrations.push_back(m);
              src_load -= std::min(src_load, snap.task_at(t).load);
              dst_load += snap.task_at(t).load;
            }
            ld_moved += static_cast<int>(n);
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
        // Affinity stopped us: tell the parent level its group is imbalanced.
        if ((env.flags & lbf::some_pinned) != 0 && env.imbalance > 0) set_parent_imbalance(true);
        if ((env.flags & lbf::all_pinned) != 0) {
          env.cpus.reset(busiest);
          if (!env.cpus.subset_of(env.dst_grpmask)) {
            env.loop = 0;
            continue;  // redo without that CPU
          }
          path = exit_path::all_pinned;
          break;
        }
      }
      break;
    }

    if (path == exit_path::done) {
      if (ld_moved == 0) {
        if (idle != cpu_idle_type::newly_idle && env.mtype != migration_type::migrate_misfit) ++ds.nr_balance_failed;
        env.nr_balance_failed = ds.nr_balance_failed;
        if (P::active_balance::needed(env)) {
          const std::uint32_t curr = snap.curr(busiest);
          if (curr != snapshot<L>::none && !snap.task_at(curr).allowed.test(cpu)) {
            path = exit_path::one_pinned;
          } else {
            env.flags &= ~lbf::all_pinned;
            ds.balance_interval = sd.min_interval;
            active_load_balance_cpu_stop(busiest, cpu, env.mtype, now, snap, state, out);
            return 0;
          }
        }
      } else {
        ds.nr_balance_failed = 0;
      }
      if (path == exit_path::done) {
        ds.balance_interval = sd.min_interval;  // we were unbalanced: balance again soon
        return ld_moved;
      }
    }
    if (path == exit_path::balanced && (env.flags & lbf::all_pinned) == 0) set_parent_imbalance(false);
    if (path == exit_path::balanced || path == exit_path::all_pinned) ds.nr_balance_failed = 0;
    // out_one_pinned: back off, except for newidle and misfit balances.
    if (env.idle == cpu_idle_type::newly_idle || env.mtype == migration_type::migrate_misfit) return 0;
    if (((env.flags & lbf::all_pinned) != 0 && ds.balance_interval < max_pinned_interval) ||
        ds.balance_interval < sd.max_interval)
      ds.balance_interval *= 2;
    return 0;
  }

private:
  // What every balancing attempt on `dst`'s domain `sd` starts from.
  constexpr lb_env<L> make_env(const typename tree_type::domain& sd, std::size_t dst, cpu_idle_type idle,
                               const domain_balance_state& ds, nanoseconds now, snapshot<L>& snap) const {
    lb_env<L> env;
    env.tree = tree_;
    env.snap = &snap;
    env.sd = &sd;
    env.dst_cpu = dst;
    env.idle = idle;
    env.nr_balance_failed = ds.nr_balance_failed;
    env.now = now;
    env.tun = P::tunables;
    return env;
  }

  static constexpr migration make_migration(const snapshot<L>& snap, std::uint32_t t, std::size_t src, std::size_t dst,
                                            std::size_t level, migration_reason reason) {
    return migration{t, snap.task_at(t).id, static_cast<std::uint16_t>(src), static_cast<std::uint16_t>(dst),
                     static_cast<std::uint8_t>(level), reason};
  }

  constexpr jiffies_t interval_of(const typename tree_type::domain& sd, const domain_balance_state& ds, bool busy) const {
    const balance_tunables tun = P::tunables;
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
  static constexpr bool update_newidle_cost(domain_balance_state& ds, nanoseconds cost, jiffies_t j, std::uint32_t hz) {
    if (cost > ds.max_newidle_lb_cost) {
      ds.max_newidle_lb_cost = cost;
      ds.last_decay_max_lb_cost = j;
    } else if (j > ds.last_decay_max_lb_cost + static_cast<jiffies_t>(hz)) {
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

  // kernel: active_load_balance_cpu_stop(): on `busiest`, push one task to `target` through
  // the lowest of target's domains that spans busiest, hotness ignored.
  constexpr void active_load_balance_cpu_stop(std::size_t busiest, std::size_t target, migration_type mtype, nanoseconds now,
                                              snapshot<L>& snap, balance_state<L>& state, result_type& out) const {
    const tree_type& tree = *tree_;
    // The stopper itself counts as running: one fair task is enough to push.
    if (snap.cpus[busiest].nr_running == 0) return;
    for (std::size_t k = 0; k < tree.nr_domains(target); ++k) {
      const auto& sd = tree.domain_of(target, k);
      if (!tree.span(sd).test(busiest)) continue;
      domain_balance_state& ds = state.cpus[target].sd[k];
      lb_env<L> env = make_env(sd, target, cpu_idle_type::idle, ds, now, snap);
      env.src_cpu = busiest;
      env.flags = lbf::active_lb;
      // kernel: detach_one_task(): the first movable task from the tail.
      for (std::uint32_t t = snap.tail(busiest); t != snapshot<L>::none; t = snap.prev(t)) {
        if (!can_migrate_task(env, t)) continue;
        migration m = make_migration(snap, t, busiest, target, sd.level, migration_reason::active);
        m.type = mtype;
        m.src_load = snap.cpus[busiest].load;
        m.dst_load = snap.cpus[target].load;
        snap.move_task(t, target);
        out.migrations.push_back(m);
        ds.nr_balance_failed = 0;
        break;
      }
      return;
    }
  }

  const tree_type* tree_;
};

}  // namespace balancekit
