/// \file
/// Umbrella: the adapters from other tools' machine descriptions. They need their tool's
/// library (link `balancekit::hwloc`); `balancekit.hpp` does not include them.
#pragma once

#include <balancekit/adapters/hwloc.hpp>
