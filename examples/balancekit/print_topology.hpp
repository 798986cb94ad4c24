// Prints a topology as a tree for people: counts, the hierarchy down to a chosen depth,
// capacities and the NUMA distance matrix.
#pragma once

#include <balancekit/topology/topology.hpp>

#include <fmt/format.h>

#include <array>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace bkcli {

using balancekit::hw_level;

inline std::string plural(std::size_t n, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

template <class Topology>
class topology_printer {
public:
  using mask = typename Topology::mask;

  topology_printer(const Topology& t, std::FILE* out) : t_(t), out_(out) {}

  void summary() const {
    const auto& t = t_;
    fmt::print(out_, "{} ({} online, ids {}), {}, {}, {}, {}, {}, {}\n", plural(t.nr_cpus(), "CPU", "CPUs"),
               t.online().weight(), to_cpulist(t.possible()), plural(t.count(hw_level::package), "package", "packages"),
               plural(t.count(hw_level::die), "die", "dies"), plural(t.count(hw_level::node), "NUMA node", "NUMA nodes"),
               plural(t.count(hw_level::llc), "LLC", "LLCs"), plural(t.count(hw_level::cluster), "cluster", "clusters"),
               plural(t.count(hw_level::core), "core", "cores"));
    std::vector<std::string> defaulted;
    for (hw_level l : {hw_level::package, hw_level::die, hw_level::llc, hw_level::cluster, hw_level::core, hw_level::node})
      if (!t.described(l)) defaulted.emplace_back(to_string(l));
    if (!defaulted.empty()) fmt::print(out_, "not described (defaulted): {}\n", fmt::join(defaulted, ", "));
    const mask offline = t.possible() - t.online();
    if (offline.any()) fmt::print(out_, "offline: {}\n", to_cpulist(offline));
    std::map<std::uint64_t, mask> by_capacity;
    for (std::size_t c : t.possible()) by_capacity[t.capacity_of(c).value].set(c);
    std::vector<std::string> caps;
    for (const auto& [cap, cpus] : by_capacity) caps.push_back(fmt::format("{} on {}", cap, to_cpulist(cpus)));
    fmt::print(out_, "capacity: {}{}\n", fmt::join(caps, "; "), by_capacity.size() > 1 ? " (asymmetric)" : "");
  }

  /// The tree: levels outermost first, a level equal to its parent folded into it.
  void tree(hw_level depth) const {
    const auto [chain, node_in_chain] = display_chain(depth);
    fmt::print(out_, "machine  cpus {}\n", to_cpulist(t_.possible()));
    walk(chain, 0, t_.possible(), 1);
    if (!node_in_chain && t_.count(hw_level::node) > 1) {
      fmt::print(out_, "NUMA nodes (they do not nest with the levels above, e.g. an LLC spans nodes):\n");
      for (std::size_t n : t_.nodes()) fmt::print(out_, "  node {}  cpus {}\n", n, to_cpulist(t_.cpus_of_node(n)));
    }
  }

  void distances() const {
    const auto& nodes = t_.nodes();
    if (nodes.weight() < 2) return;
    fmt::print(out_, "NUMA distances (SLIT):\n{:>6}", "node");
    for (std::size_t b : nodes) fmt::print(out_, "{:>4}", b);
    fmt::print(out_, "\n");
    for (std::size_t a : nodes) {
      fmt::print(out_, "{:>5}:", a);
      for (std::size_t b : nodes) fmt::print(out_, "{:>4}", t_.distance(a, b));
      fmt::print(out_, "\n");
    }
  }

private:
  // One printed level; `levels` holds the levels folded into it (same partition).
  struct step {
    std::vector<hw_level> levels;
  };
  struct chain_result {
    std::vector<step> chain;
    bool node_in_chain = false;
  };

  // Units of `l` partition the CPUs the same way as units of `m`.
  bool same_partition(hw_level l, hw_level m) const {
    for (std::size_t c : t_.possible())
      if (!(t_.siblings(l, c) == t_.siblings(m, c))) return false;
    return true;
  }
  // Every unit of `inner` lies within a unit of `outer`.
  bool nests_in(hw_level inner, hw_level outer) const {
    for (std::size_t c : t_.possible())
      if (!t_.siblings(inner, c).subset_of(t_.siblings(outer, c))) return false;
    return true;
  }

  chain_result display_chain(hw_level depth) const {
    // The nested levels outermost first; the node goes at the first place where it lies
    // within the level above and contains the units of the level below.
    std::vector<hw_level> order{hw_level::package, hw_level::die, hw_level::llc, hw_level::cluster, hw_level::core};
    std::size_t insert_at = order.size() + 1;  // not in the chain
    if (nests_in(hw_level::package, hw_level::node)) {
      insert_at = 0;
    } else {
      for (std::size_t i = 0; i + 1 < order.size() && insert_at > order.size(); ++i)
        if (nests_in(hw_level::node, order[i]) && nests_in(order[i + 1], hw_level::node)) insert_at = i + 1;
    }
    chain_result r;
    if (insert_at <= order.size()) {
      order.insert(order.begin() + static_cast<std::ptrdiff_t>(insert_at), hw_level::node);
      r.node_in_chain = true;
    }
    for (hw_level l : order) {
      if (!r.chain.empty() && same_partition(l, r.chain.back().levels.front())) {
        r.chain.back().levels.push_back(l);
      } else {
        r.chain.push_back({{l}});
      }
      if (l == depth) break;
    }
    return r;
  }

  std::string leaf_detail(const mask& cpus) const {
    std::map<std::size_t, std::size_t> core_sizes;  // threads per core -> cores
    mask seen;
    for (std::size_t c : cpus) {
      if (seen.test(c)) continue;
      const mask& core = t_.siblings(hw_level::core, c);
      seen |= core;
      ++core_sizes[core.weight()];
    }
    std::vector<std::string> parts;
    for (const auto& [threads, cores] : core_sizes)
      parts.push_back(fmt::format("{} x {}", plural(cores, "core", "cores"), plural(threads, "thread", "threads")));
    return fmt::format("{}", fmt::join(parts, " + "));
  }

  void walk(const std::vector<step>& chain, std::size_t at, const mask& within, int indent) const {
    if (at == chain.size()) return;
    mask done;
    for (std::size_t c : within) {
      if (done.test(c)) continue;
      const mask part = t_.siblings(chain[at].levels.front(), c) & within;
      done |= part;
      std::vector<std::string> names;
      for (hw_level l : chain[at].levels) names.push_back(fmt::format("{} {}", to_string(l), t_.unit_of(l, c)));
      const bool leaf = at + 1 == chain.size();
      const bool one_core = part == t_.siblings(hw_level::core, c);
      fmt::print(out_, "{:{}}{}  cpus {}{}\n", "", indent * 2, fmt::join(names, " = "), to_cpulist(part),
                 leaf && !one_core ? "  " + leaf_detail(part) : std::string{});
      walk(chain, at + 1, part, indent + 1);
    }
  }

  const Topology& t_;
  std::FILE* out_;
};

}  // namespace bkcli
