// with_tunable<> refuses a value its member cannot hold.
#include <balancekit/balancer.hpp>

namespace bk = balancekit;

#ifdef BALANCEKIT_COMPILE_FAIL
using my_rules = bk::rules<bk::linux_defaults, bk::with_tunable<&bk::balance_tunables::hz, -250>>;
#else
using my_rules = bk::rules<bk::linux_defaults, bk::with_tunable<&bk::balance_tunables::hz, 1000>>;
#endif
static_assert(my_rules::balance_tuning.hz > 0);
