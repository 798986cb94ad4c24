// Our domains against the Linux 6.1 kernel's own, captured under QEMU by
// tools/kernel-oracle (tests/golden/<name>/: spec.txt, sched_verbose.txt, debugfs.txt).
#include <balancekit/domains.hpp>
#include <balancekit/topology/spec.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

using namespace balancekit;
namespace fs = std::filesystem;

namespace {

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The value of "key: value" in spec.txt, or "".
std::string field(const std::string& spec, const std::string& key) {
  std::istringstream in(spec);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + ": ", 0) == 0) return line.substr(key.size() + 2);
  return {};
}

// "line N: ours '...' vs kernel '...'" for the first difference, or "".
std::string first_difference(const std::string& ours, const std::string& kernel) {
  std::istringstream a(ours);
  std::istringstream b(kernel);
  std::string la;
  std::string lb;
  for (int n = 1;; ++n) {
    const bool ha = static_cast<bool>(std::getline(a, la));
    const bool hb = static_cast<bool>(std::getline(b, lb));
    if (!ha && !hb) return {};
    if (!ha || !hb || la != lb)
      return "line " + std::to_string(n) + ":\n  ours:   " + (ha ? la : "<end>") + "\n  kernel: " + (hb ? lb : "<end>");
  }
}

}  // namespace

TEST_CASE("domains match what Linux 6.1 built under QEMU for every golden topology", "[domains][golden]") {
  // The cases are the names in topologies.txt (NAME|LEVELS|DISTANCES); each must have its
  // captured files, so a topology that lost its golden output fails here.
  const fs::path dir = BALANCEKIT_GOLDEN_DIR;
  std::vector<fs::path> cases;
  {
    std::istringstream list(read(dir / "topologies.txt"));
    for (std::string line; std::getline(list, line);)
      if (!line.empty() && line[0] != '#') cases.push_back(dir / line.substr(0, line.find('|')));
  }
  REQUIRE(cases.size() >= 12);

  auto topo = std::make_unique<topology<default_limits>>();
  auto tree = std::make_unique<domain_tree<default_limits>>();
  for (const fs::path& c : cases) {
    INFO(c.filename().string());
    REQUIRE(fs::exists(c / "sched_verbose.txt"));
    REQUIRE(fs::exists(c / "debugfs.txt"));
    const std::string spec = read(c / "spec.txt");
    // QEMU adds what the level string leaves out (every die has an L3); the oracle records
    // the machine it actually booted.
    std::string levels = field(spec, "levels (with defaults)");
    if (levels.empty()) levels = field(spec, "levels");
    std::string distances = field(spec, "distances");
    if (distances == "(none)") distances.clear();
    INFO(c.filename().string() << ": " << levels << (distances.empty() ? "" : " / " + distances));
    REQUIRE_FALSE(levels.empty());
    const status s = make_topology(machine_spec{levels, distances}, *topo);
    REQUIRE(s.ok());
    REQUIRE(domain_tree<default_limits>::build(*topo, {}, *tree).ok());
    std::string verbose;
    std::string debugfs;
    format_sched_verbose(*tree, [&](std::string_view p) { verbose += p; });
    format_debugfs(*tree, [&](std::string_view p) { debugfs += p; });
    CHECK(first_difference(verbose, read(c / "sched_verbose.txt")) == "");
    CHECK(first_difference(debugfs, read(c / "debugfs.txt")) == "");
  }
}
