/// \file
/// The round model: tasks on per-CPU run queues, balanced in rounds — a thin layer over
/// the simulator driven by the caller (`simulator` in `sim_mode::rounds`), so both share
/// one engine: its run queues, placement, migrations and newly idle balances.
///
/// A round advances time by `round_length` and lets every CPU of the map, in ascending
/// id order, run its periodic balance (`balancer::on_tick`) once, applying the decisions
/// at once so later CPUs see them. A CPU that a balance empties runs its newly idle
/// balance at once (as schedule() would), and so on for the CPUs that one empties. Between
/// rounds the caller may apply workload events: fork, wake, block, exit; a CPU left
/// without tasks runs its newly idle balance at once, and if it is still idle the
/// placement family hears of it (`on_cpu_idle`).
///
/// Placement. `fork` puts a task on a CPU; `place_fork` and `place_wake` ask the pack
/// (`on_fork`, `on_wakeup`: packing, then placement) and record the decision with its
/// branch in `placements()`. A task with phases (`run_rounds`, `sleep_rounds`) runs for
/// run_rounds rounds, blocks for sleep_rounds, and wakes again through the pack at the
/// start of a round, woken from its previous CPU (a timer armed there); a round's wakeups
/// are decided on one snapshot and then enqueued together, as simultaneous wakeups on
/// different CPUs are. So a light task — demand below 25 %, asleep most of its period —
/// shows what packing does over many wakeups.
///
/// Signals. PELT's steady state from each task's `demand` (its utilization when it runs
/// alone, 0..1024; see `simulator::refresh_signals`), recomputed at the start of each round
/// and after each workload event; within a round, moved tasks carry their values with
/// them, as PELT's detach/attach do. The misfit status of a CPU (asymmetric capacity
/// only) follows its running task, as update_misfit_status() does.
///
/// Running tasks. The task a CPU runs is the one it started (the first to arrive on an
/// idle CPU); when it leaves, the queued task with the smallest vruntime runs. A task
/// that starts on a CPU is cache hot from then (its exec_start); with the default round
/// length every queued task is cold again by the next round.
///
/// Everything is sized by `limits` and nothing allocates; the object is large (it holds a
/// simulator), so keep it in caller-owned storage.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

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
#include <balancekit/model/simulator.hpp>
#include <balancekit/policy/interval.hpp>
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

  constexpr explicit system(const tree_type& tree) noexcept : sim_(tree) {}

  /// Empties the run queues and resets the balance state at time 0. Every CPU of the map
  /// gets its topology capacity from the domain tree's group records.
  constexpr void reset() {
    sim_.reset(sim_mode::rounds);
    round_ = 0;
    log_.clear();
    dropped_ = 0;
    total_migrations_ = 0;
    placements_.clear();
    placements_dropped_ = 0;
    phased_.clear();
  }

  /// The time that passes in one round. By default every domain is due in every round:
  /// one jiffy more than the longest balance interval the kernel allows
  /// (max_load_balance_interval = HZ * online CPUs / 10).
  [[nodiscard]] constexpr nanoseconds default_round_length() const noexcept {
    constexpr balance_tunables tun = P::balance_tuning;
    const jiffies_t j = max_load_balance_interval(tun.hz, tree().cpu_map().weight()) + 1;
    return j * (1'000'000'000 / static_cast<nanoseconds>(tun.hz));
  }
  constexpr void set_round_length(nanoseconds ns) noexcept { round_length_ = ns; }

  // -- workload events ----------------------------------------------------------------
  /// A new task queued on `cpu`; returns its index, or `no_task` when the model is full or
  /// `cpu` is not in the map or not allowed for the task.
  constexpr std::uint32_t fork(const task_spec<L>& spec, std::size_t cpu) {
    if (!tree().cpu_map().test(cpu) || !spec.allowed.test(cpu)) return no_task;
    const std::uint32_t i = sim_.spawn(as_sim_task(spec), cpu);
    if (i == no_task) return no_task;
    describe(i, spec);
    sim_.enqueue_at(i, cpu);
    return i;
  }
  /// A new task forked on `parent_cpu`, placed by the pack. Returns its index, or `no_task`
  /// when the model is full, `parent_cpu` is not in the map, or the task may run on no CPU
  /// of the map.
  constexpr std::uint32_t place_fork(const task_spec<L>& spec, std::size_t parent_cpu) {
    const std::uint32_t i = sim_.spawn(as_sim_task(spec), parent_cpu);
    if (i == no_task) return no_task;
    describe(i, spec);
    const auto d = sim_.place(i, parent_cpu);
    if (!d) return no_task;  // not reached: spawn checked the arguments
    enqueue_placed(i, *d, true);
    return i;
  }
  /// A dequeued task wakes, woken from `waker_cpu` (its previous CPU when no_cpu), and the
  /// pack places it. Returns the decision, or nothing for a task that is queued, exited or
  /// unknown, or a waker CPU outside the map.
  constexpr std::optional<placement_decision> place_wake(std::uint32_t t, std::size_t waker_cpu = no_cpu,
                                                         std::uint32_t flags = 0) {
    if (t >= snap().tasks().size()) return std::nullopt;
    const auto d = sim_.place(t, waker_cpu == no_cpu ? sim_.last_cpu(t) : waker_cpu, flags);
    if (d) enqueue_placed(t, *d, false);
    return d;
  }
  /// A dequeued task wakes on `cpu`; false for a task that is queued, exited or unknown,
  /// or a CPU outside the map or the task's affinity.
  constexpr bool wake(std::uint32_t t, std::size_t cpu) { return sim_.enqueue_at(t, cpu); }
  /// A queued task blocks; its CPU balances if that left it idle. Returns the migrations
  /// that balance made (0 for a task that is not queued).
  constexpr std::uint32_t block(std::uint32_t t) { return leave(t, false); }
  /// A queued task exits for good.
  constexpr std::uint32_t exit(std::uint32_t t) { return leave(t, true); }

  // -- rounds -----------------------------------------------------------------------------
  /// One round: time advances, every CPU balances once.
  constexpr round_report round() {
    const nanoseconds step = round_length_ > 0 ? round_length_ : default_round_length();
    sim_.advance_clock(sim_.now() + step);
    ++round_;
    advance_phases();
    sim_.refresh_signals();
    round_report rep{round_, 0, 0, 0};
    for (std::size_t c : tree().cpu_map()) {
      sim_.balance_cpu(c);
      rep.migrations += collect();
    }
    for (std::size_t c : tree().cpu_map()) {
      if (snap().cpus[c].nr_running == 0) ++rep.idle_cpus;
      if (snap().cpus[c].nr_running >= 2) ++rep.overloaded_cpus;
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
  [[nodiscard]] constexpr const snapshot_type& snap() const noexcept { return sim_.snap(); }
  [[nodiscard]] constexpr const balance_state<P, L>& state() const noexcept { return sim_.state(); }
  /// The balance state, for settings a family keeps in it (a packing margin set at run time).
  [[nodiscard]] constexpr balance_state<P, L>& state() noexcept { return sim_.state(); }
  [[nodiscard]] constexpr const tree_type& tree() const noexcept { return sim_.tree(); }
  /// The engine underneath, for what the round model does not repeat (running tasks).
  [[nodiscard]] constexpr const simulator<P, L, LogCapacity>& engine() const noexcept { return sim_; }
  [[nodiscard]] constexpr nanoseconds now() const noexcept { return sim_.now(); }
  [[nodiscard]] constexpr std::uint32_t rounds() const noexcept { return round_; }
  [[nodiscard]] constexpr const static_vector<logged_migration, LogCapacity>& log() const noexcept { return log_; }
  [[nodiscard]] constexpr std::uint64_t dropped_log_entries() const noexcept { return dropped_; }
  [[nodiscard]] constexpr std::uint64_t total_migrations() const noexcept { return total_migrations_; }
  [[nodiscard]] constexpr std::uint64_t demand(std::uint32_t t) const { return sim_.spec(t).demand; }
  [[nodiscard]] constexpr bool exited(std::uint32_t t) const { return sim_.exited(t); }
  /// The placements the pack decided, in order; later ones are counted in
  /// `dropped_placements()` but not kept.
  [[nodiscard]] constexpr const static_vector<logged_placement, LogCapacity>& placements() const noexcept {
    return placements_;
  }
  [[nodiscard]] constexpr std::uint64_t dropped_placements() const noexcept { return placements_dropped_; }

private:
  static constexpr sim_task<L> as_sim_task(const task_spec<L>& spec) noexcept {
    sim_task<L> t;
    t.id = spec.id;
    t.weight = spec.weight;
    t.allowed = spec.allowed;
    t.demand = spec.demand;  // work 0: never blocks by itself; the phases are the model's
    return t;
  }

  constexpr void describe(std::uint32_t i, const task_spec<L>& spec) {
    run_rounds_[i] = spec.run_rounds > 0 ? spec.run_rounds : 1;
    sleep_rounds_[i] = spec.sleep_rounds;
    phase_left_[i] = run_rounds_[i];
    if (spec.sleep_rounds > 0) phased_.set(i);
  }

  constexpr void enqueue_placed(std::uint32_t t, const placement_decision& d, bool fork) {
    sim_.enqueue_at(t, d.cpu);
    if (!placements_.try_push_back(logged_placement{round_, t, d.cpu, d.why, fork})) ++placements_dropped_;
  }

  // The phases of the round that starts: tasks whose run phase ends block, in task order;
  // then the tasks whose sleep ends wake at once — each placement decided on the same
  // snapshot, as simultaneous wakeups on different CPUs are — and are enqueued together.
  // The newly idle balances of the blocks are logged but not counted in the round's report.
  constexpr void advance_phases() {
    for (std::size_t t : phased_) {
      const auto i = static_cast<std::uint32_t>(t);
      if (sim_.exited(i) || !snap().queued(i) || --phase_left_[i] > 0) continue;
      phase_left_[i] = sleep_rounds_[i] + 1;  // the wake loop below counts this round
      leave(i, false);
    }
    static_vector<std::uint32_t, L::max_tasks> woken;
    for (std::size_t t : phased_) {
      const auto i = static_cast<std::uint32_t>(t);
      if (sim_.exited(i) || snap().queued(i) || --phase_left_[i] > 0) continue;
      phase_left_[i] = run_rounds_[i];
      if (const auto d = sim_.place(i, sim_.last_cpu(i))) {
        wake_cpu_[i] = *d;
        woken.push_back(i);
      }
    }
    for (const std::uint32_t i : woken) enqueue_placed(i, wake_cpu_[i], false);
  }

  constexpr std::uint32_t leave(std::uint32_t t, bool for_good) {
    sim_.stop(t, for_good);
    return collect();
  }

  // Moves the engine's new log entries into the round model's log, stamped with the round.
  constexpr std::uint32_t collect() {
    const auto& fresh = sim_.log();
    for (const sim_migration& e : fresh)
      if (!log_.try_push_back(logged_migration{round_, e.move})) ++dropped_;
    dropped_ += sim_.dropped_log_entries();
    const auto n = static_cast<std::uint32_t>(fresh.size() + sim_.dropped_log_entries());
    total_migrations_ += n;
    sim_.clear_log();
    return n;
  }

  simulator<P, L, LogCapacity> sim_;
  std::array<std::uint32_t, L::max_tasks> run_rounds_{};
  std::array<std::uint32_t, L::max_tasks> sleep_rounds_{};
  std::array<std::uint32_t, L::max_tasks> phase_left_{};
  std::array<placement_decision, L::max_tasks> wake_cpu_{};
  cpumask<L::max_tasks> phased_{};
  nanoseconds round_length_ = 0;
  std::uint32_t round_ = 0;
  static_vector<logged_migration, LogCapacity> log_{};
  static_vector<logged_placement, LogCapacity> placements_{};
  std::uint64_t placements_dropped_ = 0;
  std::uint64_t dropped_ = 0;
  std::uint64_t total_migrations_ = 0;
};

}  // namespace balancekit::model
