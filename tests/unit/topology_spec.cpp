#include <balancekit/topology/spec.hpp>

#include <catch2/catch.hpp>

#include <memory>
#include <string>

using namespace balancekit;
using mask = cpumask<default_limits::max_cpus>;

namespace {
mask cpus(const char* list) { return *mask::parse(list); }

std::unique_ptr<topology<default_limits>> build(const machine_spec& spec) {
  auto t = std::make_unique<topology<default_limits>>();
  const status s = make_topology(spec, *t);
  INFO((s ? "" : std::string(s.error_value().message.view())));
  REQUIRE(s.ok());
  return t;
}

// A machine small enough to build at compile time: 2 packages x 2 LLCs x 2 cores x 2 threads.
constexpr bool small_machine_is_numbered_depth_first() {
  const auto r = make_topology<small_limits>({"package:2 l3:2 core:2 pu:2"});
  if (!r) return false;
  const auto& t = *r;
  return t.nr_cpus() == 16 && t.count(hw_level::package) == 2 && t.count(hw_level::llc) == 4 &&
         t.count(hw_level::core) == 8 && t.unit_of(hw_level::llc, 13) == 3 &&
         t.siblings(hw_level::core, 13) == cpumask<64>::range(12, 13) &&
         t.siblings(hw_level::package, 13) == cpumask<64>::range(8, 15) && t.count(hw_level::node) == 1 &&
         t.distance(0, 0) == 10;
}
}  // namespace

TEST_CASE("a topology literal is checked at compile time and at run time", "[topology][constexpr]") {
  STATIC_REQUIRE(small_machine_is_numbered_depth_first());
  REQUIRE(small_machine_is_numbered_depth_first());
}

TEST_CASE("the issue's example spec numbers CPUs depth-first like hwloc", "[topology]") {
  // 2 packages x 3 nodes x 2 LLCs x 4 cores x 2 threads = 96; per package 48, node 16, LLC 8.
  const auto t = build({"package:2 numa:3 l3:2 core:4 pu:2"});
  CHECK(t->nr_cpus() == 96);
  CHECK(t->count(hw_level::package) == 2);
  CHECK(t->count(hw_level::node) == 6);
  CHECK(t->count(hw_level::llc) == 12);
  CHECK(t->count(hw_level::core) == 48);
  CHECK(t->node_of(17) == 1);
  CHECK(t->cpus_of_node(1) == cpus("16-31"));
  CHECK(t->siblings(hw_level::llc, 17) == cpus("16-23"));
  CHECK(t->siblings(hw_level::core, 17) == cpus("16-17"));
  CHECK(t->siblings(hw_level::package, 50) == cpus("48-95"));
  CHECK(t->node_of(50) == 3);
  // Levels not given default: die = package, cluster = core.
  CHECK(t->siblings(hw_level::die, 50) == cpus("48-95"));
  CHECK(t->siblings(hw_level::cluster, 17) == cpus("16-17"));
  CHECK_FALSE(t->described(hw_level::die));
  CHECK(t->described(hw_level::llc));
}

TEST_CASE("level aliases mean the same levels", "[topology]") {
  const auto a = build({"socket:2 node:2 llc:1 l2:2 core:2 thread:2"});
  const auto b = build({"package:2 numa:2 l3:1 cluster:2 core:2 pu:2"});
  const auto c = build({"PACK:2 NUMA:2 L3CACHE:1 L2CACHE:2 Core:2 PU:2"});
  CHECK(*a == *b);
  CHECK(*b == *c);
  CHECK(a->siblings(hw_level::cluster, 5) == cpus("4-7"));
}

TEST_CASE("a NUMA level above the package makes nodes that contain packages", "[topology]") {
  const auto t = build({"numa:2 package:2 core:2 pu:1"});
  CHECK(t->count(hw_level::package) == 4);
  CHECK(t->cpus_of_node(0) == cpus("0-3"));
  CHECK(t->siblings(hw_level::package, 2) == cpus("2-3"));
}

TEST_CASE("without l3 or cluster the LLC is the core, as hwloc and the kernel see it", "[topology]") {
  const auto t = build({"package:2 core:4 pu:2"});
  CHECK(t->siblings(hw_level::llc, 3) == cpus("2-3"));
  const auto c = build({"package:1 cluster:2 core:2 pu:1"});
  CHECK(c->siblings(hw_level::llc, 3) == cpus("2-3"));  // the cluster's shared L2
}

TEST_CASE("a spec without core gives every PU its own core", "[topology]") {
  const auto t = build({"package:2 pu:3"});
  CHECK(t->count(hw_level::core) == 6);
  CHECK(t->siblings(hw_level::core, 4) == cpus("4"));
}

TEST_CASE("distances accept semicolons, newlines, spaces and commas", "[topology]") {
  const auto t = build({"numa:3 core:1", "10, 12, 32\n12 10 32; 32 32 10"});
  CHECK(t->distance(0, 1) == 12);
  CHECK(t->distance(2, 0) == 32);
  CHECK(t->distance(2, 2) == 10);
}

TEST_CASE("without distances, nodes are 10 apart locally and 20 remotely like the kernel default", "[topology]") {
  const auto t = build({"numa:3 core:1"});
  CHECK(t->distance(1, 1) == 10);
  CHECK(t->distance(1, 2) == 20);
}

TEST_CASE("capacities apply to the CPU lists before each value", "[topology]") {
  const auto t = build({"core:8", "", "0,2:512 4-5:446;7:1"});
  CHECK(t->capacity_of(0) == capacity{512});
  CHECK(t->capacity_of(1) == capacity{1024});
  CHECK(t->capacity_of(2) == capacity{512});
  CHECK(t->capacity_of(5) == capacity{446});
  CHECK(t->capacity_of(7) == capacity{1});
  CHECK(t->asymmetric());
}

TEST_CASE("cpu ids map logical CPUs to sparse OS ids in order", "[topology]") {
  const auto t = build({"package:2 core:2 pu:1", "", "8-9:446", "1", "0-1,8-9"});
  CHECK(t->possible() == cpus("0-1,8-9"));
  CHECK(t->nr_cpu_ids() == 10);
  CHECK(t->siblings(hw_level::package, 8) == cpus("8-9"));
  CHECK(t->online() == cpus("0,8-9"));
  CHECK(t->capacity_of(9) == capacity{446});
  CHECK_FALSE(t->has_cpu(5));
}

TEST_CASE("a cluster alone in its LLC is the core, as the kernel's cluster mask is", "[topology]") {
  const auto t = build({"package:1 l2:1 core:2 pu:1"});  // one L2 shared by both cores: the LLC
  CHECK(t->siblings(hw_level::llc, 0) == cpus("0-1"));
  CHECK(t->siblings(hw_level::cluster, 0) == cpus("0"));
  const auto u = build({"l3:1 numa:2 cluster:1 core:2 pu:1"});  // two clusters per LLC: kept
  CHECK(u->siblings(hw_level::cluster, 0) == cpus("0-1"));
}
