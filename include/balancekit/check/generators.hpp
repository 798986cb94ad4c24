/// \file
/// RapidCheck generators for machines: level strings and whole machine shapes (levels,
/// distances, capacities, offline CPUs, sparse ids) for checking a policy on many machines.
///
///     auto t = std::make_unique<topology<large_limits>>();   // megabytes: not on the stack
///     rc::check([&] {
///       const auto shape = *balancekit::check::gen::machine<large_limits>();
///       RC_ASSERT(make_topology(shape.spec(), *t).ok());
///       ...
///     });
///
/// Needs RapidCheck (`#include <rapidcheck.h>`); nothing else in balancekit includes this.
/// docs/generators.md describes what the generators produce.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <numeric>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <rapidcheck.h>

#include <balancekit/core/limits.hpp>
#include <balancekit/topology/machines.hpp>
#include <balancekit/topology/spec.hpp>
#include <balancekit/topology/topology.hpp>

namespace balancekit::check {

namespace detail {

/// An index into `weights`, drawn by weight. Shrinks toward index 0 (skipping zero
/// weights, which mark options the caller ruled out), so callers list the simplest
/// option first: RapidCheck then shrinks a failure toward simpler machines.
inline rc::Gen<std::size_t> weighted_index(std::vector<std::size_t> weights) {
  return rc::Gen<std::size_t>([weights = std::move(weights)](const rc::Random& random, int /*size*/) {
    std::uint64_t total = 0;
    for (std::size_t w : weights) total += w;
    std::size_t i = 0;
    if (total > 0) {
      std::uint64_t r = rc::Random(random).next() % total;
      while (r >= weights[i]) r -= weights[i++];
    }
    // Every smaller allowed index, simplest first: the lists are short, and halving
    // (rc::shrink::towards) would skip indexes once ruled-out ones are filtered away.
    return rc::shrinkable::shrinkRecur(i, [weights](std::size_t x) {
      std::vector<std::size_t> smaller;
      for (std::size_t y = 0; y < x; ++y)
        if (weights[y] > 0) smaller.push_back(y);
      return rc::seq::fromContainer(std::move(smaller));
    });
  });
}

/// One of `values`, drawn by weight; shrinks toward the first.
template <class T>
rc::Gen<T> weighted(std::initializer_list<std::pair<std::size_t, T>> choices) {
  std::vector<std::size_t> weights;
  std::vector<T> values;
  for (const auto& [w, v] : choices) {
    weights.push_back(w);
    values.push_back(v);
  }
  return rc::gen::map(weighted_index(std::move(weights)), [values = std::move(values)](std::size_t i) { return values[i]; });
}

/// The optional levels, outermost first, with the names both balancekit's spec parser
/// and hwloc's synthetic parser accept.
enum class lv : std::uint8_t { pack, die, l3, l2, core, pu, numa };
inline constexpr std::string_view lv_name[] = {"pack", "die", "l3", "l2", "core", "pu", "numa"};

struct level_item {
  lv level;
  std::size_t count;
};

inline std::string format_levels(const std::vector<level_item>& items) {
  std::string s;
  for (const level_item& it : items) {
    if (!s.empty()) s += ' ';
    s += lv_name[static_cast<std::size_t>(it.level)];
    s += ':';
    s += std::to_string(it.count);
  }
  return s;
}

inline std::size_t product(const std::vector<level_item>& items, std::size_t from = 0,
                           std::size_t to = static_cast<std::size_t>(-1)) {
  std::size_t p = 1;
  for (std::size_t i = from; i < items.size() && i < to; ++i) p *= items[i].count;
  return p;
}

/// Lowers counts until the levels fit the limits. CPUs are clamped innermost first and
/// nodes outermost first, so SMT width and package count, the parts that most change
/// a balancer's decisions, survive. Clamping instead of discarding keeps RapidCheck from
/// giving up on small limits, and keeps shrinking monotone.
inline std::vector<level_item> clamp_levels(std::vector<level_item> items, std::size_t numa_index, std::size_t max_cpus,
                                            std::size_t max_nodes) {
  std::vector<bool> clamped(items.size(), false);
  std::size_t cpus = 1;
  for (std::size_t i = items.size(); i-- > 0;) {
    const std::size_t cap = max_cpus / cpus;
    if (items[i].count > cap) {
      items[i].count = cap;
      clamped[i] = true;
    }
    cpus *= items[i].count;
  }
  if (numa_index < items.size()) {
    std::size_t nodes = 1;
    for (std::size_t i = 0; i <= numa_index; ++i) {
      const std::size_t cap = max_nodes / nodes;
      if (items[i].count > cap) {
        items[i].count = cap;
        clamped[i] = true;
      }
      nodes *= items[i].count;
    }
  }
  // A level clamped down to 1 says nothing the default would not: drop it, so count 1
  // appears only where it was drawn on purpose.
  std::vector<level_item> out;
  for (std::size_t i = 0; i < items.size(); ++i)
    if (!(clamped[i] && items[i].count == 1 && items[i].level != lv::pu)) out.push_back(items[i]);
  return out;
}

}  // namespace detail

namespace gen {

/// Random level strings (`pack:2 numa:2 l3:2 core:4 pu:2`) that balancekit's spec
/// parser and hwloc's synthetic parser both accept, and that `make_topology` builds:
/// levels outermost first (pack, die, l3, l2, core, pu), each optional but `pu`, and
/// `numa` inserted before `core` but never below `l2` (a cluster cannot span nodes).
/// At most `max_cpus` CPUs and `max_nodes` nodes; the default node bound fits every
/// built-in limits pack (small_limits has 8). Shrinks toward fewer levels and smaller
/// counts. Counts of 1 appear, but rarely: they mostly just restate the default.
inline rc::Gen<std::string> levels(std::size_t max_cpus, std::size_t max_nodes = small_limits::max_nodes) {
  using detail::lv;
  using detail::weighted;
  max_cpus = std::max<std::size_t>(max_cpus, 1);
  max_nodes = std::max<std::size_t>(max_nodes, 1);
  return rc::gen::exec([max_cpus, max_nodes] {
    // 0 = absent; shrinking moves toward absence first, then toward small counts.
    const std::size_t pack = *weighted<std::size_t>({{12, 0}, {1, 1}, {12, 2}, {2, 3}, {4, 4}, {2, 8}});
    const std::size_t die = *weighted<std::size_t>({{20, 0}, {1, 1}, {6, 2}, {2, 4}});
    const std::size_t l3 = *weighted<std::size_t>({{10, 0}, {1, 1}, {8, 2}, {2, 3}, {4, 4}, {2, 8}});
    const std::size_t l2 = *weighted<std::size_t>({{14, 0}, {1, 1}, {6, 2}, {4, 4}});
    const std::size_t core = *weighted<std::size_t>({{4, 0}, {1, 1}, {8, 2}, {2, 3}, {8, 4}, {2, 6}, {6, 8}, {2, 16}});
    const std::size_t pu = *weighted<std::size_t>({{4, 1}, {4, 2}, {1, 3}, {2, 4}});
    const std::size_t numa = *weighted<std::size_t>({{8, 0}, {1, 1}, {8, 2}, {2, 3}, {6, 4}, {2, 6}, {4, 8}});
    // Where numa goes: before pack, die, l3, l2 or core.
    std::size_t numa_pos = *rc::gen::inRange<std::size_t>(0, 5);

    const std::size_t picked[] = {pack, die, l3, l2, core, pu};
    if (l2 > 0 && numa_pos == 4) numa_pos = 3;
    std::vector<detail::level_item> items;
    std::size_t numa_index = static_cast<std::size_t>(-1);
    for (std::size_t l = 0; l < 6; ++l) {
      if (numa > 0 && l == numa_pos) {
        numa_index = items.size();
        items.push_back({lv::numa, numa});
      }
      if (picked[l] > 0) items.push_back({static_cast<lv>(l), picked[l]});
    }
    return detail::format_levels(detail::clamp_levels(std::move(items), numa_index, max_cpus, max_nodes));
  });
}

}  // namespace gen

/// How a shape's distance matrix was made. Exposed so tests can show that every kind
/// occurs, and so a failure report says which kind of machine it was.
enum class distance_family : std::uint8_t {
  single_node,     ///< one node: no matrix, or "10"
  kernel_default,  ///< several nodes, no matrix: 10 local, 20 remote
  flat,            ///< every remote distance equal
  two_level,       ///< near within a group of nodes (a package), far across groups
  ring,            ///< 10 + hops * k around a ring; diameter above 2 from 6 nodes on
  cube3,           ///< 8 nodes on a 3-cube: 10 + hops * k
  two_hop,         ///< a random connected graph of diameter 2 (like T8): one hop near, two far
  random,          ///< random symmetric, or two-level with per-pair noise (like S5)
  builtin,         ///< a built-in machine's own matrix
};

[[nodiscard]] constexpr std::string_view to_string(distance_family f) noexcept {
  switch (f) {
    case distance_family::single_node: return "single_node";
    case distance_family::kernel_default: return "kernel_default";
    case distance_family::flat: return "flat";
    case distance_family::two_level: return "two_level";
    case distance_family::ring: return "ring";
    case distance_family::cube3: return "cube3";
    case distance_family::two_hop: return "two_hop";
    case distance_family::random: return "random";
    case distance_family::builtin: return "builtin";
  }
  return "?";
}

/// A generated machine: the strings of a `machine_spec`, owned, so a shape outlives the
/// generator and prints as a command line that rebuilds it.
struct machine_shape {
  std::string levels{"pu:1"};
  std::string distances{};
  std::string capacity{};
  std::string offline{};
  std::string cpu_ids{};
  distance_family family = distance_family::single_node;
  /// The built-in machine's name for `gen::builtin_machine`, else empty.
  std::string name{};

  /// Views into this shape: keep the shape alive while the spec is used.
  [[nodiscard]] machine_spec spec() const noexcept { return {levels, distances, capacity, offline, cpu_ids}; }

  friend bool operator==(const machine_shape&, const machine_shape&) = default;

  /// `--spec "..." --distances "..." --capacity "..." --offline "..." --cpu-ids "..."`:
  /// RapidCheck prints counterexamples with this, so a failure can be pasted into the CLI.
  friend std::ostream& operator<<(std::ostream& os, const machine_shape& m) {
    return os << "--spec \"" << m.levels << "\" --distances \"" << m.distances << "\" --capacity \"" << m.capacity
              << "\" --offline \"" << m.offline << "\" --cpu-ids \"" << m.cpu_ids << '"';
  }
};

/// What `gen::machine` may produce. Percentages are of all shapes; features that a shape
/// cannot have (offline CPUs on one CPU, sparse ids when the ids fill the limit) are
/// skipped for that shape.
struct machine_options {
  /// Upper bounds below the limits pack's (0: the pack's own).
  std::size_t max_cpus = 0;
  std::size_t max_nodes = 0;
  /// Shapes with at least 1024 CPUs, when the limits allow them. They cost about a
  /// hundred small ones to build and check, hence a small share.
  unsigned large_percent = 5;
  unsigned sparse_ids_percent = 20;
  unsigned offline_percent = 20;
  unsigned asymmetric_percent = 25;
  /// When false, every multi-node shape uses the kernel default distances.
  bool distances = true;
};

namespace detail {

/// splitmix64: bulk randomness (matrices, CPU subsets) from one drawn seed, so a shape
/// with thousands of CPUs costs a handful of RapidCheck picks rather than thousands.
struct bulk_random {
  std::uint64_t state;
  std::uint64_t next() noexcept {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  /// Uniform in [lo, hi].
  std::size_t in(std::size_t lo, std::size_t hi) noexcept {
    return lo + static_cast<std::size_t>(next() % static_cast<std::uint64_t>(hi - lo + 1));
  }
};

inline std::string format_cpulist(const std::vector<std::size_t>& sorted) {
  std::string s;
  for (std::size_t i = 0; i < sorted.size();) {
    std::size_t j = i;
    while (j + 1 < sorted.size() && sorted[j + 1] == sorted[j] + 1) ++j;
    if (!s.empty()) s += ',';
    s += std::to_string(sorted[i]);
    if (j > i) {
      s += '-';
      s += std::to_string(sorted[j]);
    }
    i = j + 1;
  }
  return s;
}

inline std::vector<std::size_t> divisors(std::size_t n) {
  std::vector<std::size_t> d;
  for (std::size_t i = 1; i <= n; ++i)
    if (n % i == 0) d.push_back(i);
  return d;
}

inline std::string format_matrix(const std::vector<std::vector<unsigned>>& m) {
  std::string s;
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (i > 0) s += ';';
    for (std::size_t j = 0; j < m.size(); ++j) {
      if (j > 0) s += ' ';
      s += std::to_string(m[i][j]);
    }
  }
  return s;
}

using matrix = std::vector<std::vector<unsigned>>;

inline matrix matrix_of(std::size_t n, unsigned remote) {
  matrix m(n, std::vector<unsigned>(n, remote));
  for (std::size_t i = 0; i < n; ++i) m[i][i] = local_distance;
  return m;
}

/// The T8 topology of the Wasted Cores notes: 8 nodes, diameter 2, nodes 1 and 2 two hops apart.
inline constexpr std::uint8_t t8_adjacency[8] = {0b01010110, 0b00101001, 0b01001001, 0b10110110,
                                                 0b10001001, 0b01001010, 0b10100101, 0b01011000};

/// A random connected graph on `n` >= 3 nodes with diameter exactly 2, as adjacency bits.
inline std::vector<std::vector<bool>> diameter2_graph(std::size_t n, bulk_random& rnd) {
  std::vector<std::vector<bool>> adj(n, std::vector<bool>(n, false));
  const std::size_t density = rnd.in(15, 60);  // percent of pairs linked before repair
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = i + 1; j < n; ++j)
      if (rnd.in(0, 99) < density) adj[i][j] = adj[j][i] = true;
  // Repair: a pair with no path of length <= 2 gets a middle node linked to both (or a
  // direct link when it has none), which only shortens other paths.
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = i + 1; j < n; ++j) {
      bool near = adj[i][j];
      for (std::size_t k = 0; k < n && !near; ++k) near = adj[i][k] && adj[k][j];
      if (near) continue;
      const std::size_t k = rnd.in(0, n - 1);
      if (k == i || k == j) {
        adj[i][j] = adj[j][i] = true;
      } else {
        adj[i][k] = adj[k][i] = true;
        adj[k][j] = adj[j][k] = true;
      }
    }
  // Diameter exactly 2: a complete graph loses one edge (the ends keep a common neighbour).
  bool complete = true;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = i + 1; j < n; ++j) complete = complete && adj[i][j];
  if (complete) {
    const std::size_t i = rnd.in(0, n - 2);
    const std::size_t j = rnd.in(i + 1, n - 1);
    adj[i][j] = adj[j][i] = false;
  }
  return adj;
}

/// How the nodes sit among the levels above them.
enum class placement : std::uint8_t { none, outer, in_package, in_die, in_llc };

/// The matrix text for a family, from bulk randomness only (see `draw_machine`).
inline std::string make_distances(distance_family family, std::size_t n, std::size_t group, bulk_random& rnd) {
  matrix m;
  switch (family) {
    case distance_family::single_node: return rnd.in(0, 2) == 0 ? "10" : "";
    case distance_family::kernel_default:
    case distance_family::builtin: return "";
    case distance_family::flat: m = matrix_of(n, static_cast<unsigned>(rnd.in(11, max_distance))); break;
    case distance_family::two_level: {
      const auto near = static_cast<unsigned>(rnd.in(11, 100));
      const auto far = static_cast<unsigned>(rnd.in(near + 1, max_distance));
      m = matrix_of(n, far);
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j)
          if (i != j && i / group == j / group) m[i][j] = near;
      break;
    }
    case distance_family::ring: {
      const auto k = static_cast<unsigned>(rnd.in(1, (max_distance - local_distance) / (n / 2)));
      m = matrix_of(n, 0);
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j) {
          const std::size_t d = i > j ? i - j : j - i;
          if (i != j) m[i][j] = local_distance + k * static_cast<unsigned>(std::min(d, n - d));
        }
      break;
    }
    case distance_family::cube3: {
      const auto k = static_cast<unsigned>(rnd.in(1, (max_distance - local_distance) / 3));
      m = matrix_of(n, 0);
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j)
          if (i != j) m[i][j] = local_distance + k * static_cast<unsigned>(std::popcount(i ^ j));
      break;
    }
    case distance_family::two_hop: {
      // T8 itself, 16 and 22 as in the notes, once in a while on 8 nodes.
      const bool t8 = n == 8 && rnd.in(0, 3) == 0;
      unsigned one = 16;
      unsigned two = 22;
      if (!t8) {
        one = static_cast<unsigned>(rnd.in(11, 120));
        two = static_cast<unsigned>(rnd.in(one + 1, max_distance));
      }
      std::vector<std::vector<bool>> adj;
      if (t8) {
        adj.assign(8, std::vector<bool>(8, false));
        for (std::size_t i = 0; i < 8; ++i)
          for (std::size_t j = 0; j < 8; ++j) adj[i][j] = ((t8_adjacency[i] >> j) & 1U) != 0;
      } else {
        adj = diameter2_graph(n, rnd);
      }
      m = matrix_of(n, two);
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j)
          if (i != j && adj[i][j]) m[i][j] = one;
      break;
    }
    case distance_family::random: {
      // The S5 matrix of the Wasted Cores notes (diameter 3, broke group construction
      // upstream) on 4 nodes; otherwise two-level with noise, or anything symmetric.
      const std::size_t kind = n == 4 && rnd.in(0, 6) == 0 ? 2 : rnd.in(0, 1);
      if (kind == 2) return "10 12 20 22;12 10 22 24;20 22 10 12;22 24 12 10";
      m = matrix_of(n, 0);
      const std::size_t base = rnd.in(11, 60);
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = i + 1; j < n; ++j) {
          std::size_t v = kind == 0 ? rnd.in(11, 254) : base + (i / group == j / group ? 0 : 10) + rnd.in(0, 12);
          m[i][j] = m[j][i] = static_cast<unsigned>(std::min<std::size_t>(v, max_distance));
        }
      break;
    }
  }
  return format_matrix(m);
}

/// Draws a whole machine; `gen::machine` wraps it in `rc::gen::exec`. Every call makes
/// the same RapidCheck picks in the same order, used or not: RapidCheck regenerates the
/// picks after a shrunk one by position, and a fixed order keeps their values, so a
/// shrink of one part (the tier, the family) does not reshuffle the rest.
inline machine_shape draw_machine(std::size_t max_cpus, std::size_t max_nodes, const machine_options& o) {
  const auto percent = [](unsigned p) {
    const std::size_t yes = std::min(p, 100U);
    return weighted_index({100 - yes, yes});
  };
  const auto uniform = [](std::size_t count) { return weighted_index(std::vector<std::size_t>(count, 1)); };

  // One bulk stream per purpose, for the same reason.
  const std::uint64_t seed = *rc::gen::noShrink(rc::gen::arbitrary<std::uint64_t>());
  bulk_random rnd_distances{seed};
  bulk_random rnd_ids{seed ^ 0x5851F42D4C957F2DULL};
  bulk_random rnd_offline{seed ^ 0x14057B7EF767814FULL};
  bulk_random rnd_capacity{seed ^ 0x2545F4914F6CDD1DULL};
  machine_shape shape;

  // Size tier, simplest first so failures shrink toward one CPU.
  const std::size_t large = max_cpus >= 1024 ? o.large_percent : 0;
  const std::size_t medium = max_cpus > 64 ? 24 : 0;
  const std::size_t tier = *weighted_index({5, 25, 40, medium, large});
  const std::size_t tier_cap[] = {1, 8, 64, 512, 4096};
  const std::size_t cap = std::min(tier_cap[tier], max_cpus);
  const std::size_t floor_cpus = tier == 4 ? 1024 : 1;

  // Node count; it fixes the distance matrix's size before anything else is drawn.
  std::size_t n = 1;
  {
    static constexpr std::size_t values[] = {1, 2, 3, 4, 6, 8, 12, 16, 32, 64};
    static constexpr std::size_t w[5][10] = {{1, 0, 0, 0, 0, 0, 0, 0, 0, 0},
                                             {6, 3, 0, 1, 0, 0, 0, 0, 0, 0},
                                             {4, 4, 1, 3, 1, 3, 0, 0, 0, 0},
                                             {3, 4, 1, 3, 1, 3, 1, 2, 0, 0},
                                             {2, 3, 0, 3, 0, 3, 0, 2, 1, 1}};
    std::vector<std::size_t> weights(std::begin(w[tier]), std::end(w[tier]));
    for (std::size_t i = 0; i < weights.size(); ++i)
      if (values[i] > max_nodes || values[i] > cap) weights[i] = 0;
    n = values[*weighted_index(weights)];
  }

  // Where the nodes sit, and the divisors that split them among packages, dies, LLCs.
  const bool numa_one = *weighted_index({8, 1}) == 1;  // one node, described: "numa:1"
  const bool numa_one_pack = *weighted_index({1, 1}) == 1;
  const placement drawn_place = *weighted<placement>(
      {{3, placement::outer}, {5, placement::in_package}, {1, placement::in_die}, {1, placement::in_llc}});
  const std::vector<std::size_t> all_divisors = divisors(n);
  const std::size_t split_a = all_divisors[*uniform(all_divisors.size())];
  const std::vector<std::size_t> rest_divisors = divisors(n / split_a);
  const std::size_t split_b = rest_divisors[*uniform(rest_divisors.size())];
  const std::vector<std::size_t> over_one(all_divisors.begin() + 1, all_divisors.end());  // empty when n == 1
  const std::size_t split_k = over_one.empty() ? 1 : over_one[*uniform(over_one.size())];
  const std::vector<std::size_t> llc_divisors = divisors(n / split_k);
  const std::size_t split_l = llc_divisors[*uniform(llc_divisors.size())];

  // Levels above and including numa, outermost first.
  std::vector<level_item> outer;
  placement place = placement::none;
  std::size_t group = 1;  // nodes per package when packages hold several nodes
  if (n == 1) {
    if (numa_one) {
      place = placement::in_package;
      if (numa_one_pack) outer.push_back({lv::pack, 1});
      outer.push_back({lv::numa, 1});
    }
  } else {
    place = drawn_place;
    switch (place) {
      case placement::none:
      case placement::outer: outer.push_back({lv::numa, n}); break;
      case placement::in_package:
        outer.push_back({lv::pack, split_a});
        outer.push_back({lv::numa, n / split_a});
        group = n / split_a;
        break;
      case placement::in_die:
        if (split_a > 1) outer.push_back({lv::pack, split_a});
        if (split_b > 1) outer.push_back({lv::die, split_b});
        outer.push_back({lv::numa, n / (split_a * split_b)});
        group = n / split_a;
        break;
      case placement::in_llc: {
        // LLCs spanning several nodes, as a VM may present them.
        const std::size_t p = n / (split_k * split_l);
        if (p > 1) outer.push_back({lv::pack, p});
        outer.push_back({lv::l3, split_l});
        outer.push_back({lv::numa, split_k});
        group = n / p;
        break;
      }
    }
  }
  // Levels that may still come below: those ranked after every outer level.
  int below = -1;
  for (const level_item& it : outer)
    if (it.level != lv::numa) below = std::max(below, static_cast<int>(it.level));
  const auto allowed = [&](lv l) { return tier != 0 && static_cast<int>(l) > below; };

  // Levels under one node; clamped innermost first so the budget cuts outer ones.
  const std::size_t budget = cap / n;
  const bool big = tier >= 3;
  const std::size_t pu_drawn = *weighted<std::size_t>({{4, 1}, {4, 2}, {1, 3}, {2, 4}});
  const std::size_t core_small = *weighted<std::size_t>({{2, 0}, {1, 1}, {4, 2}, {1, 3}, {4, 4}, {1, 6}, {2, 8}});
  const std::size_t core_big = *weighted<std::size_t>({{1, 0}, {2, 2}, {3, 4}, {3, 8}, {1, 12}, {3, 16}, {1, 32}});
  const std::size_t l2_drawn = *weighted<std::size_t>({{6, 0}, {1, 1}, {3, 2}, {2, 4}});
  const std::size_t l3_drawn = *weighted<std::size_t>({{3, 0}, {3, 1}, {3, 2}, {1, 3}, {2, 4}, {1, 8}});
  const std::size_t die_drawn = *weighted<std::size_t>({{8, 0}, {1, 1}, {2, 2}, {1, 4}});
  const std::size_t pack_drawn = *weighted<std::size_t>({{3, 0}, {1, 1}, {3, 2}, {1, 4}});
  const std::size_t pu = tier == 0 ? 1 : pu_drawn;
  const std::size_t core = allowed(lv::core) ? (big ? core_big : core_small) : 0;
  const std::size_t l2 = allowed(lv::l2) ? l2_drawn : 0;
  const std::size_t l3 = allowed(lv::l3) ? l3_drawn : 0;
  const std::size_t die = allowed(lv::die) ? die_drawn : 0;
  // Packages inside a node only when the node is outermost: a node above packages.
  const std::size_t pack = allowed(lv::pack) && place == placement::outer ? pack_drawn : 0;

  std::vector<level_item> inner;
  const std::size_t drawn[] = {pack, die, l3, l2, core, pu};
  for (std::size_t l = 0; l < 6; ++l)
    if (drawn[l] > 0) inner.push_back({static_cast<lv>(l), drawn[l]});
  inner = clamp_levels(std::move(inner), static_cast<std::size_t>(-1), budget, 1);

  // Large shapes: widen the cores level until the machine reaches the floor.
  if (n * product(inner) < floor_cpus) {
    auto it = std::find_if(inner.begin(), inner.end(), [](const level_item& x) { return x.level == lv::core; });
    if (it == inner.end()) it = inner.insert(inner.end() - 1, level_item{lv::core, 1});
    const std::size_t rest = product(inner) / it->count;
    const std::size_t want = (floor_cpus + n * rest - 1) / (n * rest);
    it->count = std::max<std::size_t>(1, std::min(want, budget / rest));
  }

  std::vector<level_item> items = outer;
  items.insert(items.end(), inner.begin(), inner.end());
  shape.levels = format_levels(items);
  const std::size_t total = product(items);

  // Per logical CPU (hwloc order): its core, and its capacity unit (cluster, else core).
  std::size_t core_stride = 1;
  std::size_t unit_stride = 0;
  {
    std::size_t s = 1;
    for (std::size_t i = items.size(); i-- > 0;) {
      if (items[i].level == lv::core) core_stride = s;
      if (items[i].level == lv::l2) unit_stride = s;
      s *= items[i].count;
    }
    if (unit_stride == 0) unit_stride = core_stride;
  }

  // Distances.
  const bool composite = divisors(n).size() > 2;
  const distance_family drawn_family = *weighted<distance_family>({{1, distance_family::kernel_default},
                                                                   {2, distance_family::flat},
                                                                   {composite ? 2U : 0U, distance_family::two_level},
                                                                   {n >= 3 ? 2U : 0U, distance_family::ring},
                                                                   {n == 8 ? 5U : 0U, distance_family::cube3},
                                                                   {n >= 3 ? 2U : 0U, distance_family::two_hop},
                                                                   {2, distance_family::random}});
  const std::size_t group_index = *uniform(std::max<std::size_t>(divisors(n).size(), 3) - 2);
  if (n == 1) {
    shape.family = distance_family::single_node;
  } else if (!o.distances) {
    shape.family = distance_family::kernel_default;
  } else {
    shape.family = drawn_family;
    // Two-level groups follow the packages when packages hold several nodes; otherwise
    // any proper grouping.
    if (group <= 1 || group >= n) {
      const std::vector<std::size_t> d = divisors(n);
      group = d.size() > 2 ? d[1 + group_index] : 1;
    }
  }
  shape.distances = make_distances(shape.family, n, std::max<std::size_t>(group, 1), rnd_distances);

  // OS ids: dense, or sparse within the limit.
  const bool sparse = *percent(o.sparse_ids_percent) == 1;
  const std::size_t sparse_kind = *weighted_index({1, 1, 2});
  const bool offline = *percent(o.offline_percent) == 1;
  const std::size_t offline_kind = *weighted_index({3, 2, 1, 1});
  const bool asymmetric = *percent(o.asymmetric_percent) == 1;
  const std::size_t classes_drawn = *weighted<std::size_t>({{3, 2}, {1, 3}});

  std::vector<std::size_t> ids(total);
  std::iota(ids.begin(), ids.end(), std::size_t{0});
  if (sparse && total < max_cpus) {
    const std::size_t stride_max = max_cpus / total;
    const std::size_t kind = sparse_kind == 1 && stride_max < 2 ? 2 : sparse_kind;
    if (kind == 0) {  // an offset: a machine whose first CPUs are not described
      const std::size_t offset = rnd_ids.in(1, max_cpus - total);
      for (std::size_t& id : ids) id += offset;
    } else if (kind == 1) {  // a stride: every k-th id, like a guest with holes
      const std::size_t k = rnd_ids.in(2, std::min<std::size_t>(stride_max, 4));
      for (std::size_t& id : ids) id *= k;
    } else {  // random holes
      const std::size_t span = rnd_ids.in(total + 1, std::min(max_cpus, 2 * total + 1));
      std::vector<std::size_t> all(span);
      std::iota(all.begin(), all.end(), std::size_t{0});
      for (std::size_t i = 0; i < total; ++i) std::swap(all[i], all[rnd_ids.in(i, span - 1)]);
      all.resize(total);
      std::sort(all.begin(), all.end());
      ids = all;
    }
    shape.cpu_ids = format_cpulist(ids);
  }

  // Offline CPUs: some, never all.
  if (offline && total >= 2) {
    const std::size_t per_node = total / n;
    std::size_t kind = offline_kind;
    if (kind == 1 && total == core_stride) kind = 0;  // a single core: keep part of it
    if (kind == 2 && n < 2) kind = 0;
    std::vector<bool> off(total, false);
    if (kind == 0) {  // a few random CPUs; CPU 0 stays, like the boot CPU
      const std::size_t k = rnd_offline.in(1, std::min<std::size_t>(total - 1, 8));
      for (std::size_t i = 0; i < k; ++i) off[rnd_offline.in(1, total - 1)] = true;
    } else if (kind == 1) {  // a whole core
      const std::size_t c = rnd_offline.in(0, total / core_stride - 1);
      for (std::size_t i = c * core_stride; i < (c + 1) * core_stride; ++i) off[i] = true;
    } else if (kind == 2) {  // a whole node: memory without an online CPU
      const std::size_t node = rnd_offline.in(0, n - 1);
      for (std::size_t i = node * per_node; i < (node + 1) * per_node; ++i) off[i] = true;
    } else {  // all but one
      const std::size_t keep = rnd_offline.in(0, total - 1);
      for (std::size_t i = 0; i < total; ++i) off[i] = i != keep;
    }
    std::vector<std::size_t> list;
    for (std::size_t i = 0; i < total; ++i)
      if (off[i]) list.push_back(ids[i]);
    shape.offline = format_cpulist(list);
  }

  // Asymmetric capacity: big.LITTLE-like classes of whole clusters (or cores), smaller
  // classes first as on phones.
  const std::size_t units = total / unit_stride;
  if (asymmetric && units >= 2) {
    const std::size_t classes = std::min(units, classes_drawn);
    std::vector<unsigned> caps(classes);
    caps[classes - 1] = rnd_capacity.in(0, 3) == 0 ? static_cast<unsigned>(rnd_capacity.in(2 * classes, 1023)) : 1024U;
    // Strictly rising, and room left below each class for the ones before it.
    for (std::size_t c = classes - 1; c-- > 0;) caps[c] = static_cast<unsigned>(rnd_capacity.in(c + 1, caps[c + 1] - 1));
    // Cut points between classes: each class gets at least one unit.
    std::vector<std::size_t> cut{0};
    for (std::size_t c = 1; c < classes; ++c) cut.push_back(rnd_capacity.in(cut.back() + 1, units - (classes - c)));
    cut.push_back(units);
    for (std::size_t c = 0; c < classes; ++c) {
      std::vector<std::size_t> list;
      for (std::size_t i = cut[c] * unit_stride; i < cut[c + 1] * unit_stride; ++i) list.push_back(ids[i]);
      if (!shape.capacity.empty()) shape.capacity += ',';
      shape.capacity += format_cpulist(list) + ':' + std::to_string(caps[c]);
    }
  }
  return shape;
}

}  // namespace detail

namespace gen {

/// Random machines for the limits pack `L`, from one CPU to 1024 and more (when `L`
/// allows), most of them small: SMT 1-4, optional dies, LLCs and clusters, nodes above,
/// inside and below packages, sparse ids, offline CPUs, big.LITTLE capacities and the
/// distance families of `distance_family`. Every shape builds with `make_topology<L>`.
/// Shrinks toward one CPU, fewer levels and smaller counts.
template <limits_pack L>
rc::Gen<machine_shape> machine(machine_options options = {}) {
  const std::size_t max_cpus = options.max_cpus == 0 ? L::max_cpus : std::min<std::size_t>(options.max_cpus, L::max_cpus);
  const std::size_t max_nodes =
      options.max_nodes == 0 ? L::max_nodes : std::min<std::size_t>(options.max_nodes, L::max_nodes);
  return rc::gen::exec([=] { return detail::draw_machine(max_cpus, max_nodes, options); });
}

/// The built-in machines (`machines::all`) that fit `L`, as shapes named after them;
/// shrinks toward the first. For checking a policy on the seeds' machines too.
template <limits_pack L = default_limits>
rc::Gen<machine_shape> builtin_machine() {
  std::vector<machine_shape> fit;
  auto desc = std::make_unique<machine_desc<L>>();  // large limits: too big for a stack
  for (const named_machine& m : machines::all) {
    if (!parse_spec(m.spec, *desc).ok()) continue;
    fit.push_back({std::string(m.spec.levels), std::string(m.spec.distances), std::string(m.spec.capacity),
                   std::string(m.spec.offline), std::string(m.spec.cpu_ids), distance_family::builtin,
                   std::string(m.name)});
  }
  return rc::gen::map(detail::weighted_index(std::vector<std::size_t>(fit.size(), 1)),
                      [fit](std::size_t i) { return fit[i]; });
}

}  // namespace gen
}  // namespace balancekit::check
