/// \file
/// Umbrella: the topology model, the text spec and the built-in machines.
#pragma once

#include <balancekit/topology/machines.hpp>
#include <balancekit/topology/spec.hpp>
#include <balancekit/topology/topology.hpp>
