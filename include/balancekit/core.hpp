/// \file
/// Umbrella: the core vocabulary (masks, fixed-capacity containers, units, limits, errors,
/// the "none" of each kind of index).
#pragma once

#include <balancekit/core/cpumask.hpp>
#include <balancekit/core/error.hpp>
#include <balancekit/core/index.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/core/static_vector.hpp>
#include <balancekit/core/units.hpp>
