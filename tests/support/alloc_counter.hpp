// Counts global operator new calls, to test that a path allocates nothing.
// The replacement operators live in alloc_counter.cpp; link it into the test program.
#pragma once

#include <cstddef>

namespace balancekit::test {

std::size_t allocations() noexcept;

/// Allocations made while `f` runs.
template <class F>
std::size_t allocations_during(F&& f) {
  const std::size_t before = allocations();
  f();
  return allocations() - before;
}

}  // namespace balancekit::test
