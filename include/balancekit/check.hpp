/// \file
/// Umbrella: the invariant predicates and the RapidCheck generators. The generators need
/// RapidCheck (link `rapidcheck`); `balancekit.hpp` includes only the predicates.
#pragma once

#include <balancekit/check/generators.hpp>
#include <balancekit/check/invariants.hpp>
#include <balancekit/check/push_claims.hpp>
