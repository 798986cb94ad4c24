// A topology with the domains the balancer expects, for tests of the balancer.
#pragma once

#include <balancekit/balancer.hpp>
#include <balancekit/topology/spec.hpp>

#include <cstddef>
#include <cstdint>
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

/// A task of `util` (and as much util_est and runnable), a thread of `process`, queued on
/// `cpu` of `w`'s snapshot; the first on a CPU runs there. It last ran at time 0, so it is
/// cold at one second. Returns its index, or `no_task` when the snapshot is full.
template <class P, limits_pack L>
std::uint32_t queue_task(balance_world<P, L>& w, std::size_t cpu, std::uint32_t process, std::uint64_t util) {
  task_state<L> t;
  t.id = w.snap->tasks().size();
  t.util = t.util_est = t.runnable = util;
  t.process = process;
  const std::uint32_t i = w.snap->add_task(t, cpu, w.snap->curr(cpu) == no_task);
  if (i != no_task) account_enqueue(w.snap->cpus[cpu], t);
  return i;
}

}  // namespace balancekit::test
