// An aggregation member that takes part in balancing (`active`) must answer every question
// the balance rules ask; one that forgets one gets the family's sentence.
#include <balancekit/balancer.hpp>
#include <balancekit/policy/aggregation.hpp>

namespace bk = balancekit;

#ifdef BALANCEKIT_COMPILE_FAIL
// The LLC-centric member with its active-balance veto hidden.
struct no_veto : bk::aggregation::llc_centric<> {
  template <class P, bk::limits_pack L>
  static constexpr void breaks_active(const bk::lb_env<P, L>&, const state<L>&) {}
};
using my_rules = bk::rules<bk::linux_defaults, bk::with_aggregation<no_veto>>;
#else
using my_rules = bk::rules<bk::linux_defaults, bk::with_aggregation<bk::aggregation::llc_centric<>>>;
#endif
static_assert(bk::check_pack<my_rules, bk::small_limits>());
