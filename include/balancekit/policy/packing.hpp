/// \file
/// The packing family (seed 000): putting light tasks on few CPUs so that the others can
/// sleep. "Buddy" here always means the **packing buddy CPU** of Vincent Guittot's proposal
/// (the CPU a CPU's light wakeups go to), never fair.c's next/skip buddies.
///
/// A packing policy runs before the placement policy on every wakeup, fork and exec of a
/// task that may run on more than one CPU; it returns a CPU, or `no_cpu` to let placement
/// decide. It has two members:
///  - `attach(tree, state)`: what is computed once when the domains are attached (Guittot's
///    buddy table); `balance_state::reset` calls it;
///  - `select(env, state)`: the decision.
///
/// Policies:
///  - `packing::none`: never decides (Linux);
///  - `packing::guittot<conf>`: the seed's three hand-made configurations of the 4-socket ×
///    16-LCPU machine, generalized to any machine whose top domain's groups are its sockets;
///  - `packing::guittot_topology<line>`: Guittot's rule computing the buddy from the
///    domains, given up to which level CPUs share a power line;
///  - `packing::shi_power<mode>`: Alex Shi's power-aware placement (performance,
///    powersaving, balance), the side of the debate that walks the domains;
///  - `packing::utilization_aware<margin>`: ours — best fit under a utilization margin, with
///    the wakeups of one batch counted as they are decided.
///
/// Sources: reference/seed-proposals.md §1 and seed 000 (the linaro-dev thread); Guittot's
/// "sched: define pack buddy CPUs" (v5, Oct 2013) for the examples of the topology rule.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <balancekit/balancer/state.hpp>
#include <balancekit/balancer/wake_env.hpp>
#include <balancekit/core/cpumask.hpp>
#include <balancekit/core/error.hpp>
#include <balancekit/core/index.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/core/static_vector.hpp>
#include <balancekit/core/units.hpp>
#include <balancekit/domains/domain_tree.hpp>
#include <balancekit/domains/flags.hpp>
#include <balancekit/stats/snapshot.hpp>

namespace balancekit {

struct packing_family;

/// Each CPU's packing buddy, computed once from the domains; `no_cpu` where the CPU has
/// none (packing is then off for wakeups from it).
template <limits_pack L>
struct buddy_table {
  std::array<std::size_t, L::max_cpus> buddy = [] {
    std::array<std::size_t, L::max_cpus> a{};
    a.fill(no_cpu);
    return a;
  }();
  friend constexpr bool operator==(const buddy_table&, const buddy_table&) = default;
};

/// How many buddy links a light task follows from `cpu` to a CPU that is its own buddy (or
/// has none), one per wakeup from its current CPU; `no_cpu` when the links cycle.
template <limits_pack L>
[[nodiscard]] constexpr std::size_t buddy_hops(const buddy_table<L>& t, std::size_t cpu) {
  std::size_t hops = 0;
  for (std::size_t c = cpu; t.buddy[c] != no_cpu && t.buddy[c] != c; c = t.buddy[c])
    if (++hops > L::max_cpus) return no_cpu;
  return hops;
}

namespace detail {
// Guittot's wake test (check_pack_buddy()) on today's PELT signals: usage_avg_sum /
// runnable_avg_period is the share of time running, util_avg / 1024.
template <class P, limits_pack L>
[[nodiscard]] constexpr bool light_task(const task_state<L>& p) {
  return p.util * 100 < std::uint64_t{P::packing_tuning.light_percent} * sched_capacity_scale;
}
// is_buddy_busy(): usage · 2^nr_running above the period — busy above 50 % with one task,
// 25 % with two, 12.5 % with three.
[[nodiscard]] constexpr bool buddy_busy(const cpu_state& c) noexcept {
  // Where usage · 2^nr_running would not fit in 64 bits it is far above the period.
  if (c.nr_running >= 64 || c.util > (~std::uint64_t{0} >> c.nr_running)) return true;
  return (c.util << c.nr_running) > sched_capacity_scale;
}
// Capacity per CPU of group `a` below that of `b` (cross-multiplied, as the patch does).
template <class Group>
[[nodiscard]] constexpr bool less_capacity_per_cpu(const Group& a, const Group& b) noexcept {
  return a.capacity * b.weight < b.capacity * a.weight;
}
}  // namespace detail

namespace packing {

/// A packing policy that keeps nothing between calls.
struct stateless {
  using family = packing_family;
  template <limits_pack L>
  using state = no_state<packing_family>;
  template <limits_pack L, class S>
  static constexpr void attach(const domain_tree<L>&, S&) noexcept {}
};

/// No packing: placement decides every time.
struct none : stateless {
  template <class P, limits_pack L, class S>
  static constexpr placement_decision select(const wake_env<P, L>&, S&) noexcept {
    return {};
  }
};

/// Guittot's wake rule on the buddy table `Table::fill` computes: at the top of
/// select_task_rq_fair(), a light task goes to the *waking* CPU's buddy when the buddy is
/// allowed and not busy; otherwise placement decides. O(1).
template <class Table>
struct buddy_wake {
  using family = packing_family;
  template <limits_pack L>
  using state = buddy_table<L>;
  template <limits_pack L>
  static constexpr void attach(const domain_tree<L>& tree, buddy_table<L>& t) {
    t = buddy_table<L>{};
    Table::fill(tree, t);
  }
  template <class P, limits_pack L>
  static constexpr placement_decision select(const wake_env<P, L>& env, const buddy_table<L>& t) {
    const std::size_t buddy = t.buddy[env.this_cpu];
    const task_state<L>& p = env.p();
    if (buddy == no_cpu || !p.allowed.test(buddy)) return {};
    if (!detail::light_task<P>(p) || detail::buddy_busy(env.cpu(buddy))) return {};
    return {buddy, placement_branch::packing_buddy, buddy};
  }
};

/// The seed's three configurations (linaro-dev, Guittot and Shi): within a socket every
/// LCPU's buddy is the socket's first LCPU; the socket leaders then differ.
enum class buddy_conf : std::uint8_t {
  conf0,  ///< socket k's leader → the k-th LCPU of socket 0 (16→1, 32→2, 48→3)
  conf1,  ///< socket k's leader → socket k−1's leader (16→0, 32→16, 48→32)
  conf2,  ///< every socket leader is its own buddy: one packing CPU per socket
};

namespace detail {
// The seed's tables on any machine: the sockets are the groups of the top domain (on seed64,
// the NUMA domain's four nodes), ordered by their first CPU. They must partition the CPUs as
// every CPU sees them; where they do not (overlapping NUMA groups seen differently from each
// node), "socket k" means nothing and no CPU gets a buddy.
template <buddy_conf Conf>
struct conf_table {
  template <limits_pack L>
  static constexpr void fill(const domain_tree<L>& tree, buddy_table<L>& t) {
    auto socket_of = [&](std::size_t c) -> const cpumask<L::max_cpus>* {
      const std::size_t nr = tree.nr_domains(c);
      return nr == 0 ? nullptr : &tree.span(tree.group_of(tree.domain_of(c, nr - 1), 0));
    };
    for (std::size_t cpu : tree.cpu_map()) {
      const std::size_t nr = tree.nr_domains(cpu);
      if (nr == 0) return;
      const auto& top = tree.domain_of(cpu, nr - 1);
      for (std::size_t g = 0; g < top.nr_groups; ++g) {
        const auto& span = tree.span(tree.group_of(top, g));
        for (std::size_t d : span)
          if (socket_of(d) == nullptr || *socket_of(d) != span) return;
      }
    }
    for (std::size_t cpu : tree.cpu_map()) t.buddy[cpu] = buddy_of(tree, cpu);
  }

private:
  template <limits_pack L>
  static constexpr std::size_t buddy_of(const domain_tree<L>& tree, std::size_t cpu) {
    const auto& top = tree.domain_of(cpu, tree.nr_domains(cpu) - 1);
    const std::size_t leader = tree.span(tree.group_of(top, 0)).first();
    if (cpu != leader || Conf == buddy_conf::conf2) return leader;
    // The leader's socket index k, socket k−1 (the next lower first CPU), and socket 0.
    std::size_t k = 0;
    std::size_t below = no_cpu;
    std::size_t socket0 = 0;
    for (std::size_t g = 0; g < top.nr_groups; ++g) {
      const auto& span = tree.span(tree.group_of(top, g));
      if (span.first() >= leader) continue;
      ++k;
      if (below == no_cpu || span.first() > below) below = span.first();
      if (span.first() <= tree.span(tree.group_of(top, socket0)).first()) socket0 = g;
    }
    if (k == 0) return leader;
    if (Conf == buddy_conf::conf1) return below;
    // conf0: the k-th CPU of socket 0, if socket 0 has that many.
    const auto& first_socket = tree.span(tree.group_of(top, socket0));
    return k < first_socket.weight() ? first_socket.nth(k) : leader;
  }
};
}  // namespace detail

/// The seed's configuration `Conf` with Guittot's wake rule.
template <buddy_conf Conf>
struct guittot : buddy_wake<detail::conf_table<Conf>> {};

/// Up to which level CPUs share a power line: they cannot be power-gated one without the
/// other (the patch's SD_SHARE_POWERLINE / SD_SHARE_POWERDOMAIN).
enum class power_line : std::uint8_t {
  none,     ///< every CPU can be power-gated alone
  smt,      ///< SMT siblings share one
  cluster,  ///< up to clusters
  llc,      ///< up to the LLC
  package,  ///< up to the package (and the single-node level)
  all,      ///< nothing can be gated alone: no buddy anywhere (the patch's default)
};

namespace detail {
// Which power_line a domain is at, from its flags.
[[nodiscard]] constexpr power_line line_of(const sd_flags& f) noexcept {
  if (f.has(sd_flag::share_cpucapacity)) return power_line::smt;
  if (f.has(sd_flag::cluster)) return power_line::cluster;
  if (f.has(sd_flag::share_llc)) return power_line::llc;
  if (!f.has(sd_flag::numa)) return power_line::package;
  return power_line::all;
}

// Guittot's topology rule (update_packing_domain()): start above the highest domain that
// shares a power line (at the lowest if none does). At each level, the best group is the
// one of lowest capacity per CPU, ties to the lowest first CPU. If it is the CPU's own
// group, the CPU is a candidate for itself and the walk goes up; otherwise the buddy is the
// best group's first CPU. A CPU whose walk ends at the top is its own buddy.
//
// "A candidate for itself" — not the first CPU of its own group — is what makes every CPU
// of the packing power domain its own buddy, as Guittot's second example requires (cores
// of a cluster not gateable alone: CPU0 0, CPU1 1, CPU2 0, CPU3 0); the two readings agree
// on his first example and wherever the lowest level's groups are single CPUs.
template <power_line Line>
struct topology_table {
  template <limits_pack L>
  static constexpr void fill(const domain_tree<L>& tree, buddy_table<L>& t) {
    for (std::size_t cpu : tree.cpu_map()) t.buddy[cpu] = buddy_of(tree, cpu);
  }

private:
  template <limits_pack L>
  static constexpr std::size_t buddy_of(const domain_tree<L>& tree, std::size_t cpu) {
    if constexpr (Line == power_line::all) {
      return no_cpu;
    } else {
      const std::size_t nr = tree.nr_domains(cpu);
      std::size_t k = 0;
      for (std::size_t j = 0; j < nr; ++j)
        if (line_of(tree.domain_of(cpu, j).flags) <= Line) k = j + 1;
      if (k >= nr) return no_cpu;  // no level above the shared power line
      for (; k < nr; ++k) {
        const auto& sd = tree.domain_of(cpu, k);
        std::size_t best = 0;
        for (std::size_t g = 1; g < sd.nr_groups; ++g) {
          const auto& cand = tree.group_of(sd, g);
          const auto& cur = tree.group_of(sd, best);
          if (balancekit::detail::less_capacity_per_cpu(cand, cur) ||
              (!balancekit::detail::less_capacity_per_cpu(cur, cand) && tree.span(cand).first() < tree.span(cur).first()))
            best = g;
        }
        if (best != 0) return tree.span(tree.group_of(sd, best)).first();
      }
      return cpu;
    }
  }
};
}  // namespace detail

/// Guittot's topology rule with his wake rule; `Line` says which levels share a power line.
template <power_line Line>
struct guittot_topology : buddy_wake<detail::topology_table<Line>> {};

/// Alex Shi's power-aware policies ("sched: power aware scheduling", v3–v7, 2013).
enum class shi_mode : std::uint8_t {
  performance,  ///< unchanged CFS: never packs
  powersaving,  ///< fill a group until every LCPU of it is full (threshold: weight × 1024)
  balance,      ///< fill a group until its capacity is used (threshold: group capacity)
};

namespace detail {
// Shi's "max potential utilization" of a CPU (V3: "engaged nr_running in max potential
// utils"): its utilization times the tasks it runs, so tasks count as well as time.
[[nodiscard]] constexpr std::uint64_t max_potential_util(const cpu_state& c) noexcept {
  return c.util * (c.nr_running > 0 ? c.nr_running : 1U);
}
}  // namespace detail

/// Shi's placement under a power policy, as his proposal's select_task_rq_fair() pseudo-code
/// and cover letters describe it (reference/seed-proposals.md §1.6; the patches themselves
/// were not recovered, so the details below are a reconstruction, documented in
/// docs/placement.md): the waker's CPU if it runs something and has room ("try exec/wake
/// small tasks on running cpu not idle cpu"); else, from the waker's lowest domain up, the
/// first domain whose utilization leaves room for the task (above it the policy is off, "race
/// to idle"), its busiest group that still has room (the "leader"), and that group's busiest
/// allowed CPU with room. Room means `threshold − max potential utilization − task util > 0`.
/// Nothing with room: placement decides, as under `performance`.
template <shi_mode Mode>
struct shi_power : stateless {
  template <class P, limits_pack L, class S>
  static constexpr placement_decision select(const wake_env<P, L>& env, S& /*state*/) {
    if constexpr (Mode == shi_mode::performance) {
      return {};
    } else {
      const auto& tree = *env.tree;
      const task_state<L>& p = env.p();
      const std::int64_t u = static_cast<std::int64_t>(p.util);
      auto cpu_threshold = [&](std::size_t c) -> std::int64_t {
        return Mode == shi_mode::powersaving ? std::int64_t{sched_capacity_scale}
                                             : static_cast<std::int64_t>(env.cpu(c).capacity);
      };
      auto vacancy = [&](std::size_t c) {
        return cpu_threshold(c) - static_cast<std::int64_t>(detail::max_potential_util(env.cpu(c))) - u;
      };
      const std::size_t self = env.this_cpu;
      if (p.allowed.test(self) && env.cpu(self).nr_running > 0 && vacancy(self) > 0)
        return {self, placement_branch::packing_leader, self};
      for (std::size_t k = 0; k < tree.nr_domains(self); ++k) {
        const auto& sd = tree.domain_of(self, k);
        std::int64_t used = 0;
        std::int64_t threshold = 0;
        for (std::size_t c : tree.span(sd)) {
          used += static_cast<std::int64_t>(detail::max_potential_util(env.cpu(c)));
          threshold += cpu_threshold(c);
        }
        if (threshold - used - u <= 0) continue;  // the policy is off at this level
        std::size_t leader_cpu = no_cpu;
        std::int64_t leader_vacancy = 0;
        for (std::size_t g = 0; g < sd.nr_groups; ++g) {
          const auto& span = tree.span(tree.group_of(sd, g));
          std::int64_t g_used = 0;
          std::int64_t g_threshold = 0;
          std::size_t best = no_cpu;
          std::int64_t best_vacancy = 0;
          for (std::size_t c : span) {
            g_used += static_cast<std::int64_t>(detail::max_potential_util(env.cpu(c)));
            g_threshold += cpu_threshold(c);
            const std::int64_t v = vacancy(c);
            if (p.allowed.test(c) && v > 0 && (best == no_cpu || v < best_vacancy)) {
              best = c;
              best_vacancy = v;
            }
          }
          const std::int64_t gv = g_threshold - g_used - u;
          if (best == no_cpu || gv <= 0) continue;
          if (leader_cpu == no_cpu || gv < leader_vacancy) {
            leader_cpu = best;
            leader_vacancy = gv;
          }
        }
        if (leader_cpu != no_cpu) return {leader_cpu, placement_branch::packing_leader, leader_cpu};
      }
      return {};
    }
  }
};

/// What a batch of placements has promised each CPU: the wakeups decided at one instant
/// (`wake_env::now`) from one snapshot, before the embedder enqueues them. A decision at
/// another instant starts a new batch: by then the snapshot holds the last batch's tasks.
/// (An embedder that enqueues within a batch counts a task twice, which only makes the
/// margin stricter.)
template <limits_pack L>
struct batch_claims {
  nanoseconds batch = -1;
  std::array<std::uint64_t, L::max_cpus> util{};
  std::array<std::uint32_t, L::max_cpus> tasks{};
  /// The CPUs with claims, so that a new batch clears only those.
  static_vector<std::uint32_t, L::max_cpus> claimed{};
  /// The margin in percent of capacity; `attach` sets the policy's, `set_margin` another.
  std::uint32_t margin_percent = 80;
  friend constexpr bool operator==(const batch_claims&, const batch_claims&) = default;
};

/// Sets the margin of a utilization-aware packing state at run time (a command line's
/// option): 1 to 100 percent of capacity, else an error and nothing changes.
template <limits_pack L>
[[nodiscard]] constexpr status set_margin(batch_claims<L>& st, std::int64_t percent) {
  if (percent < 1 || percent > 100) {
    error e{errc::out_of_range, "packing margin "};
    e << percent << " is outside 1..100 (percent of a CPU's capacity)";
    return e;
  }
  st.margin_percent = static_cast<std::uint32_t>(percent);
  return {};
}

/// Utilization-aware packing (ours): a light task goes to the fewest CPUs that keep every
/// CPU's utilization under `Margin` percent of its capacity (fits_capacity()'s 80 % by
/// default), counting what runs there and what this batch has already placed there.
///
/// From the previous CPU's lowest domain up, the first scope holding a CPU in use (running
/// or claimed) decides: its fullest allowed CPU in use that still fits the task (best fit);
/// else, if the scope's summed utilization leaves room, its allowed idle CPU nearest to the
/// CPUs in use (the smallest common domain), so a pack grows core by core; a full scope
/// hands over to the next. With nothing in use anywhere the task starts a pack on its
/// previous CPU. No CPU ever receives a packed task that would cross the margin; when none
/// fits, or the top domain is full, Linux's placement decides.
template <unsigned Margin = 80>
struct utilization_aware {
  static_assert(Margin >= 1 && Margin <= 100,
                "utilization_aware<Margin>: the margin is a percentage of a CPU's capacity, from 1 to 100");
  using family = packing_family;
  template <limits_pack L>
  using state = batch_claims<L>;
  template <limits_pack L>
  static constexpr void attach(const domain_tree<L>&, batch_claims<L>& st) {
    st = batch_claims<L>{};
    st.margin_percent = Margin;
  }

  template <class P, limits_pack L>
  static constexpr placement_decision select(const wake_env<P, L>& env, batch_claims<L>& st) {
    const auto& tree = *env.tree;
    const task_state<L>& p = env.p();
    if (!balancekit::detail::light_task<P>(p)) return {};
    if (st.batch != env.now) {
      for (const std::uint32_t c : st.claimed) st.util[c] = st.tasks[c] = 0;
      st.claimed.clear();
      st.batch = env.now;
    }
    const std::uint64_t u = p.util > p.util_est ? p.util : p.util_est;
    auto util_of = [&](std::size_t c) { return cpu_util_cfs(env.cpu(c)) + st.util[c]; };
    auto in_use = [&](std::size_t c) { return env.cpu(c).nr_running > 0 || st.tasks[c] > 0; };
    const std::uint64_t margin = st.margin_percent;
    auto fits = [&](std::size_t c) { return (util_of(c) + u) * 100 < margin * env.cpu(c).capacity; };
    auto claim = [&](std::size_t c) -> placement_decision {
      if (st.tasks[c] == 0) st.claimed.push_back(static_cast<std::uint32_t>(c));
      st.util[c] += u;
      ++st.tasks[c];
      return {c, placement_branch::packing_fit, c};
    };
    const std::size_t anchor = env.prev_cpu;
    const std::size_t nr = tree.nr_domains(anchor);
    for (std::size_t k = 0; k < nr; ++k) {
      const auto& span = tree.span(tree.domain_of(anchor, k));
      cpumask<L::max_cpus> used;
      std::size_t best = no_cpu;
      std::uint64_t total = 0;
      std::uint64_t capacity = 0;
      for (std::size_t c : span) {
        total += util_of(c);
        capacity += env.cpu(c).capacity;
        if (!in_use(c)) continue;
        used.set(c);
        if (p.allowed.test(c) && fits(c) && (best == no_cpu || util_of(c) > util_of(best))) best = c;
      }
      if (best != no_cpu) return claim(best);
      if (!used.any()) continue;
      if ((total + u) * 100 >= margin * capacity) continue;  // full: the next scope
      std::size_t nearest = no_cpu;
      std::size_t nearest_level = no_cpu;
      for (std::size_t c : span) {
        if (in_use(c) || !p.allowed.test(c) || !fits(c)) continue;
        for (std::size_t j = 0; j < tree.nr_domains(c) && j < nearest_level; ++j)
          if (tree.span(tree.domain_of(c, j)).intersects(used)) {
            nearest = c;
            nearest_level = j;
            break;
          }
      }
      if (nearest != no_cpu) return claim(nearest);
    }
    if (nr > 0) {
      const auto& top = tree.span(tree.domain_of(anchor, nr - 1));
      for (std::size_t c : top)
        if (in_use(c)) return {};  // every scope with CPUs in use is full: Linux's placement
    }
    if (p.allowed.test(anchor) && !in_use(anchor) && fits(anchor)) return claim(anchor);
    return {};
  }
};

}  // namespace packing
}  // namespace balancekit
