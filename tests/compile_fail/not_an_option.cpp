// rules<> takes option setters, not rules.
#include <balancekit/balancer.hpp>
#include <balancekit/policy/ipanema.hpp>

namespace bk = balancekit;

#ifdef BALANCEKIT_COMPILE_FAIL
using my_rules = bk::rules<bk::linux_defaults, bk::ipanema::steal>;
#else
using my_rules = bk::rules<bk::linux_defaults, bk::with_detach<bk::ipanema::steal>>;
#endif
static_assert(bk::check_pack<my_rules, bk::small_limits>());
