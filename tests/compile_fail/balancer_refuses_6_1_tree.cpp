// The balancer's rules are v6.16's and read mainline's group flags: it refuses a tree
// built with the linux-6.1 profile (here in constant evaluation, where the contract
// violation is a compile error).
#include <balancekit/balancer.hpp>
#include <balancekit/domains.hpp>
#include <balancekit/topology/spec.hpp>

namespace bk = balancekit;
using L = bk::small_limits;

constexpr bool balance_on(bk::domain_options opts) {
  bk::topology<L> topo;
  if (!bk::make_topology({"package:1 l3:1 core:2 pu:1"}, topo)) return false;
  bk::domain_tree<L> tree;
  if (!bk::domain_tree<L>::build(topo, opts, tree)) return false;
  const bk::balancer<bk::linux_defaults, L> b{tree};
  return &b.tree() == &tree;
}

#ifdef BALANCEKIT_COMPILE_FAIL
static_assert(balance_on(bk::domain_options{}));  // linux-6.1, the domains' default
#else
static_assert(balance_on(bk::balancer_domain_options()));
#endif
