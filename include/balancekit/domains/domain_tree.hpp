/// \file
/// Scheduling domains and groups exactly as Linux builds them.
///
/// kernel: build_sched_domains(), sd_init(), build_sched_groups(),
/// build_overlap_sched_groups(), find_descended_sibling(), build_balance_mask(),
/// init_sched_groups_capacity(), update_group_capacity(), sd_degenerate(),
/// sd_parent_degenerate(), cpu_attach_domain(), update_top_cache_domain(),
/// sched_init_numa() — kernel/sched/topology.c and kernel/sched/fair.c (v6.1).
///
/// The build follows the kernel's order of operations, because the result depends on it:
///  1. per CPU, walk the levels bottom up (`sd_init`), stopping at the first level whose
///     span is every CPU of the map;
///  2. build the groups of every domain of that full chain (a shared circular list for
///     ordinary levels, per-CPU overlapping groups from each CPU's own perspective for
///     NUMA levels);
///  3. compute `imb_numa_nr` on the full chain;
///  4. compute group capacities, CPUs from high to low;
///  5. per CPU, remove degenerate domains (`cpu_attach_domain`).
/// The result is read-only. It is large for big limits (a span per distinct domain and
/// group), so it is built into caller-owned storage and never allocates.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <balancekit/core/cpumask.hpp>
#include <balancekit/core/error.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/core/static_vector.hpp>
#include <balancekit/core/units.hpp>
#include <balancekit/domains/flags.hpp>
#include <balancekit/domains/levels.hpp>
#include <balancekit/topology/topology.hpp>

namespace balancekit {

/// kernel: enum numa_topology_type.
enum class numa_topology_type : std::uint8_t { direct, glueless_mesh, backplane };

[[nodiscard]] constexpr std::string_view to_string(numa_topology_type t) noexcept {
  switch (t) {
    case numa_topology_type::direct: return "NUMA_DIRECT";
    case numa_topology_type::glueless_mesh: return "NUMA_GLUELESS_MESH";
    case numa_topology_type::backplane: return "NUMA_BACKPLANE";
  }
  return "?";
}

namespace detail {

/// Distinct masks, each stored once and found again by hash.
template <std::size_t Bits, std::size_t Capacity>
class mask_pool {
public:
  using mask = cpumask<Bits>;

  constexpr void clear() noexcept {
    masks_.clear();
    bounds_.clear();
    slots_.fill(0);
  }
  /// The index of `m`, adding it if new; `npos` when the pool is full.
  constexpr std::uint32_t intern(const mask& m) noexcept {
    std::size_t at = static_cast<std::size_t>(m.hash() % slots_.size());
    while (slots_[at] != 0) {
      if (masks_[slots_[at] - 1] == m) return slots_[at] - 1;
      at = (at + 1) % slots_.size();
    }
    if (masks_.full()) return npos;
    masks_.push_back(m);
    bounds_.push_back({m.first(), m.last()});
    slots_[at] = static_cast<std::uint32_t>(masks_.size());
    return slots_[at] - 1;
  }
  constexpr const mask& operator[](std::uint32_t i) const { return masks_[i]; }
  /// The lowest and highest CPU of mask `i` (npos for an empty one), kept at intern time.
  [[nodiscard]] constexpr std::size_t first(std::uint32_t i) const { return bounds_[i][0]; }
  [[nodiscard]] constexpr std::size_t last(std::uint32_t i) const { return bounds_[i][1]; }
  [[nodiscard]] constexpr std::size_t size() const noexcept { return masks_.size(); }
  static constexpr std::uint32_t npos = 0xFFFFFFFFU;

private:
  static_vector<mask, Capacity> masks_{};
  static_vector<std::array<std::size_t, 2>, Capacity> bounds_{};
  std::array<std::uint32_t, 2 * Capacity + 1> slots_{};
};

}  // namespace detail

/// The domains and groups of every CPU.
///
/// **Example**
/// \code
/// auto tree = std::make_unique<domain_tree<default_limits>>();
/// // The balancer's rules need mainline's group flags; `{}` would build Linux 6.1's.
/// if (status s = domain_tree<default_limits>::build(topo, balancer_domain_options(), *tree); !s) ...
/// for (std::size_t k = 0; k < tree->nr_domains(0); ++k)
///   std::printf("%s\n", std::string(tree->name(tree->domain_of(0, k))).c_str());
/// \endcode
template <limits_pack L>
class domain_tree {
public:
  using mask = cpumask<L::max_cpus>;
  static constexpr std::size_t max_cpus = L::max_cpus;
  /// Levels of the table plus NODE and NUMA levels.
  static constexpr std::size_t max_levels = L::max_levels;
  // Nested partitions have fewer than 2 * CPUs distinct spans; NUMA levels add a span and
  // a balance mask per node. Every level can have a group per CPU before degenerate removal.
  static constexpr std::size_t span_capacity = 2 * max_cpus + 2 * L::max_nodes * max_levels;
  static constexpr std::size_t group_capacity = max_cpus * max_levels;
  static constexpr std::size_t ref_capacity = 2 * max_cpus * max_levels;
  static constexpr std::uint32_t none = 0xFFFFFFFFU;

  /// A level of the build: a table row, NODE, or a NUMA level.
  struct level_info {
    std::string_view name{};
    level_mask kind = level_mask::smt;
    sd_flags tl_flags{};
    bool is_numa = false;      ///< NODE or NUMA: the mask comes from the distance table
    bool overlap = false;      ///< NUMA levels above NODE: groups overlap
    std::uint16_t numa_distance = 0;  ///< for NODE/NUMA levels
  };

  /// A scheduling group (kernel: struct sched_group with its sched_group_capacity).
  struct group {
    std::uint32_t span = 0;          ///< index of the span (`span_of`)
    std::uint32_t balance_mask = 0;  ///< CPUs that balance on behalf of the group
    std::uint16_t id = 0;            ///< sgc->id: the CPU the capacity record belongs to
    std::uint16_t weight = 0;        ///< group_weight
    std::uint16_t cores = 0;         ///< SMT cores in the span
    sd_flags flags{};                ///< the child domain's flags
    std::uint64_t capacity = 0;
    std::uint64_t min_capacity = 0;
    std::uint64_t max_capacity = 0;
  };

  /// One CPU's domain at one level (kernel: struct sched_domain).
  struct domain {
    std::uint8_t level = 0;          ///< index into `levels()`
    std::uint32_t span = 0;          ///< index of the span
    std::uint16_t span_weight = 0;
    sd_flags flags{};
    std::uint16_t imbalance_pct = 117;
    std::uint16_t busy_factor = 16;
    std::uint16_t cache_nice_tries = 0;
    std::uint32_t min_interval = 0;  ///< ms
    std::uint32_t max_interval = 0;  ///< ms
    std::uint32_t imb_numa_nr = 0;
    std::uint32_t groups = 0;        ///< start of the group list in the ref pool
    std::uint16_t nr_groups = 0;
    std::uint16_t rotation = 0;      ///< the CPU's own group's position in the list
  };

  [[nodiscard]] static constexpr status build(const topology<L>& topo, const domain_options& opts, domain_tree& out);

  // -- the result
  [[nodiscard]] constexpr kernel_profile profile() const noexcept { return profile_; }
  /// The CPUs domains were built over (the online CPUs).
  [[nodiscard]] constexpr const mask& cpu_map() const noexcept { return cpu_map_; }
  [[nodiscard]] constexpr const static_vector<level_info, max_levels>& levels() const noexcept { return levels_; }
  /// Domains attached to `cpu` after degenerate removal (0 for a CPU alone).
  [[nodiscard]] constexpr std::size_t nr_domains(std::size_t cpu) const { return attached_[cpu].size(); }
  /// `cpu`'s `k`-th domain, bottom up (kernel: for_each_domain).
  [[nodiscard]] constexpr const domain& domain_of(std::size_t cpu, std::size_t k) const {
    return chain_[attached_[cpu][k]][cpu];
  }
  /// The attached domain of `cpu` built at `level` (an index into `levels()`), or -1 when
  /// that level was degenerate or above the CPU's top.
  [[nodiscard]] constexpr int find_domain(std::size_t cpu, std::size_t level) const {
    for (std::size_t k = 0; k < nr_domains(cpu); ++k)
      if (domain_of(cpu, k).level == level) return static_cast<int>(k);
    return -1;
  }
  [[nodiscard]] constexpr std::string_view name(const domain& d) const { return levels_[d.level].name; }
  [[nodiscard]] constexpr const mask& span(const domain& d) const { return spans_[d.span]; }
  /// The lowest and highest CPU of `d`'s span, without reading the mask (work confined to
  /// a span, like the idle-CPU scan, then costs what the span holds).
  [[nodiscard]] constexpr std::size_t span_first(const domain& d) const { return spans_.first(d.span); }
  [[nodiscard]] constexpr std::size_t span_last(const domain& d) const { return spans_.last(d.span); }
  [[nodiscard]] constexpr std::size_t span_first(const group& g) const { return spans_.first(g.span); }
  [[nodiscard]] constexpr std::size_t span_last(const group& g) const { return spans_.last(g.span); }
  /// Every group record of the tree (records are shared by the domains that list the same
  /// group), and a record's index among them: a key for per-group data kept elsewhere.
  [[nodiscard]] constexpr std::size_t nr_group_records() const noexcept { return groups_.size(); }
  [[nodiscard]] constexpr const group& group_record(std::size_t i) const { return groups_[i]; }
  [[nodiscard]] constexpr std::size_t record_index(const group& g) const {
    return static_cast<std::size_t>(&g - groups_.begin());
  }
  /// The CPUs of a group's span, ascending, reading only the mask's words between its
  /// first and last CPU: statistics over a group then cost what the group holds, not the
  /// width of `L::max_cpus`.
  [[nodiscard]] constexpr auto cpus_of(const group& g) const {
    return spans_[g.span].within(spans_.first(g.span), spans_.last(g.span));
  }
  /// The `g`-th group of a domain, starting with the CPU's own group.
  [[nodiscard]] constexpr const group& group_of(const domain& d, std::size_t g) const {
    return groups_[refs_[d.groups + (d.rotation + g) % d.nr_groups]];
  }
  [[nodiscard]] constexpr const mask& span(const group& g) const { return spans_[g.span]; }
  [[nodiscard]] constexpr const mask& balance_mask(const group& g) const { return spans_[g.balance_mask]; }
  /// kernel: group_balance_cpu(): the first CPU of the balance mask.
  [[nodiscard]] constexpr std::size_t group_balance_cpu(const group& g) const { return balance_mask(g).first(); }

  // -- per-CPU shortcuts (kernel: update_top_cache_domain)
  /// Index (into the CPU's attached domains) of the highest domain sharing the LLC, or -1.
  [[nodiscard]] constexpr int sd_llc(std::size_t cpu) const { return highest_flag_domain(cpu, sd_flag::share_llc); }
  [[nodiscard]] constexpr std::size_t llc_id(std::size_t cpu) const {
    const int k = sd_llc(cpu);
    return k < 0 ? cpu : span(domain_of(cpu, static_cast<std::size_t>(k))).first();
  }
  [[nodiscard]] constexpr std::size_t llc_size(std::size_t cpu) const {
    const int k = sd_llc(cpu);
    return k < 0 ? 1 : domain_of(cpu, static_cast<std::size_t>(k)).span_weight;
  }
  [[nodiscard]] constexpr int sd_numa(std::size_t cpu) const { return lowest_flag_domain(cpu, sd_flag::numa); }
  [[nodiscard]] constexpr int sd_asym_packing(std::size_t cpu) const { return highest_flag_domain(cpu, sd_flag::asym_packing); }
  [[nodiscard]] constexpr int sd_asym_cpucapacity(std::size_t cpu) const {
    return lowest_flag_domain(cpu, sd_flag::asym_cpucapacity_full);
  }
  /// kernel: cpus_share_cache().
  [[nodiscard]] constexpr bool cpus_share_cache(std::size_t a, std::size_t b) const { return a == b || llc_id(a) == llc_id(b); }
  /// kernel: sd_share_id: the first CPU of the lowest SD_CLUSTER domain, else the LLC id.
  [[nodiscard]] constexpr std::size_t share_id(std::size_t cpu) const {
    const int k = lowest_flag_domain(cpu, sd_flag::cluster);
    return k < 0 ? llc_id(cpu) : span(domain_of(cpu, static_cast<std::size_t>(k))).first();
  }
  /// kernel: cpus_share_resources(): the same cluster on cluster machines, else the same LLC.
  [[nodiscard]] constexpr bool cpus_share_resources(std::size_t a, std::size_t b) const {
    return a == b || share_id(a) == share_id(b);
  }
  /// kernel: cpu_smt_mask(): `cpu` and its SMT siblings (the span of its SMT domain).
  [[nodiscard]] constexpr const mask& smt_mask(std::size_t cpu) const { return spans_[smt_span_[cpu]]; }
  /// kernel: cpumask_of_node(cpu_to_node(cpu)), within the CPUs domains were built over.
  [[nodiscard]] constexpr const mask& node_mask(std::size_t cpu) const { return spans_[node_span_[cpu]]; }

  // -- the kernel's static keys, fixed when the domains are attached
  /// kernel: sched_smt_present: some core has two online threads.
  [[nodiscard]] constexpr bool smt_active() const noexcept { return smt_active_; }
  /// kernel: sched_cluster_active: some CPU has a domain with SD_CLUSTER.
  [[nodiscard]] constexpr bool cluster_active() const noexcept { return cluster_active_; }
  /// kernel: sched_asym_cpucapacity: some domain has SD_ASYM_CPUCAPACITY.
  [[nodiscard]] constexpr bool asym_cpucapacity_active() const noexcept { return asym_cpucapacity_active_; }

  /// A CPU's capacity as the tree was built with it (kernel: arch_scale_cpu_capacity()).
  [[nodiscard]] constexpr std::uint64_t cpu_capacity(std::size_t cpu) const { return capacity_[cpu]; }
  /// Largest CPU capacity of the map (kernel: rd->max_cpu_capacity).
  [[nodiscard]] constexpr std::uint64_t max_cpu_capacity() const noexcept { return max_cpu_capacity_; }
  [[nodiscard]] constexpr numa_topology_type numa_type() const noexcept { return numa_type_; }
  /// The distinct NUMA distances, ascending (kernel: sched_domains_numa_distance).
  [[nodiscard]] constexpr const static_vector<std::uint16_t, max_levels>& numa_distances() const noexcept {
    return numa_distance_;
  }

private:
  using chain_row = std::array<domain, max_cpus>;

  constexpr int highest_flag_domain(std::size_t cpu, sd_flag f) const {
    int found = -1;
    for (std::size_t k = 0; k < nr_domains(cpu); ++k) {
      if (!domain_of(cpu, k).flags.has(f)) break;
      found = static_cast<int>(k);
    }
    return found;
  }
  constexpr int lowest_flag_domain(std::size_t cpu, sd_flag f) const {
    for (std::size_t k = 0; k < nr_domains(cpu); ++k)
      if (domain_of(cpu, k).flags.has(f)) return static_cast<int>(k);
    return -1;
  }

  constexpr void reset() noexcept;
  constexpr status build_into(const topology<L>& topo, const domain_options& opts);
  constexpr mask level_mask_of(const topology<L>& topo, const domain_options& opts, const level_info& l,
                               std::size_t cpu) const;
  constexpr status build_groups(std::size_t level, std::size_t cpu, const topology<L>& topo);
  constexpr status build_overlap_groups(std::size_t level, std::size_t cpu, const topology<L>& topo);
  constexpr std::uint32_t intern_group(std::size_t level, std::size_t key, const mask& span, const mask& balance,
                                       sd_flags flags, const topology<L>& topo);
  constexpr void update_group_capacity(std::size_t level, std::size_t cpu);
  constexpr bool degenerate(std::size_t level, std::size_t cpu) const;
  constexpr bool parent_degenerate(std::size_t level, std::size_t parent, std::size_t cpu) const;

  kernel_profile profile_ = kernel_profile::linux_6_1;
  mask cpu_map_{};
  static_vector<level_info, max_levels> levels_{};
  static_vector<std::uint16_t, max_levels> numa_distance_{};
  numa_topology_type numa_type_ = numa_topology_type::direct;
  std::uint64_t max_cpu_capacity_ = 0;
  bool smt_active_ = false;
  bool cluster_active_ = false;
  bool asym_cpucapacity_active_ = false;
  std::array<std::uint32_t, max_cpus> smt_span_{};   // span index of each CPU's SMT mask
  std::array<std::uint32_t, max_cpus> node_span_{};  // span index of each CPU's node
  // The full per-CPU chains before degenerate removal (the kernel's sdd->sd arrays):
  // chain_[level][cpu]; `depth_[cpu]` levels exist for the CPU.
  std::array<chain_row, max_levels> chain_{};
  std::array<std::uint8_t, max_cpus> depth_{};
  // Attached levels per CPU after degenerate removal, bottom up.
  std::array<static_vector<std::uint8_t, max_levels>, max_cpus> attached_{};
  detail::mask_pool<max_cpus, span_capacity> spans_{};
  static_vector<group, group_capacity> groups_{};
  std::array<std::array<std::uint32_t, max_cpus>, max_levels> group_key_{};  // (level, key CPU) -> group
  static_vector<std::uint32_t, ref_capacity> refs_{};
  std::array<std::uint16_t, max_cpus> capacity_{};
};

// ---------------------------------------------------------------------------------------

template <limits_pack L>
constexpr status domain_tree<L>::build(const topology<L>& topo, const domain_options& opts, domain_tree& out) {
  out.reset();
  status s = out.build_into(topo, opts);
  if (!s) out.reset();
  return s;
}

template <limits_pack L>
constexpr void domain_tree<L>::reset() noexcept {
  // In place: the tree can be megabytes, too big for a temporary on the stack.
  profile_ = kernel_profile::linux_6_1;
  cpu_map_.clear();
  levels_.clear();
  numa_distance_.clear();
  numa_type_ = numa_topology_type::direct;
  max_cpu_capacity_ = 0;
  smt_active_ = cluster_active_ = asym_cpucapacity_active_ = false;
  smt_span_.fill(0);
  node_span_.fill(0);
  for (auto& row : chain_) row.fill(domain{});
  depth_.fill(0);
  for (auto& a : attached_) a.clear();
  spans_.clear();
  groups_.clear();
  for (auto& row : group_key_) row.fill(none);
  refs_.clear();
  capacity_.fill(0);
}

template <limits_pack L>
constexpr auto domain_tree<L>::level_mask_of(const topology<L>& topo, const domain_options& opts, const level_info& l,
                                             std::size_t cpu) const -> mask {
  if (l.is_numa) {
    // sched_domains_numa_masks[level][node]: the CPUs of every node within the level's distance.
    mask m;
    const std::size_t home = topo.node_of(cpu);
    for (std::size_t n : topo.nodes())
      if (topo.distance(home, n) <= l.numa_distance) m |= topo.cpus_of_node(n);
    return m & cpu_map_;
  }
  switch (l.kind) {
    case level_mask::smt: return topo.siblings(hw_level::core, cpu) & cpu_map_;
    case level_mask::cluster: return topo.siblings(hw_level::cluster, cpu) & cpu_map_;
    case level_mask::llc: {
      mask m = topo.siblings(hw_level::llc, cpu) & cpu_map_;
      // x86 match_llc(): on SNC-capable parts an LLC never spans two nodes.
      if (opts.arch == arch_rules::x86) m &= topo.cpus_of_node(topo.node_of(cpu));
      return m;
    }
    case level_mask::node: return topo.cpus_of_node(topo.node_of(cpu)) & cpu_map_;
  }
  return {};
}

template <limits_pack L>
constexpr std::uint32_t domain_tree<L>::intern_group(std::size_t level, std::size_t key, const mask& span,
                                                     const mask& balance, sd_flags flags, const topology<L>& topo) {
  std::uint32_t& slot = group_key_[level][key];
  if (slot != none) return slot;
  if (groups_.full()) return detail::mask_pool<max_cpus, span_capacity>::npos;
  group g;
  g.span = spans_.intern(span);
  g.balance_mask = spans_.intern(balance);
  if (g.span == spans_.npos || g.balance_mask == spans_.npos) return spans_.npos;
  g.id = static_cast<std::uint16_t>(key);
  g.weight = static_cast<std::uint16_t>(span.weight());
  mask seen;
  for (std::size_t c : span)
    if (!seen.test(c)) {
      seen |= topo.siblings(hw_level::core, c);
      ++g.cores;
    }
  g.flags = flags;
  // Until update_group_capacity runs: SCHED_CAPACITY_SCALE per CPU (get_group()).
  g.capacity = std::uint64_t{sched_capacity_scale} * span.weight();
  g.min_capacity = g.max_capacity = sched_capacity_scale;
  slot = static_cast<std::uint32_t>(groups_.size());
  groups_.push_back(g);
  return slot;
}

// kernel: build_sched_groups(). Groups are shared by every CPU of the domain and linked in
// one circular list; each CPU's build rewrites the links, so the list that remains is the
// one the highest CPU built, and each CPU starts it at its own group.
template <limits_pack L>
constexpr status domain_tree<L>::build_groups(std::size_t level, std::size_t cpu, const topology<L>& topo) {
  domain& d = chain_[level][cpu];
  const mask& span = spans_[d.span];
  const std::size_t last = span.last();
  if (cpu != span.first() && chain_[level][span.first()].nr_groups != 0 &&
      chain_[level][span.first()].span == d.span) {
    // Same domain as an earlier CPU: share its list, rotated to this CPU's group.
    const domain& twin = chain_[level][span.first()];
    d.groups = twin.groups;
    d.nr_groups = twin.nr_groups;
  } else {
    // Build the list as the highest CPU of the span does (wrap-around from it).
    d.groups = static_cast<std::uint32_t>(refs_.size());
    mask covered;
    for (std::size_t i : span.wrap(last)) {
      if (covered.test(i)) continue;
      const std::size_t key = level == 0 ? i : spans_[chain_[level - 1][i].span].first();
      const mask gspan = level == 0 ? mask::of(i) : spans_[chain_[level - 1][i].span];
      const sd_flags gflags = level == 0 ? sd_flags{} : chain_[level - 1][i].flags;
      const std::uint32_t g = intern_group(level, key, gspan, gspan, gflags, topo);
      if (g == spans_.npos || refs_.full())
        return error{errc::over_limit, "domain tree storage is full; raise the limits"};
      refs_.push_back(g);
      covered |= gspan;
    }
    d.nr_groups = static_cast<std::uint16_t>(refs_.size() - d.groups);
  }
  // The CPU's own group: the one keyed by its child's first CPU.
  const std::size_t own_key = level == 0 ? cpu : spans_[chain_[level - 1][cpu].span].first();
  for (std::uint16_t k = 0; k < d.nr_groups; ++k)
    if (groups_[refs_[d.groups + k]].id == own_key) d.rotation = k;
  return {};
}

// kernel: build_overlap_sched_groups(), find_descended_sibling(), build_balance_mask(),
// init_overlap_sched_group(). Each CPU builds its own list, iterating from itself.
template <limits_pack L>
constexpr status domain_tree<L>::build_overlap_groups(std::size_t level, std::size_t cpu, const topology<L>& topo) {
  domain& d = chain_[level][cpu];
  const mask& span = spans_[d.span];
  const std::uint32_t start = static_cast<std::uint32_t>(refs_.size());
  mask covered;
  for (std::size_t i : span.wrap(cpu)) {
    if (covered.test(i)) continue;
    std::size_t sib = level;  // the sibling is CPU i's domain at this level
    // Asymmetric depths: CPU i stopped below this level.
    if (depth_[i] <= sib || !spans_[chain_[sib][i].span].test(i)) continue;
    // NUMA diameter >= 3: descend until the child's span fits in this domain, then past
    // children equal to their parent (they will degenerate).
    if (sib > 0 && !spans_[chain_[sib - 1][i].span].subset_of(span)) {
      while (sib > 0 && !spans_[chain_[sib - 1][i].span].subset_of(span)) --sib;
      while (sib > 0 && spans_[chain_[sib - 1][i].span] == spans_[chain_[sib][i].span]) --sib;
    }
    const mask gspan = sib > 0 ? spans_[chain_[sib - 1][i].span] : spans_[chain_[sib][i].span];
    const sd_flags gflags = sib > 0 ? chain_[sib - 1][i].flags : sd_flags{};
    // Balance mask: the CPUs j of the group whose own child at the sibling's level is the group.
    const std::uint32_t gspan_id = sib > 0 ? chain_[sib - 1][i].span : chain_[sib][i].span;
    mask balance;
    for (std::size_t j : gspan) {
      if (sib == 0 || depth_[j] <= sib) continue;
      if (chain_[sib - 1][j].span == gspan_id) balance.set(j);  // spans are interned: equal ids, equal masks
    }
    if (balance.empty()) return error{errc::not_nested, "an overlapping group has an empty balance mask"};
    const std::uint32_t g = intern_group(sib, balance.first(), gspan, balance, gflags, topo);
    if (g == spans_.npos || refs_.full()) return error{errc::over_limit, "domain tree storage is full; raise the limits"};
    refs_.push_back(g);
    covered |= gspan;
  }
  d.nr_groups = static_cast<std::uint16_t>(refs_.size() - start);
  d.rotation = 0;
  // Share an identical list with the CPU before (CPUs of one node usually build the same).
  const std::size_t prev = cpu == 0 ? mask::npos : (span & mask::first_n(cpu)).last();
  if (prev != mask::npos && depth_[prev] > level) {
    const domain& p = chain_[level][prev];
    bool same = p.nr_groups == d.nr_groups;
    for (std::uint16_t k = 0; same && k < d.nr_groups; ++k) same = refs_[p.groups + k] == refs_[start + k];
    if (same) {
      refs_.resize(start);
      d.groups = p.groups;
      return {};
    }
  }
  d.groups = start;
  return {};
}

// kernel: update_group_capacity(): refresh the CPU's own group of its domain at `level`.
template <limits_pack L>
constexpr void domain_tree<L>::update_group_capacity(std::size_t level, std::size_t cpu) {
  const domain& d = chain_[level][cpu];
  group& local = groups_[refs_[d.groups + d.rotation]];
  if (level == 0) {  // update_cpu_capacity(): no RT/IRQ pressure in a fresh build
    local.capacity = local.min_capacity = local.max_capacity = capacity_[cpu];
    return;
  }
  std::uint64_t cap = 0;
  std::uint64_t lo = ~std::uint64_t{0};
  std::uint64_t hi = 0;
  const domain& child = chain_[level - 1][cpu];
  if (levels_[level - 1].overlap) {
    // Overlapping children cannot be assumed to span the group: sum the CPUs.
    for (std::size_t c : spans_[local.span]) {
      cap += capacity_[c];
      lo = std::min<std::uint64_t>(lo, capacity_[c]);
      hi = std::max<std::uint64_t>(hi, capacity_[c]);
    }
  } else {
    for (std::uint16_t k = 0; k < child.nr_groups; ++k) {
      const group& g = groups_[refs_[child.groups + k]];
      cap += g.capacity;
      lo = std::min(lo, g.min_capacity);
      hi = std::max(hi, g.max_capacity);
    }
  }
  local.capacity = cap;
  local.min_capacity = lo;
  local.max_capacity = hi;
}

// kernel: sd_degenerate().
template <limits_pack L>
constexpr bool domain_tree<L>::degenerate(std::size_t level, std::size_t cpu) const {
  const domain& d = chain_[level][cpu];
  if (d.span_weight == 1) return true;
  if (d.flags.any_of(degenerate_groups_mask()) && d.nr_groups >= 2) return false;
  if (d.flags.has(sd_flag::wake_affine)) return false;
  return true;
}

// kernel: sd_parent_degenerate().
template <limits_pack L>
constexpr bool domain_tree<L>::parent_degenerate(std::size_t level, std::size_t parent, std::size_t cpu) const {
  const domain& d = chain_[level][cpu];
  const domain& p = chain_[parent][cpu];
  if (degenerate(parent, cpu)) return true;
  if (!(spans_[d.span] == spans_[p.span])) return false;
  sd_flags pflags = p.flags;
  if (p.nr_groups == 1) pflags = pflags - degenerate_groups_mask();
  return (pflags - d.flags).empty();
}

template <limits_pack L>
constexpr status domain_tree<L>::build_into(const topology<L>& topo, const domain_options& opts) {
  profile_ = opts.profile;
  cpu_map_ = topo.online();

  // The levels: the table (x86 drops DIE/PKG when a die holds two nodes), then NODE and
  // one NUMA level per further distinct distance.
  const level_table table = opts.levels.empty() ? default_levels(opts.profile) : opts.levels;
  bool numa_in_package = false;
  if (opts.arch == arch_rules::x86)
    for (std::size_t c : cpu_map_)
      for (std::size_t o : topo.siblings(hw_level::die, c) & cpu_map_)
        if (topo.node_of(o) != topo.node_of(c)) numa_in_package = true;
  for (const topology_level& tl : table) {
    if (numa_in_package && tl.mask == level_mask::node) continue;
    if (levels_.full()) return error{errc::over_limit, "more levels than the limits allow"};
    levels_.push_back({tl.name, tl.mask, tl.flags, false, false, 0});
  }
  if (opts.numa) {
    // sched_init_numa(): distinct distances between nodes that have CPUs, ascending.
    cpumask<L::max_nodes> cpu_nodes;
    for (std::size_t c : cpu_map_) cpu_nodes.set(topo.node_of(c));
    std::array<bool, max_distance + 1> seen{};
    for (std::size_t a : cpu_nodes)
      for (std::size_t b : cpu_nodes) seen[topo.distance(a, b)] = true;
    for (std::size_t v = 0; v <= max_distance; ++v)
      if (seen[v]) {
        if (numa_distance_.full()) return error{errc::over_limit, "more NUMA distances than the level limit allows"};
        numa_distance_.push_back(static_cast<std::uint16_t>(v));
      }
    if (levels_.size() + numa_distance_.size() > max_levels) {
      error e{errc::over_limit, ""};
      return e << levels_.size() << " table levels and " << numa_distance_.size()
               << " NUMA levels (one per distinct distance) exceed the limit of " << max_levels
               << " levels; raise limits::max_levels";
    }
    for (std::size_t j = 0; j < numa_distance_.size(); ++j) {
      const bool is_node = j == 0;
      sd_flags f = is_node ? sd_flags{} : sd_flags{sd_flag::numa};
      levels_.push_back({is_node ? "NODE" : "NUMA", level_mask::node, f, true, !is_node, numa_distance_[j]});
    }
    // init_numa_topology_type()
    if (numa_distance_.size() > 2) {
      numa_type_ = numa_topology_type::backplane;
      const std::uint16_t far = numa_distance_.back();
      for (std::size_t a : cpu_nodes)
        for (std::size_t b : cpu_nodes)
          if (topo.distance(a, b) == far)
            for (std::size_t c : cpu_nodes)
              if (topo.distance(a, c) < far && topo.distance(b, c) < far) numa_type_ = numa_topology_type::glueless_mesh;
    }
  }

  for (std::size_t c : topo.possible()) capacity_[c] = static_cast<std::uint16_t>(topo.capacity_of(c).value);
  // The machine's distinct capacities and their CPUs (kernel: asym_cap_list).
  static_vector<mask, 16> capacity_spans;
  {
    static_vector<std::uint16_t, 16> values;
    for (std::size_t c : cpu_map_) {
      std::size_t v = 0;
      while (v < values.size() && values[v] != capacity_[c]) ++v;
      if (v == values.size()) {
        if (values.full()) return error{errc::over_limit, "more than 16 distinct CPU capacities"};
        values.push_back(capacity_[c]);
        capacity_spans.push_back(mask{});
      }
      capacity_spans[v].set(c);
    }
  }

  // 1. Per CPU, the chain bottom up (build_sched_domain + sd_init).
  for (std::size_t cpu : cpu_map_) {
    for (std::size_t l = 0; l < levels_.size(); ++l) {
      const level_info& li = levels_[l];
      const mask tl_mask = level_mask_of(topo, opts, li, cpu);
      mask span = tl_mask;  // level masks already hold online CPUs only
      if (l > 0) span |= spans_[chain_[l - 1][cpu].span];  // "arch topology borken" fixup
      domain d;
      d.level = static_cast<std::uint8_t>(l);
      d.span = spans_.intern(span);
      if (d.span == spans_.npos) return error{errc::over_limit, "domain tree storage is full; raise the limits"};
      d.span_weight = static_cast<std::uint16_t>(span.weight());
      const std::uint32_t w = static_cast<std::uint32_t>(tl_mask.weight());
      d.min_interval = w;
      d.max_interval = 2 * w;
      d.flags = sd_flags{sd_flag::balance_newidle, sd_flag::balance_exec, sd_flag::balance_fork, sd_flag::wake_affine,
                         sd_flag::prefer_sibling} |
                li.tl_flags;
      // asym_cpu_capacity_classify(): how many of the machine's capacity values the span sees.
      {
        std::size_t count = 0;
        std::size_t miss = 0;
        for (const mask& cs : capacity_spans) {
          if (cs.intersects(span)) ++count;
          else ++miss;
        }
        if (count >= 2) {
          d.flags.set(sd_flag::asym_cpucapacity);
          if (miss == 0) d.flags.set(sd_flag::asym_cpucapacity_full);
        }
      }
      if (d.flags.has(sd_flag::asym_cpucapacity) && l > 0) chain_[l - 1][cpu].flags.clear(sd_flag::prefer_sibling);
      if (d.flags.has(sd_flag::share_cpucapacity)) {
        d.imbalance_pct = 110;
      } else if (d.flags.has(sd_flag::share_llc)) {
        d.imbalance_pct = 117;
        d.cache_nice_tries = 1;
      } else if (d.flags.has(sd_flag::numa)) {
        d.cache_nice_tries = 2;
        d.flags.clear(sd_flag::prefer_sibling);
        d.flags.set(sd_flag::serialize);
        if (li.numa_distance > opts.reclaim_distance)
          d.flags.clear(sd_flag::balance_exec).clear(sd_flag::balance_fork).clear(sd_flag::wake_affine);
      } else {
        d.cache_nice_tries = 1;
      }
      if (li.overlap && has_sd_overlap(opts.profile)) d.flags.set(sd_flag::overlap);
      chain_[l][cpu] = d;
      depth_[cpu] = static_cast<std::uint8_t>(l + 1);
      if (span == cpu_map_) break;
    }
  }

  // 2. Groups for every domain of every chain.
  for (std::size_t cpu : cpu_map_)
    for (std::size_t l = 0; l < depth_[cpu]; ++l) {
      const status s = levels_[l].overlap ? build_overlap_groups(l, cpu, topo) : build_groups(l, cpu, topo);
      if (!s) return s;
    }

  // 3. imb_numa_nr: an allowed NUMA imbalance such that LLCs do not get imbalanced.
  for (std::size_t cpu : cpu_map_) {
    std::uint32_t imb = 0;
    std::uint32_t imb_span = 1;
    for (std::size_t l = 0; l < depth_[cpu]; ++l) {
      domain& d = chain_[l][cpu];
      if (!d.flags.has(sd_flag::share_llc) && l > 0 && chain_[l - 1][cpu].flags.has(sd_flag::share_llc)) {
        const std::uint32_t nr_llcs = d.span_weight / chain_[l - 1][cpu].span_weight;
        imb = nr_llcs == 1 ? std::uint32_t{d.span_weight} >> 3 : nr_llcs;
        imb = std::max<std::uint32_t>(1, imb);
        d.imb_numa_nr = imb;
        std::size_t top = l + 1;
        while (top < depth_[cpu] && !chain_[top][cpu].flags.has(sd_flag::numa)) ++top;
        imb_span = top < depth_[cpu] ? chain_[top][cpu].span_weight : d.span_weight;
      } else {
        const std::uint32_t factor = std::max<std::uint32_t>(1, d.span_weight / imb_span);
        d.imb_numa_nr = imb * factor;
      }
    }
  }

  // 4. Group capacities, CPUs from high to low (init_sched_groups_capacity).
  for (std::size_t cpu = max_cpus; cpu-- > 0;) {
    if (!cpu_map_.test(cpu)) continue;
    for (std::size_t l = 0; l < depth_[cpu]; ++l) {
      const domain& d = chain_[l][cpu];
      if (cpu == group_balance_cpu(groups_[refs_[d.groups + d.rotation]])) update_group_capacity(l, cpu);
    }
    max_cpu_capacity_ = std::max<std::uint64_t>(max_cpu_capacity_, capacity_[cpu]);
  }

  // 5. Degenerate removal and attachment (cpu_attach_domain).
  for (std::size_t cpu : cpu_map_) {
    static_vector<std::uint8_t, max_levels> chain;
    for (std::size_t l = 0; l < depth_[cpu]; ++l) chain.push_back(static_cast<std::uint8_t>(l));
    for (std::size_t k = 0; k + 1 < chain.size();) {
      const std::size_t tmp = chain[k];
      const std::size_t parent = chain[k + 1];
      if (parent_degenerate(tmp, parent, cpu)) {
        // Splice the parent out. Since v6.6 the grandparent's own group takes the child's
        // flags (so MC groups keep SD_SHARE_CPUCAPACITY when a degenerate CLS goes away).
        if (profile_ != kernel_profile::linux_6_1 && k + 2 < chain.size()) {
          const domain& gp = chain_[chain[k + 2]][cpu];
          groups_[refs_[gp.groups + gp.rotation]].flags = chain_[tmp][cpu].flags;
        }
        // PREFER_SIBLING moves down to the child, whose span matches.
        if (chain_[parent][cpu].flags.has(sd_flag::prefer_sibling)) chain_[tmp][cpu].flags.set(sd_flag::prefer_sibling);
        for (std::size_t j = k + 1; j + 1 < chain.size(); ++j) chain[j] = chain[j + 1];
        chain.pop_back();
      } else {
        ++k;
      }
    }
    if (!chain.empty() && degenerate(chain[0], cpu)) {
      for (std::size_t j = 0; j + 1 < chain.size(); ++j) chain[j] = chain[j + 1];
      chain.pop_back();
      // The new bottom's groups held the destroyed child's flags. The kernel's loop here
      // never advances, so it clears only this CPU's own group (every CPU does its own).
      if (!chain.empty()) {
        const domain& bottom = chain_[chain[0]][cpu];
        groups_[refs_[bottom.groups + bottom.rotation]].flags = sd_flags{};
      }
    }
    attached_[cpu] = chain;
  }

  // 6. The static keys (build_sched_domains(), sched_cpu_activate()), SMT and node masks.
  for (std::size_t cpu : cpu_map_) {
    for (std::size_t l = 0; l < depth_[cpu]; ++l)
      asym_cpucapacity_active_ = asym_cpucapacity_active_ || chain_[l][cpu].flags.has(sd_flag::asym_cpucapacity);
    cluster_active_ = cluster_active_ || lowest_flag_domain(cpu, sd_flag::cluster) >= 0;
    const bool smt = nr_domains(cpu) > 0 && domain_of(cpu, 0).flags.has(sd_flag::share_cpucapacity);
    smt_active_ = smt_active_ || smt;
    smt_span_[cpu] = smt ? domain_of(cpu, 0).span : spans_.intern(mask::of(cpu));
    node_span_[cpu] = spans_.intern(topo.cpus_of_node(topo.node_of(cpu)) & cpu_map_);
    if (smt_span_[cpu] == spans_.npos || node_span_[cpu] == spans_.npos)
      return error{errc::over_limit, "domain tree storage is full; raise the limits"};
  }
  return {};
}

}  // namespace balancekit
