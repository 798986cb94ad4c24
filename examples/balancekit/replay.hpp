// balancekit replay: kernel trajectory captures replayed in the simulator (replay.cpp).
#pragma once

#include "cli_common.hpp"

#include <string>
#include <vector>

namespace bkcli {

/// Replays every capture among `paths` (capture directories, or directories of them) and
/// prints the agreement table (`table`, `markdown` or `json`). Returns 1 when a kernel's
/// final placement of hogs is not a fixpoint of the simulator (cases named exc* aside: they
/// check documented exceptions), else 0. Bad input throws `bad_input`.
int run_replay(const std::vector<std::string>& paths, const std::string& format);

}  // namespace bkcli
