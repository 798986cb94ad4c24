/// \file
/// The machine: CPUs with their SMT core, cluster, LLC, die, package and NUMA node; the
/// node distance matrix; per-CPU capacity; the online mask. Built once, then read-only.
///
/// kernel: topology_sibling_cpumask (core), cpu_clustergroup_mask (cluster),
/// cpu_coregroup_mask (LLC), topology_die_cpumask, topology_core_cpumask (package),
/// cpumask_of_node, node_distance, arch_scale_cpu_capacity.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <balancekit/core/cpumask.hpp>
#include <balancekit/core/error.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/core/static_vector.hpp>
#include <balancekit/core/units.hpp>
#include <balancekit/detail/contracts.hpp>

namespace balancekit {

/// The hardware levels a CPU belongs to, innermost first. `core` is the set of SMT
/// siblings; `node` is the NUMA node (which may sit above or below a package).
enum class hw_level : std::uint8_t { core, cluster, llc, die, package, node };

inline constexpr std::array<hw_level, 6> hw_levels{hw_level::core, hw_level::cluster, hw_level::llc,
                                                   hw_level::die,  hw_level::package, hw_level::node};
/// The levels that always nest, innermost first (node is checked separately).
inline constexpr std::size_t nested_levels = 5;

[[nodiscard]] constexpr std::string_view to_string(hw_level l) noexcept {
  switch (l) {
    case hw_level::core: return "core";
    case hw_level::cluster: return "cluster";
    case hw_level::llc: return "llc";
    case hw_level::die: return "die";
    case hw_level::package: return "package";
    case hw_level::node: return "node";
  }
  return "?";
}

/// Kernel's LOCAL_DISTANCE and REMOTE_DISTANCE (the defaults without a SLIT).
inline constexpr std::uint16_t local_distance = 10;
inline constexpr std::uint16_t remote_distance = 20;
/// Largest SLIT value modelled; 255 means "unreachable" in ACPI and is rejected.
inline constexpr std::uint16_t max_distance = 254;

/// One CPU as a source describes it. `unit` holds a key per nested level (core, cluster,
/// llc, die, package): CPUs with equal keys share that unit. Keys are small integers
/// (below the CPU limit), e.g. the unit's first CPU or an hwloc logical index.
struct cpu_desc {
  std::uint32_t id = 0;
  std::array<std::uint32_t, nested_levels> unit{};
  std::uint32_t node = 0;
  std::uint32_t capacity = sched_capacity_scale;
  bool online = true;
};

/// Everything a topology is built from. Sources (the spec parser, the hwloc adapter,
/// the generators) fill one, `topology::build` validates it.
template <limits_pack L>
struct machine_desc {
  static_vector<cpu_desc, L::max_cpus> cpus{};
  /// Node ids that exist, CPU-less ones included. CPUs' nodes are added by `build`.
  cpumask<L::max_nodes> nodes{};
  /// Row-major over the existing node ids in ascending order; empty means the kernel
  /// default (10 local, 20 remote).
  static_vector<std::uint16_t, L::max_nodes * L::max_nodes> distances{};
  /// Which levels the source described (the others are defaulted); for display only.
  std::array<bool, hw_levels.size()> described{};
};

/// A validated machine. Large (a span per unit), so real-machine limits want it in
/// static or heap storage; `build` fills caller-owned storage and never allocates.
template <limits_pack L>
class topology {
public:
  using limits_type = L;
  using mask = cpumask<L::max_cpus>;
  using node_mask = cpumask<L::max_nodes>;
  static constexpr std::size_t max_cpus = L::max_cpus;
  static constexpr std::size_t max_nodes = L::max_nodes;

  /// Validates `d` and fills `out`. On error `out` is left empty and the error names the
  /// offending CPU, unit or matrix entry.
  [[nodiscard]] static constexpr status build(const machine_desc<L>& d, topology& out);
  /// Empties the topology in place (a temporary one can be megabytes, too big for a stack).
  constexpr void clear() noexcept;

  // -- CPUs
  /// CPUs the topology describes (ids may be sparse).
  [[nodiscard]] constexpr const mask& possible() const noexcept { return possible_; }
  [[nodiscard]] constexpr const mask& online() const noexcept { return online_; }
  [[nodiscard]] constexpr std::size_t nr_cpus() const noexcept { return possible_.weight(); }
  /// One above the highest CPU id (kernel: nr_cpu_ids).
  [[nodiscard]] constexpr std::size_t nr_cpu_ids() const noexcept { return possible_.last() + 1; }
  [[nodiscard]] constexpr bool has_cpu(std::size_t cpu) const noexcept { return possible_.test(cpu); }

  // -- levels
  /// Number of units at a level (for `node`: nodes, CPU-less ones included).
  [[nodiscard]] constexpr std::size_t count(hw_level l) const noexcept {
    return l == hw_level::node ? nodes_.weight() : units_[index(l)].size();
  }
  /// The unit of `cpu` at a level: a dense index `0..count-1` ordered by first CPU, or for
  /// `node` the node id.
  [[nodiscard]] constexpr std::size_t unit_of(hw_level l, std::size_t cpu) const {
    BALANCEKIT_EXPECTS(has_cpu(cpu));
    return l == hw_level::node ? cpu_node_[cpu] : cpu_unit_[cpu][index(l)];
  }
  /// The CPUs of unit `u` at level `l` (for `node`, `u` is a node id).
  [[nodiscard]] constexpr const mask& span(hw_level l, std::size_t u) const {
    if (l == hw_level::node) {
      BALANCEKIT_EXPECTS(u < max_nodes && nodes_.test(u));
      return node_span_[u];
    }
    return units_[index(l)][u];
  }
  /// The CPUs that share `cpu`'s unit at level `l` (`cpu` included).
  [[nodiscard]] constexpr const mask& siblings(hw_level l, std::size_t cpu) const { return span(l, unit_of(l, cpu)); }
  /// Whether the source described the level (otherwise it was defaulted, e.g. LLC = core).
  [[nodiscard]] constexpr bool described(hw_level l) const noexcept { return described_[static_cast<std::size_t>(l)]; }

  // -- NUMA
  [[nodiscard]] constexpr const node_mask& nodes() const noexcept { return nodes_; }
  [[nodiscard]] constexpr std::size_t node_of(std::size_t cpu) const { return unit_of(hw_level::node, cpu); }
  [[nodiscard]] constexpr const mask& cpus_of_node(std::size_t node) const { return span(hw_level::node, node); }
  /// SLIT distance between two existing nodes (kernel: node_distance).
  [[nodiscard]] constexpr std::uint16_t distance(std::size_t a, std::size_t b) const {
    BALANCEKIT_EXPECTS(nodes_.test(a) && nodes_.test(b));
    return distance_[a][b];
  }

  // -- capacity
  /// Capacity of a CPU, 1..1024 (kernel: arch_scale_cpu_capacity).
  [[nodiscard]] constexpr capacity capacity_of(std::size_t cpu) const {
    BALANCEKIT_EXPECTS(has_cpu(cpu));
    return capacity{cpu_capacity_[cpu]};
  }
  /// Whether CPU capacities differ (kernel: SD_ASYM_CPUCAPACITY somewhere).
  [[nodiscard]] constexpr bool asymmetric() const noexcept {
    for (std::size_t c : possible_)
      if (cpu_capacity_[c] != cpu_capacity_[possible_.first()]) return true;
    return false;
  }

  friend constexpr bool operator==(const topology&, const topology&) = default;

private:
  static constexpr std::size_t index(hw_level l) noexcept { return static_cast<std::size_t>(l); }
  static constexpr status build_into(const machine_desc<L>& d, topology& t);

  mask possible_{};
  mask online_{};
  std::array<std::array<std::uint16_t, nested_levels>, max_cpus> cpu_unit_{};
  std::array<std::uint16_t, max_cpus> cpu_node_{};
  std::array<std::uint16_t, max_cpus> cpu_capacity_{};
  std::array<static_vector<mask, max_cpus>, nested_levels> units_{};
  node_mask nodes_{};
  std::array<mask, max_nodes> node_span_{};
  std::array<std::array<std::uint16_t, max_nodes>, max_nodes> distance_{};
  std::array<bool, hw_levels.size()> described_{};
};

namespace detail {

template <std::size_t N>
constexpr void append_mask(error& e, const cpumask<N>& m) {
  m.format_list([&](std::string_view part) { e << part; });
}

inline constexpr std::array<std::string_view, nested_levels> level_plural{"cores", "clusters", "LLCs", "dies", "packages"};
inline constexpr std::array<std::string_view, nested_levels> level_article{"a core", "a cluster", "an LLC", "a die", "a package"};

}  // namespace detail

template <limits_pack L>
constexpr status topology<L>::build(const machine_desc<L>& d, topology& out) {
  out.clear();
  status s = build_into(d, out);
  if (!s) out.clear();
  return s;
}

template <limits_pack L>
constexpr void topology<L>::clear() noexcept {
  possible_.clear();
  online_.clear();
  for (auto& u : cpu_unit_) u.fill(0);
  cpu_node_.fill(0);
  cpu_capacity_.fill(0);
  for (auto& u : units_) u.clear();
  nodes_.clear();
  for (auto& m : node_span_) m.clear();
  for (auto& row : distance_) row.fill(0);
  described_.fill(false);
}

template <limits_pack L>
constexpr status topology<L>::build_into(const machine_desc<L>& d, topology& t) {
  if (d.cpus.empty()) return error{errc::wrong_count, "the machine has no CPUs"};

  // Per-CPU checks; keys become dense unit indexes in order of first CPU.
  constexpr std::uint16_t unset = 0xFFFF;
  std::array<std::array<std::uint16_t, max_cpus>, nested_levels> key_to_unit{};
  for (auto& row : key_to_unit) row.fill(unset);
  for (const cpu_desc& c : d.cpus) {
    if (c.id >= max_cpus) {
      error e{errc::over_limit, "CPU "};
      return e << c.id << " is above the limit of " << max_cpus << " CPUs";
    }
    if (t.possible_.test(c.id)) {
      error e{errc::duplicate, "CPU "};
      return e << c.id << " is described twice";
    }
    t.possible_.set(c.id);
    if (c.online) t.online_.set(c.id);
    for (std::size_t l = 0; l < nested_levels; ++l)
      if (c.unit[l] >= max_cpus) {
        error e{errc::out_of_range, "CPU "};
        return e << c.id << ": " << to_string(hw_levels[l]) << " key " << c.unit[l] << " is above the limit of "
                 << max_cpus;
      }
    if (c.node >= max_nodes) {
      error e{errc::over_limit, "CPU "};
      return e << c.id << ": node " << c.node << " is above the limit of " << max_nodes << " nodes";
    }
    if (c.capacity < 1 || c.capacity > sched_capacity_scale) {
      error e{errc::bad_capacity, "CPU "};
      return e << c.id << ": capacity " << c.capacity << " is outside 1..1024";
    }
  }
  if (t.online_.empty()) return error{errc::wrong_count, "every CPU is offline; at least one must be online"};

  std::array<const cpu_desc*, max_cpus> by_id{};
  for (const cpu_desc& c : d.cpus) by_id[c.id] = &c;
  for (std::size_t id : t.possible_) {  // ascending, so units are numbered by first CPU
    const cpu_desc& c = *by_id[id];
    for (std::size_t l = 0; l < nested_levels; ++l) {
      auto& slot = key_to_unit[l][c.unit[l]];
      if (slot == unset) {
        slot = static_cast<std::uint16_t>(t.units_[l].size());
        t.units_[l].push_back(mask{});
      }
      t.units_[l][slot].set(id);
      t.cpu_unit_[id][l] = slot;
    }
    t.cpu_node_[id] = static_cast<std::uint16_t>(c.node);
    t.cpu_capacity_[id] = static_cast<std::uint16_t>(c.capacity);
    t.nodes_.set(c.node);
    t.node_span_[c.node].set(id);
  }

  // Nesting: every unit lies within one unit of each level above it, and cores and
  // clusters within one node (kernel: topology_sane() warns about SMT siblings on two nodes).
  for (std::size_t id : t.possible_) {
    for (std::size_t l = 0; l + 1 < nested_levels; ++l) {
      const std::size_t first = t.units_[l][t.cpu_unit_[id][l]].first();
      for (std::size_t up = l + 1; up < nested_levels; ++up)
        if (t.cpu_unit_[id][up] != t.cpu_unit_[first][up]) {
          error e{errc::not_nested, "CPU "};
          return e << first << " and CPU " << id << " share " << detail::level_article[l] << " but not "
                   << detail::level_article[up] << "; " << detail::level_article[l] << " must lie within one "
                   << to_string(hw_levels[up]);
        }
      if (l <= static_cast<std::size_t>(hw_level::cluster) && t.cpu_node_[id] != t.cpu_node_[first]) {
        error e{errc::not_nested, "CPU "};
        return e << first << " and CPU " << id << " share " << detail::level_article[l]
                 << " but sit on nodes " << t.cpu_node_[first] << " and " << t.cpu_node_[id] << "; "
                 << detail::level_article[l] << " must lie within one NUMA node";
      }
    }
  }
  // LLCs, dies and packages either contain a node or lie within one (an LLC may span
  // nodes in a VM; a node may span packages); partial overlap is an error.
  for (std::size_t l = static_cast<std::size_t>(hw_level::llc); l < nested_levels; ++l)
    for (const mask& u : t.units_[l])
      for (std::size_t n : t.nodes_) {
        const mask& ns = t.node_span_[n];
        if (u.intersects(ns) && !u.subset_of(ns) && !ns.subset_of(u)) {
          error e{errc::not_nested, ""};
          e << to_string(hw_levels[l]) << " with CPUs ";
          detail::append_mask(e, u);
          e << " and node " << n << " with CPUs ";
          detail::append_mask(e, ns);
          return e << " partly overlap; one must contain the other";
        }
      }

  // Nodes and distances.
  for (std::size_t n : d.nodes) t.nodes_.set(n);
  const std::size_t nn = t.nodes_.weight();
  std::array<std::uint16_t, max_nodes> node_at{};
  {
    std::size_t i = 0;
    for (std::size_t n : t.nodes_) node_at[i++] = static_cast<std::uint16_t>(n);
  }
  if (d.distances.empty()) {
    for (std::size_t a : t.nodes_)
      for (std::size_t b : t.nodes_) t.distance_[a][b] = a == b ? local_distance : remote_distance;
  } else {
    if (d.distances.size() != nn * nn) {
      error e{errc::wrong_count, "the distance matrix has "};
      return e << d.distances.size() << " entries for " << nn << " nodes (expected " << nn * nn << ")";
    }
    for (std::size_t i = 0; i < nn; ++i)
      for (std::size_t j = 0; j < nn; ++j) {
        const std::size_t a = node_at[i];
        const std::size_t b = node_at[j];
        const std::uint16_t v = d.distances[i * nn + j];
        const std::uint16_t w = d.distances[j * nn + i];
        if (i == j && v != local_distance) {
          error e{errc::bad_distance, "distance entry ("};
          return e << a << "," << b << ") is " << v << "; the diagonal must be 10 (local)";
        }
        if (i != j && (v <= local_distance || v > max_distance)) {
          error e{errc::bad_distance, "distance entry ("};
          return e << a << "," << b << ") is " << v << "; distances between different nodes must be 11..254";
        }
        if (v != w) {
          error e{errc::not_symmetric, "distance entry ("};
          return e << a << "," << b << ") is " << v << " but (" << b << "," << a << ") is " << w
                   << "; the matrix must be symmetric";
        }
        t.distance_[a][b] = v;
      }
  }
  t.described_ = d.described;
  return {};
}

}  // namespace balancekit
