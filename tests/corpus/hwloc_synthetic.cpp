// balancekit's spec parser and hwloc's synthetic parser read the same level string into
// the same machine: for every CPU the siblings at every level agree, and so do the counts.
#include <balancekit/adapters/hwloc.hpp>
#include <balancekit/check/generators.hpp>
#include <balancekit/topology/spec.hpp>

#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "support/property.hpp"

using namespace balancekit;

namespace {

using lim = default_limits;

/// Empty when both agree, else what differs (for the failure message).
std::string compare(const topology<lim>& ours, const topology<lim>& theirs) {
  if (ours.possible() != theirs.possible())
    return "CPU sets differ: " + std::to_string(ours.nr_cpus()) + " vs " + std::to_string(theirs.nr_cpus());
  for (hw_level l : hw_levels) {
    for (std::size_t cpu : ours.possible()) {
      if (ours.siblings(l, cpu) != theirs.siblings(l, cpu))
        return "CPU " + std::to_string(cpu) + ": " + std::string(to_string(l)) + " siblings differ";
    }
    if (ours.count(l) != theirs.count(l))
      return std::string(to_string(l)) + " count " + std::to_string(ours.count(l)) + " vs " +
             std::to_string(theirs.count(l));
  }
  return {};
}

/// Builds `levels` both ways; empty string on agreement, else the reason.
std::string both_ways(const std::string& levels, topology<lim>& ours, topology<lim>& theirs) {
  if (const status s = make_topology(machine_spec{levels}, ours); !s)
    return "spec parser: " + std::string(s.error_value().message.view());
  const auto synthetic = hwloc::to_hwloc_synthetic(levels);
  if (!synthetic) return "to_hwloc_synthetic: " + std::string(synthetic.error_value().message.view());
  if (const status s = hwloc::load_synthetic(*synthetic, theirs); !s)
    return "hwloc: " + std::string(s.error_value().message.view());
  return compare(ours, theirs);
}

}  // namespace

TEST_CASE("the spec parser and hwloc's synthetic parser agree on random level strings", "[topology][hwloc]") {
  auto ours = std::make_unique<topology<lim>>();
  auto theirs = std::make_unique<topology<lim>>();
  REQUIRE(test::check("spec and hwloc synthetic agree", 200, [&] {
    const std::string levels = *check::gen::levels(256, 32);
    const std::string diff = both_ways(levels, *ours, *theirs);
    RC_ASSERT(diff == std::string{});
  }));
}

TEST_CASE("the spec parser and hwloc agree on hand-picked shapes", "[topology][hwloc]") {
  auto ours = std::make_unique<topology<lim>>();
  auto theirs = std::make_unique<topology<lim>>();
  const auto shape = GENERATE(as<std::string>{},
                              "pack:2 numa:3 l3:2 core:4 pu:2",  // SNC-like: three nodes per package
                              "numa:2 pack:2 core:2 pu:2",       // a node spanning two packages
                              "pack:2 l3:2 l2:2 core:4 pu:2",    // clusters of 4 cores under each LLC
                              "pack:2 die:2 l3:1 core:3 pu:1",   // dies, one LLC each
                              "socket:1 node:2 llc:2 cluster:2 core:2 thread:2",  // the aliases
                              "pack:2 core:2",                   // no pu level: hwloc needs pu:1 added
                              "pu:1");
  INFO(shape);
  CHECK(both_ways(shape, *ours, *theirs) == std::string{});
  CHECK(theirs->nr_cpus() >= 1);
}

TEST_CASE("the SNC-like shape has the expected units on both sides", "[topology][hwloc]") {
  auto ours = std::make_unique<topology<lim>>();
  auto theirs = std::make_unique<topology<lim>>();
  REQUIRE(both_ways("pack:2 numa:3 l3:2 core:4 pu:2", *ours, *theirs) == std::string{});
  CHECK(theirs->nr_cpus() == 96);
  CHECK(theirs->count(hw_level::node) == 6);
  CHECK(theirs->count(hw_level::llc) == 12);
  CHECK(theirs->count(hw_level::core) == 48);
  CHECK(theirs->count(hw_level::package) == 2);
  CHECK(theirs->siblings(hw_level::core, 0) == *cpumask<lim::max_cpus>::parse("0-1"));
  CHECK(theirs->siblings(hw_level::node, 0) == *cpumask<lim::max_cpus>::parse("0-15"));
  CHECK(theirs->described(hw_level::llc));
  CHECK_FALSE(theirs->described(hw_level::cluster));
}

TEST_CASE("level names convert to hwloc's synthetic names", "[topology][hwloc]") {
  const auto a = hwloc::to_hwloc_synthetic("socket:2 node:2 llc:2 cluster:2 core:2 thread:2");
  REQUIRE(a.has_value());
  CHECK(*a == "pack:2 numa:2 l3:2 l2:2 core:2 pu:2");
  const auto b = hwloc::to_hwloc_synthetic("Package:1 DIE:2 l3cache:1 l2cache:2 core:2");
  REQUIRE(b.has_value());
  CHECK(*b == "pack:1 die:2 l3:1 l2:2 core:2 pu:1");
}

TEST_CASE("an unknown level name is an error naming the token", "[topology][hwloc][errors]") {
  const auto r = hwloc::to_hwloc_synthetic("pack:2 book:2 core:2");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error_value().code == errc::unknown_name);
  CHECK_THAT(std::string(r.error_value().message.view()), Catch::Contains("'book'"));
  CHECK_FALSE(hwloc::to_hwloc_synthetic("  ").has_value());
}

TEST_CASE("a synthetic description hwloc rejects is an io error naming it", "[topology][hwloc][errors]") {
  auto t = std::make_unique<topology<lim>>();
  hwloc::import_report report;
  const status s = hwloc::load_synthetic("pack:2 core:x", *t, &report);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error_value().code == errc::io);
  CHECK_THAT(std::string(s.error_value().message.view()), Catch::Contains("pack:2 core:x"));
  CHECK(report.source == "synthetic:pack:2 core:x");
  CHECK(t->nr_cpus() == 0);
}

TEST_CASE("a synthetic machine above the CPU limit is rejected by the builder's over_limit", "[topology][hwloc][errors]") {
  auto t = std::make_unique<topology<small_limits>>();
  const status s = hwloc::load_synthetic("pack:2 core:40 pu:1", *t);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error_value().code == errc::over_limit);
  CHECK_THAT(std::string(s.error_value().message.view()), Catch::Contains("limit of 64 CPUs"));
}
