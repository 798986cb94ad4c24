// What the balancekit command's parts share: the machine options, the loaded machine, and
// bad input as an exception main() turns into exit code 2.
#pragma once

#include <balancekit/balancekit.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bkcli {

using cli_topology = balancekit::topology<balancekit::large_limits>;
using cli_domains = balancekit::domain_tree<balancekit::large_limits>;

inline constexpr int exit_bad_input = 2;

struct bad_input {
  std::string message;
};

struct topology_options {
  std::string spec;
  std::string machine;
  std::string hwloc_xml;
  std::string hwloc_fsroot;
  bool host = false;
  std::optional<std::string> distances;
  std::optional<std::string> capacity;
  std::optional<std::string> offline;
  std::optional<std::string> cpu_ids;
  std::string depth = "llc";
};

[[noreturn]] inline void fail(const std::string& message) { throw bad_input{message}; }

struct loaded {
  std::unique_ptr<cli_topology> topology = std::make_unique<cli_topology>();
  std::string title;
  std::vector<std::string> notes;
};

/// The machine the options describe (main.cpp). Bad input throws `bad_input`.
loaded load_machine(const topology_options& o);

}  // namespace bkcli
