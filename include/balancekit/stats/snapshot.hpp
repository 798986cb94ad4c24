/// \file
/// What the balancer reads: per-CPU and per-task state, filled by the embedder.
///
/// kernel: the fields of struct rq / struct cfs_rq / struct sched_entity that
/// kernel/sched/fair.c's load balancer reads (PELT averages, nr_running, capacity, misfit
/// load, NUMA counters, avg_idle), and each rq's `cfs_tasks` list.
///
/// `cpu_state` and `task_state` are plain aggregates. `snapshot` holds them together with
/// each CPU's queue in the kernel's `cfs_tasks` order (the head is the most recently
/// enqueued task; the balancer scans from the tail), and moves a task the way the kernel's
/// detach_task()/attach_task() do: the task's averages leave the source CPU's sums and
/// join the destination's. Nothing here computes PELT; the embedder (or `model/`) owns
/// the signals. The per-CPU sums, though, have one owner: `account_enqueue` and
/// `account_dequeue` below are the only code that adds a task to a CPU's sums or takes it
/// away, and `snapshot::refresh_sums` rebuilds a CPU's sums from its queue with them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include <balancekit/core/cpumask.hpp>
#include <balancekit/core/index.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/core/static_vector.hpp>
#include <balancekit/core/units.hpp>
#include <balancekit/detail/contracts.hpp>

namespace balancekit {

/// One CPU's run-queue state. Loads, utilizations and capacities use the kernel's scales
/// (a nice-0 task weighs 1024; a full-size CPU has capacity 1024).
struct cpu_state {
  std::uint32_t nr_running = 0;       ///< rq->nr_running: tasks of every class, running one included
  std::uint32_t h_nr_runnable = 0;    ///< rq->cfs.h_nr_runnable: fair tasks, running one included
  std::uint32_t h_nr_idle = 0;        ///< rq->cfs.h_nr_idle: SCHED_IDLE tasks among them
  std::uint64_t load = 0;             ///< cpu_load(): cfs_rq->avg.load_avg
  std::uint64_t util = 0;             ///< cfs_rq->avg.util_avg
  std::uint64_t util_est = 0;         ///< cfs_rq->avg.util_est
  std::uint64_t runnable = 0;         ///< cpu_runnable(): cfs_rq->avg.runnable_avg
  std::uint64_t capacity = sched_capacity_scale;       ///< capacity_of(): what RT/DL/IRQ leave to CFS
  std::uint64_t arch_capacity = sched_capacity_scale;  ///< arch_scale_cpu_capacity()
  std::uint64_t misfit_task_load = 0;  ///< rq->misfit_task_load (asymmetric-capacity machines)
  std::uint32_t nr_numa_running = 0;   ///< tasks with a preferred node
  std::uint32_t nr_preferred_running = 0;  ///< tasks running on their preferred node
  nanoseconds avg_idle = 2 * 500'000;  ///< rq->avg_idle (the kernel starts it at 2 * migration cost)
  /// rq->idle_stamp: when the CPU last went idle; 0 while it runs something. Placement's
  /// slow path prefers the most recently idled CPU, and ignores idle CPUs stamped 0.
  nanoseconds idle_stamp = 0;
  bool ttwu_pending = false;           ///< a wakeup is queued for this CPU

  /// kernel: idle_cpu(): nothing runs and no wakeup is on its way.
  [[nodiscard]] constexpr bool is_idle() const noexcept { return nr_running == 0 && !ttwu_pending; }
  /// kernel: sched_idle_cpu(): it runs SCHED_IDLE tasks only.
  [[nodiscard]] constexpr bool is_sched_idle() const noexcept { return nr_running != 0 && nr_running == h_nr_idle; }
};

/// kernel: cpu_util_cfs(): the larger of util_avg and util_est, capped at the CPU's
/// original capacity.
[[nodiscard]] constexpr std::uint64_t cpu_util_cfs(const cpu_state& c) noexcept {
  const std::uint64_t u = c.util > c.util_est ? c.util : c.util_est;
  return u < c.arch_capacity ? u : c.arch_capacity;
}

/// kernel: cpu_util_cfs_boost(): as cpu_util_cfs() but at least the runnable average, so
/// a contended CPU looks as busy as its waiting tasks make it.
[[nodiscard]] constexpr std::uint64_t cpu_util_cfs_boost(const cpu_state& c) noexcept {
  std::uint64_t u = c.util > c.runnable ? c.util : c.runnable;
  if (c.util_est > u) u = c.util_est;
  return u < c.arch_capacity ? u : c.arch_capacity;
}

/// One task, as the balancer sees it.
template <limits_pack L>
struct task_state {
  std::uint64_t id = 0;              ///< the embedder's handle, copied into decisions
  std::uint64_t weight = nice_0_load;  ///< se.load.weight (scaled down, nice 0 = 1024)
  std::uint64_t load = nice_0_load;  ///< se.avg.load_avg
  std::uint64_t h_load = nice_0_load;  ///< task_h_load(): the load it carries up the cgroup hierarchy
  std::uint64_t util = 0;            ///< se.avg.util_avg
  std::uint64_t util_est = 0;        ///< se.avg.util_est (task_util_est() is the larger of this and util)
  std::uint64_t runnable = 0;        ///< se.avg.runnable_avg
  cpumask<L::max_cpus> allowed = ~cpumask<L::max_cpus>{};  ///< p->cpus_ptr
  nanoseconds exec_start = 0;        ///< when it last started running (cache hotness)
  /// entity_eligible() on its queue: EEVDF does not pull an ineligible task on a first
  /// attempt when the destination has tasks.
  bool eligible = true;
  bool sched_idle = false;  ///< SCHED_IDLE policy (counted in h_nr_idle)
  bool kthread = false;     ///< a kernel thread (PF_KTHREAD); with a one-CPU mask, a per-CPU kthread
  /// The task group whose threads aggregation keeps together (the kernel's mm), an index the
  /// embedder names; `no_process`: none.
  std::uint32_t process = no_process;
  /// kernel: p->numa_preferred_nid, as the first CPU of that node (nodes are the domains'
  /// node spans); `no_cpu`: none. A pack's NUMA member decides it and the embedder copies it
  /// here, where the balance rules read it (migrate_degrades_locality, get_pref_llc).
  std::size_t numa_preferred_node = no_cpu;
};

/// kernel: what enqueueing a fair task adds to its CPU (add_nr_running(),
/// enqueue_load_avg() and the util/runnable sums of attach_entity_load_avg()).
template <limits_pack L>
constexpr void account_enqueue(cpu_state& c, const task_state<L>& p) noexcept {
  ++c.nr_running;
  ++c.h_nr_runnable;
  if (p.sched_idle) ++c.h_nr_idle;
  c.load += p.load;
  c.util += p.util;
  c.util_est += p.util_est;
  c.runnable += p.runnable;
}

/// kernel: what dequeueing it takes away. Like the kernel's sub_positive(), a sum never
/// goes below zero.
template <limits_pack L>
constexpr void account_dequeue(cpu_state& c, const task_state<L>& p) noexcept {
  auto sub = [](auto& v, auto d) { v = v > d ? v - d : 0; };
  sub(c.nr_running, 1U);
  sub(c.h_nr_runnable, 1U);
  if (p.sched_idle) sub(c.h_nr_idle, 1U);
  sub(c.load, p.load);
  sub(c.util, p.util);
  sub(c.util_est, p.util_est);
  sub(c.runnable, p.runnable);
}

/// Per-CPU and per-task state with each CPU's queue.
///
/// Tasks are addressed by their index in `tasks()`, which never changes. The queue of a
/// CPU is an intrusive list, like the kernel's `rq->cfs_tasks`.
template <limits_pack L>
class snapshot {
public:
  using task = task_state<L>;
  using mask = cpumask<L::max_cpus>;
  static constexpr std::size_t max_cpus = L::max_cpus;
  static constexpr std::size_t max_tasks = L::max_tasks;

  std::array<cpu_state, max_cpus> cpus{};
  /// kernel: rd->overloaded — some CPU had a task waiting when last looked. The operations
  /// below that take a CPU from fewer than two tasks to two or more set it (as
  /// add_nr_running() does), every root-level balance replaces it with what its statistics
  /// saw, and newly idle balancing runs only while it is set. An embedder that fills `cpus`
  /// by hand sets it too.
  bool overloaded = false;

  /// Something that keeps data derived from `cpus` (`group_sums`): called with each CPU
  /// whose record the operations below change, and with `touched`. The observer belongs to
  /// the object that registered it, not to its value: a copy observes nothing, and a value
  /// assigned into a snapshot drops its observer (as `clear` does), so that no copy calls
  /// back into an owner it may outlive.
  using observer_fn = void (*)(void* ctx, std::size_t cpu);
  constexpr void observe(observer_fn f, void* ctx) noexcept {
    observer_.fn = f;
    observer_.ctx = ctx;
  }
  /// Tells the observer that code outside the snapshot wrote `cpus[cpu]`.
  constexpr void touched(std::size_t cpu) {
    if (observer_.fn != nullptr) observer_.fn(observer_.ctx, cpu);
  }

  /// Drops every task and resets every CPU to idle; the observer is dropped too.
  constexpr void clear() noexcept {
    observer_ = {};
    overloaded = false;
    cpus.fill(cpu_state{});
    queue_.fill(queue{});
    tasks_.clear();
    links_.clear();
  }

  /// Appends a task queued on `cpu` (at the head of its queue, as enqueue does) without
  /// touching the CPU's sums: the embedder fills `cpus` itself, or calls `account_enqueue`
  /// or `refresh_sums`. Returns the task's index, or `no_task` when the snapshot is full.
  constexpr std::uint32_t add_task(const task& t, std::size_t cpu, bool running = false) {
    BALANCEKIT_EXPECTS(cpu < max_cpus);
    if (tasks_.full()) return no_task;
    const auto index = static_cast<std::uint32_t>(tasks_.size());
    tasks_.push_back(t);
    links_.push_back(link{});
    link_head(index, cpu);
    if (running) queue_[cpu].curr = index;
    return index;
  }

  /// Appends a task that sleeps (queued nowhere): a new task before its fork placement,
  /// or one that blocked before the snapshot was taken. Returns its index, or `no_task`
  /// when the snapshot is full.
  constexpr std::uint32_t add_sleeping_task(const task& t) {
    if (tasks_.full()) return no_task;
    const auto index = static_cast<std::uint32_t>(tasks_.size());
    tasks_.push_back(t);
    links_.push_back(link{});
    return index;
  }

  /// Moves task `t` to `dst` with the kernel's accounting (detach_task + attach_task):
  /// counts and the task's averages leave the source and join the destination, and the
  /// task goes to the head of the destination's queue. A task that was running stops; the
  /// destination runs it at once if it was idle, and the source runs its next queued task.
  constexpr void move_task(std::uint32_t t, std::size_t dst) {
    BALANCEKIT_EXPECTS(t < tasks_.size() && dst < max_cpus);
    const std::size_t src = links_[t].cpu;
    if (src == dst) return;
    const task& p = tasks_[t];
    account_dequeue(cpus[src], p);
    enqueue_sums(dst, p);
    const bool was_running = queue_[src].curr == t;
    unlink(t);
    link_head(t, dst);
    if (was_running) queue_[src].curr = queue_[src].head;
    if (queue_[dst].curr == no_task) queue_[dst].curr = t;
    touched(src);
    touched(dst);
  }

  /// Removes task `t` from its CPU's queue and sums (the task exits or blocks). Its index
  /// stays valid, its state is kept, and `cpu_of(t)` becomes `no_cpu`.
  constexpr void dequeue_task(std::uint32_t t) {
    BALANCEKIT_EXPECTS(t < tasks_.size() && queued(t));
    const std::size_t src = links_[t].cpu;
    account_dequeue(cpus[src], tasks_[t]);
    const bool was_running = queue_[src].curr == t;
    unlink(t);
    links_[t].cpu = no_cpu;
    if (was_running) queue_[src].curr = queue_[src].head;
    touched(src);
  }

  /// Puts a dequeued task back on `cpu` (a wakeup), adding it to the CPU's sums.
  constexpr void enqueue_task(std::uint32_t t, std::size_t cpu) {
    BALANCEKIT_EXPECTS(t < tasks_.size() && !queued(t) && cpu < max_cpus);
    enqueue_sums(cpu, tasks_[t]);
    link_head(t, cpu);
    if (queue_[cpu].curr == no_task) queue_[cpu].curr = t;
    touched(cpu);
  }

  /// Sets `cpu`'s task count and PELT sums to those of the tasks queued on it (what an
  /// embedder or the model does after refreshing its tasks' signals). `capacity`,
  /// `misfit_task_load`, the NUMA counters and `avg_idle` are left alone.
  constexpr void refresh_sums(std::size_t cpu) {
    BALANCEKIT_EXPECTS(cpu < max_cpus);
    cpu_state& c = cpus[cpu];
    c.nr_running = c.h_nr_runnable = c.h_nr_idle = 0;
    c.load = c.util = c.util_est = c.runnable = 0;
    for (std::uint32_t t = queue_[cpu].head; t != no_task; t = links_[t].next) account_enqueue(c, tasks_[t]);
    if (c.nr_running >= 2) overloaded = true;
    touched(cpu);
  }

  /// Moves a queued task to the head of its CPU's queue (kernel: list_move() onto
  /// cfs_tasks, which detach_tasks() does with tasks it skips).
  constexpr void rotate_to_head(std::uint32_t t) {
    BALANCEKIT_EXPECTS(t < tasks_.size() && queued(t));
    const std::size_t cpu = links_[t].cpu;
    unlink(t);
    link_head(t, cpu);
  }

  // -- queries
  [[nodiscard]] constexpr const static_vector<task, max_tasks>& tasks() const noexcept { return tasks_; }
  /// Mutable access to a task's own fields (its queue position is not part of them).
  [[nodiscard]] constexpr task& task_at(std::uint32_t t) { return tasks_[t]; }
  [[nodiscard]] constexpr const task& task_at(std::uint32_t t) const { return tasks_[t]; }
  /// The CPU task `t` is queued on, or `no_cpu` when dequeued.
  [[nodiscard]] constexpr std::size_t cpu_of(std::uint32_t t) const { return links_[t].cpu; }
  [[nodiscard]] constexpr bool queued(std::uint32_t t) const { return links_[t].cpu != no_cpu; }
  /// The task running on `cpu` (kernel: rq->curr when it is a fair task), or `no_task`.
  [[nodiscard]] constexpr std::uint32_t curr(std::size_t cpu) const { return queue_[cpu].curr; }
  [[nodiscard]] constexpr bool running(std::uint32_t t) const { return queued(t) && queue_[links_[t].cpu].curr == t; }
  /// Marks `t` as the task running on its CPU.
  constexpr void set_curr(std::uint32_t t) {
    BALANCEKIT_EXPECTS(queued(t));
    queue_[links_[t].cpu].curr = t;
  }
  /// Head (most recently enqueued) and tail of a CPU's queue, and the walk between them.
  [[nodiscard]] constexpr std::uint32_t head(std::size_t cpu) const { return queue_[cpu].head; }
  [[nodiscard]] constexpr std::uint32_t tail(std::size_t cpu) const { return queue_[cpu].tail; }
  [[nodiscard]] constexpr std::uint32_t next(std::uint32_t t) const { return links_[t].next; }
  [[nodiscard]] constexpr std::uint32_t prev(std::uint32_t t) const { return links_[t].prev; }
  [[nodiscard]] constexpr std::uint32_t queue_length(std::size_t cpu) const { return queue_[cpu].length; }

private:
  struct link {
    std::uint32_t prev = no_task;  // towards the head
    std::uint32_t next = no_task;  // towards the tail
    std::size_t cpu = no_cpu;
  };
  struct queue {
    std::uint32_t head = no_task;
    std::uint32_t tail = no_task;
    std::uint32_t curr = no_task;
    std::uint32_t length = 0;
  };

  // kernel: add_nr_running() for one fair task.
  constexpr void enqueue_sums(std::size_t cpu, const task& p) {
    account_enqueue(cpus[cpu], p);
    if (cpus[cpu].nr_running == 2) overloaded = true;
  }

  constexpr void link_head(std::uint32_t t, std::size_t cpu) {
    queue& q = queue_[cpu];
    links_[t] = link{no_task, q.head, cpu};
    if (q.head != no_task) links_[q.head].prev = t;
    q.head = t;
    if (q.tail == no_task) q.tail = t;
    ++q.length;
  }
  constexpr void unlink(std::uint32_t t) {
    link& l = links_[t];
    queue& q = queue_[l.cpu];
    if (l.prev != no_task) links_[l.prev].next = l.next; else q.head = l.next;
    if (l.next != no_task) links_[l.next].prev = l.prev; else q.tail = l.prev;
    --q.length;
    l.prev = l.next = no_task;
  }

  static_vector<task, max_tasks> tasks_{};
  static_vector<link, max_tasks> links_{};
  std::array<queue, max_cpus> queue_{};
  struct observer_slot {
    observer_fn fn = nullptr;
    void* ctx = nullptr;
    constexpr observer_slot() noexcept = default;
    constexpr observer_slot(const observer_slot&) noexcept {}
    constexpr observer_slot& operator=(const observer_slot&) noexcept {
      fn = nullptr;
      ctx = nullptr;
      return *this;
    }
  };
  observer_slot observer_{};
};

}  // namespace balancekit
