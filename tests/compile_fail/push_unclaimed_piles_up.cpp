// The negative twin of proofs/push_claims.cpp: the same exhaustive exploration of the
// RFC's unclaimed push (decide, idle_cpu() re-check, attach) finds an interleaving that
// delivers two tasks to one idle CPU, so the proof does not compile. The correct form is
// the claimed protocol, which compiles.
#include <balancekit/check/push_claims.hpp>

namespace bk = balancekit;

#ifdef BALANCEKIT_COMPILE_FAIL
constexpr auto protocol = bk::push::push_mode::unclaimed;
#else
constexpr auto protocol = bk::push::push_mode::claimed;
#endif
static_assert(bk::check::explore_push_claims<protocol>(2, 2).no_pileup(),
              "this push protocol piles up: an interleaving delivered two tasks to one idle CPU");
