/// \file
/// NUMA balancing (seed 003): fault statistics and classification, the page migration
/// filters (mainline's and AutoNUMA's), the scanner's period, and task placement's
/// weights and comparisons. See docs/numa.md.
#pragma once

#include <balancekit/policy/numa/faults.hpp>
#include <balancekit/policy/numa/interplay.hpp>
#include <balancekit/policy/numa/member.hpp>
#include <balancekit/policy/numa/migrate.hpp>
#include <balancekit/policy/numa/placement.hpp>
#include <balancekit/policy/numa/scan.hpp>
