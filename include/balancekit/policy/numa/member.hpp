/// \file
/// NUMA balancing as a pack member (seed 003, issue 13): the per-task and per-group state,
/// the hinting-fault path (the page's filter, the classification and group join, the
/// retry of placement), the placement pass at each new scan sequence (the averaging, the
/// preferred node, the scan period), the task's move to its preferred node, and the
/// scheduling stats Peter Zijlstra asked for. Two designs: mainline's (`numa::mainline`:
/// the cpupid filter, numa groups, task_numa_migrate's search) and AutoNUMA's
/// (`numa::autonuma`: the last_nid filter, no groups, the CPU following its memory by an
/// exchange). The embedder owns the memory: it keeps each page's NUMA word (`page_word`),
/// scans, and calls `task_tick`, `fault` and `account` (model/simulator.hpp does).
///
/// kernel: init_numa_balancing(), task_tick_numa(), task_numa_fault(), task_numa_group(),
/// task_numa_placement(), numa_migrate_preferred(), task_numa_migrate(),
/// update_numa_stats() (kernel/sched/fair.c, the v6 forms).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <algorithm>

#include <balancekit/balancer/lb_env.hpp>
#include <balancekit/core/error.hpp>
#include <balancekit/core/index.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/core/units.hpp>
#include <balancekit/domains/domain_tree.hpp>
#include <balancekit/domains/flags.hpp>
#include <balancekit/policy/numa/faults.hpp>
#include <balancekit/policy/numa/interplay.hpp>
#include <balancekit/policy/numa/migrate.hpp>
#include <balancekit/policy/numa/placement.hpp>
#include <balancekit/policy/numa/scan.hpp>
#include <balancekit/stats/snapshot.hpp>

namespace balancekit {
struct numa_family;
}

namespace balancekit::numa {

/// Which design a member follows.
enum class design : std::uint8_t {
  mainline,  ///< Linux since 3.8 (Mel Gorman's and Peter Zijlstra's series)
  autonuma,  ///< Andrea Arcangeli's AutoNUMA (seed 003)
  off,       ///< no scans, so no faults and no moves: the memory stays where it was touched first
};

inline constexpr std::uint32_t no_group = ~std::uint32_t{0};
/// Processes whose threads share one mm (`task_state::process` below this); a task of no
/// such process has an mm of its own.
inline constexpr std::size_t max_processes = 64;

/// Milliseconds as nanoseconds (the sysctls are in ms).
[[nodiscard]] constexpr nanoseconds ms(std::uint64_t v) noexcept { return static_cast<nanoseconds>(v * 1'000'000); }

/// A page's NUMA word, kept by the embedder with the page: where it lives, and what its
/// filter remembers of the last fault (mainline: the cpupid; AutoNUMA: the node).
struct page_word {
  std::size_t node = 0;
  std::uint32_t last = cpupid{}.value;
  /// A fresh page on `node`: no fault seen (the two designs' "unset").
  [[nodiscard]] static constexpr page_word fresh(std::size_t node, design d) noexcept {
    return {node, d == design::mainline ? cpupid{}.value : static_cast<std::uint32_t>(~std::uint32_t{0})};
  }
};

/// Per task: the faults, the preferred node, the scanner, and the scheduling stats.
template <std::size_t MaxNodes>
struct task_numa {
  task_faults<MaxNodes> faults{};
  std::size_t preferred_nid = no_node;
  std::uint32_t pid = 0;
  std::uint32_t process = no_process;   ///< its mm (no_process: a mm of its own)
  std::uint32_t group = no_group;
  std::uint32_t scan_seq = 0;           ///< p->numa_scan_seq: the pass placement last saw
  std::uint32_t scan_period_ms = 0;     ///< p->numa_scan_period
  std::uint32_t scan_period_max_ms = 0;
  std::uint64_t rss_pages = 0;          ///< what it scans (its private and shared pages)
  nanoseconds node_stamp = 0;           ///< runtime at which the next scan is due, less the period
  nanoseconds migrate_retry = 0;        ///< p->numa_migrate_retry
  nanoseconds last_sum_exec = 0;        ///< numa_get_avg_runtime()'s marks
  nanoseconds last_placement = 0;
  bool live = false;
  bool faulted = false;                 ///< it has fault statistics (p->numa_faults)
  // The scheduling stats (docs/numa.md §4).
  nanoseconds with_preferred = 0;       ///< runtime while it had a preferred node
  nanoseconds on_preferred = 0;         ///< … of it, on that node
  nanoseconds hinted_at = -1;           ///< when it first got a preferred node
  nanoseconds reached_at = -1;          ///< when it first ran there after that
  std::uint64_t hints = 0;              ///< moves to the preferred node asked for
  std::uint64_t hints_followed = 0;     ///< … that moved it there
  std::uint64_t preferred_changes = 0;
};

/// Per numa group (kernel: struct numa_group).
template <std::size_t MaxNodes>
struct group_numa {
  group_faults<MaxNodes> faults{};
  bool live = false;
};

/// An address space (kernel: the NUMA fields of struct mm_struct): scanned once a period
/// by whichever of its threads is due first, a pass at a time.
struct mm_numa {
  std::uint32_t seq = 0;       ///< completed passes (mm->numa_scan_seq)
  nanoseconds next_scan = 0;   ///< mm->numa_next_scan
  std::uint32_t users = 0;     ///< its live threads
};

/// What a fault asks of the embedder.
struct fault_outcome {
  bool migrate_page = false;        ///< move the page to the faulting CPU's node
  std::size_t move_to = no_cpu;     ///< move the task there (migrate_task_to) …
  std::uint32_t swap_with = no_task;  ///< … exchanging places with this task (migrate_swap)
  bool hinted = false;              ///< a move to the preferred node was asked for
};

/// The state of a NUMA member for limits `L`, on machines of up to `MaxNodes` nodes.
template <limits_pack L, std::size_t MaxNodes>
struct numa_state {
  std::array<task_numa<MaxNodes>, L::max_tasks> tasks{};
  std::array<group_numa<MaxNodes>, L::max_tasks> groups{};  ///< group i was made by task i
  std::array<mm_numa, L::max_tasks> own_mm{};               ///< the mm of a task of no process
  std::array<mm_numa, max_processes> process_mm{};
  distances<MaxNodes> dist{};
  topology_type type = topology_type::direct;
  std::array<std::uint16_t, L::max_cpus> node{};   ///< each CPU's node (by the nodes' first CPUs)
  std::array<std::size_t, MaxNodes> first_cpu{};
  std::size_t lowest_numa_level = no_cpu;           ///< sd_numa's level, no_cpu: not NUMA
  status attached{};
  friend constexpr bool operator==(const numa_state&, const numa_state&) = default;
};

namespace detail {
template <class Tree>
[[nodiscard]] constexpr std::uint32_t numa_distance(const Tree& tree, std::size_t from, std::size_t to) {
  if (tree.node_mask(from).test(to)) return local_distance;
  for (std::size_t k = 0; k < tree.nr_domains(from); ++k) {
    const auto& d = tree.domain_of(from, k);
    const auto& lvl = tree.levels()[d.level];
    if (lvl.is_numa && lvl.numa_distance != 0 && tree.span(d).test(to)) return lvl.numa_distance;
  }
  return 255;  // no domain joins them: unreachable, as the SLIT's 255
}
}  // namespace detail

/// The member of both designs (`numa::mainline`, `numa::autonuma`): state for up to
/// `MaxNodes` nodes; the scanner's sysctls are the pack's `numa_tuning`. `I` says who wins
/// when an aggregation member prefers an LLC on another node than the task's memory
/// (numa_first: NUMA, and aggregation drops the task's preferred LLC; cache_first: the
/// LLC, and the task's preferred node becomes the LLC's).
template <design D, aggregation::numa_interplay I = aggregation::numa_interplay::numa_first, std::size_t MaxNodes = 16>
struct basic_numa {
  using family = numa_family;
  static constexpr bool active = true;
  static constexpr design which = D;
  static constexpr aggregation::numa_interplay interplay = I;
  static constexpr std::size_t max_nodes = MaxNodes;
  template <limits_pack L>
  using state = numa_state<L, MaxNodes>;

  /// At each domain build: the nodes (the domains' node spans, numbered by their first
  /// CPUs), their distances (sched_domains_numa_distance) and topology type, and every
  /// task forgotten. A machine of more nodes than `MaxNodes` is refused (`st.attached`).
  template <limits_pack L>
  static constexpr void attach(const domain_tree<L>& tree, numa_state<L, MaxNodes>& st) {
    for (auto& t : st.tasks) t = task_numa<MaxNodes>{};
    for (auto& g : st.groups) g = group_numa<MaxNodes>{};
    st.own_mm.fill(mm_numa{});
    st.process_mm.fill(mm_numa{});
    st.dist = distances<MaxNodes>{};
    st.attached = {};
    std::size_t n = 0;
    for (std::size_t c : tree.cpu_map()) {
      if (tree.node_mask(c).first() != c) continue;
      if (n == MaxNodes) {
        error e{errc::out_of_range, "numa: the machine has more than "};
        st.attached = e << MaxNodes << " nodes, the most this member keeps (basic_numa's MaxNodes)";
        return;
      }
      st.first_cpu[n++] = c;
    }
    st.dist.nodes = n;
    for (std::size_t c : tree.cpu_map())
      for (std::size_t k = 0; k < n; ++k)
        if (tree.node_mask(c).test(st.first_cpu[k])) st.node[c] = static_cast<std::uint16_t>(k);
    for (std::size_t a = 0; a < n; ++a)
      for (std::size_t b = 0; b < n; ++b) st.dist.d[a][b] = detail::numa_distance(tree, st.first_cpu[a], st.first_cpu[b]);
    st.type = classify_topology(st.dist);
    st.lowest_numa_level = no_cpu;
    for (std::size_t k = 0; n > 1 && k < tree.levels().size(); ++k)
      if (tree.levels()[k].is_numa) {
        st.lowest_numa_level = k;
        break;
      }
  }

  /// Task `t`'s address space: its process's, or its own.
  template <limits_pack L>
  [[nodiscard]] static constexpr mm_numa& mm_of(std::uint32_t t, numa_state<L, MaxNodes>& st) {
    const std::uint32_t p = st.tasks[t].process;
    return p < max_processes ? st.process_mm[p] : st.own_mm[t];
  }
  template <limits_pack L>
  [[nodiscard]] static constexpr const mm_numa& mm_of(std::uint32_t t, const numa_state<L, MaxNodes>& st) {
    const std::uint32_t p = st.tasks[t].process;
    return p < max_processes ? st.process_mm[p] : st.own_mm[t];
  }

  /// kernel: init_numa_balancing(): task `t` (pid `pid`, a thread of `process`, whose mm
  /// it shares; `no_process` or beyond `max_processes`: an mm of its own) starts at `now`
  /// with `rss_pages` in its mm; the mm's first scan waits the scan delay.
  template <class P, limits_pack L>
  static constexpr void task_new(std::uint32_t t, std::uint32_t pid, std::uint32_t process, std::uint64_t rss_pages,
                                 nanoseconds now, numa_state<L, MaxNodes>& st) {
    constexpr scan_tunables tun = P::numa_tuning;
    drop_group(t, st);
    task_numa<MaxNodes>& tn = st.tasks[t];
    tn = task_numa<MaxNodes>{};
    tn.live = true;
    tn.pid = pid;
    tn.process = process;
    tn.rss_pages = rss_pages;
    tn.scan_period_ms = tun.delay_ms;
    tn.scan_period_max_ms = scan_max(rss_pages, tun);
    mm_numa& mm = mm_of(t, st);
    if (mm.users++ == 0) {
      mm.seq = 0;
      mm.next_scan = now + ms(tun.delay_ms);
    }
    tn.scan_seq = mm.seq;
  }
  /// Task `t` exits: it leaves its group.
  template <limits_pack L>
  static constexpr void task_dead(std::uint32_t t, numa_state<L, MaxNodes>& st) {
    drop_group(t, st);
    if (!st.tasks[t].live) return;
    --mm_of(t, st).users;
    st.tasks[t].live = false;
  }

  /// kernel: task_tick_numa() and task_numa_work()'s gate: whether task `t`, which has run
  /// `sum_exec` in all, scans the next window of its mm now: its runtime passed another
  /// period (the first sets the period from the RSS: task_scan_start) and the mm's next
  /// scan is due, which then moves a period on. A thread's period spent before the mm is
  /// due is gone, as in the kernel.
  template <class P, limits_pack L>
  static constexpr bool task_tick(std::uint32_t t, nanoseconds sum_exec, nanoseconds now,
                                  numa_state<L, MaxNodes>& st) {
    constexpr scan_tunables tun = P::numa_tuning;
    task_numa<MaxNodes>& tn = st.tasks[t];
    if (D == design::off || !tn.live || !st.attached || st.dist.nodes < 2) return false;
    const nanoseconds period = ms(tn.scan_period_ms);
    if (sum_exec <= tn.node_stamp + period) return false;
    if (tn.node_stamp == 0) tn.scan_period_ms = scan_min(tn.rss_pages, tun);  // task_scan_start(), no group yet
    tn.node_stamp += period;
    mm_numa& mm = mm_of(t, st);
    if (now < mm.next_scan) return false;
    mm.next_scan = now + ms(tn.scan_period_ms);
    return true;
  }
  /// The embedder finished a pass over task `t`'s mm (mm->numa_scan_seq++).
  template <limits_pack L>
  static constexpr void end_pass(std::uint32_t t, numa_state<L, MaxNodes>& st) {
    ++mm_of(t, st).seq;
  }
  /// How many of `rss_pages` one scan covers (the sysctl's window).
  template <class P>
  [[nodiscard]] static constexpr std::uint64_t window_pages() {
    return std::uint64_t{P::numa_tuning.size_mb} << (20 - 12);
  }

  /// kernel: do_numa_page() and task_numa_fault(): task `t`, running on `cpu` (`sum_exec`
  /// in all), faults on `pages` pages whose word is `page` (in a shared mapping:
  /// `shared_mapping`). The page's filter decides its migration and stamps it; the fault is
  /// classified (private, shared, a group join), placement runs when its retry is due, and
  /// the fault is recorded. `cache_cpu` is a CPU of the LLC an aggregation member prefers
  /// for the task's process (`no_cpu`: none), which a cache_first member's preferred node
  /// follows. The outcome says what the embedder carries out: the page's move (done here
  /// to `page.node` already) and the task's.
  template <class P, limits_pack L>
  static constexpr fault_outcome fault(const domain_tree<L>& tree, const snapshot<L>& snap, std::size_t cpu,
                                       std::uint32_t t, page_word& page, std::uint64_t pages, bool shared_mapping,
                                       nanoseconds sum_exec, nanoseconds now, numa_state<L, MaxNodes>& st,
                                       std::size_t cache_cpu = no_cpu) {
    fault_outcome out;
    task_numa<MaxNodes>& tn = st.tasks[t];
    if (!tn.live || !st.attached || st.dist.nodes < 2) return out;
    const std::size_t cpu_node = st.node[cpu];
    const std::size_t page_node = page.node;
    const cpupid last{page.last};
    bool migrate = false;
    if constexpr (D == design::mainline) {
      const faulting_task<MaxNodes> ft{tn.pid, tn.preferred_nid, tn.scan_seq,
                                       tn.group != no_group ? &st.groups[tn.group].faults : nullptr};
      cpupid stamp{page.last};
      migrate = mainline_filter::should_migrate(stamp, ft, page_node, cpu, [&](std::size_t c) { return st.node[c]; });
      page.last = stamp.value;
    } else {
      std::size_t last_nid = page.last == ~std::uint32_t{0} ? no_node : page.last;
      migrate = autonuma_filter::check(last_nid, cpu_node, page_node) == last_nid_verdict::migrate;
      page.last = static_cast<std::uint32_t>(last_nid);
    }
    if (migrate && page_node != cpu_node) {
      page.node = cpu_node;
      out.migrate_page = true;
    }
    const std::size_t mem_node = page.node;
    // task_numa_fault(): private or shared, and mainline's group join.
    bool priv = true;
    if constexpr (D == design::mainline) {
      if (!last.unset() && !last.matches(tn.pid)) priv = classify_and_join(snap, t, last, shared_mapping, st);
    } else {
      priv = true;  // AutoNUMA keeps no accessor per page: every fault counts as the task's own
    }
    bool local = cpu_node == mem_node;
    if (tn.group != no_group) {
      const group_faults<MaxNodes>& g = st.groups[tn.group].faults;
      if (!priv && !local && g.active_nodes > 1 && g.active(cpu_node) && g.active(mem_node)) local = true;
    }
    tn.faulted = true;
    if (now > tn.migrate_retry) {
      placement<P>(t, sum_exec, now, st, cache_cpu);
      out = migrate_preferred<P>(tree, snap, cpu, t, now, st, out);
    }
    numa::fault f;
    f.mem_node = mem_node;
    f.cpu_node = cpu_node;
    f.pages = pages;
    f.priv = priv;
    f.local = local;
    f.migrated = out.migrate_page;
    (void)record(tn.faults, f, st.dist.nodes);  // an overflow leaves the counters as they were
    return out;
  }

  /// The scheduling stats: task `t` ran `delta` on `cpu` until `now`.
  template <limits_pack L>
  static constexpr void account(std::uint32_t t, std::size_t cpu, nanoseconds delta, nanoseconds now,
                                numa_state<L, MaxNodes>& st) {
    task_numa<MaxNodes>& tn = st.tasks[t];
    if (tn.preferred_nid == no_node) return;
    tn.with_preferred += delta;
    if (st.node[cpu] != tn.preferred_nid) return;
    tn.on_preferred += delta;
    if (tn.reached_at < 0) tn.reached_at = now;
  }

  /// kernel: migrate_degrades_locality(), v6: whether the balancer's move of task `t`
  /// from env.src_cpu to env.dst_cpu, across a NUMA domain, degrades its locality (> 0,
  /// by its weight's loss), improves it (< 0: towards its preferred node), or neither (0:
  /// cache hotness decides).
  template <class Env, limits_pack L>
  [[nodiscard]] static constexpr std::int64_t degrades_locality(const Env& env, std::uint32_t t,
                                                                const numa_state<L, MaxNodes>& st) {
    if (!env.has(sd_flag::numa)) return 0;
    const task_numa<MaxNodes>& tn = st.tasks[t];
    if (!tn.faulted) return 0;
    const std::size_t src = st.node[env.src_cpu];
    const std::size_t dst = st.node[env.dst_cpu];
    if (src == dst) return 0;
    if (src == tn.preferred_nid) {  // leaving the preferred node is always bad …
      const cpu_state& rq = env.cpu(env.src_cpu);
      return rq.nr_running > rq.nr_preferred_running ? 1 : 0;  // … unless every task there is home
    }
    if (dst == tn.preferred_nid) return -1;
    if (env.idle == cpu_idle_type::idle) return 0;  // an idle core is often worse than locality
    const std::uint32_t dist = st.dist(src, dst);
    if (tn.group != no_group) return group_w(st, t, src, dist) - group_w(st, t, dst, dist);
    return task_w(st, t, src, dist) - task_w(st, t, dst, dist);
  }

  /// The node of task `t`'s preference as its first CPU (`task_state::numa_preferred_node`),
  /// or `no_cpu`.
  template <limits_pack L>
  [[nodiscard]] static constexpr std::size_t preferred_node_cpu(std::uint32_t t, const numa_state<L, MaxNodes>& st) {
    const std::size_t n = st.tasks[t].preferred_nid;
    return n == no_node ? no_cpu : st.first_cpu[n];
  }

  /// The lowest NUMA domain's allowance (sd->imb_numa_nr) and imbalance_pct, at `cpu`.
  template <limits_pack L>
  [[nodiscard]] static constexpr std::pair<std::int32_t, std::uint32_t> numa_domain(const domain_tree<L>& tree,
                                                                                    std::size_t cpu,
                                                                                    const numa_state<L, MaxNodes>& st) {
    for (std::size_t k = 0; k < tree.nr_domains(cpu); ++k) {
      const auto& d = tree.domain_of(cpu, k);
      if (d.level >= st.lowest_numa_level && tree.levels()[d.level].is_numa)
        return {static_cast<std::int32_t>(d.imb_numa_nr), d.imbalance_pct};
    }
    return {0, 125};
  }

private:
  template <limits_pack L>
  static constexpr void drop_group(std::uint32_t t, numa_state<L, MaxNodes>& st) {
    task_numa<MaxNodes>& tn = st.tasks[t];
    if (tn.group == no_group) return;
    group_numa<MaxNodes>& g = st.groups[tn.group];
    for (std::size_t n = 0; n < st.dist.nodes; ++n)
      for (std::size_t p = 0; p < 2; ++p) {
        g.faults.mem.n[n][p] -= std::min(g.faults.mem.n[n][p], tn.faults.mem.n[n][p]);
        g.faults.cpu.n[n][p] -= std::min(g.faults.cpu.n[n][p], tn.faults.cpu.n[n][p]);
      }
    g.faults.total -= std::min(g.faults.total, tn.faults.total);
    if (--g.faults.nr_tasks == 0) g = group_numa<MaxNodes>{};
    tn.group = no_group;
  }
  template <limits_pack L>
  static constexpr void join(std::uint32_t t, std::uint32_t grp, numa_state<L, MaxNodes>& st) {
    drop_group(t, st);
    task_numa<MaxNodes>& tn = st.tasks[t];
    group_numa<MaxNodes>& g = st.groups[grp];
    if (!g.live) {
      g = group_numa<MaxNodes>{};
      g.live = true;
    }
    for (std::size_t n = 0; n < st.dist.nodes; ++n)
      for (std::size_t p = 0; p < 2; ++p) {
        g.faults.mem.n[n][p] += tn.faults.mem.n[n][p];
        g.faults.cpu.n[n][p] += tn.faults.cpu.n[n][p];
      }
    g.faults.total += tn.faults.total;
    ++g.faults.nr_tasks;
    tn.group = grp;
  }

  // kernel: task_numa_group(): a task without a group gets one of its own first; then it
  // may join the group of the task running on the stamp's CPU (classify()'s rule).
  // Returns whether the fault counts as private.
  template <limits_pack L>
  static constexpr bool classify_and_join(const snapshot<L>& snap, std::uint32_t t, cpupid last, bool shared_mapping,
                                          numa_state<L, MaxNodes>& st) {
    task_numa<MaxNodes>& tn = st.tasks[t];
    if (tn.group == no_group) join(t, t, st);
    sharer s;
    const std::size_t c = last.cpu();
    const std::uint32_t other = c < L::max_cpus ? snap.curr(c) : no_task;
    if (other != no_task && other != t && st.tasks[other].live) {
      const task_numa<MaxNodes>& on = st.tasks[other];
      s.pid_matches = last.matches(on.pid);
      s.has_group = on.group != no_group;
      s.same_group = s.has_group && on.group == tn.group;
      s.my_group_tasks = st.groups[tn.group].faults.nr_tasks;
      s.my_group_id = tn.group;
      if (s.has_group) {
        s.its_group_tasks = st.groups[on.group].faults.nr_tasks;
        s.its_group_id = on.group;
      }
      s.same_process = on.process != no_process && on.process == tn.process;
      s.shared_mapping = shared_mapping;
    }
    const classification k = classify(last, tn.pid, s);
    if (k.join) join(t, st.tasks[other].group, st);
    return k.priv;
  }

  // kernel: task_numa_placement(), once per scan pass: the averaging (into the group's
  // sums too), the preferred node (the group's on its topology), the scan period.
  template <class P, limits_pack L>
  static constexpr void placement(std::uint32_t t, nanoseconds sum_exec, nanoseconds now, numa_state<L, MaxNodes>& st,
                                  std::size_t cache_cpu) {
    constexpr scan_tunables tun = P::numa_tuning;
    task_numa<MaxNodes>& tn = st.tasks[t];
    const std::uint32_t seq = mm_of(t, st).seq;
    if (tn.scan_seq == seq) return;
    tn.scan_seq = seq;
    group_scan gs;
    group_numa<MaxNodes>* g = tn.group != no_group ? &st.groups[tn.group] : nullptr;
    if (g != nullptr) {
      gs.nr_tasks = g->faults.nr_tasks;
      gs.shared = g->faults.mem.total(false);
      gs.priv = g->faults.mem.total(true);
    }
    tn.scan_period_max_ms = scan_max(tn.rss_pages, tun, g != nullptr ? &gs : nullptr);
    // numa_get_avg_runtime(): the first pass has no marks; it counts as a busy period.
    std::uint64_t runtime = 47742;
    std::uint64_t period = 47742;  // LOAD_AVG_MAX
    if (tn.last_placement != 0) {
      runtime = static_cast<std::uint64_t>(sum_exec - tn.last_sum_exec);
      period = static_cast<std::uint64_t>(now > tn.last_placement ? now - tn.last_placement : 0);
    }
    tn.last_sum_exec = sum_exec;
    tn.last_placement = now;
    const task_faults<MaxNodes> before = tn.faults;
    const scan_faults sf{0, 0, tn.faults.local, tn.faults.remote, tn.faults.failed};
    const placement_pass pass = decay(tn.faults, runtime, period, st.dist.nodes);
    std::size_t max_nid = pass.max_node;
    std::uint64_t max_faults = pass.max_faults;
    if (g != nullptr) {
      for (std::size_t n = 0; n < st.dist.nodes; ++n)
        for (std::size_t p = 0; p < 2; ++p) {
          g->faults.mem.n[n][p] += tn.faults.mem.n[n][p] - before.mem.n[n][p];  // wraps as the kernel's longs add
          g->faults.cpu.n[n][p] += tn.faults.cpu.n[n][p] - before.cpu.n[n][p];
        }
      g->faults.total += tn.faults.total - before.total;
      max_faults = 0;
      for (std::size_t n = 0; n < st.dist.nodes; ++n)
        if (g->faults.mem.on(n) > max_faults) {
          max_faults = g->faults.mem.on(n);
          max_nid = n;
        }
      g->faults.count_active_nodes(st.dist.nodes);
      max_nid = preferred_group_nid(g->faults, st.dist, st.type, max_nid);
    }
    if (I == aggregation::numa_interplay::cache_first && cache_cpu < L::max_cpus && max_faults != 0)
      max_nid = st.node[cache_cpu];  // the memory follows the LLC aggregation chose
    if (max_faults != 0 && max_nid != tn.preferred_nid) set_preferred(tn, max_nid, now);
    scan_faults f = sf;
    f.shared = pass.shared;
    f.priv = pass.priv;
    const auto next = next_scan_period(tn.scan_period_ms, f, scan_min(tn.rss_pages, tun), tn.scan_period_max_ms,
                                       tn.scan_period_max_ms);
    if (next) tn.scan_period_ms = *next;
    if (f.local + f.shared == 0 || f.failed != 0) mm_of(t, st).next_scan = now + ms(tn.scan_period_ms);
    tn.faults.local = tn.faults.remote = tn.faults.failed = 0;
  }

  template <std::size_t N>
  static constexpr void set_preferred(task_numa<N>& tn, std::size_t nid, nanoseconds now) {
    if (tn.preferred_nid != no_node) ++tn.preferred_changes;
    tn.preferred_nid = nid;
    if (tn.hinted_at < 0) tn.hinted_at = now;
  }

  // kernel: numa_migrate_preferred(): the retry interval, then the move when the task is
  // not on its preferred node.
  template <class P, limits_pack L>
  static constexpr fault_outcome migrate_preferred(const domain_tree<L>& tree, const snapshot<L>& snap, std::size_t cpu,
                                                   std::uint32_t t, nanoseconds now, numa_state<L, MaxNodes>& st,
                                                   fault_outcome out) {
    task_numa<MaxNodes>& tn = st.tasks[t];
    if (tn.preferred_nid == no_node) return out;
    const nanoseconds interval = std::min<nanoseconds>(ms(1000), ms(tn.scan_period_ms) / 16);
    tn.migrate_retry = now + interval;
    if (st.node[cpu] == tn.preferred_nid) return out;
    out.hinted = true;
    ++tn.hints;
    const auto [to, partner] = D == design::mainline ? task_numa_migrate<P>(tree, snap, cpu, t, st)
                                                     : cpu_follows_memory(tree, snap, cpu, t, st);
    out.move_to = to;
    out.swap_with = partner;
    if (to != no_cpu && st.node[to] == tn.preferred_nid) ++tn.hints_followed;
    return out;
  }

  template <limits_pack L>
  [[nodiscard]] static constexpr node_stats node_sums(const snapshot<L>& snap, const domain_tree<L>& tree,
                                                      const numa_state<L, MaxNodes>& st, std::size_t nid) {
    node_stats ns;
    for (std::size_t c : tree.node_mask(st.first_cpu[nid])) {
      const cpu_state& rq = snap.cpus[c];
      ns.load += static_cast<std::int64_t>(rq.load);
      ns.runnable += rq.runnable;
      ns.util += cpu_util_cfs(rq);
      ns.nr_running += rq.h_nr_runnable;
      ns.compute_capacity += static_cast<std::int64_t>(rq.capacity);
      ++ns.weight;
    }
    return ns;
  }
  // update_numa_stats()'s find_idle: an idle allowed CPU of the node, an idle core first.
  template <limits_pack L>
  [[nodiscard]] static constexpr std::size_t idle_cpu_of(const snapshot<L>& snap, const domain_tree<L>& tree,
                                                         const numa_state<L, MaxNodes>& st, std::size_t nid,
                                                         std::uint32_t t) {
    std::size_t idle = no_cpu;
    for (std::size_t c : tree.node_mask(st.first_cpu[nid])) {
      if (!snap.cpus[c].is_idle() || !snap.task_at(t).allowed.test(c)) continue;
      if (idle == no_cpu) idle = c;
      bool core_idle = true;
      for (std::size_t s : tree.smt_mask(c)) core_idle = core_idle && snap.cpus[s].is_idle();
      if (core_idle) return c;
    }
    return idle;
  }
  template <limits_pack L>
  [[nodiscard]] static constexpr std::int64_t task_w(const numa_state<L, MaxNodes>& st, std::uint32_t t, std::size_t nid,
                                                     std::uint32_t dist) {
    const task_numa<MaxNodes>& tn = st.tasks[t];
    return static_cast<std::int64_t>(weight(tn.faults.mem, tn.faults.total, st.dist, st.type, nid, dist));
  }
  template <limits_pack L>
  [[nodiscard]] static constexpr std::int64_t group_w(const numa_state<L, MaxNodes>& st, std::uint32_t t, std::size_t nid,
                                                      std::uint32_t dist) {
    const task_numa<MaxNodes>& tn = st.tasks[t];
    if (tn.group == no_group) return 0;
    const group_faults<MaxNodes>& g = st.groups[tn.group].faults;
    return static_cast<std::int64_t>(weight(g.mem, g.total, st.dist, st.type, nid, dist));
  }

  // kernel: task_numa_migrate(), v6: the preferred node first; then, when it had no room
  // or the group spans several nodes, every node where the task or its group gains; the
  // group's preferred node follows where the task goes.
  template <class P, limits_pack L>
  [[nodiscard]] static constexpr std::pair<std::size_t, std::uint32_t> task_numa_migrate(const domain_tree<L>& tree,
                                                                                        const snapshot<L>& snap,
                                                                                        std::size_t cpu, std::uint32_t t,
                                                                                        numa_state<L, MaxNodes>& st) {
    task_numa<MaxNodes>& tn = st.tasks[t];
    if (st.lowest_numa_level == no_cpu) return {no_cpu, no_task};
    const auto [imb_numa_nr, sd_pct] = numa_domain(tree, cpu, st);
    const std::uint32_t imbalance_pct = 100 + (sd_pct - 100) / 2;
    numa_env env;
    env.src_nid = st.node[cpu];
    env.dst_nid = tn.preferred_nid;
    env.p_h_load = static_cast<std::int64_t>(snap.task_at(t).h_load);
    env.imb_numa_nr = imb_numa_nr;
    env.src = node_sums(snap, tree, st, env.src_nid);
    std::uint32_t dist = st.dist(env.src_nid, env.dst_nid);
    std::int64_t taskweight = task_w(st, t, env.src_nid, dist);
    std::int64_t groupweight = group_w(st, t, env.src_nid, dist);
    numa_choice best;
    auto search = [&](std::size_t nid, gain g) {
      env.dst_nid = nid;
      env.dst = node_sums(snap, tree, st, nid);
      env.dst_type = classify_node(imbalance_pct, env.dst);
      env.dst_idle_cpu = idle_cpu_of(snap, tree, st, nid, t);
      const auto& node_cpus = tree.node_mask(st.first_cpu[nid]);
      auto allowed = node_cpus & snap.task_at(t).allowed;
      task_numa_find_cpu(env, g, allowed, [&](std::size_t c) { return candidate_on(snap, st, t, c, cpu, nid, dist); },
                         [](std::int32_t imb, std::int32_t dst_running, std::int32_t nr) {
                           return P::numa_imbalance::adjust(imb, dst_running, nr);
                         },
                         best);
    };
    const bool grouped = tn.group != no_group;
    search(tn.preferred_nid, gain{task_w(st, t, tn.preferred_nid, dist) - taskweight,
                                  group_w(st, t, tn.preferred_nid, dist) - groupweight, grouped});
    if (best.cpu == no_cpu || (grouped && st.groups[tn.group].faults.active_nodes > 1)) {
      for (std::size_t nid = 0; nid < st.dist.nodes; ++nid) {
        if (nid == env.src_nid || nid == tn.preferred_nid) continue;
        // (v6 measures the distance from the source to the last searched node here, as
        // the kernel's code does.)
        const std::uint32_t d = st.dist(env.src_nid, env.dst_nid);
        if (st.type == topology_type::backplane && d != dist) {
          taskweight = task_w(st, t, env.src_nid, d);
          groupweight = group_w(st, t, env.src_nid, d);
        }
        const std::int64_t taskimp = task_w(st, t, nid, d) - taskweight;
        const std::int64_t groupimp = group_w(st, t, nid, d) - groupweight;
        if (taskimp < 0 && groupimp < 0) continue;
        dist = d;
        search(nid, gain{taskimp, groupimp, grouped});
      }
    }
    if (grouped) {
      const std::size_t nid = best.cpu == no_cpu ? env.src_nid : st.node[best.cpu];
      if (nid != tn.preferred_nid) set_preferred(tn, nid, tn.last_placement);
    }
    if (best.cpu == no_cpu) return {no_cpu, no_task};
    return {best.cpu, best.swap ? snap.curr(best.cpu) : no_task};
  }

  template <limits_pack L>
  [[nodiscard]] static constexpr candidate candidate_on(const snapshot<L>& snap, const numa_state<L, MaxNodes>& st,
                                                        std::uint32_t t, std::size_t c, std::size_t src_cpu,
                                                        std::size_t dst_nid, std::uint32_t dist) {
    candidate cur;
    const std::uint32_t o = snap.curr(c);
    if (o == no_task) return cur;
    cur.present = true;
    cur.is_self = o == t;
    if (cur.is_self) return cur;
    const task_numa<MaxNodes>& on = st.tasks[o];
    const task_numa<MaxNodes>& tn = st.tasks[t];
    const std::size_t src_nid = st.node[src_cpu];
    cur.allowed_on_src = snap.task_at(o).allowed.test(src_cpu);  // a swap puts it on the source CPU itself
    cur.preferred_nid = on.preferred_nid;
    cur.same_group = on.group == tn.group;
    cur.in_a_group = on.group != no_group;
    const bool by_group = on.group != no_group && tn.group != no_group && !cur.same_group;
    cur.weight_src = by_group ? group_w(st, o, src_nid, dist) : task_w(st, o, src_nid, dist);
    cur.weight_dst = by_group ? group_w(st, o, dst_nid, dist) : task_w(st, o, dst_nid, dist);
    cur.h_load = static_cast<std::int64_t>(snap.task_at(o).h_load);
    return cur;
  }

  // AutoNUMA's CPU follows memory: to an idle allowed CPU of the preferred node, else an
  // exchange with the task running there that gains the most from the swap (its own
  // memory's weight on our node against on its own, plus ours), when that sum is positive.
  template <limits_pack L>
  [[nodiscard]] static constexpr std::pair<std::size_t, std::uint32_t> cpu_follows_memory(const domain_tree<L>& tree,
                                                                                         const snapshot<L>& snap,
                                                                                         std::size_t cpu, std::uint32_t t,
                                                                                         numa_state<L, MaxNodes>& st) {
    const task_numa<MaxNodes>& tn = st.tasks[t];
    const std::size_t src = st.node[cpu];
    const std::size_t dst = tn.preferred_nid;
    const std::size_t idle = idle_cpu_of(snap, tree, st, dst, t);
    if (idle != no_cpu) return {idle, no_task};
    const std::uint32_t dist = st.dist(src, dst);
    const std::int64_t mine = task_w(st, t, dst, dist) - task_w(st, t, src, dist);
    std::int64_t best_gain = 0;
    std::size_t best_cpu = no_cpu;
    for (std::size_t c : tree.node_mask(st.first_cpu[dst])) {
      const std::uint32_t o = snap.curr(c);
      if (o == no_task || !snap.task_at(t).allowed.test(c) || !snap.task_at(o).allowed.test(cpu)) continue;
      const std::int64_t g = mine + task_w(st, o, src, dist) - task_w(st, o, dst, dist);
      if (g > best_gain) {
        best_gain = g;
        best_cpu = c;
      }
    }
    if (best_cpu == no_cpu) return {no_cpu, no_task};
    return {best_cpu, snap.curr(best_cpu)};
  }
};

/// Mainline's NUMA balancing.
using mainline = basic_numa<design::mainline>;
/// Mainline's, with seed 001's interplay: the memory follows the LLC aggregation chose.
using mainline_cache_first = basic_numa<design::mainline, aggregation::numa_interplay::cache_first>;
/// AutoNUMA's design (seed 003): the last_nid filter, no groups, the CPU follows memory.
using autonuma = basic_numa<design::autonuma>;
/// NUMA balancing off (numa_balancing=0), with the memory still modelled: what the two
/// designs are measured against.
using off = basic_numa<design::off>;

}  // namespace balancekit::numa
