// Proofs for domain construction: small machines' domain trees built in constant evaluation.
#include <balancekit/domains.hpp>
#include <balancekit/topology/spec.hpp>

namespace {
using namespace balancekit;
using mask = cpumask<small_limits::max_cpus>;

template <class F>
constexpr bool with_tree(const machine_spec& spec, F&& check) {
  topology<small_limits> t;
  if (!make_topology(spec, t)) return false;
  domain_tree<small_limits> tree;
  if (!domain_tree<small_limits>::build(t, {}, tree)) return false;
  return check(tree);
}

// One socket, 4 cores x 2 threads: SMT under MC; MC's groups are the cores, 2048 each.
static_assert(with_tree({"package:1 l3:1 core:4 pu:2"}, [](const auto& tree) {
  const auto& mc = tree.domain_of(3, 1);
  return tree.nr_domains(3) == 2 && tree.name(mc) == "MC" && mc.nr_groups == 4 &&
         tree.span(tree.group_of(mc, 0)) == mask::range(2, 3) && tree.group_of(mc, 0).capacity == 2048 &&
         tree.domain_of(3, 0).imbalance_pct == 110 && mc.imbalance_pct == 117;
}));

// NUMA diameter 3 (scenario S5): CPU 0's top groups come from descended siblings and
// cover the span: {0-5 balance 0-1} and {4-7 balance 6-7}.
static_assert(with_tree({"package:4 numa:1 l3:1 core:2 pu:1", "10 12 20 22;12 10 22 24;20 22 10 12;22 24 12 10"},
                        [](const auto& tree) {
                          const auto& top = tree.domain_of(0, 3);
                          return top.nr_groups == 2 && tree.span(tree.group_of(top, 0)) == mask::range(0, 5) &&
                                 tree.balance_mask(tree.group_of(top, 0)) == mask::range(0, 1) &&
                                 tree.span(tree.group_of(top, 1)) == mask::range(4, 7) &&
                                 tree.balance_mask(tree.group_of(top, 1)) == mask::range(6, 7);
                        }));

// One CPU: nothing to balance, no domain attached.
static_assert(with_tree({"pu:1"}, [](const auto& tree) { return tree.nr_domains(0) == 0; }));
}  // namespace
