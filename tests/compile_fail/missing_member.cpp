// A pack written from scratch that forgets a member gets one sentence per missing member,
// not a bare "no type named".
#include <balancekit/balancer.hpp>

namespace bk = balancekit;

struct my_rules {
  using src_group = bk::linux_src_group;
  using src_rq = bk::linux_src_rq;
  using can_migrate = bk::linux_can_migrate;
#ifndef BALANCEKIT_COMPILE_FAIL
  using detach = bk::linux_detach;
#endif
  using should_balance = bk::linux_should_we_balance;
  using active_balance = bk::linux_active_balance;
  using interval = bk::linux_interval;
  using numa_imbalance = bk::linux_numa_imbalance;
  static constexpr bk::balance_tunables balance_tuning{};
  using placement = bk::placement::none;
  using packing = bk::packing::none;
  using aggregation = bk::aggregation::none;
  using push = bk::push::none;
  using numa = bk::numa::none;
  static constexpr bk::placement_family::tunables placement_tuning{};
  static constexpr bk::packing_family::tunables packing_tuning{};
  static constexpr bk::aggregation_family::tunables aggregation_tuning{};
  static constexpr bk::push_family::tunables push_tuning{};
  static constexpr bk::numa_family::tunables numa_tuning{};
};

template class bk::balancer<my_rules, bk::small_limits>;
