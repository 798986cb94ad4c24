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

// The kernel prints " cap=N" for a group whose capacity is not 1024. On these symmetric
// machines N is a multiple of 1024 unless interrupts took time on one of the group's CPUs
// while it booted (capacity_of() = capacity minus IRQ pressure: 6.12 under TCG shows up to
// 12 less on a CPU or two, and NUMA groups sum capacity_of()). That is noise, not
// topology: round N up to its multiple of 1024 when it is at most 32 below it, and drop
// the annotation when that is 1024.
std::string without_boot_pressure(std::string text) {
  for (std::size_t at = text.find(" cap="); at != std::string::npos; at = text.find(" cap=", at + 1)) {
    std::size_t end = at + 5;
    while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
    const long cap = std::stol(text.substr(at + 5, end - at - 5));
    const long whole = (cap + 1023) / 1024 * 1024;
    if (whole == cap || whole - cap > 32) continue;
    text.replace(at, end - at, whole == 1024 ? std::string{} : " cap=" + std::to_string(whole));
  }
  return text;
}

}  // namespace

namespace {

// Every topology of topologies.txt (NAME|LEVELS|DISTANCES) against its capture under
// `dir`, built with `opts`; a topology that lost its golden output fails.
void check_goldens(const fs::path& list, const fs::path& dir, const domain_options& opts) {
  std::vector<fs::path> cases;
  {
    std::istringstream names(read(list));
    for (std::string line; std::getline(names, line);)
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
    REQUIRE(domain_tree<default_limits>::build(*topo, opts, *tree).ok());
    std::string verbose;
    std::string debugfs;
    format_sched_verbose(*tree, [&](std::string_view p) { verbose += p; });
    format_debugfs(*tree, [&](std::string_view p) { debugfs += p; });
    CHECK(first_difference(verbose, without_boot_pressure(read(c / "sched_verbose.txt"))) == "");
    CHECK(first_difference(debugfs, read(c / "debugfs.txt")) == "");
  }
}

}  // namespace

TEST_CASE("domains match what Linux 6.1 built under QEMU for every golden topology", "[domains][golden]") {
  const fs::path dir = BALANCEKIT_GOLDEN_DIR;
  check_goldens(dir / "topologies.txt", dir, {});
}

TEST_CASE("domains in the linux-6.12 profile match what Linux 6.12 built under QEMU", "[domains][golden][linux-6.12]") {
  // Debian 12's linux-image-6.12 (tests/golden-6.12/README.md) has mainline's names (PKG,
  // SD_SHARE_LLC, SD_CLUSTER) and its group-flag propagation, but still SD_OVERLAP, which
  // mainline dropped in 2025: hence a profile of its own.
  const fs::path dir = BALANCEKIT_GOLDEN_DIR;
  domain_options opts = balancer_domain_options();
  opts.profile = kernel_profile::linux_6_12;
  check_goldens(dir / "topologies.txt", dir.parent_path() / "golden-6.12", opts);
}
