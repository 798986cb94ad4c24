// A busiest-group rule with the pre-family signature (a mutable environment, an int) is
// refused with a sentence naming the member and the signature it needs.
#include <balancekit/balancer.hpp>

namespace bk = balancekit;

struct my_src_group {
#ifdef BALANCEKIT_COMPILE_FAIL
  template <class P, bk::limits_pack L>
  static int find(bk::lb_env<P, L>&) {
    return bk::no_group;
  }
#else
  template <class P, bk::limits_pack L>
  static constexpr bk::src_group_decision find(const bk::lb_env<P, L>& env) {
    return bk::src_group_decision::keep(env);
  }
#endif
};

using my_rules = bk::rules<bk::linux_defaults, bk::with_src_group<my_src_group>>;
static_assert(bk::check_pack<my_rules, bk::small_limits>());
