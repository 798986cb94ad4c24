// A NUMA member that takes part (`active`) must answer the embedder's calls; one without
// `fault` gets the family's sentence.
#include <balancekit/balancer.hpp>
#include <balancekit/policy/numa/member.hpp>

namespace bk = balancekit;

#ifdef BALANCEKIT_COMPILE_FAIL
// Claims to balance memory, but never takes a fault.
struct never_faults {
  using family = bk::numa_family;
  static constexpr bool active = true;
  template <bk::limits_pack L>
  using state = bk::numa::numa_state<L, 16>;
  template <bk::limits_pack L>
  static constexpr void attach(const bk::domain_tree<L>&, state<L>&) {}
};
using my_rules = bk::rules<bk::linux_defaults, bk::with_numa<never_faults>>;
#else
using my_rules = bk::rules<bk::linux_defaults, bk::with_numa<bk::numa::mainline>>;
#endif
static_assert(bk::check_pack<my_rules, bk::small_limits>());
