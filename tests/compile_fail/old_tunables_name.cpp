// The pre-family name `tunables` is no longer read; a pack that still sets it is told so
// instead of silently running with the defaults.
#include <balancekit/balancer.hpp>

namespace bk = balancekit;

struct my_rules : bk::linux_defaults {
#ifdef BALANCEKIT_COMPILE_FAIL
  static constexpr bk::balance_tunables tunables{.migration_cost = 0};
#else
  static constexpr bk::balance_tunables balance_tuning{.migration_cost = 0};
#endif
};
static_assert(bk::check_pack<my_rules, bk::small_limits>());
