/// \file
/// The time-driven simulator: CPUs that tick, tasks that run and sleep, PELT integrated
/// as the kernel integrates it, and every balance at the moment the kernel would run it.
///
/// Time is nanoseconds; events are processed earliest first, ties by CPU then task, so a
/// run is a pure function of its inputs. What happens, and its kernel analogue:
///  - **Ticks** (sched_tick): every busy CPU ticks at HZ, all aligned on jiffy
///    boundaries. A tick accounts the running task (update_curr: runtime, vruntime,
///    PELT of the task and its rq), refreshes the misfit status, switches to the queued
///    task with the smallest vruntime when the running one has used its slice, runs the
///    periodic balance when the CPU's `next_balance` is due (sched_balance_trigger →
///    sched_balance_domains, i.e. `balancer::on_tick`), and may kick the nohz idle
///    balancer (nohz_balancer_kick). An idle CPU's tick is stopped.
///  - **Newly idle**: a CPU that runs out of tasks balances at once (`on_newidle`); if it
///    stays idle it goes tickless and joins the nohz idle mask.
///  - **nohz idle balance** (kick_ilb, _nohz_idle_balance): a kick picks the first idle CPU
///    of the mask other than the kicker; it balances, on behalf of every idle CPU in wrap
///    order from itself + 1 and itself last, the domains of each whose `next_balance` is
///    due, updating their blocked averages when the kick asks for statistics, and stops
///    when it got work itself.
///  - **Wakeups and forks** go through the pack (`on_wakeup`, `on_fork`); a periodic
///    task's timer fires on its previous CPU, which is the waker.
///  - **PELT** (`model/pelt.hpp`): per task and per rq, on the rq's PELT clock (scaled by
///    capacity); a task moved by the balancer detaches from its source and attaches to
///    its destination; a task that wakes elsewhere leaves its old rq through the removed
///    path, applied at that rq's next update.
///
/// Approximations (docs/simulator.md): EEVDF's pick is replaced by its long-run effect —
/// the queued task with the smallest vruntime runs, for at least the base slice, switched
/// at ticks only (no hrtick); there is no wakeup preemption, so a task woken on a busy CPU
/// waits for the next tick at which the running task's slice is used up. Work progresses
/// at capacity/1024 of real time, slowed by the cost model (`sim_costs`): busy SMT
/// siblings, messages from afar, an over-subscribed LLC.
///
/// Driven by its caller instead (`sim_mode::rounds`), the same engine runs the round model
/// (`model/system.hpp`): no event runs by itself and the signals are PELT's steady state.
///
/// Everything is sized by `limits`; nothing allocates. The object is large: keep it in
/// caller-owned storage (std::make_unique).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <type_traits>

#include <balancekit/balancer/balancer.hpp>
#include <balancekit/balancer/result.hpp>
#include <balancekit/balancer/state.hpp>
#include <balancekit/balancer/tunables.hpp>
#include <balancekit/balancer/wake_env.hpp>
#include <balancekit/core/cpumask.hpp>
#include <balancekit/core/error.hpp>
#include <balancekit/core/index.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/core/static_vector.hpp>
#include <balancekit/core/units.hpp>
#include <balancekit/detail/contracts.hpp>
#include <balancekit/detail/event_queue.hpp>
#include <balancekit/domains/domain_tree.hpp>
#include <balancekit/domains/flags.hpp>
#include <balancekit/model/numa_memory.hpp>
#include <balancekit/model/pelt.hpp>
#include <balancekit/policy/numa/member.hpp>
#include <balancekit/policy/numa/placement.hpp>
#include <balancekit/policy/push.hpp>
#include <balancekit/policy/task_selection.hpp>
#include <balancekit/stats/group_sums.hpp>
#include <balancekit/stats/snapshot.hpp>

namespace balancekit::model {

/// A task of a simulated workload.
template <limits_pack L>
struct sim_task {
  std::uint64_t id = 0;
  std::uint64_t weight = nice_0_load;
  cpumask<L::max_cpus> allowed = ~cpumask<L::max_cpus>{};
  /// CPU time per activation, at capacity 1024; 0 makes a CPU hog that never sleeps.
  nanoseconds work = 0;
  /// An activation starts every `period` ns (from the task's start); a task still busy
  /// when the next one is due carries the work over.
  nanoseconds period = 0;
  /// Messages: each time it finishes `work` the task sends a message to the next of its
  /// `recipients` tasks `partner`, `partner + 1`, … in turn (or to all of them with
  /// `broadcast`), waking a sleeping one from its CPU with WF_SYNC; a message to a task
  /// that is awake waits for it to finish. With `period` 0 a task that has no message
  /// waiting sleeps until one wakes it (a pipe's reader), unless `keeps_sending` (a writer
  /// whose pipe never fills: it works again at once).
  std::uint32_t partner = no_task;
  std::uint32_t recipients = 1;
  std::uint32_t first_recipient = 0;  ///< the offset from `partner` of the first message
  bool broadcast = false;
  bool keeps_sending = false;
  /// Start asleep, waiting for a first message (a reader, a worker).
  bool wait_first = false;
  /// Exit when the first activation's work is done (a short-lived task of a fork/exit
  /// churn): the task leaves its rq for good and its averages go through the removed path.
  bool exits = false;
  /// Its utilization when it runs alone (0..1024), for `sim_mode::rounds` only, whose
  /// signals are PELT's steady state; the time-driven simulator integrates PELT instead.
  std::uint64_t demand = sched_capacity_scale;
  /// Bytes the task keeps hot in its LLC while it runs, and the share (‰) of its running
  /// time spent on them when they are cached: the inputs of the cost model's LLC
  /// over-subscription penalty. 0: the task is not slowed by others' footprints.
  std::uint64_t footprint = 0;
  std::uint32_t memory_permille = 0;
  /// The process (task group) the task is a thread of, for the pack's aggregation member
  /// (`task_state::process`); `no_process`: none.
  std::uint32_t process = no_process;
  /// NUMA memory, for a pack whose numa member takes part (docs/simulator.md, "Memory"):
  /// its private pages (4 KiB), its process's shared pages (the first thread's value
  /// counts; `process` below `numa_processes`), the share (‰) of its accesses that go to
  /// the shared ones, the share (‰) of its running time spent waiting on memory when all of
  /// it is local, and the node its pages start on (`no_node`: where it first runs).
  std::uint64_t numa_pages = 0;
  std::uint64_t shared_pages = 0;
  std::uint32_t shared_permille = 0;
  std::uint32_t dram_permille = 0;
  std::size_t memory_node = no_node;
};

/// A histogram of durations with eight buckets per power of two (12.5 % wide): exact
/// below 8 ns, and fixed storage, so recording allocates nothing.
struct latency_histogram {
  static constexpr std::size_t buckets = 384;
  std::array<std::uint64_t, buckets> count{};
  std::uint64_t total = 0;

  [[nodiscard]] static constexpr std::size_t bucket_of(std::uint64_t v) noexcept {
    if (v < 8) return static_cast<std::size_t>(v);
    std::size_t e = 0;
    for (std::uint64_t x = v; x > 1; x >>= 1) ++e;
    const std::size_t i = 8 + (e - 3) * 8 + static_cast<std::size_t>((v >> (e - 3)) - 8);
    return i < buckets ? i : buckets - 1;
  }
  /// The largest value that falls in bucket `i`.
  [[nodiscard]] static constexpr std::uint64_t upper_bound(std::size_t i) noexcept {
    if (i < 8) return i;
    const std::size_t e = (i - 8) / 8 + 3;
    const std::uint64_t m = (i - 8) % 8;
    return ((9 + m) << (e - 3)) - 1;
  }
  constexpr void add(std::uint64_t v) noexcept {
    ++count[bucket_of(v)];
    ++total;
  }
  /// The value at or below which a fraction `q` of the samples lie, as the upper bound of
  /// its bucket (so at most 12.5 % above the true quantile); 0 without samples.
  [[nodiscard]] constexpr std::uint64_t quantile(double q) const noexcept {
    if (total == 0) return 0;
    const auto need = static_cast<std::uint64_t>(q * static_cast<double>(total) + 0.999999);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < buckets; ++i) {
      seen += count[i];
      if (seen >= need && seen != 0) return upper_bound(i);
    }
    return upper_bound(buckets - 1);
  }
};

/// Counters of a run (docs/simulator.md, "Metrics").
struct sim_metrics {
  nanoseconds elapsed = 0;
  nanoseconds work_done = 0;            ///< Σ CPU time × capacity / 1024 over all tasks
  std::uint64_t activations = 0;        ///< activations completed by periodic tasks
  std::uint64_t wakeups = 0;
  nanoseconds wakeup_latency_sum = 0;   ///< wakeup to first run
  nanoseconds wakeup_latency_max = 0;
  latency_histogram wakeup_latency{};   ///< wakeup to first run, ns
  std::uint64_t migrations_periodic = 0;
  std::uint64_t migrations_newidle = 0;
  std::uint64_t migrations_active = 0;
  std::uint64_t migrations_nohz = 0;    ///< pulled by an idle balance the ilb ran on a CPU's behalf
  /// Balance migrations by the level of the domain balanced (an index into
  /// `domain_tree::levels()`; the simulator asserts its limits have at most 16).
  std::array<std::uint64_t, 16> migrations_by_level{};
  std::uint64_t wakeup_migrations = 0;  ///< woken on another CPU than the previous one
  std::uint64_t affinity_migrations = 0;  ///< forced by a new affinity
  std::uint64_t context_switches = 0;
  std::uint64_t messages = 0;             ///< messages sent between tasks
  std::uint64_t messages_cross_llc = 0;   ///< … to a task on another LLC than the sender's CPU
  std::uint64_t messages_cross_node = 0;  ///< … to a task on another NUMA node
  std::uint64_t nohz_kicks = 0;
  std::uint64_t exits = 0;                ///< tasks that exited (sim_task::exits)
  /// The Wasted Cores measure: Σ over jiffies of the idle CPUs that a task waiting on
  /// another CPU may run on, × the jiffy (sampled at every jiffy boundary).
  nanoseconds idle_while_waiting = 0;
  nanoseconds busy_cpu_time = 0;        ///< Σ over CPUs of time with a task running
  /// Push balancing (the pack's push member, seed 002):
  std::uint64_t pushes = 0;             ///< push decisions (a target chosen, claimed or not)
  std::uint64_t push_pileups = 0;       ///< … to a CPU already chosen since it last went idle
  std::uint64_t migrations_push = 0;    ///< tasks moved by pushes, offloaded pulls and pull-one
  std::uint64_t push_pulls = 0;         ///< … of them, by a newly idle CPU's pull-one
  std::uint64_t push_requests_void = 0;  ///< offloaded requests that found their claim void or no task
  nanoseconds push_busy_time = 0;       ///< time charged to busy CPUs for pushing (cost model)
  nanoseconds push_target_time = 0;     ///< time idle targets spent pulling for an offload
  /// NUMA balancing (the pack's numa member, seed 003):
  std::uint64_t numa_faults = 0;          ///< hinting faults, in pages
  std::uint64_t numa_faults_local = 0;    ///< … on a page of the faulting CPU's node
  std::uint64_t numa_pages_migrated = 0;
  std::uint64_t migrations_numa = 0;      ///< tasks moved towards their preferred node (a swap moves two)
  std::uint64_t numa_swaps = 0;
  nanoseconds numa_fault_time = 0;        ///< time charged to tasks for hinting faults and page copies
  nanoseconds memory_time = 0;            ///< Σ running time of tasks with NUMA memory
  nanoseconds memory_local_time = 0;      ///< … weighted by the share of their accesses that were local

  /// Migrations the balances made (periodic, newly idle, active, nohz, push, NUMA).
  [[nodiscard]] constexpr std::uint64_t balance_migrations() const noexcept {
    return migrations_periodic + migrations_newidle + migrations_active + migrations_nohz + migrations_push +
           migrations_numa;
  }
};

/// The simulator's cost model (docs/simulator.md, "Cost model"): how much work a running
/// task gets done. Every parameter has its public source there; override them with
/// `simulator::set_costs`.
struct sim_costs {
  /// The work of an SMT core with two or more busy threads, ×1024 of one thread alone,
  /// shared equally by its busy threads: 1178, the kernel's own estimate (smt_gain, which
  /// sd_init() set on SMT domains until v4.20). 2048 turns it off for 2-thread cores.
  std::uint32_t smt_core_throughput = 1178;
  /// A message costs its reader `message_lines` cache lines moved from the writer's CPU,
  /// each at the time below for where the writer ran; beyond the reader's node the node
  /// time scales with the SLIT distance (distance / 10). 0 lines turns it off.
  std::uint32_t message_lines = 4;
  nanoseconds line_same_core = 4;   ///< SMT siblings share L1/L2: an L2 hit
  nanoseconds line_same_llc = 17;   ///< core to core inside one L3
  nanoseconds line_same_node = 80;  ///< core to core across L3s of one node
  /// LLC over-subscription: when the running tasks of an LLC keep more bytes hot than
  /// `llc_bytes`, the missing share m = 1 − llc_bytes / hot of each one's accesses go to
  /// DRAM, `dram_to_llc` times slower: a task spending p of its time on them runs at
  /// 1 / (1 + p · m · (dram_to_llc − 1)) of its speed. `llc_bytes` 0 turns it off.
  std::uint64_t llc_bytes = std::uint64_t{32} << 20;
  std::uint32_t dram_to_llc = 12;
  /// Push balancing, measured on this project's KVM guest (scripts/measure-push-costs):
  /// a push (detach from the pusher's rq, attach to the target's under both locks:
  /// move_queued_task()) costs the pushing CPU `push`, during which the task is in flight
  /// and an unclaimed target still looks idle; an offload costs the pusher `ipi_send` (a
  /// remote kick without waiting), reaches the target `ipi_latency` after it was posted
  /// (an IPI's round trip), and the target then spends `push` pulling.
  nanoseconds push = 900;
  nanoseconds ipi_send = 12'000;
  nanoseconds ipi_latency = 15'000;
  /// NUMA balancing, measured on this project's KVM guest (scripts/measure-numa-costs): a
  /// hinting fault costs the faulting task `numa_fault` per page (a minor fault that maps
  /// a page already in memory), and migrating a page `page_migrate` more (a fault that
  /// allocates a page, plus copying 4 KiB). A task spending p (`sim_task::dram_permille`)
  /// of its time on memory when it is local runs at 1 / (1 + p · (d / 10 − 1)) of its
  /// speed when its accesses reach memory at mean SLIT distance d (the SLIT's distances
  /// are relative latencies, local = 10: ACPI, "System Locality Information Table").
  nanoseconds numa_fault = 900;
  nanoseconds page_migrate = 2'300;
};

/// What drives the simulator, chosen at `reset`.
enum class sim_mode : std::uint8_t {
  /// Events at their times (`run_until`): ticks, periodic, newly idle and nohz balances,
  /// wakeups and forks, with PELT integrated. The default.
  time,
  /// The caller drives: it moves the clock (`advance_clock`), runs balances
  /// (`balance_cpu`) and applies workload events (`enqueue_at`, `stop`); no event runs by
  /// itself. The signals are PELT's steady state (`refresh_signals`), recomputed after
  /// each workload event; between refreshes moved tasks carry their values, as PELT's
  /// detach/attach do. The round model (`model::system`) is this mode.
  rounds,
};

/// Who ran the balance that moved a task (`push`: the pack's push member, a push, an
/// offloaded pull or a newly idle CPU's pull-one; logged when the task lands).
enum class sim_balance : std::uint8_t { periodic, newidle, nohz, affinity, push, numa };

/// One migration, with the time it happened and the balance that decided it.
struct sim_migration {
  nanoseconds time = 0;
  sim_balance by = sim_balance::periodic;
  migration move{};
};

/// `LogCapacity` bounds the migration log; later migrations are counted in
/// `dropped_log_entries()` but not kept.
template <class P, limits_pack L, std::size_t LogCapacity = 4 * L::max_tasks>
class simulator {
public:
  using tree_type = domain_tree<L>;
  using result_type = typename balancer<P, L>::result_type;
  static constexpr std::size_t max_cpus = L::max_cpus;
  static constexpr std::size_t max_tasks = L::max_tasks;
  static_assert(L::max_levels <= std::tuple_size_v<decltype(sim_metrics::migrations_by_level)>,
                "sim_metrics counts migrations for at most 16 domain levels");

  constexpr explicit simulator(const tree_type& tree) noexcept : balancer_(tree) {}

  /// The cost model; takes effect for work done from now on.
  constexpr void set_costs(const sim_costs& c) {
    for (std::size_t cpu : balancer_.tree().cpu_map())
      if (cpus_[cpu].curr != no_task) account_curr(cpu);
    costs_ = c;
    for (std::size_t cpu : balancer_.tree().cpu_map())
      if (cpus_[cpu].curr != no_task) schedule_cpu(cpu);
  }
  [[nodiscard]] constexpr const sim_costs& costs() const noexcept { return costs_; }

  /// Empties the machine at time 0.
  constexpr void reset(sim_mode mode = sim_mode::time) {
    const tree_type& tree = balancer_.tree();
    mode_ = mode;
    snap_.clear();
    state_.reset(tree, 0);
    events_.clear();
    metrics_ = sim_metrics{};
    hot_bytes_.fill(0);
    if constexpr (detail::numa_active<P>) mem_.clear();
    log_.clear();
    dropped_ = 0;
    now_ = 0;
    next_sample_ = 0;
    for (std::size_t c = 0; c < max_cpus; ++c) {
      cpus_[c] = cpu_sim{};
      if (tree.cpu_map().test(c)) {
        const auto& core = tree.smt_mask(c);
        cpus_[c].first_sibling = core.first();
        cpus_[c].next_sibling = core.next(c);  // npos is no_cpu
      }
      cpu_state& s = snap_.cpus[c];
      s.capacity = s.arch_capacity = tree.cpu_map().test(c) ? tree.cpu_capacity(c) : sched_capacity_scale;
      // A booted machine's idle CPUs have all gone idle through a newly idle balance once,
      // which stamped them; the slow path of placement only considers stamped idle CPUs
      // (find_idlest_group_cpu: idle_stamp > 0), so a zero stamp would hide them. Equal
      // stamps: the first idle CPU of a group wins.
      s.idle_stamp = 1;
    }
    keep_group_sums(sums_kept_);
    if constexpr (detail::push_active<P>)
      for (std::size_t c : tree.cpu_map()) state_.push.track.set_idle(c);
    nohz_idle_ = tree.cpu_map();
    for (std::size_t c : tree.cpu_map()) cpus_[c].tick_stopped = true;
    nohz_next_balance_ = 0;
    nohz_next_blocked_ = 0;
    nohz_has_blocked_ = false;
    tasks_.fill(task_sim{});
  }

  /// Whether balances read group statistics from sums kept as the CPUs change
  /// (`group_sums`, the default) or scan every CPU of every group as the kernel does. The
  /// results are the same (a property test compares them); the sums are faster on big
  /// machines. Takes effect at once.
  constexpr void keep_group_sums(bool on) {
    sums_kept_ = on && sums_.bind(balancer_.tree(), snap_);
    if (!sums_kept_) sums_.unbind();
    snap_.observe(sums_kept_ ? &group_sums<L>::observer : nullptr, sums_kept_ ? &sums_ : nullptr);
    state_.sums = sums_kept_ ? &sums_ : nullptr;
  }

  /// Adds a task at time `start` (≥ now), forked from `parent_cpu` and placed by the
  /// pack. Returns its index, or `no_task` when the simulator is full, the parent is not
  /// in the map, the task may run on no CPU of it, or the pack's aggregation member keeps
  /// no process of the task's index.
  constexpr std::uint32_t spawn(const sim_task<L>& spec, std::size_t parent_cpu, nanoseconds start = -1) {
    const tree_type& tree = balancer_.tree();
    if (!tree.cpu_map().test(parent_cpu) || !spec.allowed.intersects(tree.cpu_map())) return no_task;
    if (snap_.tasks().size() == max_tasks) return no_task;
    if constexpr (detail::aggregation_active<P>) {
      if (spec.process != no_process && !P::aggregation::note_thread(state_.aggregation, spec.process, 1, spec.footprint))
        return no_task;
    }
    if (start < now_) start = now_;
    task_state<L> t;
    t.id = spec.id;
    t.weight = spec.weight;
    t.allowed = spec.allowed;
    t.process = spec.process;
    const std::uint32_t i = snap_.add_sleeping_task(t);
    if (i == no_task) return no_task;
    task_sim& ts = tasks_[i];
    ts = task_sim{};
    ts.spec = spec;
    ts.hog = spec.work == 0;
    ts.prev_cpu = parent_cpu;
    ts.forked = !spec.wait_first;
    ts.next_recipient = spec.recipients > 1 ? spec.first_recipient % spec.recipients : 0;
    // kernel: init_entity_runnable_average(): a new task's load is its weight and its
    // utilization nothing until its rq is known (post_init_entity_util_avg at enqueue).
    ts.avg.load_avg = spec.weight;
    sync_task(i);
    if (mode_ == sim_mode::rounds) {
      // The steady state's first estimate of a new task: its demand.
      task_state<L>& p = snap_.task_at(i);
      p.util = p.util_est = p.runnable = spec.demand;
      p.load = p.h_load = spec.weight * spec.demand / sched_capacity_scale;
    }
    ts.next_activation = start;
    if constexpr (detail::numa_active<P>) numa_task_new(i);
    if (!spec.wait_first && mode_ == sim_mode::time) events_.set(task_slot(i), start);
    return i;
  }

  /// kernel: set_cpus_allowed_ptr() — a new affinity for task `t`; a queued task whose CPU
  /// it excludes moves at once to the first allowed CPU of the map (the stopper for a
  /// running one). Returns false for an unknown task or a mask with no CPU of the map.
  constexpr bool set_affinity(std::uint32_t t, const cpumask<max_cpus>& allowed) {
    if (t >= snap_.tasks().size() || !allowed.intersects(balancer_.tree().cpu_map())) return false;
    snap_.task_at(t).allowed = allowed;
    tasks_[t].spec.allowed = allowed;
    if (snap_.queued(t)) note_queue(snap_.cpu_of(t));  // it may have become pushable
    if (!snap_.queued(t) || allowed.test(snap_.cpu_of(t))) return true;
    const std::size_t src = snap_.cpu_of(t);
    const std::size_t dst = (allowed & balancer_.tree().cpu_map()).first();
    result_type r;
    force_move(r, t, src, dst);
    ++metrics_.affinity_migrations;
    apply(r, src, reason::affinity);
    return true;
  }

  /// Runs until `until` (ns). Time mode only.
  constexpr void run_until(nanoseconds until) {
    BALANCEKIT_EXPECTS(mode_ == sim_mode::time);
    while (!events_.empty() && events_.time_of(events_.top()) <= until) {
      const std::size_t slot = events_.top();
      const nanoseconds t = events_.time_of(slot);
      sample_until(t);
      now_ = t;
      if (slot < max_cpus) cpu_event(slot);
      else task_event(static_cast<std::uint32_t>(slot - max_cpus));
    }
    sample_until(until);
    now_ = until;
    for (std::size_t c : balancer_.tree().cpu_map())
      if (cpus_[c].curr != no_task) account_curr(c);
    metrics_.elapsed = now_;
  }

  // -- driven by the caller (advance_clock and refresh_signals in rounds mode only) ------
  /// Moves the clock to `t` (≥ now), accounting the running tasks up to then; nothing
  /// else runs by itself in rounds mode.
  constexpr void advance_clock(nanoseconds t) {
    BALANCEKIT_EXPECTS(mode_ == sim_mode::rounds && t >= now_);
    now_ = t;
    // The running tasks ran until now, as a tick's update_curr() would say.
    for (std::size_t c : balancer_.tree().cpu_map()) account_curr(c);
  }
  /// `cpu`'s periodic balance now (`balancer::on_tick`), applied with the newly idle
  /// balances of the CPUs it empties.
  constexpr void balance_cpu(std::size_t cpu) { balance(cpu, reason::periodic); }
  /// PELT's steady state from each task's `demand`: on a CPU of capacity C whose queued
  /// tasks' demands add up to D, a task's util is its demand when D ≤ C and demand · C / D
  /// otherwise, it is runnable for min(1024, demand · D / C) of the time, its load and
  /// h_load are weight × runnable / 1024 and util_est is util; a CPU's signals are the sums
  /// over its tasks. Rounds mode only.
  constexpr void refresh_signals() {
    BALANCEKIT_EXPECTS(mode_ == sim_mode::rounds);
    for (std::size_t c : balancer_.tree().cpu_map()) steady_state(c);
  }
  /// Where the pack would put task `t` if it woke now, woken from `waker_cpu` (a new
  /// task: its fork placement from its parent's CPU); nothing for a queued, exited or
  /// unknown task or a waker outside the map. Decides only: `enqueue_at` applies it.
  constexpr std::optional<placement_decision> place(std::uint32_t t, std::size_t waker_cpu, std::uint32_t flags = 0) {
    if (!may_wake(t) || !balancer_.tree().cpu_map().test(waker_cpu)) return std::nullopt;
    if (const auto d = decide(t, waker_cpu, flags)) return *d;
    return std::nullopt;
  }
  /// Task `t`, asleep or new, wakes on `cpu` (kernel: ttwu_do_activate(), or
  /// wake_up_new_task()). False for a queued, exited or unknown task, or a CPU outside
  /// the map or the task's affinity.
  constexpr bool enqueue_at(std::uint32_t t, std::size_t cpu) {
    if (!may_wake(t) || !balancer_.tree().cpu_map().test(cpu) || !snap_.task_at(t).allowed.test(cpu)) return false;
    arrive(t, cpu, no_cpu);
    return true;
  }
  /// Queued task `t` blocks (`exits`: for good); its CPU, left idle, runs its newly idle
  /// balance. False for a task that is not queued. (In time mode a periodic task's next
  /// activation stays due: it blocks until then, as after its work.)
  constexpr bool stop(std::uint32_t t, bool exits = false) {
    if (t >= snap_.tasks().size() || !snap_.queued(t)) return false;
    const std::size_t c = snap_.cpu_of(t);
    account_curr(c);
    leave(c, t, exits);
    return true;
  }
  /// Empties the migration log (and its count of dropped entries), for a caller that
  /// keeps its own.
  /// The memory a pack's numa member balances (model/numa_memory.hpp).
  [[nodiscard]] constexpr const numa_memory<L>& memory() const noexcept
    requires detail::numa_active<P>
  {
    return mem_;
  }
  /// The share (×10⁶) of task `t`'s accesses that reach the node of its CPU (asleep: the
  /// CPU it last ran on); 10⁶ before its pages have a node.
  [[nodiscard]] constexpr std::uint64_t numa_local_share(std::uint32_t t) const
    requires detail::numa_active<P>
  {
    const std::size_t c = snap_.queued(t) ? snap_.cpu_of(t) : tasks_[t].prev_cpu;
    return c == no_cpu ? 1'000'000 : numa_access(c, t).local_x1m;
  }
  /// The same, averaged over the live tasks whose pages have a node; 10⁶ when none has.
  [[nodiscard]] constexpr std::uint64_t numa_local_share() const
    requires detail::numa_active<P>
  {
    std::uint64_t sum = 0;
    std::uint64_t n = 0;
    for (std::uint32_t t = 0; t < snap_.tasks().size(); ++t) {
      if (tasks_[t].exited || !mem_.placed[t]) continue;
      sum += numa_local_share(t);
      ++n;
    }
    return n == 0 ? 1'000'000 : sum / n;
  }
  constexpr void clear_log() noexcept {
    log_.clear();
    dropped_ = 0;
  }

  // -- what the simulator holds ---------------------------------------------------------
  [[nodiscard]] constexpr const snapshot<L>& snap() const noexcept { return snap_; }
  [[nodiscard]] constexpr const balance_state<P, L>& state() const noexcept { return state_; }
  /// The balance state, for settings a family keeps in it (a packing margin set at run time).
  [[nodiscard]] constexpr balance_state<P, L>& state() noexcept { return state_; }
  [[nodiscard]] constexpr const tree_type& tree() const noexcept { return balancer_.tree(); }
  [[nodiscard]] constexpr nanoseconds now() const noexcept { return now_; }
  [[nodiscard]] constexpr const sim_metrics& metrics() const noexcept { return metrics_; }
  [[nodiscard]] constexpr const static_vector<sim_migration, LogCapacity>& log() const noexcept { return log_; }
  [[nodiscard]] constexpr std::uint64_t dropped_log_entries() const noexcept { return dropped_; }
  /// The task running on `cpu`, or `no_task`.
  [[nodiscard]] constexpr std::uint32_t running(std::size_t cpu) const { return cpus_[cpu].curr; }
  [[nodiscard]] constexpr const pelt::sched_avg& task_avg(std::uint32_t t) const { return tasks_[t].avg; }
  [[nodiscard]] constexpr const pelt::sched_avg& cpu_avg(std::size_t cpu) const { return cpus_[cpu].avg; }
  /// CPU time the task has had, in ns of real time.
  [[nodiscard]] constexpr nanoseconds runtime(std::uint32_t t) const { return tasks_[t].sum_exec; }
  /// The task as spawned (with its current affinity).
  [[nodiscard]] constexpr const sim_task<L>& spec(std::uint32_t t) const { return tasks_[t].spec; }
  [[nodiscard]] constexpr bool exited(std::uint32_t t) const { return tasks_[t].exited; }
  /// Where the task is queued, or where it last ran when it sleeps (its parent's CPU
  /// before its first run).
  [[nodiscard]] constexpr std::size_t last_cpu(std::uint32_t t) const {
    return snap_.queued(t) ? snap_.cpu_of(t) : tasks_[t].prev_cpu;
  }
  [[nodiscard]] constexpr bool tick_stopped(std::size_t cpu) const { return cpus_[cpu].tick_stopped; }
  /// Time `cpu` ran a task, up to its last accounting (every event on it, and the end of
  /// `run_until`).
  [[nodiscard]] constexpr nanoseconds busy_time(std::size_t cpu) const { return cpus_[cpu].busy; }
  [[nodiscard]] constexpr nanoseconds tick_length() const noexcept {
    return 1'000'000'000 / static_cast<nanoseconds>(P::balance_tuning.hz);
  }
  /// kernel: sysctl_sched_base_slice (0.75 ms) × (1 + ilog2(min(online CPUs, 8))), the
  /// default logarithmic tunable scaling.
  [[nodiscard]] constexpr nanoseconds base_slice() const noexcept {
    const std::size_t n = std::min<std::size_t>(balancer_.tree().cpu_map().weight(), 8);
    nanoseconds factor = 1;
    for (std::size_t k = n; k > 1; k >>= 1) ++factor;
    return 750'000 * factor;
  }

private:
  struct task_sim {
    sim_task<L> spec{};
    pelt::sched_avg avg{};
    std::uint64_t vruntime = 0;
    nanoseconds sum_exec = 0;
    nanoseconds left = 0;             // work left in this activation (ns at capacity 1024)
    nanoseconds next_activation = 0;
    nanoseconds runnable_since = -1;  // set at a wakeup, cleared at the first run after it
    std::size_t prev_cpu = no_cpu;
    bool hog = false;
    bool forked = false;              // the next event is its fork, not a wakeup
    bool sleeping = true;
    bool attached = false;            // its averages are part of some rq's
    bool exited = false;
    bool in_flight = false;           // pushed: off every rq until it lands on prev_cpu
    std::size_t flight_src = no_cpu;  // … from there
    std::uint32_t pending = 0;        // messages that arrived while it was awake
    std::uint32_t next_recipient = 0;  // the offset from spec.partner of the next message
    nanoseconds inbox_cost = 0;        // the cost model's charge for the pending messages
  };
  struct cpu_sim {
    pelt::sched_avg avg{};
    pelt::removed_avg removed{};
    pelt::clock_pelt clock{};
    nanoseconds clock_task = 0;
    std::uint32_t curr = no_task;
    nanoseconds curr_start = 0;   // when curr last started or was last accounted
    nanoseconds slice_used = 0;   // curr's runtime since it was picked
    std::uint64_t min_vruntime = 0;
    std::uint64_t weight = 0;     // Σ weight of queued tasks (cfs_rq->load.weight)
    std::uint64_t nr = 0;         // queued tasks (cfs_rq->h_nr_runnable), counted here so
                                  // that PELT sees the count before a balance moved them
    nanoseconds next_tick = 0;
    bool tick_stopped = true;
    nanoseconds busy = 0;         // time it ran a task, up to its last accounting
    // The core: its lowest CPU, and the next higher sibling (no_cpu after the last). The
    // lowest CPU also counts the core's busy threads, for the SMT cost.
    std::size_t first_sibling = no_cpu;
    std::size_t next_sibling = no_cpu;
    std::uint32_t busy_siblings = 0;
    // Push balancing: time owed by the running task to pushes it made (its progress stops
    // meanwhile), pushes chosen to land here since it last went idle, and an offloaded pull
    // request (from request_src, due at request_at, for request_task).
    nanoseconds overhead = 0;
    std::uint32_t incoming = 0;
    nanoseconds push_at = -1;  // the next push of a pushing CPU: one at a time, each after the last
    std::size_t request_src = no_cpu;
    std::uint32_t request_task = no_task;
    nanoseconds request_at = 0;
  };

  static constexpr std::size_t task_slot(std::uint32_t t) noexcept { return max_cpus + t; }

  constexpr jiffies_t jiffies() const noexcept { return to_jiffies(now_, P::balance_tuning.hz); }

  // -- PELT and the snapshot ------------------------------------------------------------
  // The rq's clocks at now_ (update_rq_clock): the task clock is real time (no IRQ or
  // steal time); the PELT clock advances at the CPU's capacity while it works.
  constexpr void update_rq_clock(std::size_t c) {
    cpu_sim& cs = cpus_[c];
    const nanoseconds delta = now_ - cs.clock_task;
    if (delta <= 0) return;
    cs.clock_task = now_;
    cs.clock.advance(static_cast<std::uint64_t>(now_), static_cast<std::uint64_t>(delta), cs.curr == no_task,
                     snap_.cpus[c].arch_capacity);
  }
  constexpr std::uint64_t pelt_now(std::size_t c) const { return cpus_[c].clock.now(); }

  // kernel: update_load_avg(cfs_rq, se, 0) for the rq, and the task when one is given.
  constexpr void update_pelt(std::size_t c, std::uint32_t t = no_task) {
    if (mode_ == sim_mode::rounds) return;  // the steady state changes only at refreshes
    update_rq_clock(c);
    cpu_sim& cs = cpus_[c];
    const std::uint64_t now = pelt_now(c);
    if (t != no_task) {
      task_sim& ts = tasks_[t];
      pelt::update_task(now, ts.avg, !ts.sleeping, cs.curr == t, ts.spec.weight);
      sync_task(t);
    }
    pelt::update_cfs_rq_load_avg(now, cs.avg, cs.removed, cs.weight, cs.nr, cs.curr != no_task);
    sync_cpu(c);
  }
  constexpr void sync_task(std::uint32_t t) {
    if (mode_ == sim_mode::rounds) return;
    task_state<L>& p = snap_.task_at(t);
    const pelt::sched_avg& a = tasks_[t].avg;
    p.load = p.h_load = a.load_avg;
    p.util = a.util_avg;
    p.runnable = a.runnable_avg;
    p.util_est = pelt::task_util_est_ewma(a);
  }
  // The balancer reads the rq's averages, not sums of its tasks: blocked tasks still
  // count in a rq's averages until they decay.
  constexpr void sync_cpu(std::size_t c) {
    if (mode_ == sim_mode::time) {
      cpu_state& s = snap_.cpus[c];
      const pelt::sched_avg& a = cpus_[c].avg;
      s.load = a.load_avg;
      s.util = a.util_avg;
      s.runnable = a.runnable_avg;
      s.util_est = a.util_est;
    }
    update_misfit(c);
    if constexpr (detail::numa_active<P>) numa_count(c);
    snap_.touched(c);
  }
  // Rounds mode's signals for `c` (refresh_signals()).
  constexpr void steady_state(std::size_t c) {
    std::uint64_t d = 0;
    for (std::uint32_t t = snap_.head(c); t != no_task; t = snap_.next(t)) d += tasks_[t].spec.demand;
    const std::uint64_t cap = snap_.cpus[c].capacity;
    for (std::uint32_t t = snap_.head(c); t != no_task; t = snap_.next(t)) {
      task_state<L>& p = snap_.task_at(t);
      const std::uint64_t dem = tasks_[t].spec.demand;
      p.util = p.runnable = dem;
      if (d > cap) {
        p.util = dem * cap / d;
        p.runnable = std::min<std::uint64_t>(dem * d / cap, sched_capacity_scale);
      }
      p.util_est = p.util;
      p.load = p.h_load = p.weight * p.runnable / sched_capacity_scale;
    }
    snap_.refresh_sums(c);
    update_misfit(c);
  }
  // kernel: update_misfit_status() for the running task.
  constexpr void update_misfit(std::size_t c) {
    cpu_state& s = snap_.cpus[c];
    s.misfit_task_load = 0;
    const std::uint32_t t = cpus_[c].curr;
    if (!balancer_.tree().asym_cpucapacity_active() || t == no_task) return;
    s.misfit_task_load = misfit_task_load(snap_.task_at(t), s, max_allowed_capacity(t));
  }
  constexpr std::uint64_t max_allowed_capacity(std::uint32_t t) const {
    std::uint64_t m = 0;
    for (std::size_t c : snap_.task_at(t).allowed & balancer_.tree().cpu_map()) m = std::max(m, snap_.cpus[c].arch_capacity);
    return m;
  }

  // -- running --------------------------------------------------------------------------
  // How fast the task running on `c` gets work done, ×2^20 of real time: the CPU's
  // capacity, shared with busy SMT siblings by the cost model.
  constexpr std::uint64_t speed_x1m(std::size_t c) const {
    const std::uint64_t busy = cpus_[cpus_[c].first_sibling].busy_siblings;
    const std::uint64_t share = busy >= 2 ? costs_.smt_core_throughput / busy : sched_capacity_scale;
    std::uint64_t speed = snap_.cpus[c].arch_capacity * share;
    const std::uint32_t t = cpus_[c].curr;
    if constexpr (detail::numa_active<P>) {
      if (t != no_task && tasks_[t].spec.dram_permille != 0) {
        // 1 / (1 + p · (d − 10) / 10), p in ‰ and d in thousandths of a SLIT unit.
        const std::uint64_t d = numa_access(c, t).mean_distance_x1k;
        const std::uint64_t over = d > numa::local_distance * 1000 ? d - numa::local_distance * 1000 : 0;
        const std::uint64_t den = 1000 * numa::local_distance * 1000 + tasks_[t].spec.dram_permille * over;
        speed = speed * ((std::uint64_t{1000 * numa::local_distance * 1000} << 20) / den) >> 20;
      }
    }
    if (t == no_task || tasks_[t].spec.memory_permille == 0 || costs_.llc_bytes == 0) return speed;
    const std::uint64_t hot = hot_bytes_[balancer_.tree().llc_id(c)];
    if (hot > costs_.llc_bytes) {
      // 1 / (1 + p · m · (R − 1)) with m = (hot − llc) / hot, p in ‰; in KiB, so that the
      // products stay in 64 bits up to a TiB of footprints.
      const std::uint64_t hot_k = hot >> 10;
      const std::uint64_t llc_k = costs_.llc_bytes >> 10;
      const std::uint64_t slow = std::uint64_t{tasks_[t].spec.memory_permille} * (costs_.dram_to_llc - 1);
      const std::uint64_t den = 1000 * hot_k + slow * (hot_k - llc_k);
      if (den != 0) speed = speed * (((1000 * hot_k) << 20) / den) >> 20;
    }
    return speed;
  }

  // The cost model's charge for one message from a writer on `from` read on `to`.
  constexpr nanoseconds message_cost(std::size_t from, std::size_t to) const {
    if (costs_.message_lines == 0 || from == no_cpu || to == no_cpu) return 0;
    const tree_type& tree = balancer_.tree();
    nanoseconds line = costs_.line_same_node;
    if (tree.smt_mask(from).test(to)) line = costs_.line_same_core;
    else if (tree.llc_id(from) == tree.llc_id(to)) line = costs_.line_same_llc;
    else if (!tree.node_mask(from).test(to)) line = line * node_distance(from, to) / 10;
    return static_cast<nanoseconds>(costs_.message_lines) * line;
  }
  // The SLIT distance between the nodes of two CPUs: that of `from`'s smallest NUMA level
  // spanning `to` (10 when none does).
  constexpr nanoseconds node_distance(std::size_t from, std::size_t to) const {
    const tree_type& tree = balancer_.tree();
    for (std::size_t k = 0; k < tree.nr_domains(from); ++k) {
      const auto& d = tree.domain_of(from, k);
      const auto& lvl = tree.levels()[d.level];
      if (tree.span(d).test(to) && lvl.is_numa && lvl.numa_distance != 0) return lvl.numa_distance;
    }
    return 10;
  }

  // The running task of `c` becomes `t`. When the CPU turns busy or idle, its SMT siblings'
  // speed changes: their work so far is accounted at the old speed, and their next event
  // moves.
  constexpr void change_curr(std::size_t c, std::uint32_t t) {
    const std::uint32_t old = cpus_[c].curr;
    const bool flips = (old == no_task) != (t == no_task);
    const tree_type& tree = balancer_.tree();
    // The LLC's hot bytes change with a footprint: every CPU of it may change speed.
    const std::uint64_t out = old != no_task ? tasks_[old].spec.footprint : 0;
    const std::uint64_t in = t != no_task ? tasks_[t].spec.footprint : 0;
    const bool llc_changes = out != in && costs_.llc_bytes != 0;
    const int k = llc_changes ? tree.sd_llc(c) : -1;
    // The sibling list, not the core's mask: a mask of max_cpus bits costs a scan of every
    // word at each step, and this runs at every context switch.
    auto for_each_affected = [&](auto&& f) {
      if (k >= 0) {
        for (std::size_t s : tree.span(tree.domain_of(c, static_cast<std::size_t>(k))))
          if (s != c && cpus_[s].curr != no_task) f(s);
        return;
      }
      for (std::size_t s = cpus_[c].first_sibling; s != no_cpu; s = cpus_[s].next_sibling)
        if (s != c && cpus_[s].curr != no_task) f(s);
    };
    if (flips || llc_changes) for_each_affected([&](std::size_t s) { account_curr(s); });
    cpus_[c].curr = t;
    if (flips) {
      std::uint32_t& busy = cpus_[cpus_[c].first_sibling].busy_siblings;
      busy = t != no_task ? busy + 1 : busy - 1;
      if constexpr (detail::push_active<P>) {
        if (t != no_task) state_.push.track.set_busy(c);
      }
    }
    if (llc_changes) hot_bytes_[tree.llc_id(c)] += in - out;
    if (flips || llc_changes) for_each_affected([&](std::size_t s) { schedule_cpu(s); });
  }
  // kernel: update_curr(): the running task's time since it was last accounted.
  constexpr void account_curr(std::size_t c) {
    cpu_sim& cs = cpus_[c];
    const std::uint32_t t = cs.curr;
    if (t == no_task) return;
    const nanoseconds delta = now_ - cs.curr_start;
    if (delta > 0) {
      task_sim& ts = tasks_[t];
      ts.sum_exec += delta;
      cs.slice_used += delta;
      ts.vruntime += static_cast<std::uint64_t>(delta) * nice_0_load / ts.spec.weight;
      // Time spent pushing is the task's (the kernel's callbacks run in its context) but
      // gets none of its work done.
      const nanoseconds stolen = std::min(delta, cs.overhead);
      cs.overhead -= stolen;
      const auto done = static_cast<nanoseconds>(static_cast<std::uint64_t>(delta - stolen) * speed_x1m(c) >> 20);
      metrics_.work_done += done;
      if (!ts.hog) ts.left = ts.left > done ? ts.left - done : 0;
      metrics_.busy_cpu_time += delta;
      cs.busy += delta;
      cs.curr_start = now_;
      snap_.task_at(t).exec_start = now_;  // update_curr_se(): it ran until now
      if constexpr (detail::aggregation_active<P>)  // account_mm_sched()
        P::aggregation::template account<P>(balancer_.tree(), snap_, c, t, static_cast<std::uint64_t>(delta), jiffies(),
                                            state_.aggregation);
      if constexpr (detail::numa_active<P>) {
        P::numa::account(t, c, delta, now_, state_.numa);
        if (mem_.priv_pages[t] != 0 || (ts.spec.process < numa_processes && mem_.shared_pages[ts.spec.process] != 0)) {
          metrics_.memory_time += delta;
          metrics_.memory_local_time += delta * static_cast<nanoseconds>(numa_access(c, t).local_x1m) / 1'000'000;
        }
      }
    }
    update_pelt(c, t);
  }

  // The queued task with the smallest vruntime other than `skip` (ties: the earliest in
  // the queue's order).
  constexpr std::uint32_t pick_next(std::size_t c, std::uint32_t skip = no_task) const {
    std::uint32_t best = no_task;
    for (std::uint32_t t = snap_.tail(c); t != no_task; t = snap_.prev(t))
      if (t != skip && (best == no_task || tasks_[t].vruntime < tasks_[best].vruntime)) best = t;
    return best;
  }

  // Makes `t` (queued on c) the running task from now on.
  constexpr void set_curr(std::size_t c, std::uint32_t t) {
    cpu_sim& cs = cpus_[c];
    if (cs.curr == t) return;
    if (cs.curr != no_task) account_curr(c);
    // The incoming task's averages close its waiting time before it runs (set_next_entity).
    update_pelt(c, t);
    change_curr(c, t);
    cs.curr_start = now_;
    cs.slice_used = 0;
    ++metrics_.context_switches;
    if (t == no_task) return;
    snap_.set_curr(t);
    snap_.task_at(t).exec_start = now_;
    if constexpr (detail::numa_active<P>) numa_first_touch(c, t);
    task_sim& ts = tasks_[t];
    if (ts.runnable_since >= 0) {
      const nanoseconds lat = now_ - ts.runnable_since;
      metrics_.wakeup_latency_sum += lat;
      metrics_.wakeup_latency_max = std::max(metrics_.wakeup_latency_max, lat);
      metrics_.wakeup_latency.add(static_cast<std::uint64_t>(lat));
      ts.runnable_since = -1;
    }
    if (cs.min_vruntime < ts.vruntime) cs.min_vruntime = ts.vruntime;
    update_misfit(c);
    if constexpr (detail::push_active<P>) state_.push.pushed.reset(t);  // it ran
    note_queue(c);
    schedule_cpu(c);
  }

  // The CPU's next event: its tick, or the running task's end of work, whichever is first.
  constexpr void schedule_cpu(std::size_t c) {
    if (mode_ == sim_mode::rounds) return;
    cpu_sim& cs = cpus_[c];
    nanoseconds next = cs.tick_stopped ? -1 : cs.next_tick;
    if (cs.curr != no_task && !tasks_[cs.curr].hog) {
      const std::uint64_t speed = speed_x1m(c);
      const auto need = static_cast<nanoseconds>(((static_cast<std::uint64_t>(tasks_[cs.curr].left) << 20) + speed - 1) / speed);
      const nanoseconds end = cs.curr_start + need + cs.overhead;
      if (next < 0 || end < next) next = end;
    }
    if (cs.request_src != no_cpu && (next < 0 || cs.request_at < next)) next = cs.request_at;
    if (cs.push_at >= 0 && (next < 0 || cs.push_at < next)) next = cs.push_at;
    if (next < 0) events_.erase(c);
    else events_.set(c, next);
  }

  constexpr void start_tick(std::size_t c) {
    cpu_sim& cs = cpus_[c];
    if (!cs.tick_stopped) return;
    cs.tick_stopped = false;
    const nanoseconds tick = tick_length();
    cs.next_tick = (now_ / tick + 1) * tick;
    nohz_idle_.reset(c);  // nohz_balance_exit_idle() (the kernel waits for the first busy tick)
  }

  // -- events ---------------------------------------------------------------------------
  constexpr void cpu_event(std::size_t c) {
    cpu_sim& cs = cpus_[c];
    if (cs.request_src != no_cpu && now_ >= cs.request_at) {
      offloaded_pull(c);
      schedule_cpu(c);
      return;
    }
    if (cs.push_at >= 0 && now_ >= cs.push_at) {
      cs.push_at = -1;
      try_push(c);
      schedule_cpu(c);
      return;
    }
    account_curr(c);
    const std::uint32_t t = cs.curr;
    if (t != no_task && !tasks_[t].hog && tasks_[t].left == 0) {
      block(c, t);
    } else if (!cs.tick_stopped && now_ >= cs.next_tick) {
      tick(c);
    }
    schedule_cpu(c);
  }

  constexpr void tick(std::size_t c) {
    cpu_sim& cs = cpus_[c];
    cs.next_tick = now_ + tick_length();
    if constexpr (detail::aggregation_active<P>) {  // task_tick_cache()
      if (cs.curr != no_task)
        P::aggregation::template task_tick<P>(balancer_.tree(), snap_, c, cs.curr, jiffies(), state_.aggregation);
    }
    if constexpr (detail::numa_active<P>) {
      if (cs.curr != no_task && mode_ == sim_mode::time) numa_tick(c, cs.curr);
    }
    // Preemption at the tick: the slice is used up and another task waits.
    if (cs.curr != no_task && cs.slice_used >= base_slice() && snap_.queue_length(c) > 1) {
      const std::uint32_t next = pick_next(c, cs.curr);
      if (next != no_task && tasks_[next].vruntime < tasks_[cs.curr].vruntime) set_curr(c, next);
      else cs.slice_used = 0;
    }
    try_push(c);
    // sched_balance_trigger(): the softirq when due, then the nohz kick.
    if (jiffies() >= state_.cpus[c].next_balance) balance(c, reason::periodic);
    nohz_balancer_kick(c);
  }

  // A task finished its work: its messages, if it sends any; then, with a message of its
  // own waiting (or as a writer that never blocks), another round of work; else it sleeps
  // until the next activation or message.
  constexpr void block(std::size_t c, std::uint32_t t) {
    task_sim& ts = tasks_[t];
    ++metrics_.activations;
    if (ts.spec.partner != no_task) {
      const std::uint32_t n = std::max<std::uint32_t>(ts.spec.recipients, 1);
      if (ts.spec.broadcast) {
        for (std::uint32_t k = 0; k < n; ++k) send(c, ts.spec.partner + k);
      } else {
        send(c, ts.spec.partner + ts.next_recipient);
        ts.next_recipient = ts.next_recipient + 1 == n ? 0 : ts.next_recipient + 1;
      }
    }
    if (ts.spec.exits) {
      leave(c, t, true);
      return;
    }
    if (ts.pending != 0 || (ts.spec.keeps_sending && ts.spec.period == 0)) {
      if (ts.pending != 0) {
        const nanoseconds cost = ts.inbox_cost / ts.pending;
        ts.inbox_cost -= cost;
        ts.left += cost;
        --ts.pending;
      }
      ts.left += ts.spec.work;
      return;
    }
    if (ts.spec.period != 0) {
      ts.next_activation += ts.spec.period;
      events_.set(task_slot(t), std::max(ts.next_activation, now_));
    }
    leave(c, t, false);
  }

  // kernel: dequeue_task(DEQUEUE_SLEEP) of task `t` queued on `c` (running or not, and
  // accounted): util_est, the queue, the rq's weight and count, the averages up to now;
  // for an exit, then task_dead_fair() → remove_entity_load_avg(): the averages leave
  // the rq through the removed path. A CPU left without its running task picks another.
  constexpr void leave(std::size_t c, std::uint32_t t, bool exits) {
    task_sim& ts = tasks_[t];
    pelt::util_est_dequeue(cpus_[c].avg, ts.avg);
    snap_.dequeue_task(t);
    cpus_[c].weight -= ts.spec.weight;
    --cpus_[c].nr;
    ts.sleeping = true;
    update_pelt(c, t);
    if (exits) {
      cpus_[c].removed.add(ts.avg);
      ts.attached = false;
      ts.exited = true;
      ++metrics_.exits;
      if constexpr (detail::aggregation_active<P>) {
        if (ts.spec.process != no_process)
          (void)P::aggregation::note_thread(state_.aggregation, ts.spec.process, -1, ts.spec.footprint);
      }
      if constexpr (detail::numa_active<P>) {
        P::numa::task_dead(t, state_.numa);
        if (ts.spec.process < numa_processes) --mem_.threads[ts.spec.process];
      }
    } else {
      pelt::util_est_update(ts.avg, true, snap_.cpus[c].arch_capacity);
      sync_task(t);
    }
    ts.prev_cpu = c;
    if (mode_ == sim_mode::rounds) refresh_signals();
    note_queue(c);
    if (cpus_[c].curr != t) return;
    change_curr(c, no_task);
    after_dequeue(c);
  }

  // A message from the task running on `from` to task `to`: a sync wakeup from `from`, or
  // one more message waiting when `to` is awake.
  constexpr void send(std::size_t from, std::uint32_t to) {
    // A partner never spawned, or gone: the message is lost.
    if (to >= snap_.tasks().size() || tasks_[to].exited) return;
    ++metrics_.messages;
    task_sim& ts = tasks_[to];
    std::size_t at = no_cpu;
    if (!ts.sleeping || ts.forked || events_.pending(task_slot(to))) {
      ++ts.pending;
      at = snap_.queued(to) ? snap_.cpu_of(to) : ts.prev_cpu;
      ts.inbox_cost += message_cost(from, at);
    } else {
      at = wake(to, from, wf::sync, /*message=*/true);
    }
    if (at == no_cpu) return;
    const tree_type& tree = balancer_.tree();
    if (tree.llc_id(at) != tree.llc_id(from)) ++metrics_.messages_cross_llc;
    if (!tree.node_mask(from).test(at)) ++metrics_.messages_cross_node;  // nodes partition the CPUs
  }

  // The CPU lost its running task: run the next, or balance as newly idle, or idle.
  // `c` lost its running task: the next queued one runs, else it pulls (pull-one, then its
  // newly idle balance, unless `may_balance` is false) or goes idle.
  constexpr void after_dequeue(std::size_t c, bool may_balance = true) {
    if (cpus_[c].curr != no_task && snap_.queued(cpus_[c].curr) && snap_.cpu_of(cpus_[c].curr) == c) return;
    change_curr(c, no_task);
    const std::uint32_t next = pick_next(c);
    if (next != no_task) {
      set_curr(c, next);
      return;
    }
    update_pelt(c);
    ++metrics_.context_switches;
    if (may_balance && pull_one(c)) return;
    if (may_balance) balance(c, reason::newidle);
    if (cpus_[c].curr != no_task) return;
    if (const std::uint32_t pulled = pick_next(c); pulled != no_task) {
      set_curr(c, pulled);
      return;
    }
    go_idle(c);
  }

  constexpr void go_idle(std::size_t c) {
    cpu_sim& cs = cpus_[c];
    cs.clock.going_idle(static_cast<std::uint64_t>(now_), cs.avg.util_sum);
    if (snap_.cpus[c].idle_stamp == 0) snap_.cpus[c].idle_stamp = now_;
    balancer_.on_cpu_idle(c, snap_, state_);
    // Tickless idle: nohz_balance_enter_idle().
    cs.tick_stopped = true;
    nohz_idle_.set(c);
    nohz_has_blocked_ = true;
    if constexpr (detail::push_active<P>) {
      cs.incoming = 0;
      state_.push.track.set_idle(c);
    }
    schedule_cpu(c);
  }

  constexpr void task_event(std::uint32_t t) {
    events_.erase(task_slot(t));
    task_sim& ts = tasks_[t];
    if (ts.in_flight) {
      land(t);
      return;
    }
    if (!ts.sleeping) {  // an activation came due while it still ran: carry the work over
      ts.left += ts.spec.work;
      return;
    }
    // A timer fires on the task's previous CPU, which is the waker.
    wake(t, ts.prev_cpu, 0);
  }

  // kernel: try_to_wake_up() (or wake_up_new_task() for a fork): the pack places the task,
  // a task that changes CPU leaves its old rq through the removed path, and it is enqueued.
  // Returns the CPU.
  // A message's reader pays for it where it lands, from the writer's CPU (the waker's).
  constexpr std::size_t wake(std::uint32_t t, std::size_t waker_cpu, std::uint32_t flags, bool message = false) {
    const auto d = decide(t, waker_cpu, flags);
    if (!d) return no_cpu;  // not reached: spawn checked the masks
    arrive(t, d->cpu, message ? waker_cpu : no_cpu);
    return d->cpu;
  }

  // A known task that sleeps and has not exited.
  constexpr bool may_wake(std::uint32_t t) const {
    return t < snap_.tasks().size() && !snap_.queued(t) && !tasks_[t].exited;
  }

  constexpr result<placement_decision> decide(std::uint32_t t, std::size_t waker_cpu, std::uint32_t flags) {
    const task_sim& ts = tasks_[t];
    return ts.forked ? balancer_.on_fork(t, ts.prev_cpu, now_, snap_, state_)
                     : balancer_.on_wakeup(t, ts.prev_cpu, waker_cpu, flags, now_, snap_, state_);
  }

  // A task that changes CPU leaves its old rq (migrate_task_rq_fair(): in that rq's
  // window, through the removed path) and attaches to the new one at enqueue.
  constexpr void arrive(std::uint32_t t, std::size_t c, std::size_t writer_cpu) {
    task_sim& ts = tasks_[t];
    const std::size_t prev = ts.prev_cpu;
    if (ts.attached && c != prev) {
      pelt::update_blocked_task(cpus_[prev].avg.last_update_time, ts.avg, ts.spec.weight);
      cpus_[prev].removed.add(ts.avg);
      ++metrics_.wakeup_migrations;
    }
    enqueue_woken(t, c, writer_cpu);
  }

  constexpr void enqueue_woken(std::uint32_t t, std::size_t c, std::size_t writer_cpu) {
    task_sim& ts = tasks_[t];
    cpu_sim& cs = cpus_[c];
    cpu_state& s = snap_.cpus[c];
    const bool was_idle = cs.curr == no_task;
    if (was_idle && s.idle_stamp != 0) {
      // kernel: update_rq_avg_idle() in ttwu_do_activate().
      const nanoseconds delta = now_ - s.idle_stamp;
      const nanoseconds max = 2 * state_.cpus[c].max_idle_balance_cost;
      s.avg_idle += (delta - s.avg_idle) / 8;
      if (s.avg_idle > max) s.avg_idle = max;
    }
    update_pelt(c);
    if (!ts.attached) pelt::post_init_entity_util_avg(cs.avg, ts.avg, ts.spec.weight, s.arch_capacity);
    if (!ts.attached || ts.prev_cpu != c) {
      pelt::attach(cs.avg, ts.avg, ts.spec.weight);
    } else {
      pelt::update_task(pelt_now(c), ts.avg, false, false, ts.spec.weight);
    }
    ts.sleeping = false;
    ts.forked = false;
    ts.attached = true;
    ts.prev_cpu = c;
    if (!ts.hog) ts.left += ts.spec.work + message_cost(writer_cpu, c);
    ts.runnable_since = now_;
    // place_entity(), roughly: a waking task starts no earlier than the queue's minimum.
    ts.vruntime = std::max(ts.vruntime, cs.min_vruntime);
    pelt::util_est_enqueue(cs.avg, ts.avg);
    snap_.enqueue_task(t, c);
    cs.weight += ts.spec.weight;
    ++cs.nr;
    s.idle_stamp = 0;
    ++metrics_.wakeups;
    sync_task(t);
    update_pelt(c);
    if (mode_ == sim_mode::rounds) refresh_signals();
    if (was_idle) {
      start_tick(c);
      set_curr(c, t);
    } else {
      note_queue(c);
      try_push(c);
    }
    schedule_cpu(c);
  }

  // -- balancing ------------------------------------------------------------------------
  using reason = sim_balance;

  // One balancer call into the reused result (a fresh one is 40 KB to zero on big limits).
  // apply() reads the result only before it starts the newly idle balances it causes.
  constexpr void balance(std::size_t c, reason why) {
    result_.migrations.clear();
    result_.domains_balanced = 0;
    if (why == reason::newidle) balancer_.on_newidle(c, now_, snap_, state_, result_);
    else balancer_.on_tick(c, now_, snap_, state_, result_);
    apply(result_, c, why);
  }

  // Applies what a balance did to the snapshot: PELT detach/attach and vruntime for every
  // moved task, the CPUs' running tasks, and newly idle balances for CPUs it emptied.
  constexpr void apply(const result_type& r, std::size_t balancing_cpu, reason why) {
    (void)balancing_cpu;
    cpumask<max_cpus> emptied;
    // CPUs whose running task a newly idle balance's active balance took: in the kernel the
    // stopper moves it later, and its CPU balances when it stops; here both happen at once,
    // and two CPUs could hand one task back and forth forever without time passing. Such a
    // CPU goes idle without a newly idle balance (its ticks and the nohz balancer remain).
    cpumask<max_cpus> stopped;
    for (const migration& m : r.migrations) {
      if (!log_.try_push_back(sim_migration{now_, why, m})) ++dropped_;
      const std::uint32_t t = m.task;
      task_sim& ts = tasks_[t];
      cpu_sim& src = cpus_[m.src];
      cpu_sim& dst = cpus_[m.dst];
      if (why != reason::affinity && why != reason::push && why != reason::numa &&
          m.level < metrics_.migrations_by_level.size())
        ++metrics_.migrations_by_level[m.level];
      if (why == reason::affinity) {
        // counted by set_affinity
      } else if (why == reason::numa) {
        ++metrics_.migrations_numa;
      } else if (why == reason::push) {
        ++metrics_.migrations_push;
        ++metrics_.push_pulls;
      } else if (m.reason == migration_reason::active) ++metrics_.migrations_active;
      else if (why == reason::nohz) ++metrics_.migrations_nohz;
      else if (m.reason == migration_reason::newidle || why == reason::newidle) ++metrics_.migrations_newidle;
      else ++metrics_.migrations_periodic;
      if (src.curr == t) {
        if (why == reason::newidle) stopped.set(m.src);
        account_curr(m.src);
        change_curr(m.src, no_task);
      } else {
        update_pelt(m.src, t);
      }
      detach_from(m.src, t);
      sync_cpu(m.src);
      ts.vruntime = ts.vruntime - std::min(ts.vruntime, src.min_vruntime) + dst.min_vruntime;
      attach_to(m.dst, t);
      ts.prev_cpu = m.dst;
      sync_task(t);
      sync_cpu(m.dst);
      if (src.curr == no_task) emptied.set(m.src);
      if (dst.curr == no_task) {
        snap_.cpus[m.dst].idle_stamp = 0;
        start_tick(m.dst);
        set_curr(m.dst, t);
      } else {
        snap_.set_curr(dst.curr);
      }
      note_queue(m.src);
      note_queue(m.dst);
      schedule_cpu(m.dst);
    }
    for (std::size_t c : emptied) {
      if (cpus_[c].curr != no_task) continue;
      after_dequeue(c, !stopped.test(c));
      schedule_cpu(c);
    }
  }

  // A move the stopper makes (an active balance's kind): task t from `from` to `to` in the
  // snapshot, recorded in `r` for `apply`.
  constexpr void force_move(result_type& r, std::uint32_t t, std::size_t from, std::size_t to) {
    migration m;
    m.task = t;
    m.id = snap_.task_at(t).id;
    m.src = static_cast<std::uint16_t>(from);
    m.dst = static_cast<std::uint16_t>(to);
    m.reason = migration_reason::active;
    snap_.move_task(t, to);
    r.migrations.push_back(m);
  }
  // detach_task() with DO_DETACH: task t's averages and weight leave src's rq (its PELT
  // already updated to now; the snapshot is the caller's).
  constexpr void detach_from(std::size_t src, std::uint32_t t) {
    cpu_sim& s = cpus_[src];
    task_sim& ts = tasks_[t];
    pelt::util_est_dequeue(s.avg, ts.avg);
    pelt::detach(s.avg, ts.avg, ts.spec.weight);
    s.weight -= ts.spec.weight;
    --s.nr;
  }
  // attach_task() with DO_ATTACH: task t's averages and weight join dst's rq, updated to now.
  constexpr void attach_to(std::size_t dst, std::uint32_t t) {
    cpu_sim& d = cpus_[dst];
    task_sim& ts = tasks_[t];
    update_pelt(dst);
    pelt::attach(d.avg, ts.avg, ts.spec.weight);
    pelt::util_est_enqueue(d.avg, ts.avg);
    d.weight += ts.spec.weight;
    ++d.nr;
  }

  // -- push balancing (the pack's push member, policy/push.hpp) --------------------------
  constexpr std::uint32_t now_us() const noexcept { return static_cast<std::uint32_t>(now_ / 1000); }

  // The overloaded mask follows the queue: `c` is pushable while it has a task to push.
  constexpr void note_queue(std::size_t c) {
    if constexpr (detail::push_active<P>)
      state_.push.track.set_overloaded(c, P::push::pushable(snap_, c, state_.push) != no_task);
    else
      (void)c;
  }

  // Busy `c` pushes while it has a pushable task and finds a target (push_fair_tasks()),
  // one push at a time: each costs it the cost model's time, the task is in flight
  // meanwhile (an unclaimed target still looks idle to other pushers), and the next push
  // is decided when this one is done. Offloading, it posts a request instead.
  constexpr void try_push(std::size_t c) {
    if constexpr (detail::push_active<P>) {
      cpu_sim& cs = cpus_[c];
      // A push takes time (its flight, the IPI's); the round model has no clock of its own
      // to land it by, so it pushes nothing (its newly idle CPUs still pull one).
      if (mode_ == sim_mode::rounds || cs.curr == no_task || cs.push_at >= 0) return;
      const push::decision d = P::push::template decide<P>(balancer_.tree(), snap_, c, now_us(), state_.push);
      if (d.task == no_task) return;
      ++metrics_.pushes;
      cpu_sim& dst = cpus_[d.target];
      if (++dst.incoming > 1) ++metrics_.push_pileups;
      // A claimed target shows an incoming task as the kernel shows a queued wakeup
      // (rq->ttwu_pending): idle_cpu() is false, so wakeup placement passes it by too. The
      // RFC's unclaimed push gives no such sign.
      if constexpr (P::push::mode != push::push_mode::unclaimed) snap_.cpus[d.target].ttwu_pending = true;
      nanoseconds spent = 0;
      if constexpr (P::push::mode == push::push_mode::offload) {
        spent = costs_.ipi_send;
        dst.request_src = c;
        dst.request_task = d.task;
        dst.request_at = now_ + spent + costs_.ipi_latency;
        schedule_cpu(d.target);
      } else {
        if constexpr (P::push::mode == push::push_mode::claimed) (void)state_.push.track.deliver(d.target, c);
        spent = costs_.push;
        launch(d.task, c, d.target, now_ + spent);
      }
      account_curr(c);
      cs.overhead += spent;
      metrics_.push_busy_time += spent;
      cs.push_at = now_ + spent;
      note_queue(c);
      schedule_cpu(c);
    } else {
      (void)c;
    }
  }

  // An offloaded request reaches idle target `c`: it takes the claim, then pulls from the
  // requester the task asked for if it still waits there, else another it may run.
  constexpr void offloaded_pull(std::size_t c) {
    if constexpr (detail::push_active<P>) {
      cpu_sim& cs = cpus_[c];
      const std::size_t src = cs.request_src;
      const std::uint32_t asked = cs.request_task;
      cs.request_src = no_cpu;
      cs.request_task = no_task;
      state_.push.pushed.reset(asked);
      std::uint32_t t = no_task;
      if (cs.curr == no_task) {
        if (snap_.queued(asked) && snap_.cpu_of(asked) == src && !snap_.running(asked) &&
            snap_.task_at(asked).allowed.test(c))
          t = asked;
        else
          t = P::push::pullable(snap_, src, c);
      }
      if (t == no_task || !state_.push.track.deliver(c, src)) {
        if (t == no_task) (void)state_.push.track.release(c, src);
        snap_.cpus[c].ttwu_pending = false;
        if (cs.incoming != 0) --cs.incoming;  // nothing came: the next claim is no pileup
        ++metrics_.push_requests_void;
        note_queue(src);
        return;
      }
      metrics_.push_target_time += costs_.push;
      launch(t, src, c, now_ + costs_.push);
    } else {
      (void)c;
    }
  }

  // Takes queued task `t` off `src` (detach_task()) to land on `dst` at `at`.
  constexpr void launch(std::uint32_t t, std::size_t src, std::size_t dst, nanoseconds at) {
    task_sim& ts = tasks_[t];
    ts.flight_src = src;
    cpu_sim& s = cpus_[src];
    update_pelt(src, t);
    detach_from(src, t);
    snap_.dequeue_task(t);
    sync_cpu(src);
    ts.vruntime -= std::min(ts.vruntime, s.min_vruntime);  // relative while in flight
    ts.in_flight = true;
    ts.prev_cpu = dst;
    events_.set(task_slot(t), at);
    note_queue(src);
  }

  // A pushed task lands on its target (attach_task()); an idle target runs it at once.
  constexpr void land(std::uint32_t t) {
    task_sim& ts = tasks_[t];
    const std::size_t c = ts.prev_cpu;
    cpu_sim& cs = cpus_[c];
    ts.in_flight = false;
    snap_.cpus[c].ttwu_pending = false;
    attach_to(c, t);
    ts.vruntime += cs.min_vruntime;
    snap_.enqueue_task(t, c);
    snap_.cpus[c].idle_stamp = 0;
    sync_task(t);
    sync_cpu(c);
    ++metrics_.migrations_push;
    migration m;
    m.task = t;
    m.id = snap_.task_at(t).id;
    m.src = static_cast<std::uint16_t>(ts.flight_src);
    m.dst = static_cast<std::uint16_t>(c);
    if (!log_.try_push_back(sim_migration{now_, reason::push, m})) ++dropped_;
    if (cs.curr == no_task) {
      start_tick(c);
      set_curr(c, t);
    } else {
      snap_.set_curr(cs.curr);
      note_queue(c);
    }
    schedule_cpu(c);
  }

  // A newly idle CPU's pull-one (policy/push.hpp): one task from an overloaded CPU of its
  // LLC or node, before the classic newidle balance. True when it pulled.
  constexpr bool pull_one(std::size_t c) {
    if constexpr (detail::push_active<P>) {
      const push::decision d = P::push::pull_one(balancer_.tree(), snap_, c, state_.push);
      if (d.task == no_task) return false;
      result_.migrations.clear();
      migration m;
      m.task = d.task;
      m.id = snap_.task_at(d.task).id;
      m.src = static_cast<std::uint16_t>(d.target);
      m.dst = static_cast<std::uint16_t>(c);
      m.reason = migration_reason::newidle;
      snap_.move_task(d.task, c);
      result_.migrations.push_back(m);
      apply(result_, c, reason::push);
      return cpus_[c].curr != no_task;
    } else {
      (void)c;
      return false;
    }
  }

  // kernel: nohz_balancer_kick() on a busy CPU's tick.
  constexpr void nohz_balancer_kick(std::size_t c) {
    if (cpus_[c].curr == no_task || nohz_idle_.empty()) return;
    const jiffies_t j = jiffies();
    bool stats = nohz_has_blocked_ && j > nohz_next_blocked_;
    bool balance = false;
    if (j >= nohz_next_balance_) {
      const cpu_state& s = snap_.cpus[c];
      if (s.nr_running >= 2) balance = true;
      else if (s.h_nr_runnable >= 1 && balancer_.tree().nr_domains(c) != 0 &&
               s.capacity * balancer_.tree().domain_of(c, 0).imbalance_pct < s.arch_capacity * 100)
        balance = true;
      else if (balancer_.tree().asym_cpucapacity_active()) balance = s.misfit_task_load != 0;
      else balance = llc_busy_cpus(c) > 1;
    }
    if (!stats && !balance) return;
    if (balance) stats = true;  // a balance kick carries the statistics kick
    kick_ilb(c, stats, balance);
  }

  constexpr std::size_t llc_busy_cpus(std::size_t c) const {
    const tree_type& tree = balancer_.tree();
    const int llc = tree.sd_llc(c);
    if (llc < 0) return 0;
    std::size_t n = 0;
    for (std::size_t o : tree.span(tree.domain_of(c, static_cast<std::size_t>(llc))))
      if (!nohz_idle_.test(o)) ++n;
    return n;
  }

  // kernel: kick_ilb() and _nohz_idle_balance() on the chosen CPU, at once.
  constexpr void kick_ilb(std::size_t kicker, bool stats, bool balance) {
    if (balance) nohz_next_balance_ = jiffies() + 1;
    std::size_t ilb = no_cpu;
    for (std::size_t c : nohz_idle_)
      if (c != kicker && snap_.cpus[c].is_idle()) {
        ilb = c;
        break;
      }
    if (ilb == no_cpu) return;
    ++metrics_.nohz_kicks;
    if (stats) nohz_has_blocked_ = false;
    const jiffies_t j = jiffies();
    jiffies_t next_balance = j + 60 * static_cast<jiffies_t>(P::balance_tuning.hz);
    bool update_next = false;
    const cpumask<max_cpus> idle = nohz_idle_;
    for (std::size_t c : idle.wrap(ilb + 1 < max_cpus ? ilb + 1 : 0)) {
      if (!snap_.cpus[c].is_idle()) continue;
      if (cpus_[ilb].curr != no_task) {  // the ilb CPU got work: stop here
        if (stats) nohz_has_blocked_ = true;
        return;
      }
      if (stats) update_pelt(c);  // update_nohz_stats(): blocked averages
      if (j >= state_.cpus[c].next_balance && balance) this->balance(c, reason::nohz);
      if (next_balance > state_.cpus[c].next_balance) {
        next_balance = state_.cpus[c].next_balance;
        update_next = true;
      }
    }
    if (update_next) nohz_next_balance_ = next_balance;
    if (stats) nohz_next_blocked_ = j + msecs_to_jiffies(pelt::load_avg_period, P::balance_tuning.hz);
  }

  // -- NUMA balancing (the pack's numa member, policy/numa/member.hpp) -------------------
  struct access_summary {
    std::uint64_t mean_distance_x1k = numa::local_distance * 1000;  // access-weighted SLIT distance
    std::uint64_t local_x1m = 1'000'000;                           // share of accesses on c's node
  };
  // Where task t's accesses go from CPU c.
  constexpr access_summary numa_access(std::size_t c, std::uint32_t t) const {
    access_summary a;
    const auto& st = state_.numa;
    if (!mem_.placed[t]) return a;
    const std::size_t here = st.node[c];
    std::uint64_t dist = 0;
    std::uint64_t local = 0;
    std::uint64_t total = 0;
    for_each_access(mem_, t, tasks_[t].spec.process, tasks_[t].spec.shared_permille,
                    [&](const numa::page_word& r, std::uint64_t share) {
                      dist += share * st.dist(here, r.node);
                      local += r.node == here ? share : 0;
                      total += share;
                    });
    if (total == 0) return a;
    a.mean_distance_x1k = dist * 1000 / total;
    a.local_x1m = local * 1'000'000 / total;
    return a;
  }
  constexpr void numa_task_new(std::uint32_t t) {
    const sim_task<L>& spec = tasks_[t].spec;
    mem_.priv_pages[t] = (spec.numa_pages + numa_regions - 1) / numa_regions;
    mem_.priv_armed[t] = 0;
    mem_.cursor[t] = 0;
    mem_.placed[t] = false;
    const std::uint32_t p = spec.process;
    if (p < numa_processes) ++mem_.threads[p];
    if (p < numa_processes && mem_.shared_pages[p] == 0 && spec.shared_pages != 0)
      mem_.shared_pages[p] = (spec.shared_pages + numa_regions - 1) / numa_regions;
    const std::uint64_t rss = spec.numa_pages + (p < numa_processes ? mem_.shared_pages[p] * numa_regions : 0);
    P::numa::template task_new<P>(t, t + 1, p, rss, now_, state_.numa);
  }
  // The first touch: a task's pages (and its process's, for the first thread) get their
  // node when it first runs, unless its spec names one.
  constexpr void numa_first_touch(std::size_t c, std::uint32_t t) {
    if (mem_.placed[t]) return;
    mem_.placed[t] = true;
    const sim_task<L>& spec = tasks_[t].spec;
    const std::size_t node = spec.memory_node < state_.numa.dist.nodes ? spec.memory_node : state_.numa.node[c];
    for (auto& r : mem_.priv[t]) r = numa::page_word::fresh(node, P::numa::which);
    const std::uint32_t p = spec.process;
    if (p < numa_processes && !mem_.shared_placed[p]) {
      mem_.shared_placed[p] = true;
      for (auto& r : mem_.shared[p]) r = numa::page_word::fresh(node, P::numa::which);
    }
  }
  // kernel: account_numa_enqueue(): the tasks on c with a preferred node, and those on it.
  constexpr void numa_count(std::size_t c) {
    cpu_state& rq = snap_.cpus[c];
    rq.nr_numa_running = 0;
    rq.nr_preferred_running = 0;
    for (std::uint32_t t = snap_.head(c); t != no_task; t = snap_.next(t)) {
      const std::size_t pref = snap_.task_at(t).numa_preferred_node;
      if (pref == no_cpu) continue;
      ++rq.nr_numa_running;
      if (balancer_.tree().node_mask(c).test(pref)) ++rq.nr_preferred_running;
    }
  }
  // A CPU of the LLC the pack's aggregation member prefers for t's process, or no_cpu.
  constexpr std::size_t cache_cpu(std::uint32_t t) const {
    if constexpr (requires { P::aggregation::template preferred_llc_of<P>(balancer_.tree(), snap_, state_.aggregation, t); })
      return P::aggregation::template preferred_llc_of<P>(balancer_.tree(), snap_, state_.aggregation, t);
    else
      return no_cpu;
  }
  // A tick of task t on c: its faults on regions armed by earlier scans, then maybe a scan
  // of its mm. A private region faults at its owner's first tick; an armed shared region
  // at the first tick of a sharing thread that touches it, each touching it at a tick with
  // chance 1 / (the process's threads), drawn from a hash of the thread, region and time,
  // so that no thread is favoured by the order of same-time events.
  constexpr void numa_tick(std::size_t c, std::uint32_t t) {
    task_sim& ts = tasks_[t];
    const std::uint32_t p = ts.spec.process;
    const bool shares = p < numa_processes && mem_.shared_pages[p] != 0 && ts.spec.shared_permille != 0;
    for (std::size_t r = 0; r < 2 * numa_regions; ++r) {
      const bool priv = r < numa_regions;
      const std::uint32_t bit = 1U << (r % numa_regions);
      if (priv ? !(mem_.priv_armed[t] & bit) : !(shares && (mem_.shared_armed[p] & bit))) continue;
      if (!priv && mem_.threads[p] > 1) {
        std::uint64_t h = (std::uint64_t{t} << 40) ^ (std::uint64_t{r} << 32) ^ static_cast<std::uint64_t>(now_ / 1000);
        h ^= h >> 33;
        h *= 0xFF51AFD7ED558CCDULL;
        h ^= h >> 33;
        if (h % mem_.threads[p] != 0) continue;
      }
      (priv ? mem_.priv_armed[t] : mem_.shared_armed[p]) &= ~bit;
      numa::page_word& page = priv ? mem_.priv[t][r] : mem_.shared[p][r - numa_regions];
      const std::uint64_t pages = priv ? mem_.priv_pages[t] : mem_.shared_pages[p];
      const std::size_t was = page.node;
      const numa::fault_outcome out = P::numa::template fault<P>(balancer_.tree(), snap_, c, t, page, pages, !priv,
                                                                 ts.sum_exec, now_, state_.numa, cache_cpu(t));
      // sched_setnuma(): the preferred node, as the balance rules see it.
      snap_.task_at(t).numa_preferred_node = P::numa::preferred_node_cpu(t, state_.numa);
      numa_count(c);
      snap_.touched(c);
      metrics_.numa_faults += pages;
      if (was == state_.numa.node[c]) metrics_.numa_faults_local += pages;
      nanoseconds cost = static_cast<nanoseconds>(pages) * costs_.numa_fault;
      if (out.migrate_page) {
        metrics_.numa_pages_migrated += pages;
        cost += static_cast<nanoseconds>(pages) * costs_.page_migrate;
      }
      // The fault runs in the task's context: its work stops meanwhile (as a push's).
      cpus_[c].overhead += cost;
      metrics_.numa_fault_time += cost;
      if (out.move_to != no_cpu && out.move_to != c) {
        numa_move(t, c, out.move_to, out.swap_with);
        return;  // its next faults are taken where it runs now
      }
    }
    if (P::numa::template task_tick<P>(t, ts.sum_exec, now_, state_.numa)) numa_scan(t);
  }
  // The first live thread of process p from task index `from` on, or no_task.
  constexpr std::uint32_t next_thread(std::uint32_t p, std::uint32_t from) const {
    for (std::uint32_t u = from; u < snap_.tasks().size(); ++u)
      if (tasks_[u].spec.process == p && !tasks_[u].exited) return u;
    return no_task;
  }
  // task_numa_work(): arms the next window of t's mm (its own regions, or its process's:
  // the shared regions, then each thread's private ones). Reaching the mm's end ends the
  // pass and the scan (reset_ptenuma_scan()), however little it armed.
  constexpr void numa_scan(std::uint32_t t) {
    const std::uint32_t p = tasks_[t].spec.process;
    const std::uint64_t window = P::numa::template window_pages<P>();
    std::uint64_t scanned = 0;
    if (p >= numa_processes) {
      for (std::uint32_t& r = mem_.cursor[t]; scanned < window;) {
        if (mem_.priv_pages[t] != 0) mem_.priv_armed[t] |= 1U << r;
        scanned += mem_.priv_pages[t];
        if (++r == numa_regions) {
          r = 0;
          P::numa::end_pass(t, state_.numa);
          return;
        }
      }
      return;
    }
    std::uint32_t& owner = mem_.cursor_task[p];
    std::uint32_t& r = mem_.cursor_region[p];
    while (scanned < window) {
      const std::uint64_t pages = owner == no_task ? mem_.shared_pages[p] : mem_.priv_pages[owner];
      if (pages != 0) (owner == no_task ? mem_.shared_armed[p] : mem_.priv_armed[owner]) |= 1U << r;
      scanned += pages;
      if (++r < numa_regions) continue;
      r = 0;
      owner = next_thread(p, owner == no_task ? 0 : owner + 1);
      if (owner != no_task) continue;
      P::numa::end_pass(t, state_.numa);
      return;
    }
  }

  // migrate_task_to() or migrate_swap(): t leaves c for dst, where `partner` runs and
  // comes to c in exchange.
  constexpr void numa_move(std::uint32_t t, std::size_t c, std::size_t dst, std::uint32_t partner) {
    if (!snap_.task_at(t).allowed.test(dst)) return;
    if (partner != no_task && (snap_.cpu_of(partner) != dst || !snap_.task_at(partner).allowed.test(c))) return;
    result_.migrations.clear();
    force_move(result_, t, c, dst);
    if (partner != no_task) {
      force_move(result_, partner, dst, c);
      ++metrics_.numa_swaps;
    }
    apply(result_, c, reason::numa);
  }

  // -- metrics --------------------------------------------------------------------------
  // The Wasted Cores measure, sampled at every jiffy boundary up to `t`: idle CPUs that a
  // task waiting on another CPU may run on.
  constexpr void sample_until(nanoseconds t) {
    const nanoseconds tick = tick_length();
    while (next_sample_ <= t) {
      cpumask<max_cpus> wanted;
      for (std::size_t c : balancer_.tree().cpu_map())
        for (std::uint32_t q = snap_.head(c); q != no_task; q = snap_.next(q))
          if (q != cpus_[c].curr) wanted |= snap_.task_at(q).allowed;
      std::size_t n = 0;
      for (std::size_t c : wanted & balancer_.tree().cpu_map())
        if (cpus_[c].curr == no_task) ++n;
      metrics_.idle_while_waiting += static_cast<nanoseconds>(n) * tick;
      next_sample_ += tick;
    }
  }

  balancer<P, L> balancer_;
  sim_mode mode_ = sim_mode::time;
  snapshot<L> snap_{};
  balance_state<P, L> state_{};
  group_sums<L> sums_{};
  bool sums_kept_ = true;
  detail::event_queue<max_cpus + max_tasks> events_{};
  std::array<cpu_sim, max_cpus> cpus_{};
  std::array<task_sim, max_tasks> tasks_{};
  cpumask<max_cpus> nohz_idle_{};
  jiffies_t nohz_next_balance_ = 0;
  jiffies_t nohz_next_blocked_ = 0;
  bool nohz_has_blocked_ = false;
  nanoseconds now_ = 0;
  nanoseconds next_sample_ = 0;
  sim_costs costs_{};
  sim_metrics metrics_{};
  result_type result_{};
  std::array<std::uint64_t, max_cpus> hot_bytes_{};
  struct no_numa_memory {};
  [[no_unique_address]] std::conditional_t<detail::numa_active<P>, numa_memory<L>, no_numa_memory> mem_{};  // by llc_id: Σ footprint of running tasks
  static_vector<sim_migration, LogCapacity> log_{};
  std::uint64_t dropped_ = 0;
};

}  // namespace balancekit::model
