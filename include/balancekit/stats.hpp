/// \file
/// Umbrella: what the embedder fills (the snapshot), the group statistics read from it,
/// and the group sums an owner may keep in step with it.
#pragma once

#include <balancekit/stats/group_stats.hpp>
#include <balancekit/stats/group_sums.hpp>
#include <balancekit/stats/snapshot.hpp>
