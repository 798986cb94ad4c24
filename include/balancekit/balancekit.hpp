/// \file
/// Umbrella: every public header whose only dependencies are the library's own (GSL,
/// range-v3). Two areas need a further library and are included on their own:
/// `balancekit/adapters.hpp` (hwloc) and `balancekit/check/generators.hpp` (RapidCheck).
#pragma once

#include <balancekit/balancer.hpp>
#include <balancekit/check/invariants.hpp>
#include <balancekit/check/push_claims.hpp>
#include <balancekit/core.hpp>
#include <balancekit/domains.hpp>
#include <balancekit/model.hpp>
#include <balancekit/policy.hpp>
#include <balancekit/stats.hpp>
#include <balancekit/topology.hpp>
#include <balancekit/version.hpp>
