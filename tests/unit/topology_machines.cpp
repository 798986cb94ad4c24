// The built-in machines, checked against the seeds' descriptions.
#include <balancekit/topology/machines.hpp>

#include <catch2/catch.hpp>

#include <memory>
#include <string>

using namespace balancekit;
using mask = cpumask<default_limits::max_cpus>;

namespace {
std::unique_ptr<topology<default_limits>> build(const named_machine& m) {
  auto t = std::make_unique<topology<default_limits>>();
  const status s = make_topology(m.spec, *t);
  INFO(m.name << ": " << (s ? "" : std::string(s.error_value().message.view())));
  REQUIRE(s.ok());
  return t;
}
mask cpus(const char* list) { return *mask::parse(list); }
}  // namespace

TEST_CASE("every built-in machine builds and can be found by name", "[topology][machines]") {
  for (const named_machine& m : machines::all) {
    const auto t = build(m);
    CHECK(t->nr_cpus() >= 1);
    REQUIRE(machines::find(m.name).has_value());
    CHECK(machines::find(m.name)->name == m.name);
  }
  CHECK_FALSE(machines::find("nope").has_value());
  CHECK(machines::default_machine.name == "hygon384");
}

TEST_CASE("seed64 is 4 sockets of 16 LCPUs, 8 cores of 2 threads, one node each", "[topology][machines]") {
  const auto t = build(machines::seed64);
  CHECK(t->nr_cpus() == 64);
  CHECK(t->count(hw_level::package) == 4);
  CHECK(t->count(hw_level::node) == 4);
  CHECK(t->count(hw_level::core) == 32);
  // Seed 000's buddy table: socket 1 holds LCPUs 16-31.
  CHECK(t->siblings(hw_level::package, 16) == cpus("16-31"));
  CHECK(t->siblings(hw_level::core, 16) == cpus("16-17"));
  CHECK(t->node_of(33) == 2);
}

TEST_CASE("hygon384 is 2 sockets x 6 nodes x 2 LLCs x 8 cores x 2 threads", "[topology][machines]") {
  const auto t = build(machines::hygon384);
  CHECK(t->nr_cpus() == 384);
  CHECK(t->count(hw_level::package) == 2);
  CHECK(t->count(hw_level::node) == 12);
  CHECK(t->count(hw_level::llc) == 24);
  CHECK(t->count(hw_level::core) == 192);
  CHECK(t->cpus_of_node(6) == cpus("192-223"));
  CHECK(t->siblings(hw_level::llc, 200) == cpus("192-207"));
  CHECK(t->distance(0, 5) == 16);   // same socket
  CHECK(t->distance(0, 6) == 32);   // across sockets, beyond RECLAIM_DISTANCE 30
  CHECK(t->distance(11, 7) == 16);
}

TEST_CASE("phone8 has two clusters of four with little CPUs first", "[topology][machines]") {
  const auto t = build(machines::phone8);
  CHECK(t->nr_cpus() == 8);
  CHECK(t->count(hw_level::cluster) == 2);
  CHECK(t->siblings(hw_level::cluster, 5) == cpus("4-7"));
  CHECK(t->siblings(hw_level::llc, 5) == cpus("0-7"));
  CHECK(t->capacity_of(0) == capacity{446});
  CHECK(t->capacity_of(7) == capacity{1024});
  CHECK(t->asymmetric());
}

TEST_CASE("opteron64 has 8 nodes of 8 cores and nodes 1 and 2 two hops apart", "[topology][machines]") {
  const auto t = build(machines::opteron64);
  CHECK(t->nr_cpus() == 64);
  CHECK(t->count(hw_level::node) == 8);
  CHECK(t->cpus_of_node(2) == cpus("16-23"));
  CHECK(t->distance(1, 2) == 22);
  // T8 adjacency of node 0 from the verification notes: {1,2,4,6} one hop away.
  for (std::size_t n : {1U, 2U, 4U, 6U}) CHECK(t->distance(0, n) == 16);
  for (std::size_t n : {3U, 5U, 7U}) CHECK(t->distance(0, n) == 22);
  CHECK(t->siblings(hw_level::cluster, 5) == cpus("4-5"));  // a Bulldozer module
}

TEST_CASE("uni1 is one online CPU", "[topology][machines]") {
  const auto t = build(machines::uni1);
  CHECK(t->nr_cpus() == 1);
  CHECK(t->online() == cpus("0"));
}
