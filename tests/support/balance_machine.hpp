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
