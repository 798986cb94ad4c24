/// \file
/// Umbrella: the deterministic system model.
#pragma once

#include <balancekit/model/system.hpp>
