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

}  // namespace balancekit::test
