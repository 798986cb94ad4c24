#include <balancekit/core/error.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace balancekit;

TEST_CASE("an error message is built from text and numbers", "[core]") {
  error e{errc::out_of_range, "CPU "};
  e << 42 << " of " << std::size_t{64} << ": " << -7;
  CHECK(std::string(e.message.view()) == "CPU 42 of 64: -7");
}

TEST_CASE("an over-long error message is cut and marked, never overflowed", "[core]") {
  error e{errc::syntax, ""};
  for (int i = 0; i < 100; ++i) e << "0123456789";
  CHECK(e.message.size() < 192);
  CHECK(std::string(e.message.view()).substr(e.message.size() - 3) == "...");
}

TEST_CASE("a result holds a value or an error, never both", "[core]") {
  const result<int> ok{5};
  const result<int> bad{error{errc::syntax, "no"}};
  CHECK(ok.has_value());
  CHECK(*ok == 5);
  CHECK_FALSE(bad.has_value());
  CHECK(bad.error_value().code == errc::syntax);
}
