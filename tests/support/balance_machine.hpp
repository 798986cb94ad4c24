// A topology with the domains the balancer expects, for tests of the balancer.
#pragma once

#include <balancekit/balancer.hpp>
#include <balancekit/topology/spec.hpp>

#include <memory>
#include <string>

namespace balancekit::test {

template <limits_pack L>
struct balance_machine {
  std::unique_ptr<topology<L>> topo = std::make_unique<topology<L>>();
  std::unique_ptr<domain_tree<L>> tree = std::make_unique<domain_tree<L>>();
};

/// A machine with a snapshot and pack `P`'s state, for tests that place or balance tasks.
template <class P, limits_pack L>
struct balance_world : balance_machine<L> {
  std::unique_ptr<snapshot<L>> snap = std::make_unique<snapshot<L>>();
  std::unique_ptr<balance_state<P, L>> state = std::make_unique<balance_state<P, L>>();
  balancer<P, L> b() const { return balancer<P, L>{*this->tree}; }
};

/// Builds `spec` and its domains with balancer_domain_options() into `m`; returns the
/// error message, or an empty string when both builds succeed.
template <limits_pack L>
std::string build_balance_machine(const machine_spec& spec, balance_machine<L>& m) {
  if (status s = make_topology(spec, *m.topo); !s) return "topology: " + std::string(s.error_value().message.view());
  if (status s = domain_tree<L>::build(*m.topo, balancer_domain_options(), *m.tree); !s)
    return "domains: " + std::string(s.error_value().message.view());
  return {};
}

}  // namespace balancekit::test
