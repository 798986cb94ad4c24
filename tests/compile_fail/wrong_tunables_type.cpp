// A pack's tunables must be of their family's type.
#include <balancekit/balancer.hpp>

namespace bk = balancekit;

struct my_rules : bk::linux_defaults {
#ifdef BALANCEKIT_COMPILE_FAIL
  static constexpr bk::placement_family::tunables balance_tuning{};
#else
  static constexpr bk::balance_tunables balance_tuning{.migration_cost = 0};
#endif
};
static_assert(bk::check_pack<my_rules, bk::small_limits>());
