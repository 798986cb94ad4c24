// Algebra laws and text round trips of cpumask over random masks.
#include <balancekit/core/cpumask.hpp>

#include <catch2/catch.hpp>
#include <rapidcheck.h>

#include <string>
#include <utility>
#include <vector>

using balancekit::cpumask;
using m300 = cpumask<300>;

namespace rc {
template <>
struct Arbitrary<m300> {
  static Gen<m300> arbitrary() {
    return gen::map(gen::container<std::vector<std::size_t>>(gen::inRange<std::size_t>(0, 300)), [](const std::vector<std::size_t>& v) {
      m300 m;
      for (std::size_t c : v) m.set(c);
      return m;
    });
  }
};
}  // namespace rc

TEST_CASE("set algebra obeys the Boolean laws", "[cpumask][property]") {
  REQUIRE(rc::check("cpumask boolean laws", [](const m300& a, const m300& b, const m300& c) {
    RC_ASSERT((a | b) == (b | a));
    RC_ASSERT((a & (b | c)) == ((a & b) | (a & c)));
    RC_ASSERT(~(a | b) == (~a & ~b));
    RC_ASSERT((a - b) == (a & ~b));
    RC_ASSERT((a ^ b) == ((a - b) | (b - a)));
    RC_ASSERT((a | b).weight() + (a & b).weight() == a.weight() + b.weight());
    RC_ASSERT((a & b).subset_of(a));
    RC_ASSERT(a.intersects(b) == (a & b).any());
  }));
}

TEST_CASE("iteration visits exactly the set CPUs in ascending order", "[cpumask][property]") {
  REQUIRE(rc::check("cpumask iteration", [](const m300& a) {
    std::vector<std::size_t> seen(a.begin(), a.end());
    RC_ASSERT(seen.size() == a.weight());
    for (std::size_t i = 0; i < 300; ++i)
      RC_ASSERT(a.test(i) == std::binary_search(seen.begin(), seen.end(), i));
    RC_ASSERT(std::is_sorted(seen.begin(), seen.end()));
  }));
}

TEST_CASE("more_than_one says whether the weight is two or more", "[cpumask][property]") {
  REQUIRE(rc::check("cpumask more_than_one", [](const m300& a) {
    RC_ASSERT(a.more_than_one() == (a.weight() > 1));
    // Masks of weight 0, 1 and 2 are rare among random ones: build them.
    const auto i = *rc::gen::inRange<std::size_t>(0, 300);
    const auto j = *rc::gen::inRange<std::size_t>(0, 300);
    RC_ASSERT(!m300{}.more_than_one());
    RC_ASSERT(!m300{}.set(i).more_than_one());
    RC_ASSERT(m300{}.set(i).set(j).more_than_one() == (i != j));
  }));
}

TEST_CASE("wrap-around iteration is a rotation of ordinary iteration", "[cpumask][property]") {
  REQUIRE(rc::check("cpumask wrap", [](const m300& a) {
    const auto start = *rc::gen::inRange<std::size_t>(0, 300);
    std::vector<std::size_t> plain(a.begin(), a.end());
    std::vector<std::size_t> wrapped(a.wrap(start).begin(), a.wrap(start).end());
    std::vector<std::size_t> expect;
    for (std::size_t c : plain) if (c >= start) expect.push_back(c);
    for (std::size_t c : plain) if (c < start) expect.push_back(c);
    RC_ASSERT(wrapped == expect);
  }));
}

TEST_CASE("operations bounded to a range agree with the full ones on masks inside it", "[cpumask][property]") {
  REQUIRE(rc::check("cpumask within", [](const m300& a, const m300& b) {
    auto lo = *rc::gen::inRange<std::size_t>(0, 300);
    auto hi = *rc::gen::inRange<std::size_t>(0, 300);
    if (lo > hi) std::swap(lo, hi);
    m300 in = a & m300::range(lo, hi);  // a mask whose CPUs lie in [lo, hi]
    const auto start = *rc::gen::inRange<std::size_t>(0, 300);
    const std::vector<std::size_t> full(in.wrap(start).begin(), in.wrap(start).end());
    const std::vector<std::size_t> bounded(in.wrap(start, lo, hi).begin(), in.wrap(start, lo, hi).end());
    RC_ASSERT(bounded == full);
    const std::vector<std::size_t> plain(in.begin(), in.end());
    const std::vector<std::size_t> within(in.within(lo, hi).begin(), in.within(lo, hi).end());
    RC_ASSERT(within == plain);
    RC_ASSERT(m300::and_within(in, b, lo, hi) == (in & b));
    m300 sub = in;
    sub.subtract_within(b, lo, hi);
    RC_ASSERT(sub == (in - b));
  }));
}

TEST_CASE("parse after format is the identity, for cpulists and hex", "[cpumask][property]") {
  REQUIRE(rc::check("cpumask text round trip", [](const m300& a) {
    RC_ASSERT(*m300::parse(to_cpulist(a)) == a);
    RC_ASSERT(*m300::parse_hex(to_hex(a)) == a);
  }));
}
