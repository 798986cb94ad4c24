// A push member that takes part (`active`) must answer the embedder's calls; one without
// `decide` gets the family's sentence.
#include <balancekit/balancer.hpp>
#include <balancekit/policy/push.hpp>

namespace bk = balancekit;

#ifdef BALANCEKIT_COMPILE_FAIL
// Claims to push, but never decides anything.
struct never_decides {
  using family = bk::push_family;
  static constexpr bool active = true;
  static constexpr bk::push::push_mode mode = bk::push::push_mode::claimed;
  template <bk::limits_pack L>
  using state = bk::push::state<L>;
};
using my_rules = bk::rules<bk::linux_defaults, bk::with_push<never_decides>>;
#else
using my_rules = bk::rules<bk::linux_defaults, bk::with_push<bk::push::push_offload>>;
#endif
static_assert(bk::check_pack<my_rules, bk::small_limits>());
