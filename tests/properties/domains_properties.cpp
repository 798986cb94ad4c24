// Domain-tree invariants over random machines (I13, I14 and the metaflag rules of
// reference/verification-anchors.md), and the Wasted Cores group-construction scenario.
#include <balancekit/check/generators.hpp>
#include <balancekit/domains.hpp>
#include <balancekit/topology/machines.hpp>

#include <catch2/catch.hpp>

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "support/property.hpp"

namespace balancekit {
// So RapidCheck can print counterexamples that include build options.
inline std::ostream& operator<<(std::ostream& os, kernel_profile p) { return os << to_string(p); }
inline std::ostream& operator<<(std::ostream& os, arch_rules a) { return os << (a == arch_rules::x86 ? "x86" : "generic"); }
}  // namespace balancekit

using namespace balancekit;
namespace bc = balancekit::check;
using L = default_limits;
using tree_t = domain_tree<L>;
using mask = tree_t::mask;

namespace {

struct storage {
  std::unique_ptr<topology<L>> topo = std::make_unique<topology<L>>();
  std::unique_ptr<tree_t> tree = std::make_unique<tree_t>();
  std::unique_ptr<tree_t> again = std::make_unique<tree_t>();
};

// Levels the build needs: the table (x86 may drop one) plus one per distinct distance
// between nodes with online CPUs.
std::size_t numa_levels(const topology<L>& t) {
  std::vector<bool> seen(max_distance + 1);
  cpumask<L::max_nodes> nodes;
  for (std::size_t c : t.online()) nodes.set(t.node_of(c));
  std::size_t n = 0;
  for (std::size_t a : nodes)
    for (std::size_t b : nodes)
      if (!seen[t.distance(a, b)]) {
        seen[t.distance(a, b)] = true;
        ++n;
      }
  return n;
}

// Builds the machine's domains; machines with more distinct distances than the level
// limit must fail with over_limit, leave the tree empty, and are then discarded.
void build_or_fail(const bc::machine_shape& shape, storage& s, const domain_options& opts) {
  if (status st = make_topology(shape.spec(), *s.topo); !st) RC_FAIL("topology: " + std::string(st.error_value().message.view()));
  const status st = tree_t::build(*s.topo, opts, *s.tree);
  // x86 drops the DIE/PKG row when a die holds CPUs of two nodes.
  bool numa_in_die = false;
  for (std::size_t c : s.topo->online())
    for (std::size_t o : s.topo->siblings(hw_level::die, c) & s.topo->online())
      numa_in_die = numa_in_die || s.topo->node_of(o) != s.topo->node_of(c);
  const std::size_t table = default_levels(opts.profile).size() - (opts.arch == arch_rules::x86 && numa_in_die ? 1 : 0);
  if (table + numa_levels(*s.topo) > L::max_levels) {
    RC_ASSERT(!st.ok() && st.error_value().code == errc::over_limit);
    RC_ASSERT(s.tree->cpu_map().empty());
    RC_DISCARD("more NUMA levels than the limits allow");
  }
  if (!st) RC_FAIL("domains: " + std::string(st.error_value().message.view()));
}

// The CPUs of node `n` that domains see.
mask node_cpus(const topology<L>& t, const tree_t& tree, std::size_t n) { return t.cpus_of_node(n) & tree.cpu_map(); }

// Some group separates nodes a and b: it holds all of one and none of the other.
template <class Groups>
bool separable(const Groups& groups, const mask& a, const mask& b) {
  for (const mask& g : groups)
    if ((a.subset_of(g) && !b.intersects(g)) || (b.subset_of(g) && !a.intersects(g))) return true;
  return false;
}

// I14 for one CPU: at every NUMA domain, each node that joins at this level (in the span
// but not in the child's) is separable from the CPU's own node by the CPU's groups.
template <class GroupsOf>
std::string perspective_violation(const topology<L>& t, const tree_t& tree, std::size_t cpu, GroupsOf&& groups_of) {
  const mask own = node_cpus(t, tree, t.node_of(cpu));
  for (std::size_t k = 1; k < tree.nr_domains(cpu); ++k) {
    const auto& d = tree.domain_of(cpu, k);
    if (!d.flags.has(sd_flag::numa)) continue;
    const mask joined = tree.span(d) - tree.span(tree.domain_of(cpu, k - 1));
    const std::vector<mask> groups = groups_of(cpu, k);
    for (std::size_t n : t.nodes()) {
      const mask other = node_cpus(t, tree, n);
      if (n == t.node_of(cpu) || other.empty() || !other.subset_of(joined)) continue;
      if (!separable(groups, own, other))
        return "CPU " + std::to_string(cpu) + " domain " + std::to_string(k) + ": node " + std::to_string(t.node_of(cpu)) +
               " and node " + std::to_string(n) + " are in the same groups";
    }
  }
  return {};
}

std::vector<mask> own_groups(const tree_t& tree, std::size_t cpu, std::size_t k) {
  std::vector<mask> v;
  const auto& d = tree.domain_of(cpu, k);
  for (std::size_t g = 0; g < d.nr_groups; ++g) v.push_back(tree.span(tree.group_of(d, g)));
  return v;
}

// The pre-4.13 construction: every CPU's overlapping groups are the ones built from the
// first CPU of the span (in effect, CPU 0's perspective). Kept here only to show that I14
// catches it.
std::vector<mask> first_cpu_perspective_groups(const tree_t& tree, std::size_t cpu, std::size_t k) {
  const auto& d = tree.domain_of(cpu, k);
  const mask& span = tree.span(d);
  std::vector<mask> v;
  mask covered;
  for (std::size_t i : span) {
    if (covered.test(i)) continue;
    const int ki = tree.find_domain(i, d.level);
    if (ki <= 0) continue;
    const mask child = tree.span(tree.domain_of(i, static_cast<std::size_t>(ki) - 1));
    v.push_back(child);
    covered |= child;
  }
  return v;
}

}  // namespace

TEST_CASE("domain trees of random machines are well formed", "[domains][properties]") {
  storage s;
  REQUIRE(test::check("domains are well formed (I13)", 500, [&] {
    const bc::machine_shape shape = *bc::gen::machine<L>();
    build_or_fail(shape, s, {});
    const auto& t = *s.topo;
    const auto& tree = *s.tree;
    RC_ASSERT(tree.cpu_map() == t.online());
    for (std::size_t cpu : tree.cpu_map()) {
      const std::size_t n = tree.nr_domains(cpu);
      if (tree.cpu_map().weight() > 1) RC_ASSERT(n >= 1);
      for (std::size_t k = 0; k < n; ++k) {
        const auto& d = tree.domain_of(cpu, k);
        const mask& span = tree.span(d);
        RC_ASSERT(span.test(cpu));                                   // the CPU is in its domain
        RC_ASSERT(span.weight() == d.span_weight);
        if (k + 1 < n) RC_ASSERT(span.subset_of(tree.span(tree.domain_of(cpu, k + 1))));  // spans nest
        RC_ASSERT(d.nr_groups >= 1);
        mask all;
        mask seen;
        bool disjoint = true;
        for (std::size_t g = 0; g < d.nr_groups; ++g) {
          const auto& grp = tree.group_of(d, g);
          const mask& gs = tree.span(grp);
          RC_ASSERT(gs.any());                                       // no empty group
          RC_ASSERT(gs.subset_of(span));
          RC_ASSERT(tree.balance_mask(grp).any() && tree.balance_mask(grp).subset_of(gs));
          disjoint = disjoint && !seen.intersects(gs);
          seen |= gs;
          all |= gs;
          // Capacity sums the CPUs of the group (no RT/IRQ pressure in a fresh build).
          std::uint64_t cap = 0;
          for (std::size_t c : gs) cap += t.capacity_of(c).value;
          RC_ASSERT(grp.capacity == cap);
          RC_ASSERT(grp.weight == gs.weight());
        }
        RC_ASSERT(all == span);                                      // groups cover the span
        if (!d.flags.has(sd_flag::numa)) RC_ASSERT(disjoint);        // only NUMA groups overlap
        const mask& first = tree.span(tree.group_of(d, 0));
        RC_ASSERT(first.test(cpu));                                  // first group holds the CPU
        if (k > 0) RC_ASSERT(first == tree.span(tree.domain_of(cpu, k - 1)));  // ... and is the child
        // Metaflags: SHARED_CHILD flags are on the child, SHARED_PARENT flags on the parent.
        for (const auto& meta : sd_flag_metaflags) {
          if (!d.flags.has(meta.flag)) continue;
          if (meta.shared_child && k > 0) RC_ASSERT(tree.domain_of(cpu, k - 1).flags.has(meta.flag));
          if (meta.shared_parent && k + 1 < n) RC_ASSERT(tree.domain_of(cpu, k + 1).flags.has(meta.flag));
        }
      }
      // No attached domain is degenerate: each has two groups or a wake-affine role.
      for (std::size_t k = 0; k < n; ++k) {
        const auto& d = tree.domain_of(cpu, k);
        RC_ASSERT(d.span_weight > 1);
        RC_ASSERT(d.nr_groups >= 2 || d.flags.has(sd_flag::wake_affine));
      }
      if (n > 0) RC_ASSERT(tree.span(tree.domain_of(cpu, n - 1)) == tree.cpu_map());  // top spans every CPU
    }
  }));
}

TEST_CASE("each CPU's NUMA groups separate its node from every node that joins a level (I14)",
          "[domains][properties]") {
  storage s;
  REQUIRE(test::check("per-CPU perspective (I14)", 500, [&] {
    const bc::machine_shape shape = *bc::gen::machine<L>();
    build_or_fail(shape, s, {});
    for (std::size_t cpu : s.tree->cpu_map()) {
      const std::string v = perspective_violation(*s.topo, *s.tree, cpu,
                                                  [&](std::size_t c, std::size_t k) { return own_groups(*s.tree, c, k); });
      RC_ASSERT(v == std::string{});
    }
  }));
}

TEST_CASE("building domains twice gives identical trees, for both kernel profiles", "[domains][properties]") {
  storage s;
  REQUIRE(test::check("domains are deterministic", 200, [&] {
    const bc::machine_shape shape = *bc::gen::machine<L>();
    domain_options opts;
    opts.profile = *rc::gen::element(kernel_profile::linux_6_1, kernel_profile::mainline, kernel_profile::linux_6_12);
    opts.arch = *rc::gen::element(arch_rules::x86, arch_rules::generic);
    build_or_fail(shape, s, opts);
    RC_ASSERT(tree_t::build(*s.topo, opts, *s.again).ok());
    std::string a;
    std::string b;
    format_sched_verbose(*s.tree, [&](std::string_view p) { a += p; });
    format_sched_verbose(*s.again, [&](std::string_view p) { b += p; });
    format_debugfs(*s.tree, [&](std::string_view p) { a += p; });
    format_debugfs(*s.again, [&](std::string_view p) { b += p; });
    RC_ASSERT(a == b);
    RC_ASSERT(a.find("ERROR") == std::string::npos);
  }));
}

TEST_CASE("groups built from CPU 0's perspective fail I14 on the Wasted Cores machine; ours pass",
          "[domains][wasted-cores]") {
  storage s;
  REQUIRE(make_topology(machines::opteron64.spec, *s.topo).ok());
  REQUIRE(tree_t::build(*s.topo, {}, *s.tree).ok());
  const auto& tree = *s.tree;
  // CPU 16 is on node 2; node 1 (CPUs 8-15) joins at its top level (distance 22).
  const std::string old_way = perspective_violation(
      *s.topo, tree, 16, [&](std::size_t c, std::size_t k) { return first_cpu_perspective_groups(tree, c, k); });
  CHECK(old_way == "CPU 16 domain 3: node 2 and node 1 are in the same groups");  // CLS, MC, NUMA 16, NUMA 22
  for (std::size_t cpu : tree.cpu_map())
    CHECK(perspective_violation(*s.topo, tree, cpu, [&](std::size_t c, std::size_t k) { return own_groups(tree, c, k); }) ==
          std::string{});
}

TEST_CASE("NUMA diameter 3 needs descended siblings: first-CPU groups would not cover the span",
          "[domains][wasted-cores]") {
  // Scenario S5: without find_descended_sibling the top domain's groups miss CPUs.
  storage s;
  REQUIRE(make_topology({"package:4 numa:1 l3:1 core:2 pu:1", "10 12 20 22;12 10 22 24;20 22 10 12;22 24 12 10"}, *s.topo).ok());
  REQUIRE(tree_t::build(*s.topo, {}, *s.tree).ok());
  const auto& tree = *s.tree;
  for (std::size_t cpu : tree.cpu_map()) {
    const std::size_t top = tree.nr_domains(cpu) - 1;
    mask all;
    for (const mask& g : own_groups(tree, cpu, top)) all |= g;
    CHECK(all == tree.cpu_map());
    CHECK(perspective_violation(*s.topo, tree, cpu, [&](std::size_t c, std::size_t k) { return own_groups(tree, c, k); }) ==
          std::string{});
  }
}
