/// \file
/// Umbrella: everything pure in balancekit (adapters and check/ are included separately).
#pragma once

#include <balancekit/core.hpp>
#include <balancekit/domains.hpp>
#include <balancekit/topology.hpp>
#include <balancekit/version.hpp>
