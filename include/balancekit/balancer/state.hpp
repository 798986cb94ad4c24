/// \file
/// What the balancer keeps between calls, owned by the caller: the balance family's
/// per-CPU and per-domain bookkeeping, and each other family's state as its policy
/// declares it.
///
/// kernel: the balancing fields of struct sched_domain (balance_interval,
/// nr_balance_failed, last_balance, max_newidle_lb_cost, last_decay_max_lb_cost), of
/// struct rq (next_balance, max_idle_balance_cost) and of struct sched_group_capacity
/// (imbalance) — kernel/sched/sched.h, include/linux/sched/topology.h.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include <balancekit/balancer/tunables.hpp>
#include <balancekit/core/cpumask.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/core/units.hpp>
#include <balancekit/domains/domain_tree.hpp>
#include <balancekit/stats/group_sums.hpp>

namespace balancekit {

/// The per-group "affinity stopped the balance below" flags (kernel: sgc->imbalance),
/// keyed like the kernel's sched_group_capacity: by level and capacity-record CPU.
template <limits_pack L>
class group_imbalance_flags {
public:
  [[nodiscard]] constexpr bool get(std::size_t level, std::size_t id) const { return bits_[level].test(id); }
  constexpr void set(std::size_t level, std::size_t id, bool on) {
    if (on) bits_[level].set(id); else bits_[level].reset(id);
  }
  constexpr void clear() noexcept { for (auto& b : bits_) b.clear(); }

private:
  std::array<cpumask<L::max_cpus>, L::max_levels> bits_{};
};

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

/// The state of a policy that keeps nothing. One type per family, so that several empty
/// states in a `balance_state` share an address and cost no bytes.
template <class Family>
struct no_state {
  friend constexpr bool operator==(no_state, no_state) noexcept = default;
};

/// The state a family's policy declares for limits `L` (its nested `state<L>`).
template <class Policy, limits_pack L>
using family_state_t = typename Policy::template state<L>;

/// Everything the balancer of pack `P` keeps between calls, owned by the caller.
///
/// The balance family's bookkeeping is spelled out; every other family's state is what
/// its policy declares. A family whose policy keeps nothing (an empty state, as every
/// `none` has) costs no bytes: each empty state is a type of its own, so they all share
/// an address.
template <class P, limits_pack L>
struct balance_state {
  std::array<cpu_balance_state<L>, L::max_cpus> cpus{};
  group_imbalance_flags<L> group_imbalance{};  ///< kernel: sgc->imbalance
  [[no_unique_address]] family_state_t<typename P::placement, L> placement{};
  [[no_unique_address]] family_state_t<typename P::packing, L> packing{};
  [[no_unique_address]] family_state_t<typename P::aggregation, L> aggregation{};
  [[no_unique_address]] family_state_t<typename P::push, L> push{};
  [[no_unique_address]] family_state_t<typename P::numa, L> numa{};
  /// Group sums kept by the snapshot's owner (`group_sums`), or null: the balance then
  /// scans each group's CPUs, as the kernel does. `reset` leaves it alone.
  const group_sums<L>* sums = nullptr;

  /// The state right after the domains were attached at time `now` (kernel: sd_init and
  /// the run queue's initial values). The other families' states start value-initialized;
  /// the packing family's then computes what it computes once from the domains (`attach`).
  constexpr void reset(const domain_tree<L>& tree, nanoseconds now) {
    constexpr balance_tunables tun = P::balance_tuning;
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
    placement = {};
    packing = {};
    P::packing::attach(tree, packing);
    aggregation = {};
    push = {};
    if constexpr (requires { requires P::push::active; }) P::push::attach(tree, push);
    if constexpr (requires { requires P::numa::active; }) P::numa::attach(tree, numa);  // in place: it is big
    else numa = {};
  }
};

}  // namespace balancekit
