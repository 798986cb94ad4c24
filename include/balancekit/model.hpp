/// \file
/// Umbrella: the deterministic system model.
#pragma once

#include <balancekit/model/numa_memory.hpp>
#include <balancekit/model/pelt.hpp>
#include <balancekit/model/simulator.hpp>
#include <balancekit/model/system.hpp>
#include <balancekit/model/workloads.hpp>
