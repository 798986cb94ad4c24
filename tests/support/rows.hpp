// Decision tables checked row by row, at compile time and at run time (ctre's "one
// assertion per row", GSL's "constexpr and again at run time"): a failing row is named,
// not just its table.
#pragma once

#include <catch2/catch.hpp>

#include <cstddef>
#include <iterator>
#include <string_view>
#include <utility>

namespace balancekit::test {

/// One row: what it claims, and a constexpr check of the claim.
struct row {
  std::string_view claim;
  bool (*holds)();
};

namespace detail {
// A failing row fails this assertion; the compiler's instantiation note gives its index.
template <std::size_t Index, bool Holds>
constexpr bool row_holds() {
  static_assert(Holds, "a row of this decision table fails at compile time: see Index in the instantiation");
  return Holds;
}
template <const auto& Rows, std::size_t... I>
constexpr bool rows_hold(std::index_sequence<I...>) {
  return (row_holds<I, Rows[I].holds()>() && ...);
}
}  // namespace detail

/// True when every row of `Rows` holds in constant evaluation; a failing row names its index.
template <const auto& Rows>
constexpr bool rows_hold_at_compile_time() {
  return detail::rows_hold<Rows>(std::make_index_sequence<std::size(Rows)>{});
}

/// Checks every row at run time (under the sanitizers), naming each failing row's claim.
template <std::size_t N>
void check_rows(const row (&rows)[N]) {
  for (const row& r : rows) {
    INFO(r.claim);
    CHECK(r.holds());
  }
}

}  // namespace balancekit::test
