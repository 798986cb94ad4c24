// Building topologies and parsing masks never touches the heap.
#include <balancekit/topology/machines.hpp>

#include <catch2/catch.hpp>

#include <memory>

#include "support/alloc_counter.hpp"

using namespace balancekit;

TEST_CASE("the allocation counter sees an allocation", "[alloc]") {
  // Guards the guard: if operator new were not replaced, every check below would pass.
  // A direct call through a volatile pointer: optimisers may elide new-expressions.
  const std::size_t n = test::allocations_during([] {
    void* volatile p = ::operator new(16);
    ::operator delete(p);
  });
  CHECK(n == 1);
}

TEST_CASE("parsing a spec and building the 384-CPU machine allocates nothing", "[alloc][topology]") {
  auto t = std::make_unique<topology<large_limits>>();
  status s;
  const std::size_t n = test::allocations_during([&] { s = make_topology(machines::hygon384.spec, *t); });
  REQUIRE(s.ok());
  CHECK(n == 0);
}

TEST_CASE("parsing cpulists and hex masks allocates nothing", "[alloc][cpumask]") {
  bool ok = false;
  const std::size_t n = test::allocations_during([&] {
    ok = cpumask<4096>::parse("0-1023:3/8,2000-2047").has_value() && cpumask<4096>::parse_hex("ff,00000000").has_value();
  });
  CHECK(ok);
  CHECK(n == 0);
}
