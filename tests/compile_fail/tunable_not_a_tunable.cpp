// with_tunable<> takes a member of a family's tunables.
#include <balancekit/balancer.hpp>

namespace bk = balancekit;

#ifdef BALANCEKIT_COMPILE_FAIL
using my_rules = bk::rules<bk::linux_defaults, bk::with_tunable<&bk::cpu_state::avg_idle, 0>>;
#else
using my_rules = bk::rules<bk::linux_defaults, bk::with_tunable<&bk::balance_tunables::migration_cost, 0>>;
#endif
static_assert(bk::check_pack<my_rules, bk::small_limits>());
