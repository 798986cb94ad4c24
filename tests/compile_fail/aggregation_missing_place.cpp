// An aggregation member that says it revises wakeups (`places`) must answer `place`; one
// that does not gets the family's sentence.
#include <balancekit/balancer.hpp>
#include <balancekit/policy/aggregation.hpp>

namespace bk = balancekit;

#ifdef BALANCEKIT_COMPILE_FAIL
// The LLC-centric member claiming to place wakeups, with no `place`.
struct claims_to_place : bk::aggregation::llc_centric<> {
  static constexpr bool places = true;
};
using my_rules = bk::rules<bk::linux_defaults, bk::with_aggregation<claims_to_place>>;
#else
using my_rules = bk::rules<bk::linux_defaults, bk::with_aggregation<bk::aggregation::topology_aware<>>>;
#endif
static_assert(bk::check_pack<my_rules, bk::small_limits>());
