// An aggregation member's knobs out of range (a busy line above 100 % of an LLC's capacity
// never trips) stop the build with a sentence naming them.
#include <balancekit/balancer.hpp>
#include <balancekit/policy/aggregation.hpp>

namespace bk = balancekit;

#ifdef BALANCEKIT_COMPILE_FAIL
inline constexpr std::uint32_t overaggr = 150;
#else
inline constexpr std::uint32_t overaggr = 50;
#endif
using my_rules = bk::rules<bk::linux_defaults, bk::with_aggregation<bk::aggregation::topology_aware<>>,
                           bk::with_tunable<&bk::aggregation_tunables::overaggr_pct, overaggr>>;
static_assert(bk::check_pack<my_rules, bk::small_limits>());
// What the simulator calls at every update_curr(): instantiating it checks the knobs.
inline constexpr auto account = &my_rules::aggregation::account<my_rules, bk::small_limits>;
