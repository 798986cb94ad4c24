/// \file
/// `group_sums<L>`: the sums update_sg_lb_stats() adds up over a group's CPUs, kept per
/// group record as the CPUs change instead of recomputed at every balance.
///
/// Why. A newly idle balance reads every group of every domain of its CPU: on a 384-CPU
/// machine some 600 run queues, and a simulator that replays 10^6 wakeups a second pays
/// that for every CPU in turn (docs/benchmarks.md). The kernel reads the run queues
/// because they change under it; a simulator knows every change, so it can keep the sums.
///
/// How. `bind` indexes, for every CPU, the group records whose span holds it, and sums
/// each CPU's contribution (what update_sg_lb_stats() adds for it) into them. The snapshot
/// calls `group_sums::changed` for every CPU record its operations change
/// (`snapshot::observe`), and whoever writes `snapshot::cpus` directly calls
/// `snapshot::touched`; that only notes the CPU. The next read (`of`) recomputes the noted
/// CPUs' contributions from the snapshot and moves every group holding one by the
/// difference, so a CPU that changed many times between two balances costs one update.
/// Unsigned sums of differences are exact.
///
/// What it leaves to the scan: groups some of whose CPUs the balance ruled out (pinning),
/// a group's misfit load on asymmetric-capacity domains (a maximum, which differences
/// cannot keep), and groups with a CPU whose capacity RT/IRQ squeezed when the destination
/// is idle (sched_reduced_capacity()). `use` says when the sums stand in for the scan.
///
/// Fixed storage sized by `limits`; a tree whose index does not fit is not bound, and every
/// group is scanned as before.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include <balancekit/core/cpumask.hpp>
#include <balancekit/core/index.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/core/static_vector.hpp>
#include <balancekit/domains/domain_tree.hpp>
#include <balancekit/stats/snapshot.hpp>

namespace balancekit {

template <limits_pack L>
class group_sums {
public:
  using tree_type = domain_tree<L>;
  static constexpr std::size_t max_cpus = L::max_cpus;
  static constexpr std::size_t max_records = tree_type::group_capacity;
  /// Room for each CPU in four group records per level (overlapping NUMA groups put a CPU
  /// in several records of one level).
  static constexpr std::size_t index_capacity = 4 * max_cpus * L::max_levels;

  /// What update_sg_lb_stats() adds for one CPU of a group whose CPUs all take part.
  struct contribution {
    std::uint64_t capacity = 0;
    std::uint64_t load = 0;
    std::uint64_t util = 0;  ///< cpu_util_cfs()
    std::uint64_t runnable = 0;
    std::uint64_t h_nr_runnable = 0;
    std::uint64_t nr_running = 0;
    std::uint64_t idle = 0;                  ///< 1 for an idle CPU (nothing runs, no wakeup on its way)
    std::uint64_t overloaded = 0;            ///< 1 for a busy CPU with two or more tasks
    std::uint64_t nr_numa_running = 0;       ///< busy CPUs only, as the scan counts them
    std::uint64_t nr_preferred_running = 0;  ///< busy CPUs only
    std::uint64_t squeezed = 0;  ///< 1 for a busy CPU with one task and less capacity than its own
    friend constexpr bool operator==(const contribution&, const contribution&) = default;

    [[nodiscard]] static constexpr contribution of(const cpu_state& rq) noexcept {
      contribution c;
      c.capacity = rq.capacity;
      c.load = rq.load;
      c.util = cpu_util_cfs(rq);
      c.runnable = rq.runnable;
      c.h_nr_runnable = rq.h_nr_runnable;
      c.nr_running = rq.nr_running;
      if (rq.nr_running == 0 && rq.is_idle()) {
        c.idle = 1;
        return c;
      }
      c.overloaded = rq.nr_running > 1 ? 1 : 0;
      c.nr_numa_running = rq.nr_numa_running;
      c.nr_preferred_running = rq.nr_preferred_running;
      // check_cpu_capacity() holds for no imbalance_pct >= 100 unless capacity < arch.
      c.squeezed = rq.h_nr_runnable == 1 && rq.capacity < rq.arch_capacity ? 1 : 0;
      return c;
    }
  };

  /// A group record's sums, with the extremes of its CPUs' capacities.
  struct sums {
    contribution total{};
    std::uint64_t min_capacity = 0;
    std::uint64_t max_capacity = 0;
  };

  /// Indexes `tree`'s group records and sums `snap`'s CPUs into them; `snap` must outlive
  /// the binding. Returns false (and stays unbound) when the index does not fit.
  constexpr bool bind(const tree_type& tree, const snapshot<L>& snap) {
    unbind();
    const std::size_t records = tree.nr_group_records();
    start_.fill(0);
    for (std::size_t g = 0; g < records; ++g)
      for (std::size_t c : tree.cpus_of(tree.group_record(g))) ++start_[c + 1];
    for (std::size_t c = 0; c < max_cpus; ++c) start_[c + 1] += start_[c];
    if (start_[max_cpus] > index_capacity) return false;
    std::array<std::uint32_t, max_cpus> fill{};
    for (std::size_t g = 0; g < records; ++g)
      for (std::size_t c : tree.cpus_of(tree.group_record(g))) index_[start_[c] + fill[c]++] = static_cast<std::uint32_t>(g);
    for (std::size_t g = 0; g < records; ++g) sums_[g] = sums{};
    for (std::size_t c = 0; c < max_cpus; ++c) {
      mine_[c] = contribution{};
      if (start_[c] == start_[c + 1]) continue;
      mine_[c] = contribution::of(snap.cpus[c]);
      for (std::uint32_t k = start_[c]; k < start_[c + 1]; ++k) add(sums_[index_[k]].total, mine_[c]);
    }
    tree_ = &tree;
    snap_ = &snap;
    for (std::size_t g = 0; g < records; ++g) extremes(sums_[g], tree.group_record(g));
    return true;
  }
  constexpr void unbind() noexcept {
    tree_ = nullptr;
    snap_ = nullptr;
    for (std::uint32_t c : noted_) was_noted_.reset(c);
    noted_.clear();
  }
  [[nodiscard]] constexpr bool bound_to(const tree_type& tree) const noexcept { return tree_ == &tree; }

  /// CPU `c`'s record changed; its groups follow at the next read.
  constexpr void changed(std::size_t c) {
    if (tree_ == nullptr || was_noted_.test(c) || start_[c] == start_[c + 1]) return;
    was_noted_.set(c);
    noted_.push_back(static_cast<std::uint32_t>(c));
  }

  /// The sums of a group record of the bound tree. (Logically const: it first brings the
  /// sums up to date with the CPUs noted since the last read.)
  [[nodiscard]] constexpr const sums& of(const typename tree_type::group& g) const {
    if (!noted_.empty()) catch_up();
    return sums_[tree_->record_index(g)];
  }

  /// Observer for `snapshot::observe`: `ctx` is a group_sums<L>.
  static void observer(void* ctx, std::size_t c) { static_cast<group_sums*>(ctx)->changed(c); }

private:
  static constexpr void add(contribution& t, const contribution& c) noexcept {
    t.capacity += c.capacity;
    t.load += c.load;
    t.util += c.util;
    t.runnable += c.runnable;
    t.h_nr_runnable += c.h_nr_runnable;
    t.nr_running += c.nr_running;
    t.idle += c.idle;
    t.overloaded += c.overloaded;
    t.nr_numa_running += c.nr_numa_running;
    t.nr_preferred_running += c.nr_preferred_running;
    t.squeezed += c.squeezed;
  }
  static constexpr void sub(contribution& t, const contribution& c) noexcept {
    t.capacity -= c.capacity;
    t.load -= c.load;
    t.util -= c.util;
    t.runnable -= c.runnable;
    t.h_nr_runnable -= c.h_nr_runnable;
    t.nr_running -= c.nr_running;
    t.idle -= c.idle;
    t.overloaded -= c.overloaded;
    t.nr_numa_running -= c.nr_numa_running;
    t.nr_preferred_running -= c.nr_preferred_running;
    t.squeezed -= c.squeezed;
  }
  constexpr void catch_up() const {
    for (const std::uint32_t c : noted_) {
      was_noted_.reset(c);
      const contribution now = contribution::of(snap_->cpus[c]);
      contribution& was = mine_[c];
      if (now == was) continue;
      const bool capacity_moved = now.capacity != was.capacity;
      contribution delta = now;  // modulo 2^64: adding it to a sum that holds `was` leaves `now`
      sub(delta, was);
      for (std::uint32_t k = start_[c]; k < start_[c + 1]; ++k) add(sums_[index_[k]].total, delta);
      was = now;
      if (capacity_moved)
        for (std::uint32_t k = start_[c]; k < start_[c + 1]; ++k) extremes(sums_[index_[k]], tree_->group_record(index_[k]));
    }
    noted_.clear();
  }
  constexpr void extremes(sums& s, const typename tree_type::group& g) const {
    s.min_capacity = ~std::uint64_t{0};
    s.max_capacity = 0;
    for (std::size_t c : tree_->cpus_of(g)) {
      if (mine_[c].capacity < s.min_capacity) s.min_capacity = mine_[c].capacity;
      if (mine_[c].capacity > s.max_capacity) s.max_capacity = mine_[c].capacity;
    }
    if (s.total.capacity == 0) s.min_capacity = 0;
  }

  const tree_type* tree_ = nullptr;
  const snapshot<L>* snap_ = nullptr;
  std::array<std::uint32_t, max_cpus + 1> start_{};
  std::array<std::uint32_t, index_capacity> index_{};
  // The cache proper: what reads bring up to date.
  mutable std::array<sums, max_records> sums_{};
  mutable std::array<contribution, max_cpus> mine_{};
  mutable static_vector<std::uint32_t, max_cpus> noted_{};
  mutable cpumask<max_cpus> was_noted_{};
};

}  // namespace balancekit
