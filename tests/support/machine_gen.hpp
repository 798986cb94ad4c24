// The random machines the balancing, placement and packing properties share: up to 48 CPUs
// with SMT, clusters, NUMA, offline CPUs and (optionally) asymmetric capacity.
#pragma once

#include <balancekit/check/generators.hpp>
#include <balancekit/core/limits.hpp>

#include <rapidcheck.h>

namespace balancekit::test {

inline rc::Gen<check::machine_shape> small_machine(bool asymmetric = true) {
  check::machine_options o;
  o.max_cpus = 48;
  o.large_percent = 0;
  if (!asymmetric) o.asymmetric_percent = 0;
  return check::gen::machine<small_limits>(o);
}

// The same machines, each with asymmetric capacity where it has two units to differ
// (a machine of one core or cluster stays symmetric; callers filter with
// topology::asymmetric()).
inline rc::Gen<check::machine_shape> asymmetric_machine() {
  check::machine_options o;
  o.max_cpus = 48;
  o.large_percent = 0;
  o.asymmetric_percent = 100;
  return check::gen::machine<small_limits>(o);
}

}  // namespace balancekit::test
