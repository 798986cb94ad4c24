#include <balancekit/core/static_vector.hpp>

#include <catch2/catch.hpp>

using balancekit::static_vector;

namespace {
constexpr bool push_pop_and_compare() {
  static_vector<int, 4> v{1, 2};
  v.push_back(3);
  if (v.size() != 3 || v.back() != 3) return false;
  if (!v.try_push_back(4) || v.try_push_back(5)) return false;  // full at 4
  v.pop_back();
  v.resize(5 - 2);
  return v == static_vector<int, 4>{1, 2, 3} && !(v == static_vector<int, 4>{1, 2});
}
}  // namespace

TEST_CASE("static_vector pushes, pops and compares without allocating", "[core]") {
  STATIC_REQUIRE(push_pop_and_compare());
  REQUIRE(push_pop_and_compare());
}

TEST_CASE("static_vector refuses to grow past its capacity with try_push_back", "[core]") {
  static_vector<int, 2> v;
  CHECK(v.try_push_back(1));
  CHECK(v.try_push_back(2));
  CHECK_FALSE(v.try_push_back(3));
  CHECK(v.size() == 2);
  CHECK(v.full());
}
