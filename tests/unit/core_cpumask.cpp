#include <balancekit/core/cpumask.hpp>

#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

#include <range/v3/algorithm/equal.hpp>
#include <range/v3/range/conversion.hpp>

using balancekit::cpumask;
using balancekit::errc;
using m64 = cpumask<64>;
using m200 = cpumask<200>;

namespace {
template <std::size_t N>
std::vector<std::size_t> cpus(const cpumask<N>& m) {
  return std::vector<std::size_t>(m.begin(), m.end());
}
}  // namespace

TEST_CASE("a cpulist parses into exactly the CPUs it names", "[cpumask]") {
  CHECK(cpus(*m64::parse("0-3,8-11")) == std::vector<std::size_t>{0, 1, 2, 3, 8, 9, 10, 11});
  CHECK(cpus(*m64::parse("5")) == std::vector<std::size_t>{5});
  CHECK(cpus(*m64::parse(" 7,1 \n")) == std::vector<std::size_t>{1, 7});
  CHECK(m64::parse("").value().empty());
  CHECK(cpus(*m64::parse("0-9:1/3")) == std::vector<std::size_t>{0, 3, 6, 9});
}

TEST_CASE("trailing NULs from sysfs files are ignored", "[cpumask]") {
  const std::string raw("0-3\n\0", 5);
  CHECK(*m64::parse(raw) == m64::range(0, 3));
}

TEST_CASE("a malformed cpulist is an error that quotes the bad item", "[cpumask]") {
  const auto r = m64::parse("0-3,4-x,9");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error_value().code == errc::syntax);
  CHECK_THAT(std::string(r.error_value().message.view()), Catch::Contains("'4-x'"));
  CHECK_THAT(std::string(m64::parse("9-3").error_value().message.view()), Catch::Contains("reversed"));
  const auto big = m64::parse("60-70");
  CHECK(big.error_value().code == errc::out_of_range);
  CHECK_THAT(std::string(big.error_value().message.view()), Catch::Contains("CPU 70"));
}

TEST_CASE("cpulist formatting compresses runs like the kernel's %*pbl", "[cpumask]") {
  CHECK(to_cpulist(*m64::parse("0-3,8-11")) == "0-3,8-11");
  CHECK(to_cpulist(*m64::parse("1,3,5")) == "1,3,5");
  CHECK(to_cpulist(*m64::parse("4-5")) == "4-5");
  CHECK(to_cpulist(m64{}) == "");
  CHECK(to_cpulist(~m64{}) == "0-63");
}

TEST_CASE("hex masks use 32-bit chunks, most significant first, like the kernel's %*pb", "[cpumask]") {
  // Expected strings written from the kernel's bitmap_string() rules: the first chunk
  // has ceil((nbits % 32) / 4) digits, the others 8.
  CHECK(to_hex(*m64::parse("32-39")) == "000000ff,00000000");
  CHECK(to_hex(*m64::parse("0-3"), 4) == "f");
  CHECK(to_hex(*m64::parse("0-5"), 6) == "3f");
  CHECK(to_hex(*m64::parse("0,39"), 40) == "80,00000001");
  CHECK(to_hex(m200::range(96, 99), 100) == "f,00000000,00000000,00000000");
  CHECK(*m64::parse_hex("ff,00000000") == m64::range(32, 39));
  CHECK(*m64::parse_hex("00000001\n") == m64::of(0));
  CHECK(*m200::parse_hex("80000000,00000000,00000000,00000000") == m200::of(127));
}

TEST_CASE("a malformed hex mask is an error that names the problem", "[cpumask]") {
  CHECK(m64::parse_hex("").error_value().code == errc::syntax);
  CHECK_THAT(std::string(m64::parse_hex("fg").error_value().message.view()), Catch::Contains("'g'"));
  CHECK_THAT(std::string(m64::parse_hex("123456789").error_value().message.view()), Catch::Contains("1 to 8"));
  CHECK_THAT(std::string(m64::parse_hex("1,00000000,00000000").error_value().message.view()), Catch::Contains("CPU 64"));
}

TEST_CASE("first, next, last and nth walk the mask in order", "[cpumask]") {
  const m200 m = m200::of(3) | m200::of(64) | m200::of(130) | m200::of(199);
  CHECK(m.first() == 3);
  CHECK(m.next(3) == 64);
  CHECK(m.next(64) == 130);
  CHECK(m.next(199) == m200::npos);
  CHECK(m.last() == 199);
  CHECK(m.nth(2) == 130);
  CHECK(m.weight() == 4);
  CHECK(m200{}.last() == m200::npos);
}

TEST_CASE("wrap-around iteration starts at the given CPU and wraps like for_each_cpu_wrap", "[cpumask]") {
  const m64 m = *m64::parse("1,4,9,12");
  CHECK(std::vector<std::size_t>(m.wrap(9).begin(), m.wrap(9).end()) == std::vector<std::size_t>{9, 12, 1, 4});
  CHECK(std::vector<std::size_t>(m.wrap(5).begin(), m.wrap(5).end()) == std::vector<std::size_t>{9, 12, 1, 4});
  CHECK(std::vector<std::size_t>(m.wrap(0).begin(), m.wrap(0).end()) == std::vector<std::size_t>{1, 4, 9, 12});
  CHECK(std::vector<std::size_t>(m.wrap(13).begin(), m.wrap(13).end()) == std::vector<std::size_t>{1, 4, 9, 12});
  const m64 none;
  CHECK(none.wrap(3).begin() == none.wrap(3).end());
}

TEST_CASE("a cpumask works with range-v3 algorithms", "[cpumask]") {
  const m64 m = *m64::parse("2-4");
  const auto v = m | ranges::to<std::vector>();
  CHECK(ranges::equal(v, std::vector<std::size_t>{2, 3, 4}));
}
