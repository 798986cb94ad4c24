// A deciding rule sees the world read-only: a designated-balancer rule cannot write a load.
#include <balancekit/balancer.hpp>

namespace bk = balancekit;

struct my_should_balance {
  template <class P, bk::limits_pack L>
  static constexpr bool check(const bk::lb_env<P, L>& env) {
#ifdef BALANCEKIT_COMPILE_FAIL
    env.snap->cpus[env.dst_cpu].load = 0;
#endif
    return bk::linux_should_we_balance::check(env);
  }
};

using my_rules = bk::rules<bk::linux_defaults, bk::with_should_balance<my_should_balance>>;

bk::balance_result<bk::small_limits> tick(const bk::balancer<my_rules, bk::small_limits>& b,
                                          bk::snapshot<bk::small_limits>& snap,
                                          bk::balance_state<my_rules, bk::small_limits>& state) {
  return b.on_tick(0, 0, snap, state);
}
