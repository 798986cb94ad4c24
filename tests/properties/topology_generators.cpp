// The generators' own claims: every shape builds, its counts follow from its level
// string, it is deterministic and prints as a command line that rebuilds it, the
// features the docs promise do occur, and failures shrink toward small machines.
#include <balancekit/check/generators.hpp>

#include <catch2/catch.hpp>
#include <rapidcheck.h>

#include <support/property.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using namespace balancekit;
namespace bc = balancekit::check;
using big = large_limits;

namespace {

struct level_token {
  std::string name;
  std::size_t count;
};

// The test's own reading of a level string, independent of the spec parser.
std::vector<level_token> tokens_of(const std::string& levels) {
  std::vector<level_token> out;
  std::istringstream in(levels);
  std::string tok;
  while (in >> tok) {
    const auto colon = tok.find(':');
    out.push_back({tok.substr(0, colon), std::stoul(tok.substr(colon + 1))});
  }
  return out;
}

std::size_t product_through(const std::vector<level_token>& toks, std::size_t last) {
  std::size_t p = 1;
  for (std::size_t i = 0; i <= last && i < toks.size(); ++i) p *= toks[i].count;
  return p;
}

std::optional<std::size_t> index_of(const std::vector<level_token>& toks, std::string_view name) {
  for (std::size_t i = 0; i < toks.size(); ++i)
    if (toks[i].name == name) return i;
  return std::nullopt;
}

// Units at a level as the spec's defaults define them: a missing level falls back to
// the next one in its chain (cluster to core, LLC to cluster, die to package), a
// missing core to the PU and a missing package to the whole machine.
std::size_t expected_count(const std::vector<level_token>& toks, hw_level l) {
  const std::size_t total = product_through(toks, toks.size());
  const auto through = [&](std::string_view name) -> std::optional<std::size_t> {
    if (auto i = index_of(toks, name)) return product_through(toks, *i);
    return std::nullopt;
  };
  const std::size_t core = through("core").value_or(total);
  const std::size_t l2 = through("l2").value_or(core);
  const std::size_t llc = through("l3").value_or(l2);
  // One L2 per LLC is no cluster (the kernel's cluster mask never spans a whole LLC).
  const std::size_t cluster = l2 == llc ? core : l2;
  const std::size_t package = through("pack").value_or(1);
  switch (l) {
    case hw_level::core: return core;
    case hw_level::cluster: return cluster;
    case hw_level::llc: return llc;
    case hw_level::die: return through("die").value_or(package);
    case hw_level::package: return package;
    case hw_level::node: return through("numa").value_or(1);
  }
  return 0;
}

template <class L>
void build_or_fail(const bc::machine_shape& shape, topology<L>& t) {
  const status s = make_topology(shape.spec(), t);
  if (!s) RC_FAIL("does not build: " + std::string(s.error_value().message.view()));
}

// Reads back `--flag "value"` pairs as operator<< prints them.
std::map<std::string, std::string> read_command_line(const std::string& line) {
  std::map<std::string, std::string> out;
  std::size_t i = 0;
  while ((i = line.find("--", i)) != std::string::npos) {
    const std::size_t space = line.find(' ', i);
    const std::size_t open = line.find('"', space);
    const std::size_t close = line.find('"', open + 1);
    out[line.substr(i + 2, space - i - 2)] = line.substr(open + 1, close - open - 1);
    i = close + 1;
  }
  return out;
}

}  // namespace

TEST_CASE("level strings fit the limits, keep the level order and build", "[topology][properties][generators]") {
  auto small = std::make_unique<topology<small_limits>>();
  auto dflt = std::make_unique<topology<default_limits>>();
  REQUIRE(test::check("levels build", 300, [&] {
    const std::size_t max_cpus = *rc::gen::element<std::size_t>(1, 2, 7, 64, 512);
    const std::string levels = *bc::gen::levels(max_cpus);
    const auto toks = tokens_of(levels);
    RC_ASSERT(!toks.empty());
    RC_ASSERT(toks.back().name == "pu");
    const std::vector<std::string> order{"pack", "die", "l3", "l2", "core", "pu"};
    std::size_t rank = 0;
    bool numa_seen = false;
    for (const auto& tok : toks) {
      RC_ASSERT(tok.count >= 1);
      if (tok.name == "numa") {
        RC_ASSERT(!numa_seen);
        RC_ASSERT(rank < 4);  // before l2 and core
        numa_seen = true;
        continue;
      }
      std::size_t r = 0;
      while (r < order.size() && order[r] != tok.name) ++r;
      RC_ASSERT(r < order.size());
      RC_ASSERT(r >= rank);
      rank = r + 1;
    }
    RC_ASSERT(product_through(toks, toks.size()) <= max_cpus);
    const machine_spec spec{levels};
    if (max_cpus <= 64) {
      const status s = make_topology(spec, *small);
      RC_ASSERT(s.ok());
    }
    const status s = make_topology(spec, *dflt);
    RC_ASSERT(s.ok());
  }));
}

TEST_CASE("level strings use count 1 sometimes but not mostly", "[generators]") {
  const auto g = bc::gen::levels(512);
  int with_one = 0;
  int samples = 0;
  for (std::uint64_t seed = 0; seed < 400; ++seed, ++samples) {
    for (const auto& tok : tokens_of(g(rc::Random(seed), static_cast<int>(seed % 101)).value()))
      if (tok.count == 1 && tok.name != "pu") {
        ++with_one;
        break;
      }
  }
  CHECK(with_one > 0);
  CHECK(with_one < samples / 3);
}

TEST_CASE("every generated machine builds with the counts its level string implies", "[topology][properties][generators]") {
  auto t = std::make_unique<topology<big>>();
  REQUIRE(test::check("generated machines build", 200, [&] {
    const bc::machine_shape shape = *bc::gen::machine<big>();
    build_or_fail(shape, *t);
    const auto toks = tokens_of(shape.levels);
    const std::size_t total = product_through(toks, toks.size());
    RC_ASSERT(t->nr_cpus() == total);
    for (hw_level l : hw_levels) RC_ASSERT(t->count(l) == expected_count(toks, l));
    const auto ids = shape.cpu_ids.empty() ? topology<big>::mask::first_n(total) : *topology<big>::mask::parse(shape.cpu_ids);
    RC_ASSERT(t->possible() == ids);
  }));
}

TEST_CASE("generated machines fit small limits too", "[topology][properties][generators]") {
  auto t = std::make_unique<topology<small_limits>>();
  REQUIRE(test::check("generated machines build under small_limits", 200, [&] {
    const bc::machine_shape shape = *bc::gen::machine<small_limits>();
    build_or_fail(shape, *t);
    RC_ASSERT(t->nr_cpus() <= small_limits::max_cpus);
  }));
}

TEST_CASE("building a shape twice gives the same topology, and its printed form rebuilds it",
          "[topology][properties][generators]") {
  auto a = std::make_unique<topology<big>>();
  auto b = std::make_unique<topology<big>>();
  REQUIRE(test::check("generated machines are reproducible", 200, [&] {
    const bc::machine_shape shape = *bc::gen::machine<big>();
    build_or_fail(shape, *a);
    build_or_fail(shape, *b);
    RC_ASSERT(*a == *b);

    std::ostringstream os;
    os << shape;
    auto flags = read_command_line(os.str());
    RC_ASSERT(flags.size() == 5U);
    bc::machine_shape back;
    back.levels = flags["spec"];
    back.distances = flags["distances"];
    back.capacity = flags["capacity"];
    back.offline = flags["offline"];
    back.cpu_ids = flags["cpu-ids"];
    RC_ASSERT(back.spec().levels == shape.spec().levels);
    RC_ASSERT(back.spec().distances == shape.spec().distances);
    RC_ASSERT(back.spec().capacity == shape.spec().capacity);
    RC_ASSERT(back.spec().offline == shape.spec().offline);
    RC_ASSERT(back.spec().cpu_ids == shape.spec().cpu_ids);
    build_or_fail(back, *b);
    RC_ASSERT(*a == *b);
  }));
}

namespace {

// The features a sample of shapes shows, read from the built topologies (not from the
// generator's intentions), plus the distance family each shape names. Deterministic:
// fixed seeds and sizes, so a feature that becomes unreachable fails every run.
std::set<std::string> features_of(const rc::Gen<bc::machine_shape>& g, std::uint64_t samples) {
  auto t = std::make_unique<topology<big>>();
  std::set<std::string> seen;
  for (std::uint64_t seed = 0; seed < samples; ++seed) {
    const bc::machine_shape shape = g(rc::Random(seed), static_cast<int>(seed % 101)).value();
    const status s = make_topology(shape.spec(), *t);
    INFO(shape);
    REQUIRE(s.ok());
    seen.insert("family " + std::string(to_string(shape.family)));
    if (t->nr_cpus() == 1) seen.insert("1 CPU");
    if (t->nr_cpus() >= 1024) seen.insert(">= 1024 CPUs");
    if (t->possible() != topology<big>::mask::first_n(t->nr_cpus())) seen.insert("sparse ids");
    if (t->online() != t->possible()) seen.insert("offline CPUs");
    if (t->asymmetric()) seen.insert("asymmetric capacity");
    for (std::size_t c : t->possible()) {
      const auto& core = t->siblings(hw_level::core, c);
      const auto& cluster = t->siblings(hw_level::cluster, c);
      const auto& llc = t->siblings(hw_level::llc, c);
      const auto& package = t->siblings(hw_level::package, c);
      const auto& node = t->cpus_of_node(t->node_of(c));
      if (core.weight() == 4) seen.insert("SMT 4");
      if (t->described(hw_level::cluster) && cluster != core) seen.insert("clusters");
      if (llc != node && llc.subset_of(node)) seen.insert("LLCs per node > 1");
      if (node != package && node.subset_of(package)) seen.insert("nodes per package > 1");
      if (package != node && package.subset_of(node)) seen.insert("node above a package");
    }
  }
  return seen;
}

}  // namespace

TEST_CASE("the machine generator produces every feature it promises", "[topology][generators]") {
  const std::set<std::string> seen = features_of(bc::gen::machine<big>(), 400);
  const std::vector<std::string> promised{
      "1 CPU", ">= 1024 CPUs", "SMT 4", "clusters", "LLCs per node > 1", "nodes per package > 1",
      "node above a package", "sparse ids", "offline CPUs", "asymmetric capacity", "family single_node",
      "family kernel_default", "family flat", "family two_level", "family ring", "family cube3",
      "family two_hop", "family random"};
  for (const std::string& feature : promised) {
    INFO(feature);
    CHECK(seen.count(feature) == 1);
  }
}

TEST_CASE("the feature census notices features switched off by the options", "[generators]") {
  // The census above must be able to fail: with these features off it must not see them.
  bc::machine_options o;
  o.large_percent = 0;
  o.sparse_ids_percent = 0;
  o.offline_percent = 0;
  o.asymmetric_percent = 0;
  o.distances = false;
  const std::set<std::string> seen = features_of(bc::gen::machine<big>(o), 200);
  for (const char* absent : {">= 1024 CPUs", "sparse ids", "offline CPUs", "asymmetric capacity", "family flat",
                             "family cube3", "family two_hop", "family random"}) {
    INFO(absent);
    CHECK(seen.count(absent) == 0);
  }
  CHECK(seen.count("family kernel_default") == 1);
  CHECK(seen.count("SMT 4") == 1);
  // And the CPU bound holds.
  o.max_cpus = 16;
  auto t = std::make_unique<topology<big>>();
  const auto g = bc::gen::machine<big>(o);
  for (std::uint64_t seed = 0; seed < 100; ++seed) {
    REQUIRE(make_topology(g(rc::Random(seed)).value().spec(), *t).ok());
    CHECK(t->nr_cpus() <= 16);
  }
}

TEST_CASE("a failing property shrinks to a small machine", "[generators]") {
  // Greedy descent over RapidCheck's shrink tree, as RapidCheck does after a failure:
  // the minimal "more than one node" machine should be two one-CPU nodes, no extras.
  const auto g = bc::gen::machine<big>();
  const auto fails = [](const bc::machine_shape& s) {
    const auto toks = tokens_of(s.levels);
    return expected_count(toks, hw_level::node) > 1;
  };
  int checked = 0;
  for (std::uint64_t seed = 0; seed < 60 && checked < 5; ++seed) {
    auto current = g(rc::Random(seed), 100);
    if (!fails(current.value())) continue;
    ++checked;
    for (bool progress = true; progress;) {
      progress = false;
      auto shrinks = current.shrinks();
      while (auto next = shrinks.next()) {
        if (fails(next->value())) {
          current = std::move(*next);
          progress = true;
          break;
        }
      }
    }
    const bc::machine_shape minimal = current.value();
    INFO(minimal);
    const auto toks = tokens_of(minimal.levels);
    CHECK(product_through(toks, toks.size()) == 2);
    CHECK(minimal.capacity.empty());
    CHECK(minimal.offline.empty());
    CHECK(minimal.cpu_ids.empty());
    CHECK(minimal.distances.empty());
  }
  REQUIRE(checked == 5);
}

TEST_CASE("built-in machines are offered as shapes that build", "[topology][properties][generators]") {
  auto t = std::make_unique<topology<default_limits>>();
  std::set<std::string> names;
  REQUIRE(test::check("builtin machines build", 50, [&] {
    const bc::machine_shape shape = *bc::gen::builtin_machine<default_limits>();
    RC_ASSERT(!shape.name.empty());
    RC_ASSERT(machines::find(shape.name).has_value());
    names.insert(shape.name);
    build_or_fail(shape, *t);
  }));
  CHECK(names.size() == machines::all.size());
  // Small limits hold only the machines that fit them.
  const auto small = bc::gen::builtin_machine<small_limits>();
  for (std::uint64_t seed = 0; seed < 50; ++seed) {
    const auto shape = small(rc::Random(seed)).value();
    CHECK((shape.name == "seed64" || shape.name == "phone8" || shape.name == "uni1" || shape.name == "opteron64"));
  }
}
