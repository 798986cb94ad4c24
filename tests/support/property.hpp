// Runs a RapidCheck property a set number of times, scaled by BALANCEKIT_PROPERTY_SCALE.
//
// Use inside a TEST_CASE as `REQUIRE(test::check("unique id", 200, [](...) { ... }));`.
// A property whose preconditions discard most generated cases passes a discard ratio.
// Like rc::check it records the id, so `RC_PARAMS="reproduce=..."` printed on failure
// replays the minimal case. RC_PARAMS=max_success=N raises (never lowers) the count.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <string>

#include <rapidcheck.h>
#include <rapidcheck/detail/TestListener.h>

namespace rc::detail {
// Defined in librapidcheck (Debian 0~1033-08b5058) but not declared in its headers.
TestListener& globalTestListener();
}  // namespace rc::detail

namespace balancekit::test {

/// BALANCEKIT_PROPERTY_SCALE (default 1): multiplies every property's case count.
inline int property_scale() {
  const char* s = std::getenv("BALANCEKIT_PROPERTY_SCALE");
  const int v = s != nullptr ? std::atoi(s) : 1;
  return v > 0 ? v : 1;
}

/// `discard_ratio`: how many discarded cases (RC_PRE) per required one RapidCheck accepts
/// before it gives up (its default, 10, unless raised here); for properties whose
/// preconditions keep only a few of the generated machines.
template <class Testable>
bool check(const std::string& id, int cases, Testable&& testable, int discard_ratio = 0) {
  using namespace rc::detail;
  const Configuration& config = configuration();
  TestParams params = config.testParams;
  params.maxSuccess = std::max(cases * property_scale(), params.maxSuccess == 100 ? 0 : params.maxSuccess);
  params.maxDiscardRatio = std::max(params.maxDiscardRatio, discard_ratio);
  TestMetadata metadata;
  metadata.id = id;
  metadata.description = id;
  std::cerr << "\n- " << id << " (" << params.maxSuccess << " cases)\n";
  const TestResult result =
      checkProperty(toProperty(std::forward<Testable>(testable)), metadata, params, globalTestListener(), config.reproduce);
  printResultMessage(result, std::cerr);
  std::cerr << '\n';
  return result.template is<SuccessResult>();
}

/// The worst value a property saw and where, printed when the test case's static goes
/// away (at the end of the program), so that docs can quote bounds with their machine.
struct worst_case {
  std::string what;
  double value = 0;
  std::string where;
  void see(double v, const std::string& w) {
    if (v > value) {
      value = v;
      where = w;
    }
  }
  ~worst_case() { std::cerr << "  worst " << what << ": " << value << "  (" << where << ")\n"; }
};

}  // namespace balancekit::test
