/// \file
/// Umbrella: the balancer and its parts (state, environment, results, the balancing pass),
/// with the policy packs it runs.
#pragma once

#include <balancekit/balancer/balancer.hpp>
#include <balancekit/balancer/lb_env.hpp>
#include <balancekit/balancer/pass.hpp>
#include <balancekit/balancer/result.hpp>
#include <balancekit/balancer/state.hpp>
#include <balancekit/balancer/tunables.hpp>
#include <balancekit/balancer/wake_env.hpp>
#include <balancekit/policy.hpp>
