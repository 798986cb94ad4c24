/// \file
/// The deterministic system model: tasks on per-CPU run queues, balanced in rounds.
///
/// A round advances time by `round_length` and lets every CPU of the map, in ascending
/// id order, run its periodic balance (`balancer::on_tick`) once, applying the decisions
/// at once so later CPUs see them. A CPU whose last task another CPU pulled away runs its
/// newly idle balance right after that call (as schedule() would), in ascending order.
/// Between rounds the caller may apply workload events: fork, wake, block, exit; a CPU
/// left without tasks by block or exit runs its newly idle balance at once, and if it is
/// still idle the placement family hears of it (`on_cpu_idle`).
///
/// Placement. `fork` and `wake` with a CPU put the task there; `place_fork` and
/// `place_wake` ask the pack (`on_fork`, `on_wakeup`: packing, then placement) and record
/// the decision with its branch in `placements()`. A task with phases (`run_rounds`,
/// `sleep_rounds`) runs for run_rounds rounds, blocks for sleep_rounds, and wakes again
/// through the pack at the start of a round, woken from its previous CPU (a timer armed
/// there); a round's wakeups are decided on one snapshot and then enqueued together, as
/// simultaneous wakeups on different CPUs are. So a light task — demand below 25 %, asleep
/// most of its period — shows what packing does over many wakeups. A wakeup onto an idle CPU clears its idle stamp, as
/// ttwu_do_activate() does.
///
/// Signals. The model owns PELT's steady state instead of integrating it: each task has
/// a `weight` and a `demand` (its utilization when it runs alone, 0..1024). On a CPU of
/// capacity C whose tasks' demands add up to D:
///  - D <= C: every task runs when it wants: util = runnable = demand;
///  - D > C:  the CPU is shared in proportion to demand: util = demand * C / D, and a
///    task is runnable for min(1024, demand * D / C);
///  - load = weight * runnable / 1024, h_load = load (no cgroups), util_est = util.
/// CPU sums are the sums over its tasks. The signals are refreshed at the start of each
/// round and after each event; within a round, moved tasks carry their values with them,
/// as PELT's detach/attach do.
///
/// Misfit status (kernel: update_misfit_status(), on machines with asymmetric capacity):
/// a CPU's running task that does not fit it (util_est with 20% headroom), may run
/// elsewhere and is not already on the biggest CPU it may use sets the CPU's
/// `misfit_task_load` to its h_load.
///
/// Cache hotness. The task a CPU runs is marked as having started at the round's time;
/// queued tasks keep older start times. With the default round length every queued task
/// is cold, so hotness never blocks the model's balancing (unit tests cover it).
///
/// Everything is sized by `limits` and nothing allocates; the object is large (it holds a
/// snapshot and the balance state), so keep it in caller-owned storage.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include <balancekit/balancer/balancer.hpp>
#include <balancekit/balancer/result.hpp>
#include <balancekit/balancer/state.hpp>
#include <balancekit/balancer/tunables.hpp>
#include <balancekit/balancer/wake_env.hpp>
#include <balancekit/core/cpumask.hpp>
#include <balancekit/core/index.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/core/static_vector.hpp>
#include <balancekit/core/units.hpp>
#include <balancekit/domains/domain_tree.hpp>
#include <balancekit/domains/flags.hpp>
#include <balancekit/policy/interval.hpp>
#include <balancekit/policy/task_selection.hpp>
#include <balancekit/stats/snapshot.hpp>

namespace balancekit::model {

/// A task as a workload describes it.
template <limits_pack L>
struct task_spec {
  std::uint64_t id = 0;
  std::uint64_t weight = nice_0_load;            ///< nice-0 = 1024; an autogroup share is smaller
  std::uint64_t demand = sched_capacity_scale;   ///< utilization when alone; 1024 = CPU hog
  cpumask<L::max_cpus> allowed = ~cpumask<L::max_cpus>{};
  /// Phases: with sleep_rounds > 0 the task runs run_rounds rounds, then sleeps
  /// sleep_rounds rounds, and wakes through the pack. 0: always runnable.
  std::uint32_t run_rounds = 1;
  std::uint32_t sleep_rounds = 0;
};

/// One placement the pack decided, with the round it happened in (0: before the first).
struct logged_placement {
  std::uint32_t round = 0;
  std::uint32_t task = no_task;
  std::size_t cpu = no_cpu;
  placement_branch why = placement_branch::stay;
  bool fork = false;
};

/// One migration of the run, with the round it happened in.
struct logged_migration {
  std::uint32_t round = 0;
  migration move{};
};

/// What one round did.
struct round_report {
  std::uint32_t round = 0;
  std::uint32_t migrations = 0;
  std::uint32_t idle_cpus = 0;        ///< after the round
  std::uint32_t overloaded_cpus = 0;  ///< CPUs running two or more tasks, after the round
};

/// The model. `LogCapacity` bounds the migration log; later migrations are counted in
/// `dropped_log_entries()` but not kept.
template <class P, limits_pack L, std::size_t LogCapacity = 4 * L::max_tasks>
class system {
public:
  using tree_type = domain_tree<L>;
  using snapshot_type = snapshot<L>;
  using result_type = typename balancer<P, L>::result_type;

  constexpr explicit system(const tree_type& tree) noexcept : balancer_(tree) {}

  /// Empties the run queues and resets the balance state at time `start`. Every CPU of
  /// the map gets its topology capacity from the domain tree's group records.
  constexpr void reset(nanoseconds start = 0) {
    const tree_type& tree = balancer_.tree();
    snap_.clear();
    for (std::size_t c = 0; c < L::max_cpus; ++c) {
      cpu_state& s = snap_.cpus[c];
      s.capacity = s.arch_capacity = tree.cpu_map().test(c) ? tree.cpu_capacity(c) : sched_capacity_scale;
      s.idle_stamp = 1;  // every CPU went idle once since boot (see simulator::reset)
    }
    state_.reset(tree, start);
    now_ = start;
    round_ = 0;
    log_.clear();
    placements_.clear();
    placements_dropped_ = 0;
    phased_.clear();
    dropped_ = 0;
    total_migrations_ = 0;
  }

  /// The time that passes in one round. By default every domain is due in every round:
  /// one jiffy more than the longest balance interval the kernel allows
  /// (max_load_balance_interval = HZ * online CPUs / 10).
  [[nodiscard]] constexpr nanoseconds default_round_length() const noexcept {
    constexpr balance_tunables tun = P::balance_tuning;
    const jiffies_t j = max_load_balance_interval(tun.hz, balancer_.tree().cpu_map().weight()) + 1;
    return j * (1'000'000'000 / static_cast<nanoseconds>(tun.hz));
  }
  constexpr void set_round_length(nanoseconds ns) noexcept { round_length_ = ns; }

  // -- workload events ----------------------------------------------------------------
  /// A new task queued on `cpu`; returns its index, or `no_task` when the model is full or
  /// `cpu` is not in the map or not allowed for the task.
  constexpr std::uint32_t fork(const task_spec<L>& spec, std::size_t cpu) {
    if (!balancer_.tree().cpu_map().test(cpu) || !spec.allowed.test(cpu)) return no_task;
    task_state<L> t;
    t.id = spec.id;
    t.weight = spec.weight;
    t.allowed = spec.allowed;
    const std::uint32_t i = snap_.add_task(t, cpu, false);
    if (i == no_task) return no_task;
    describe(i, spec);
    last_cpu_[i] = cpu;
    // add_task leaves the sums to the embedder; the model recomputes them.
    if (snap_.curr(cpu) == no_task) snap_.set_curr(i);
    refresh();
    return i;
  }
  /// A new task forked on `parent_cpu`, placed by the pack. Returns its index, or `no_task`
  /// when the model is full, `parent_cpu` is not in the map, or the task may run on no CPU
  /// of the map.
  constexpr std::uint32_t place_fork(const task_spec<L>& spec, std::size_t parent_cpu) {
    if (!balancer_.tree().cpu_map().test(parent_cpu) || !spec.allowed.intersects(balancer_.tree().cpu_map()))
      return no_task;
    task_state<L> t;
    t.id = spec.id;
    t.weight = spec.weight;
    t.allowed = spec.allowed;
    t.util = t.util_est = t.runnable = spec.demand;  // a new task's first estimate: its demand
    t.load = t.h_load = t.weight * spec.demand / sched_capacity_scale;
    const std::uint32_t i = snap_.add_sleeping_task(t);
    if (i == no_task) return no_task;
    describe(i, spec);
    const auto d = balancer_.on_fork(i, parent_cpu, now_, snap_, state_);
    if (!d) return no_task;  // not reached: the arguments were checked above
    enqueue_placed(i, *d, true);
    return i;
  }
  /// A dequeued task wakes, woken from `waker_cpu` (its previous CPU when no_cpu), and the
  /// pack places it. Returns the decision, or nothing for a task that is queued, exited or
  /// unknown, or a waker CPU outside the map.
  constexpr std::optional<placement_decision> place_wake(std::uint32_t t, std::size_t waker_cpu = no_cpu,
                                                         std::uint32_t flags = 0) {
    if (t >= snap_.tasks().size() || snap_.queued(t) || exited_.test(t)) return std::nullopt;
    const std::size_t prev = last_cpu_[t];
    const std::size_t waker = waker_cpu == no_cpu ? prev : waker_cpu;
    const auto d = balancer_.on_wakeup(t, prev, waker, flags, now_, snap_, state_);
    if (!d) return std::nullopt;
    enqueue_placed(t, *d, false);
    return *d;
  }
  /// A dequeued task wakes on `cpu`.
  constexpr bool wake(std::uint32_t t, std::size_t cpu) {
    if (t >= snap_.tasks().size() || snap_.queued(t) || exited_.test(t)) return false;
    if (!balancer_.tree().cpu_map().test(cpu) || !snap_.task_at(t).allowed.test(cpu)) return false;
    enqueue(t, cpu);
    refresh();
    return true;
  }
  /// A queued task blocks; its CPU balances if that left it idle.
  constexpr result_type block(std::uint32_t t) { return leave(t, false); }
  /// A queued task exits for good.
  constexpr result_type exit(std::uint32_t t) { return leave(t, true); }

  // -- rounds -----------------------------------------------------------------------------
  /// One round: time advances, every CPU balances once.
  constexpr round_report round() {
    const nanoseconds step = round_length_ > 0 ? round_length_ : default_round_length();
    now_ += step;
    ++round_;
    advance_phases();
    refresh();
    for (std::size_t c : balancer_.tree().cpu_map()) {
      const std::uint32_t t = snap_.curr(c);
      if (t != no_task) snap_.task_at(t).exec_start = now_;
    }
    round_report rep{round_, 0, 0, 0};
    for (std::size_t c : balancer_.tree().cpu_map()) {
      const bool was_busy = snap_.cpus[c].nr_running != 0;
      const result_type r = balancer_.on_tick(c, now_, snap_, state_);
      rep.migrations += record(r);
      rep.migrations += newidle_for_emptied(r, c, was_busy);
    }
    for (std::size_t c : balancer_.tree().cpu_map()) {
      if (snap_.cpus[c].nr_running == 0) ++rep.idle_cpus;
      if (snap_.cpus[c].nr_running >= 2) ++rep.overloaded_cpus;
    }
    return rep;
  }

  /// Rounds until one moves nothing `quiet_rounds` times in a row, or `max_rounds`.
  /// Returns the number of rounds run up to and including the last one that moved a task
  /// (0 when nothing ever moved); `converged` says whether the quiet streak was reached.
  constexpr std::uint32_t run_to_fixpoint(std::uint32_t max_rounds, std::uint32_t quiet_rounds, bool& converged) {
    std::uint32_t quiet = 0;
    std::uint32_t last_active = 0;
    const std::uint32_t first = round_;
    converged = false;
    while (round_ - first < max_rounds) {
      const round_report r = round();
      if (r.migrations == 0) {
        if (++quiet >= quiet_rounds) {
          converged = true;
          break;
        }
      } else {
        quiet = 0;
        last_active = round_ - first;
      }
    }
    return last_active;
  }

  // -- what the model holds ------------------------------------------------------------
  [[nodiscard]] constexpr const snapshot_type& snap() const noexcept { return snap_; }
  [[nodiscard]] constexpr const balance_state<P, L>& state() const noexcept { return state_; }
  /// The balance state, for settings a family keeps in it (a packing margin set at run time).
  [[nodiscard]] constexpr balance_state<P, L>& state() noexcept { return state_; }
  [[nodiscard]] constexpr const tree_type& tree() const noexcept { return balancer_.tree(); }
  [[nodiscard]] constexpr nanoseconds now() const noexcept { return now_; }
  [[nodiscard]] constexpr std::uint32_t rounds() const noexcept { return round_; }
  [[nodiscard]] constexpr const static_vector<logged_migration, LogCapacity>& log() const noexcept { return log_; }
  [[nodiscard]] constexpr std::uint64_t dropped_log_entries() const noexcept { return dropped_; }
  [[nodiscard]] constexpr std::uint64_t total_migrations() const noexcept { return total_migrations_; }
  [[nodiscard]] constexpr std::uint64_t demand(std::uint32_t t) const { return demand_[t]; }
  [[nodiscard]] constexpr bool exited(std::uint32_t t) const { return exited_.test(t); }
  /// The placements the pack decided, in order; later ones are counted in
  /// `dropped_placements()` but not kept.
  [[nodiscard]] constexpr const static_vector<logged_placement, LogCapacity>& placements() const noexcept {
    return placements_;
  }
  [[nodiscard]] constexpr std::uint64_t dropped_placements() const noexcept { return placements_dropped_; }

  /// Recomputes every signal from the tasks (see the file comment).
  constexpr void refresh() {
    for (std::size_t c : balancer_.tree().cpu_map()) refresh_cpu(c);
  }

private:
  constexpr void describe(std::uint32_t i, const task_spec<L>& spec) {
    demand_[i] = spec.demand;
    max_allowed_capacity_[i] = 0;
    for (std::size_t c : spec.allowed & balancer_.tree().cpu_map())
      max_allowed_capacity_[i] = std::max(max_allowed_capacity_[i], snap_.cpus[c].arch_capacity);
    run_rounds_[i] = spec.run_rounds > 0 ? spec.run_rounds : 1;
    sleep_rounds_[i] = spec.sleep_rounds;
    phase_left_[i] = run_rounds_[i];
    if (spec.sleep_rounds > 0) phased_.set(i);
  }

  // A task joins `cpu`'s queue; a CPU that was idle loses its idle stamp (ttwu_do_activate()).
  constexpr void enqueue(std::uint32_t t, std::size_t cpu) {
    if (snap_.cpus[cpu].nr_running == 0) snap_.cpus[cpu].idle_stamp = 0;
    snap_.enqueue_task(t, cpu);
    last_cpu_[t] = cpu;
  }

  constexpr void enqueue_placed(std::uint32_t t, const placement_decision& d, bool fork) {
    enqueue(t, d.cpu);
    refresh();
    if (!placements_.try_push_back(logged_placement{round_, t, d.cpu, d.why, fork})) ++placements_dropped_;
  }

  // The phases of the round that starts: tasks whose run phase ends block, in task order;
  // then the tasks whose sleep ends wake at once — each placement decided on the same
  // snapshot, as simultaneous wakeups on different CPUs are — and are enqueued together.
  constexpr void advance_phases() {
    for (std::size_t t : phased_) {
      const auto i = static_cast<std::uint32_t>(t);
      if (exited_.test(i) || !snap_.queued(i) || --phase_left_[i] > 0) continue;
      phase_left_[i] = sleep_rounds_[i] + 1;  // the wake loop below counts this round
      leave(i, false);
    }
    static_vector<std::uint32_t, L::max_tasks> woken;
    for (std::size_t t : phased_) {
      const auto i = static_cast<std::uint32_t>(t);
      if (exited_.test(i) || snap_.queued(i) || --phase_left_[i] > 0) continue;
      phase_left_[i] = run_rounds_[i];
      const std::size_t prev = last_cpu_[i];
      if (const auto d = balancer_.on_wakeup(i, prev, prev, 0, now_, snap_, state_)) {
        wake_cpu_[i] = *d;
        woken.push_back(i);
      }
    }
    for (const std::uint32_t i : woken) enqueue_placed(i, wake_cpu_[i], false);
  }


  constexpr void refresh_cpu(std::size_t c) {
    cpu_state& s = snap_.cpus[c];
    std::uint64_t d = 0;
    for (std::uint32_t t = snap_.head(c); t != no_task; t = snap_.next(t)) d += demand_[t];
    const std::uint64_t cap = s.capacity;
    for (std::uint32_t t = snap_.head(c); t != no_task; t = snap_.next(t)) {
      task_state<L>& p = snap_.task_at(t);
      const std::uint64_t dem = demand_[t];
      if (d <= cap) {
        p.util = dem;
        p.runnable = dem;
      } else {
        p.util = dem * cap / d;
        const std::uint64_t r = dem * d / cap;
        p.runnable = r < sched_capacity_scale ? r : sched_capacity_scale;
      }
      p.util_est = p.util;
      p.load = p.weight * p.runnable / sched_capacity_scale;
      p.h_load = p.load;
    }
    snap_.refresh_sums(c);
    s.misfit_task_load = 0;
    const std::uint32_t curr = snap_.curr(c);
    if (balancer_.tree().asym_cpucapacity_active() && curr != no_task)
      s.misfit_task_load = misfit_task_load(snap_.task_at(curr), s, max_allowed_capacity_[curr]);
  }

  // CPUs that had work before CPU `ticked`'s balance and have none after it balance as
  // newly idle, in ascending order, each when its turn comes. Only a migration's source
  // can have lost its work, and every source had work before the balance except,
  // possibly, `ticked` itself (the only CPU that can gain tasks in its own balance), so the
  // sources stand for "busy before" without a scan of the machine; a newly idle balance's
  // own sources join the walk.
  constexpr std::uint32_t newidle_for_emptied(const result_type& r, std::size_t ticked, bool ticked_was_busy) {
    cpumask<L::max_cpus> sources;
    auto add_sources = [&](const result_type& res) {
      for (const migration& m : res.migrations)
        if (m.src != ticked || ticked_was_busy) sources.set(m.src);
    };
    add_sources(r);
    std::uint32_t n = 0;
    for (std::size_t c = sources.first(); c != cpumask<L::max_cpus>::npos; c = sources.next(c)) {
      if (snap_.cpus[c].nr_running != 0) continue;
      result_type idle;
      n += went_idle(c, &idle);
      add_sources(idle);
    }
    return n;
  }

  // A CPU ran out of work: its newly idle balance, and if it stays idle the idle task runs
  // (the placement family's idle-core hint).
  constexpr std::uint32_t went_idle(std::size_t c, result_type* out = nullptr) {
    const result_type r = balancer_.on_newidle(c, now_, snap_, state_);
    if (snap_.cpus[c].nr_running == 0) balancer_.on_cpu_idle(c, snap_, state_);
    if (out != nullptr) *out = r;
    return record(r);
  }

  constexpr std::uint32_t record(const result_type& r) {
    for (const migration& m : r.migrations) {
      if (!log_.try_push_back(logged_migration{round_, m})) ++dropped_;
    }
    total_migrations_ += r.migrations.size();
    return static_cast<std::uint32_t>(r.migrations.size());
  }

  constexpr result_type leave(std::uint32_t t, bool for_good) {
    result_type out;
    if (t >= snap_.tasks().size() || !snap_.queued(t)) return out;
    const std::size_t c = snap_.cpu_of(t);
    last_cpu_[t] = c;
    snap_.dequeue_task(t);
    if (for_good) exited_.set(t);
    refresh();
    if (snap_.cpus[c].nr_running == 0) went_idle(c, &out);
    return out;
  }

  balancer<P, L> balancer_;
  snapshot_type snap_{};
  balance_state<P, L> state_{};
  std::array<std::uint64_t, L::max_tasks> demand_{};
  std::array<std::uint64_t, L::max_tasks> max_allowed_capacity_{};
  std::array<std::size_t, L::max_tasks> last_cpu_{};
  std::array<std::uint32_t, L::max_tasks> run_rounds_{};
  std::array<std::uint32_t, L::max_tasks> sleep_rounds_{};
  std::array<std::uint32_t, L::max_tasks> phase_left_{};
  std::array<placement_decision, L::max_tasks> wake_cpu_{};
  cpumask<L::max_tasks> phased_{};
  cpumask<L::max_tasks> exited_{};
  nanoseconds now_ = 0;
  nanoseconds round_length_ = 0;
  std::uint32_t round_ = 0;
  static_vector<logged_migration, LogCapacity> log_{};
  static_vector<logged_placement, LogCapacity> placements_{};
  std::uint64_t placements_dropped_ = 0;
  std::uint64_t dropped_ = 0;
  std::uint64_t total_migrations_ = 0;
};

}  // namespace balancekit::model
