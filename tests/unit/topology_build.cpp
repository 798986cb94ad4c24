// The builder validates machines that come from explicit per-CPU descriptions
// (the hwloc adapter's path): nesting, duplicates, CPU-less and sparse nodes.
#include <balancekit/topology/topology.hpp>

#include <catch2/catch.hpp>

#include <initializer_list>
#include <string>

using namespace balancekit;

namespace {
// unit keys: core, cluster, llc, die, package
cpu_desc cpu(std::uint32_t id, std::array<std::uint32_t, 5> unit, std::uint32_t node = 0) {
  cpu_desc c;
  c.id = id;
  c.unit = unit;
  c.node = node;
  return c;
}
machine_desc<small_limits> desc(std::initializer_list<cpu_desc> cpus) {
  machine_desc<small_limits> d;
  for (const auto& c : cpus) d.cpus.push_back(c);
  return d;
}
std::string build_error(const machine_desc<small_limits>& d) {
  topology<small_limits> t;
  const status s = topology<small_limits>::build(d, t);
  REQUIRE_FALSE(s.ok());
  CHECK(t.nr_cpus() == 0);
  return std::string(s.error_value().message.view());
}
}  // namespace

TEST_CASE("an SMT core spanning two LLCs is rejected and both CPUs are named", "[topology][errors]") {
  const auto d = desc({cpu(0, {0, 0, 0, 0, 0}), cpu(1, {0, 0, 1, 0, 0})});
  const std::string e = build_error(d);
  CHECK_THAT(e, Catch::Contains("CPU 0 and CPU 1 share a core but not an LLC"));
}

TEST_CASE("an SMT core spanning two nodes is rejected", "[topology][errors]") {
  const auto d = desc({cpu(0, {0, 0, 0, 0, 0}, 0), cpu(1, {0, 0, 0, 0, 0}, 1)});
  CHECK_THAT(build_error(d), Catch::Contains("nodes 0 and 1"));
}

TEST_CASE("an LLC that partly overlaps a node is rejected and both are named", "[topology][errors]") {
  // LLC {0,1,2} and node 1 = {2,3}: neither contains the other.
  const auto d = desc({cpu(0, {0, 0, 0, 0, 0}, 0), cpu(1, {1, 1, 0, 0, 0}, 0), cpu(2, {2, 2, 0, 0, 0}, 1),
                       cpu(3, {3, 3, 3, 0, 0}, 1)});
  CHECK_THAT(build_error(d), Catch::Contains("llc with CPUs 0-2 and node 1 with CPUs 2-3 partly overlap"));
}

TEST_CASE("an LLC spanning two whole nodes is accepted, as in VMs", "[topology]") {
  auto d = desc({cpu(0, {0, 0, 0, 0, 0}, 0), cpu(1, {1, 1, 0, 0, 0}, 1)});
  topology<small_limits> t;
  REQUIRE(topology<small_limits>::build(d, t).ok());
  CHECK(t.siblings(hw_level::llc, 0).weight() == 2);
  CHECK(t.count(hw_level::node) == 2);
}

TEST_CASE("a CPU described twice is rejected", "[topology][errors]") {
  CHECK_THAT(build_error(desc({cpu(3, {0, 0, 0, 0, 0}), cpu(3, {1, 1, 1, 0, 0})})),
             Catch::Contains("CPU 3 is described twice"));
}

TEST_CASE("CPU ids and unit keys beyond the limits are rejected", "[topology][errors]") {
  CHECK_THAT(build_error(desc({cpu(64, {0, 0, 0, 0, 0})})), Catch::Contains("CPU 64"));
  CHECK_THAT(build_error(desc({cpu(0, {0, 0, 99, 0, 0})})), Catch::Contains("llc key 99"));
  CHECK_THAT(build_error(desc({cpu(0, {0, 0, 0, 0, 0}, 8)})), Catch::Contains("node 8"));
  CHECK_THAT(build_error(machine_desc<small_limits>{}), Catch::Contains("no CPUs"));
}

TEST_CASE("CPU-less and sparse nodes keep their ids and distances map in ascending id order", "[topology]") {
  auto d = desc({cpu(0, {0, 0, 0, 0, 0}, 1), cpu(5, {5, 5, 5, 5, 5}, 4)});
  d.nodes.set(6);  // a CPU-less node (CXL memory, say)
  for (std::uint16_t v : std::initializer_list<std::uint16_t>{10, 21, 31, 21, 10, 17, 31, 17, 10}) d.distances.push_back(v);
  topology<small_limits> t;
  const status s = topology<small_limits>::build(d, t);
  REQUIRE(s.ok());
  CHECK(t.count(hw_level::node) == 3);
  CHECK(t.cpus_of_node(6).empty());
  CHECK(t.distance(1, 4) == 21);
  CHECK(t.distance(4, 6) == 17);
  CHECK(t.distance(6, 1) == 31);
  CHECK(t.unit_of(hw_level::package, 5) == 1);  // dense, ordered by first CPU
  CHECK(t.nr_cpu_ids() == 6);
}

TEST_CASE("a distance matrix of the wrong size for the nodes is rejected", "[topology][errors]") {
  auto d = desc({cpu(0, {0, 0, 0, 0, 0}, 0), cpu(1, {1, 1, 1, 1, 1}, 1)});
  for (std::uint16_t v : std::initializer_list<std::uint16_t>{10, 20, 20}) d.distances.push_back(v);
  CHECK_THAT(build_error(d), Catch::Contains("3 entries for 2 nodes"));
}

TEST_CASE("a failed build leaves a previously built topology empty", "[topology][errors]") {
  topology<small_limits> t;
  REQUIRE(topology<small_limits>::build(desc({cpu(0, {0, 0, 0, 0, 0})}), t).ok());
  REQUIRE(t.nr_cpus() == 1);
  CHECK_FALSE(topology<small_limits>::build(desc({cpu(0, {0, 0, 0, 0, 0}), cpu(0, {0, 0, 0, 0, 0})}), t).ok());
  CHECK(t.nr_cpus() == 0);
  CHECK(t == topology<small_limits>{});
}
