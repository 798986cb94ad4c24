// Proof of invariant I17 for the claimed push protocol (policy/push.hpp): over every
// interleaving of up to 3 pushers' decide / claim / apply steps against every non-empty
// set of up to 4 idle CPUs, no CPU receives two pushed tasks. The explorer runs the
// shipped tracker at each step (check/push_claims.hpp). Its negative twin, the RFC's
// unclaimed protocol, must fail to compile: tests/compile_fail/push_unclaimed_piles_up.cpp.
//
// Costly in constant evaluation (about 4 s and 0.6 GB with g++ 12): the target raises the
// compilers' constexpr limits for this file only (proofs/CMakeLists.txt).
#include <balancekit/check/push_claims.hpp>

namespace {
using balancekit::check::explore_push_claims;
using balancekit::push::push_mode;

// Every pusher count against every target count: a protocol safe for 3 × 4 could still
// pile up with fewer pushers than targets only if the scan order mattered; check them all.
template <std::size_t Pushers, std::size_t Targets>
constexpr bool claims_never_deliver_twice() {
  return explore_push_claims<push_mode::claimed>(Pushers, Targets).no_pileup();
}

static_assert(claims_never_deliver_twice<1, 1>() && claims_never_deliver_twice<1, 4>());
static_assert(claims_never_deliver_twice<2, 1>() && claims_never_deliver_twice<2, 2>() &&
              claims_never_deliver_twice<2, 4>());
static_assert(claims_never_deliver_twice<3, 1>() && claims_never_deliver_twice<3, 2>() &&
              claims_never_deliver_twice<3, 3>());
static_assert(claims_never_deliver_twice<3, 4>(), "claimed push: some interleaving delivered two tasks to one CPU");
// The schedules are really explored: three pushers against one idle CPU have 9!/(3!)^3 =
// 1680 orders of their nine steps, fewer when a pusher stops early.
static_assert(explore_push_claims<push_mode::claimed>(3, 1).schedules > 1);
}  // namespace
