/// \file
/// Umbrella: what the embedder fills (the snapshot) and the group statistics read from it.
#pragma once

#include <balancekit/stats/group_stats.hpp>
#include <balancekit/stats/snapshot.hpp>
