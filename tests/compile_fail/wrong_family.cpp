// A family's slot takes that family's policies only.
#include <balancekit/balancer.hpp>

namespace bk = balancekit;

#ifdef BALANCEKIT_COMPILE_FAIL
using my_rules = bk::rules<bk::linux_defaults, bk::with_placement<bk::packing::none>>;
#else
using my_rules = bk::rules<bk::linux_defaults, bk::with_placement<bk::placement::none>>;
#endif
static_assert(bk::check_pack<my_rules, bk::small_limits>());
