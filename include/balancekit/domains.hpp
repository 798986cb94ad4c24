/// \file
/// Umbrella: scheduling domains and groups as Linux builds them, and their text forms.
#pragma once

#include <balancekit/domains/domain_tree.hpp>
#include <balancekit/domains/flags.hpp>
#include <balancekit/domains/format.hpp>
#include <balancekit/domains/levels.hpp>
