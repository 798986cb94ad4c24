/// \file
/// Umbrella: the rules, one header each (load balancing and placement), the policy packs,
/// and the packs of the alternatives (Wasted Cores, Ipanema).
#pragma once

#include <balancekit/policy/active_balance.hpp>
#include <balancekit/policy/aggregation.hpp>
#include <balancekit/policy/find_dst.hpp>
#include <balancekit/policy/imbalance.hpp>
#include <balancekit/policy/interval.hpp>
#include <balancekit/policy/ipanema.hpp>
#include <balancekit/policy/numa.hpp>
#include <balancekit/policy/pack.hpp>
#include <balancekit/policy/packing.hpp>
#include <balancekit/policy/placement.hpp>
#include <balancekit/policy/push.hpp>
#include <balancekit/policy/selection.hpp>
#include <balancekit/policy/should_we_balance.hpp>
#include <balancekit/policy/src_rq.hpp>
#include <balancekit/policy/task_selection.hpp>
#include <balancekit/policy/wakeup.hpp>
#include <balancekit/policy/wasted_cores.hpp>
