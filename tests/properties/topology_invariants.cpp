// Structural invariants of every topology the machine generator produces: units
// partition the CPUs and nest, nodes relate cleanly to LLCs, dies and packages, the
// distance matrix is a valid SLIT of the family the shape names, and the spec's
// capacity and offline lists are what the topology reports.
#include <balancekit/check/generators.hpp>

#include <catch2/catch.hpp>
#include <rapidcheck.h>

#include <support/property.hpp>

#include <bit>
#include <memory>
#include <set>
#include <string>
#include <vector>

using namespace balancekit;
namespace bc = balancekit::check;
using big = large_limits;
using mask = topology<big>::mask;

namespace {

void build_or_fail(const bc::machine_shape& shape, topology<big>& t) {
  const status s = make_topology(shape.spec(), t);
  if (!s) RC_FAIL("does not build: " + std::string(s.error_value().message.view()));
}

std::vector<std::size_t> node_list(const topology<big>& t) { return {t.nodes().begin(), t.nodes().end()}; }

}  // namespace

TEST_CASE("at every level the units partition the CPUs and nest inside the level above",
          "[topology][properties]") {
  auto t = std::make_unique<topology<big>>();
  REQUIRE(test::check("units partition and nest", 200, [&] {
    const bc::machine_shape shape = *bc::gen::machine<big>();
    build_or_fail(shape, *t);
    for (hw_level l : hw_levels) {
      mask all;
      std::size_t weights = 0;
      if (l == hw_level::node) {
        for (std::size_t n : t->nodes()) {
          all |= t->cpus_of_node(n);
          weights += t->cpus_of_node(n).weight();
        }
      } else {
        for (std::size_t u = 0; u < t->count(l); ++u) {
          RC_ASSERT(t->span(l, u).any());
          all |= t->span(l, u);
          weights += t->span(l, u).weight();
        }
      }
      RC_ASSERT(all == t->possible());
      RC_ASSERT(weights == t->nr_cpus());  // with the union: pairwise disjoint
    }
    for (std::size_t c : t->possible()) {
      for (hw_level l : hw_levels) RC_ASSERT(t->siblings(l, c).test(c));
      for (std::size_t l = 0; l + 1 < nested_levels; ++l)
        RC_ASSERT(t->siblings(hw_levels[l], c).subset_of(t->siblings(hw_levels[l + 1], c)));
      const mask& node = t->cpus_of_node(t->node_of(c));
      RC_ASSERT(t->siblings(hw_level::core, c).subset_of(node));
      // Every unit that meets a node meets it at some CPU c, so checking per CPU
      // covers every overlapping pair.
      for (hw_level l : {hw_level::llc, hw_level::die, hw_level::package}) {
        const mask& u = t->siblings(l, c);
        RC_ASSERT(u.subset_of(node) || node.subset_of(u));
      }
    }
  }));
}

TEST_CASE("distances are a valid SLIT, some CPU is online and capacities are in range",
          "[topology][properties]") {
  auto t = std::make_unique<topology<big>>();
  REQUIRE(test::check("distances, online and capacity", 200, [&] {
    const bc::machine_shape shape = *bc::gen::machine<big>();
    build_or_fail(shape, *t);
    for (std::size_t a : t->nodes())
      for (std::size_t b : t->nodes()) {
        RC_ASSERT(t->distance(a, b) == t->distance(b, a));
        if (a == b) {
          RC_ASSERT(t->distance(a, b) == local_distance);
        } else {
          RC_ASSERT(t->distance(a, b) > local_distance);
          RC_ASSERT(t->distance(a, b) <= max_distance);
        }
      }
    RC_ASSERT(t->online().subset_of(t->possible()));
    RC_ASSERT(t->online().any());
    const mask offline = shape.offline.empty() ? mask{} : *mask::parse(shape.offline);
    RC_ASSERT(t->online() == t->possible() - offline);
    for (std::size_t c : t->possible()) {
      RC_ASSERT(t->capacity_of(c).value >= 1U);
      RC_ASSERT(t->capacity_of(c).value <= 1024U);
      // big.LITTLE classes are whole cores: SMT siblings share a capacity.
      for (std::size_t s : t->siblings(hw_level::core, c)) RC_ASSERT(t->capacity_of(s) == t->capacity_of(c));
    }
    RC_ASSERT(t->asymmetric() == !shape.capacity.empty());
  }));
}

TEST_CASE("each distance family has the shape its name promises", "[topology][properties][generators]") {
  auto t = std::make_unique<topology<big>>();
  REQUIRE(test::check("distance families", 200, [&] {
    const bc::machine_shape shape = *bc::gen::machine<big>();
    build_or_fail(shape, *t);
    const std::vector<std::size_t> nodes = node_list(*t);
    const std::size_t n = nodes.size();
    const auto d = [&](std::size_t i, std::size_t j) -> unsigned { return t->distance(nodes[i], nodes[j]); };
    std::set<unsigned> remote;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < n; ++j)
        if (i != j) remote.insert(d(i, j));
    RC_TAG(to_string(shape.family));
    switch (shape.family) {
      case bc::distance_family::single_node: RC_ASSERT(n == 1U); break;
      case bc::distance_family::kernel_default:
        RC_ASSERT(n >= 2U);
        RC_ASSERT(remote == std::set<unsigned>{remote_distance});
        break;
      case bc::distance_family::flat: RC_ASSERT(remote.size() == 1U); break;
      case bc::distance_family::two_level: RC_ASSERT(remote.size() == 2U); break;
      case bc::distance_family::ring: {
        RC_ASSERT(n >= 3U);
        const unsigned k = d(0, 1) - local_distance;
        for (std::size_t i = 0; i < n; ++i)
          for (std::size_t j = 0; j < n; ++j) {
            const std::size_t gap = i > j ? i - j : j - i;
            RC_ASSERT(d(i, j) == local_distance + k * static_cast<unsigned>(std::min(gap, n - gap)));
          }
        break;
      }
      case bc::distance_family::cube3: {
        RC_ASSERT(n == 8U);
        const unsigned k = d(0, 1) - local_distance;
        for (std::size_t i = 0; i < n; ++i)
          for (std::size_t j = 0; j < n; ++j)
            RC_ASSERT(d(i, j) == local_distance + k * static_cast<unsigned>(std::popcount(i ^ j)));
        break;
      }
      case bc::distance_family::two_hop: {
        // Near pairs form a connected graph of diameter exactly 2; far pairs are the
        // ones two hops apart.
        RC_ASSERT(remote.size() == 2U);
        const unsigned one = *remote.begin();
        for (std::size_t i = 0; i < n; ++i)
          for (std::size_t j = 0; j < n; ++j) {
            if (i == j || d(i, j) == one) continue;
            bool via = false;
            for (std::size_t k = 0; k < n && !via; ++k) via = d(i, k) == one && d(k, j) == one;
            RC_ASSERT(via);
          }
        break;
      }
      case bc::distance_family::random: RC_ASSERT(n >= 2U); break;
      case bc::distance_family::builtin: RC_FAIL("the random generator named a built-in family");
    }
  }));
}
