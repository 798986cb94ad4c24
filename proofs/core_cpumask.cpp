// Proofs for cpumask: set algebra, iteration and text forms in constant evaluation.
#include <balancekit/core/cpumask.hpp>

#include <iterator>
#include <ranges>

#include <range/v3/range/concepts.hpp>

namespace {
using balancekit::cpumask;
using m64 = cpumask<64>;
using m100 = cpumask<100>;

// A cpumask is a forward range for the standard library and for range-v3.
static_assert(std::ranges::forward_range<m64>);
static_assert(ranges::forward_range<m64>);
static_assert(std::forward_iterator<m64::iterator>);
static_assert(std::ranges::forward_range<m64::wrap_view>);

constexpr m64 a = *m64::parse("0-3,8-11");
constexpr m64 b = *m64::parse("2-9");
static_assert((a | b) == *m64::parse("0-11"));
static_assert((a & b) == *m64::parse("2-3,8-9"));
static_assert((a - b) == *m64::parse("0-1,10-11"));
static_assert((a ^ b) == *m64::parse("0-1,4-7,10-11"));
static_assert((~m64{}).weight() == 64 && (~m100{}).weight() == 100);  // complement stays within N
static_assert(a.first() == 0 && a.last() == 11 && a.next(3) == 8 && a.next(11) == m64::npos);
static_assert(a.nth(4) == 8 && a.nth(8) == m64::npos);
static_assert(m64{}.first() == m64::npos && m64{}.empty());
static_assert(a.intersects(b) && !a.subset_of(b) && (a & b).subset_of(a));

// for_each_cpu_wrap from CPU 9 over {0-3,8-11}: 9 10 11 0 1 2 3 8.
constexpr bool wrap_order_matches_the_kernel() {
  constexpr std::size_t expect[] = {9, 10, 11, 0, 1, 2, 3, 8};
  std::size_t i = 0;
  for (std::size_t c : a.wrap(9))
    if (i >= 8 || c != expect[i++]) return false;
  return i == 8;
}
static_assert(wrap_order_matches_the_kernel());

// Stride form of bitmap_parselist: 2 of every 4 CPUs in 0-15.
static_assert(*m64::parse("0-15:2/4") == *m64::parse("0-1,4-5,8-9,12-13"));
// Hex: 32-bit chunks, most significant first.
static_assert(*m64::parse_hex("ff,00000000") == *m64::parse("32-39"));
static_assert(*m100::parse_hex("f,00000000,00000000,0000000f") == *m100::parse("0-3,96-99"));

// Bad input is an error value, not a compile failure.
static_assert(!m64::parse("0-3,x").has_value());
static_assert(!m64::parse("5-3").has_value());
static_assert(!m64::parse("64").has_value());
static_assert(!m64::parse_hex("1,00000000,00000000").has_value());
static_assert(m64::parse("64").error_value().code == balancekit::errc::out_of_range);
}  // namespace
