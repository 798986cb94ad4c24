/// \file
/// Where a NUMA-balanced task should run (seed 003, issue 13): the machine's NUMA topology
/// type, the task and group weights with their nearby-node scores, the group's preferred
/// node, the node classification, and task_numa_compare()'s verdict on one destination
/// CPU (a move, a swap, or nothing), as pure functions over caller-owned statistics.
///
/// kernel: init_numa_topology_type() (kernel/sched/topology.c), score_nearby_nodes(),
/// task_weight(), group_weight(), preferred_group_nid(), numa_classify(),
/// load_too_imbalanced(), task_numa_compare() (kernel/sched/fair.c, the v6 form with
/// numa_classify; the search index holds it in gregkh/linux).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include <balancekit/core/index.hpp>
#include <balancekit/policy/numa/faults.hpp>
#include <balancekit/policy/numa/migrate.hpp>

namespace balancekit::numa {

/// kernel: LOCAL_DISTANCE.
inline constexpr std::uint32_t local_distance = 10;

/// kernel: enum numa_topology_type.
enum class topology_type : std::uint8_t {
  direct,         ///< every node one hop from every other
  glueless_mesh,  ///< the farthest nodes reach each other through a node nearer to both
  backplane,      ///< the farthest nodes do not: groups of nodes joined by a backplane
};

/// Node distances (the SLIT), row by row, for `nodes` nodes.
template <std::size_t MaxNodes>
struct distances {
  std::size_t nodes = 0;
  std::array<std::array<std::uint32_t, MaxNodes>, MaxNodes> d{};
  [[nodiscard]] constexpr std::uint32_t operator()(std::size_t a, std::size_t b) const { return d[a][b]; }
  [[nodiscard]] constexpr std::uint32_t max() const {
    std::uint32_t m = 0;
    for (std::size_t a = 0; a < nodes; ++a)
      for (std::size_t b = 0; b < nodes; ++b) m = d[a][b] > m ? d[a][b] : m;
    return m;
  }
  /// kernel: find_numa_distance(): whether two nodes are this far apart.
  [[nodiscard]] constexpr bool has(std::uint32_t dist) const {
    for (std::size_t a = 0; a < nodes; ++a)
      for (std::size_t b = 0; b < nodes; ++b)
        if (d[a][b] == dist) return true;
    return false;
  }
  /// How many different distances there are (sched_domains_numa_levels: local included).
  [[nodiscard]] constexpr std::size_t levels() const {
    std::size_t n = 0;
    for (std::uint32_t dist = 0, last = 0; ; last = dist) {
      dist = ~std::uint32_t{0};
      for (std::size_t a = 0; a < nodes; ++a)
        for (std::size_t b = 0; b < nodes; ++b)
          if (d[a][b] > last && d[a][b] < dist) dist = d[a][b];
      if (dist == ~std::uint32_t{0}) return n;
      ++n;
    }
  }
};

/// kernel: init_numa_topology_type(): direct with at most two distances (local and one
/// hop); else glueless mesh when some node is nearer than the maximum to both of two
/// farthest nodes, backplane when none is.
template <std::size_t MaxNodes>
[[nodiscard]] constexpr topology_type classify_topology(const distances<MaxNodes>& dist) {
  if (dist.levels() <= 2) return topology_type::direct;
  const std::uint32_t n = dist.max();
  for (std::size_t a = 0; a < dist.nodes; ++a)
    for (std::size_t b = 0; b < dist.nodes; ++b) {
      if (dist(a, b) < n) continue;
      for (std::size_t c = 0; c < dist.nodes; ++c)
        if (dist(a, c) < n && dist(b, c) < n) return topology_type::glueless_mesh;
      return topology_type::backplane;
    }
  return topology_type::direct;
}

/// kernel: score_nearby_nodes(): the faults of nodes near `nid` (not the farthest, and on a
/// backplane nearer than `maxdist`), scaled down by distance on a glueless mesh; 0 on a
/// direct topology. `faults(node)` gives a node's memory faults (the task's or its group's).
template <std::size_t MaxNodes, class Faults>
[[nodiscard]] constexpr std::uint64_t score_nearby_nodes(const distances<MaxNodes>& dist, topology_type type,
                                                         std::size_t nid, std::uint32_t maxdist, Faults&& faults) {
  if (type == topology_type::direct) return 0;
  const std::uint32_t far = dist.max();
  std::uint64_t score = 0;
  for (std::size_t node = 0; node < dist.nodes; ++node) {
    const std::uint32_t d = dist(nid, node);
    if (d == far || node == nid) continue;
    if (type == topology_type::backplane && d >= maxdist) continue;
    std::uint64_t f = faults(node);
    if (type == topology_type::glueless_mesh) {
      f *= far - d;
      f /= far - local_distance;
    }
    score += f;
  }
  return score;
}

/// kernel: task_weight() and group_weight(): the thousandths of the faults on `nid` and its
/// nearby nodes; 0 without faults.
template <std::size_t MaxNodes>
[[nodiscard]] constexpr std::uint64_t weight(const fault_table<MaxNodes>& mem, std::uint64_t total,
                                             const distances<MaxNodes>& dist, topology_type type, std::size_t nid,
                                             std::uint32_t maxdist) {
  if (total == 0) return 0;
  const std::uint64_t f = mem.on(nid) + score_nearby_nodes(dist, type, nid, maxdist, [&](std::size_t n) { return mem.on(n); });
  return 1000 * f / total;
}

/// kernel: preferred_group_nid(): the group's preferred node from the node with the most
/// faults, `nid`: itself on a direct topology; the best group weight at the maximum
/// distance on a glueless mesh; on a backplane, the search down the hierarchy of node
/// groups, keeping at each distance the group of nodes with the most faults.
template <std::size_t MaxNodes>
[[nodiscard]] constexpr std::size_t preferred_group_nid(const group_faults<MaxNodes>& g, const distances<MaxNodes>& dist,
                                                        topology_type type, std::size_t nid) {
  if (type == topology_type::direct) return nid;
  if (type == topology_type::glueless_mesh) {
    std::uint64_t max_score = 0;
    std::size_t max_node = nid;
    for (std::size_t node = 0; node < dist.nodes; ++node) {
      const std::uint64_t score = weight(g.mem, g.total, dist, type, node, dist.max());
      if (score > max_score) {
        max_score = score;
        max_node = node;
      }
    }
    return max_node;
  }
  std::array<bool, MaxNodes> nodes{};
  for (std::size_t n = 0; n < dist.nodes; ++n) nodes[n] = true;
  for (std::uint32_t d = dist.max(); d > local_distance; --d) {
    if (!dist.has(d)) continue;
    std::uint64_t max_faults = 0;
    std::array<bool, MaxNodes> max_group{};
    for (std::size_t a = 0; a < dist.nodes; ++a) {
      if (!nodes[a]) continue;
      std::uint64_t faults = 0;
      std::array<bool, MaxNodes> this_group{};
      for (std::size_t b = 0; b < dist.nodes; ++b)
        if (nodes[b] && dist(a, b) < d) {
          faults += g.mem.on(b);
          this_group[b] = true;
          nodes[b] = false;
        }
      if (faults > max_faults) {
        max_faults = faults;
        max_group = this_group;
        nid = a;  // at the smallest distance each group is one node: the winner
      }
    }
    if (max_faults == 0) break;
    nodes = max_group;
  }
  return nid;
}

/// kernel: enum numa_type.
enum class node_type : std::uint8_t { has_spare, fully_busy, overloaded };

/// kernel: struct numa_stats: one node's sums at a placement.
struct node_stats {
  std::int64_t load = 0;
  std::uint64_t runnable = 0;
  std::uint64_t util = 0;
  std::int64_t compute_capacity = 0;
  std::uint32_t nr_running = 0;
  std::uint32_t weight = 0;  ///< its CPUs
};

/// kernel: numa_classify().
[[nodiscard]] constexpr node_type classify_node(std::uint32_t imbalance_pct, const node_stats& ns) {
  const auto cap = static_cast<std::uint64_t>(ns.compute_capacity);
  if (ns.nr_running > ns.weight && (cap * 100 < ns.util * imbalance_pct || cap * imbalance_pct < ns.runnable * 100))
    return node_type::overloaded;
  if (ns.nr_running < ns.weight || (cap * 100 > ns.util * imbalance_pct && cap * imbalance_pct > ns.runnable * 100))
    return node_type::has_spare;
  return node_type::fully_busy;
}

/// kernel: load_too_imbalanced(): whether moving load leaves the capacity-scaled imbalance
/// between the nodes worse than it was.
[[nodiscard]] constexpr bool load_too_imbalanced(std::int64_t src_load, std::int64_t dst_load, const node_stats& src,
                                                 const node_stats& dst) {
  const std::int64_t sc = src.compute_capacity;
  const std::int64_t dc = dst.compute_capacity;
  const std::int64_t imb = dst_load * sc - src_load * dc;
  const std::int64_t old_imb = dst.load * sc - src.load * dc;
  return (imb < 0 ? -imb : imb) > (old_imb < 0 ? -old_imb : old_imb);
}

/// kernel: SMALLIMP: improvements below this (of at most 1998) only ping-pong.
inline constexpr std::int64_t small_imp = 30;

/// The task running on the destination CPU, as task_numa_compare() weighs it.
struct candidate {
  bool present = false;          ///< a task runs there (not idle, not exiting)
  bool is_self = false;          ///< it is the task being placed
  bool allowed_on_src = true;
  std::size_t preferred_nid = no_node;
  bool same_group = false;       ///< in the placed task's group (or both in none)
  bool in_a_group = false;       ///< it has a group
  /// Its weight on the source and on the destination node: its group weight when both it
  /// and the placed task have groups (different ones), else its task weight.
  std::int64_t weight_src = 0;
  std::int64_t weight_dst = 0;
  std::int64_t h_load = 0;
};

/// The search's state (kernel: the best_* fields of struct task_numa_env).
struct best_so_far {
  std::int64_t imp = 0;
  bool found = false;
  bool is_swap = false;
  std::size_t task_preferred_nid = no_node;  ///< the best swap partner's preferred node
};

/// What moving the placed task gains (kernel: taskimp and groupimp, in thousandths): its
/// group's gain decides when it has a group, its own when it has none or when it would
/// swap with a task of its own group. A plain number is a task without a group.
struct gain {
  std::int64_t task = 0;
  std::int64_t group = 0;
  bool grouped = false;
  constexpr gain() = default;
  constexpr gain(std::int64_t both) noexcept : task(both), group(both) {}  // NOLINT: a task without a group
  constexpr gain(std::int64_t task_imp, std::int64_t group_imp, bool in_group) noexcept
      : task(task_imp), group(group_imp), grouped(in_group) {}
  [[nodiscard]] constexpr std::int64_t imp() const noexcept { return grouped ? group : task; }
};

/// One destination's verdict.
struct compare_verdict {
  bool assign = false;  ///< it becomes the best so far …
  bool swap = false;    ///< … by swapping with the candidate (else by moving)
  std::int64_t imp = 0;
  bool stop = false;    ///< the search may stop here
};

/// kernel: task_numa_compare() for one destination CPU, v6: the placed task's improvement
/// (`g.imp()`: its group's when it has one; its own against a task of its group), moving if `maymove` allows it, or swapping with the
/// candidate when that improves both; hysteresis within a group (1/16), against a
/// candidate already home (1/16), for one that goes home (1/8); SMALLIMP; and the load
/// check for a swap. `dst_cpu_idle` says the CPU a move would take is still idle.
[[nodiscard]] constexpr compare_verdict task_numa_compare(gain g, bool maymove, const candidate& cur,
                                                           const best_so_far& best, std::size_t src_nid,
                                                           std::size_t dst_nid, std::int64_t p_h_load,
                                                           const node_stats& src, const node_stats& dst,
                                                           node_type dst_type, bool dst_cpu_idle = true) {
  std::int64_t imp = g.imp();
  const std::int64_t moveimp = imp;
  compare_verdict v;
  if (cur.present && cur.is_self) {
    v.stop = true;
    return v;
  }
  auto assign_move = [&](std::int64_t with) {
    v.assign = true;
    v.swap = false;
    v.imp = with;
    v.stop = maymove && dst_cpu_idle;  // a move to an idle CPU ends the search
    return v;
  };
  if (!cur.present) return maymove && moveimp >= best.imp ? assign_move(moveimp) : v;
  if (!cur.allowed_on_src) return v;
  if (best.found && best.is_swap && best.task_preferred_nid == src_nid && cur.preferred_nid != src_nid) return v;
  if (cur.same_group) {
    if (dst_type == node_type::has_spare) return v;
    imp = g.task + cur.weight_src - cur.weight_dst;
    if (cur.in_a_group) imp -= imp / 16;
  } else {
    imp += cur.weight_src - cur.weight_dst;
  }
  if (cur.preferred_nid == dst_nid) imp -= imp / 16;
  if (cur.preferred_nid == src_nid) imp += imp / 8;
  if (maymove && moveimp > imp && moveimp > best.imp) return assign_move(moveimp);
  auto assign_swap = [&] {
    v.assign = true;
    v.swap = true;
    v.imp = imp;
    v.stop = !maymove && cur.preferred_nid == src_nid;
    return v;
  };
  if (best.found && best.is_swap && cur.preferred_nid == src_nid && best.task_preferred_nid != src_nid)
    return assign_swap();
  if (imp < small_imp || imp <= best.imp + small_imp / 2) return v;
  const std::int64_t load = p_h_load - cur.h_load;
  if (load == 0) return assign_swap();
  if (load_too_imbalanced(src.load - load, dst.load + load, src, dst)) return v;
  return assign_swap();
}

/// What task_numa_find_cpu() knows of the search: the two nodes, the placed task's load,
/// and the destination's classification and cached idle CPU (update_numa_stats() with
/// find_idle: an idle allowed CPU, an idle core first; `no_cpu` when none).
struct numa_env {
  std::size_t src_nid = 0;
  std::size_t dst_nid = 0;
  std::int64_t p_h_load = 0;
  node_stats src{};
  node_stats dst{};
  node_type dst_type = node_type::has_spare;
  std::int32_t imb_numa_nr = 0;  ///< the lowest NUMA domain's (sd->imb_numa_nr)
  std::size_t dst_idle_cpu = no_cpu;
};

/// The search's best so far (kernel: env->best_cpu, best_task, best_imp).
struct numa_choice {
  std::size_t cpu = no_cpu;
  bool swap = false;
  std::int64_t imp = 0;
  std::size_t partner_preferred_nid = no_node;  ///< the swap partner's preferred node
};

/// kernel: task_numa_find_cpu() on one destination node, v6. With spare capacity there, a
/// move that the load balancer would not undo (`adjust(imbalance, dst_running,
/// imb_numa_nr)` is 0: the NUMA imbalance allowance, adjust_numa_imbalance()) takes the
/// cached idle CPU at once; otherwise a move is allowed when it does not worsen the
/// imbalance. Then each allowed CPU of the node in `cpus` is compared
/// (`task_numa_compare`), its running task given by `candidate_on(cpu)`, until one stops
/// the search. The concurrent claim on a destination (rq->numa_migrate_on) is the
/// embedder's.
template <class Cpus, class CandidateOn, class Adjust>
constexpr void task_numa_find_cpu(const numa_env& env, gain imp, const Cpus& cpus, CandidateOn&& candidate_on,
                                  Adjust&& adjust, numa_choice& best) {
  bool maymove = false;
  if (env.dst_type == node_type::has_spare) {
    const auto src_running = static_cast<std::int32_t>(env.src.nr_running) - 1;
    const auto dst_running = static_cast<std::int32_t>(env.dst.nr_running) + 1;
    const std::int32_t imbalance = dst_running - src_running > 0 ? dst_running - src_running : 0;
    if (adjust(imbalance, dst_running, env.imb_numa_nr) == 0) {
      maymove = true;
      if (env.dst_idle_cpu != no_cpu) {
        best = numa_choice{env.dst_idle_cpu, false, 0, no_node};
        return;
      }
    }
  } else {
    maymove = !load_too_imbalanced(env.src.load - env.p_h_load, env.dst.load + env.p_h_load, env.src, env.dst);
  }
  for (std::size_t cpu : cpus) {
    const candidate cur = candidate_on(cpu);
    best_so_far sofar{best.imp, best.cpu != no_cpu, best.swap, best.partner_preferred_nid};
    const compare_verdict v = task_numa_compare(imp, maymove, cur, sofar, env.src_nid, env.dst_nid, env.p_h_load,
                                                env.src, env.dst, env.dst_type, !cur.present);
    if (v.assign) {
      // A move takes the node's cached idle CPU when there is one (kernel: the assign path).
      const std::size_t to = !v.swap && env.dst_idle_cpu != no_cpu ? env.dst_idle_cpu : cpu;
      best = numa_choice{to, v.swap, v.imp, v.swap ? cur.preferred_nid : no_node};
    }
    if (v.stop) return;
  }
}

}  // namespace balancekit::numa
