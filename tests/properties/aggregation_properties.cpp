// Seed 001's aggregation scope over random machines' LLC capacities and random demands
// (policy/aggregation.hpp, docs/aggregation.md): the RFC's rule and ours (damped).
#include <balancekit/policy/aggregation.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "support/property.hpp"

using namespace balancekit;
namespace ag = balancekit::aggregation;

namespace {
// LLC capacities in affinity order: 1 to 12 LLCs of 1 to 64 CPUs, some with reduced capacity.
std::vector<std::uint64_t> any_llcs() {
  const auto n = *rc::gen::inRange<std::size_t>(1, 13);
  std::vector<std::uint64_t> caps;
  for (std::size_t i = 0; i < n; ++i) caps.push_back(*rc::gen::inRange<std::uint64_t>(1, 65) * *rc::gen::inRange<std::uint64_t>(300, 1025));
  return caps;
}
std::uint64_t total(const std::vector<std::uint64_t>& caps) {
  std::uint64_t t = 0;
  for (const std::uint64_t c : caps) t += c;
  return t;
}
std::uint64_t prefix(const std::vector<std::uint64_t>& caps, std::size_t k) {
  std::uint64_t t = 0;
  for (std::size_t i = 0; i < k; ++i) t += caps[i];
  return t;
}
}  // namespace

TEST_CASE("Under constant demand the scope never changes after its first step", "[aggregation][hysteresis]") {
  REQUIRE(test::check("aggregation: constant demand", 300, [] {
    const auto caps = any_llcs();
    const bool damped = *rc::gen::arbitrary<bool>();
    const ag::scope_rule rule = damped ? ag::damped_scope : ag::rfc_scope;
    const std::uint64_t u = *rc::gen::inRange<std::uint64_t>(0, total(caps) + 1);
    std::size_t s = *rc::gen::inRange<std::size_t>(0, caps.size() + 1);
    s = ag::next_scope(caps, u, s, rule);
    for (int i = 0; i < 5; ++i) RC_ASSERT(ag::next_scope(caps, u, s, rule) == s);
  }));
}

TEST_CASE("A demand that ramps up then down moves the scope up only, then down only", "[aggregation][hysteresis]") {
  REQUIRE(test::check("aggregation: ramp", 300, [] {
    const auto caps = any_llcs();
    const ag::scope_rule rule = *rc::gen::arbitrary<bool>() ? ag::damped_scope : ag::rfc_scope;
    auto steps = *rc::gen::container<std::vector<std::uint64_t>>(rc::gen::inRange<std::uint64_t>(0, total(caps) + 1));
    std::sort(steps.begin(), steps.end());
    std::size_t s = 0;
    for (const std::uint64_t u : steps) {
      const std::size_t next = ag::next_scope(caps, u, s, rule);
      RC_ASSERT(next >= s);
      s = next;
    }
    for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
      const std::size_t next = ag::next_scope(caps, *it, s, rule);
      RC_ASSERT(next <= s);
      s = next;
    }
  }));
}

TEST_CASE("The scope fits its demand unless it is everything, and no shorter prefix would", "[aggregation][fits]") {
  // Fits: under grow_pct of the scope's capacity (the RFC: 50 %). No shorter prefix fits
  // under shrink_pct (the RFC: the same 50 %, so its scope is the shortest that fits).
  REQUIRE(test::check("aggregation: fits", 300, [] {
    const auto caps = any_llcs();
    const ag::scope_rule rule = *rc::gen::arbitrary<bool>() ? ag::damped_scope : ag::rfc_scope;
    const std::uint64_t u = *rc::gen::inRange<std::uint64_t>(0, total(caps) + 1);
    const std::size_t before = *rc::gen::inRange<std::size_t>(0, caps.size() + 1);
    const std::size_t s = ag::next_scope(caps, u, before, rule);
    RC_ASSERT(s >= 1 && s <= caps.size());
    RC_ASSERT(s == caps.size() || u * 100 < prefix(caps, s) * rule.grow_pct);
    for (std::size_t k = 1; k < s; ++k) RC_ASSERT(!(u * 100 < prefix(caps, k) * rule.shrink_pct));
  }));
}
