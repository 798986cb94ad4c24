// A misspelled option setter does not compile (deriving would silently run Linux's rule).
#include <balancekit/balancer.hpp>
#include <balancekit/policy/wasted_cores.hpp>

namespace bk = balancekit;

#ifdef BALANCEKIT_COMPILE_FAIL
using my_rules = bk::rules<bk::linux_defaults, bk::with_src_grp<bk::wasted_cores::min_load_src_group>>;
#else
using my_rules = bk::rules<bk::linux_defaults, bk::with_src_group<bk::wasted_cores::min_load_src_group>>;
#endif
static_assert(bk::check_pack<my_rules, bk::small_limits>());
