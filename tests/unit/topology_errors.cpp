// Every bad-input class has an error that names the culprit.
#include <balancekit/topology/spec.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace balancekit;

namespace {
struct outcome {
  errc code;
  std::string message;
};
outcome fail(const machine_spec& spec) {
  topology<small_limits> t;
  const status s = make_topology(spec, t);
  REQUIRE_FALSE(s.ok());
  CHECK(t.nr_cpus() == 0);  // nothing half-applied
  return {s.error_value().code, std::string(s.error_value().message.view())};
}
}  // namespace

TEST_CASE("a zero count is rejected and the token is named", "[topology][errors]") {
  const auto e = fail({"package:2 core:0 pu:2"});
  CHECK(e.code == errc::out_of_range);
  CHECK_THAT(e.message, Catch::Contains("'core:0'"));
}

TEST_CASE("a negative or missing count is rejected and the token is named", "[topology][errors]") {
  CHECK_THAT(fail({"package:-2 core:2"}).message, Catch::Contains("'package:-2'"));
  CHECK_THAT(fail({"package core:2"}).message, Catch::Contains("'package'"));
  CHECK_THAT(fail({"core:2x"}).message, Catch::Contains("'core:2x'"));
}

TEST_CASE("a product over the CPU limit is rejected and says where it went over", "[topology][errors]") {
  const auto e = fail({"package:4 core:8 pu:4"});  // 128 > 64
  CHECK(e.code == errc::over_limit);
  CHECK_THAT(e.message, Catch::Contains("64 CPUs") && Catch::Contains("'pu:4'"));
}

TEST_CASE("an unknown level name is rejected and named", "[topology][errors]") {
  const auto e = fail({"package:2 group:2 core:2"});
  CHECK(e.code == errc::unknown_name);
  CHECK_THAT(e.message, Catch::Contains("'group'"));
}

TEST_CASE("levels out of order are rejected and the late one is named", "[topology][errors]") {
  const auto e = fail({"core:2 package:2"});
  CHECK(e.code == errc::out_of_order);
  CHECK_THAT(e.message, Catch::Contains("'package:2'") && Catch::Contains("'core'"));
  CHECK(fail({"package:2 core:2 numa:2"}).code == errc::out_of_order);
  CHECK_THAT(fail({"core:2 core:2"}).message, Catch::Contains("twice"));
}

TEST_CASE("a distance matrix that is not square is rejected and the row is named", "[topology][errors]") {
  const auto e = fail({"numa:2 core:1", "10 12;12"});
  CHECK(e.code == errc::not_square);
  CHECK_THAT(e.message, Catch::Contains("row 1 has 1 entries"));
  CHECK(fail({"numa:3 core:1", "10 12 12;12 10 12"}).code == errc::not_square);
}

TEST_CASE("an asymmetric distance matrix is rejected and the entry is named", "[topology][errors]") {
  const auto e = fail({"numa:3 core:1", "10 12 32;12 10 32;31 32 10"});
  CHECK(e.code == errc::not_symmetric);
  CHECK_THAT(e.message, Catch::Contains("(0,2) is 32 but (2,0) is 31"));
}

TEST_CASE("a diagonal other than 10 is rejected and the entry is named", "[topology][errors]") {
  const auto e = fail({"numa:2 core:1", "10 20;20 11"});
  CHECK(e.code == errc::bad_distance);
  CHECK_THAT(e.message, Catch::Contains("(1,1) is 11"));
}

TEST_CASE("an off-diagonal distance of 10 or less is rejected and the entry is named", "[topology][errors]") {
  const auto e = fail({"numa:2 core:1", "10 10;10 10"});
  CHECK(e.code == errc::bad_distance);
  CHECK_THAT(e.message, Catch::Contains("(0,1) is 10"));
  CHECK_THAT(fail({"numa:2 core:1", "10 255;255 10"}).message, Catch::Contains("(0,1) is 255"));
}

TEST_CASE("a distance row count different from the node count is rejected", "[topology][errors]") {
  const auto e = fail({"numa:3 core:1", "10 12;12 10"});
  CHECK(e.code == errc::wrong_count);
  CHECK_THAT(e.message, Catch::Contains("2 rows for 3 NUMA nodes"));
}

TEST_CASE("a non-numeric distance is rejected and quoted", "[topology][errors]") {
  CHECK_THAT(fail({"numa:2 core:1", "10 x;12 10"}).message, Catch::Contains("'x'"));
}

TEST_CASE("a capacity outside 1..1024 is rejected and the item is named", "[topology][errors]") {
  const auto e = fail({"core:4", "", "0-1:2000"});
  CHECK(e.code == errc::bad_capacity);
  CHECK_THAT(e.message, Catch::Contains("'0-1:2000'"));
  CHECK(fail({"core:4", "", "3:0"}).code == errc::bad_capacity);
  CHECK_THAT(fail({"core:4", "", "2-3"}).message, Catch::Contains("no ':capacity'"));
  CHECK_THAT(fail({"core:4", "", "9:512"}).message, Catch::Contains("CPU 9"));
}

TEST_CASE("offline CPUs must exist and one CPU must stay online", "[topology][errors]") {
  CHECK_THAT(fail({"core:4", "", "", "7"}).message, Catch::Contains("CPU 7"));
  CHECK_THAT(fail({"core:2", "", "", "0-1"}).message, Catch::Contains("offline"));
}

TEST_CASE("cpu ids must name exactly one id per CPU", "[topology][errors]") {
  const auto e = fail({"core:4", "", "", "", "0-2"});
  CHECK(e.code == errc::wrong_count);
  CHECK_THAT(e.message, Catch::Contains("'0-2' name 3 CPUs"));
}

TEST_CASE("an empty level string is rejected with an example", "[topology][errors]") {
  CHECK_THAT(fail({"  "}).message, Catch::Contains("empty"));
}
