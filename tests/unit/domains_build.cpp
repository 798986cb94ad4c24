// Domains and groups against hand-derived expectations and real kernel output quoted in
// public threads. The full-machine comparison with the kernel itself is [golden].
#include <balancekit/domains.hpp>
#include <balancekit/topology/machines.hpp>

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "support/alloc_counter.hpp"

using namespace balancekit;
using L = default_limits;
using tree_t = domain_tree<L>;

namespace {
struct built {
  std::unique_ptr<topology<L>> topo = std::make_unique<topology<L>>();
  std::unique_ptr<tree_t> tree = std::make_unique<tree_t>();
};

built build(const machine_spec& spec, domain_options opts = {}) {
  built b;
  const status s = make_topology(spec, *b.topo);
  INFO((s ? "" : std::string(s.error_value().message.view())));
  REQUIRE(s.ok());
  const status d = tree_t::build(*b.topo, opts, *b.tree);
  INFO((d ? "" : std::string(d.error_value().message.view())));
  REQUIRE(d.ok());
  return b;
}

std::string sched_verbose(const tree_t& t) {
  std::string s;
  format_sched_verbose(t, [&](std::string_view p) { s += p; });
  return s;
}
std::string debugfs(const tree_t& t) {
  std::string s;
  format_debugfs(t, [&](std::string_view p) { s += p; });
  return s;
}
// The block the kernel prints for one CPU.
std::string block_of(const std::string& all, std::size_t cpu) {
  const std::string head = "CPU" + std::to_string(cpu) + " attaching";
  const auto at = all.find(head);
  REQUIRE(at != std::string::npos);
  const auto next = all.find("\nCPU", at + 1);
  const auto root = all.find("\nroot domain", at + 1);
  const auto end = std::min(next, root);
  return all.substr(at, end - at + 1);
}
std::vector<std::string> group_spans(const tree_t& t, std::size_t cpu, std::size_t k) {
  std::vector<std::string> v;
  const auto& d = t.domain_of(cpu, k);
  for (std::size_t g = 0; g < d.nr_groups; ++g) v.push_back(to_cpulist(t.span(t.group_of(d, g))));
  return v;
}
}  // namespace

TEST_CASE("one socket with SMT gives SMT and MC domains with the kernel's group lists", "[domains]") {
  // Hand-derived from build_sched_groups(): groups keyed by the child's first CPU, listed
  // from the CPU's own group, capacity printed when not 1024.
  const auto b = build({"package:1 l3:1 core:4 pu:2"});
  const std::string out = sched_verbose(*b.tree);
  CHECK(block_of(out, 0) ==
        "CPU0 attaching sched-domain(s):\n"
        " domain-0: span=0-1 level=SMT\n"
        "  groups: 0:{ span=0 }, 1:{ span=1 }\n"
        "  domain-1: span=0-7 level=MC\n"
        "   groups: 0:{ span=0-1 cap=2048 }, 2:{ span=2-3 cap=2048 }, 4:{ span=4-5 cap=2048 }, 6:{ span=6-7 cap=2048 }\n");
  CHECK(block_of(out, 3) ==
        "CPU3 attaching sched-domain(s):\n"
        " domain-0: span=2-3 level=SMT\n"
        "  groups: 3:{ span=3 }, 2:{ span=2 }\n"
        "  domain-1: span=0-7 level=MC\n"
        "   groups: 2:{ span=2-3 cap=2048 }, 4:{ span=4-5 cap=2048 }, 6:{ span=6-7 cap=2048 }, 0:{ span=0-1 cap=2048 }\n");
  CHECK_THAT(out, Catch::EndsWith("root domain span: 0-7 (max cpu_capacity = 1024)\n"));
}

TEST_CASE("an L3 spanning two nodes is cut at the node and DIE is dropped on x86", "[domains][x86]") {
  // Real output of an x86 kernel in QEMU (-smp 16,sockets=2,cores=4,threads=2, four
  // nodes of 4 CPUs), quoted in sched-ext/scx pull request 1434.
  const auto b = build({"package:2 l3:1 numa:2 core:2 pu:2"});
  CHECK(block_of(sched_verbose(*b.tree), 0) ==
        "CPU0 attaching sched-domain(s):\n"
        " domain-0: span=0-1 level=SMT\n"
        "  groups: 0:{ span=0 }, 1:{ span=1 }\n"
        "  domain-1: span=0-3 level=MC\n"
        "   groups: 0:{ span=0-1 cap=2048 }, 2:{ span=2-3 cap=2048 }\n"
        "   domain-2: span=0-15 level=NUMA\n"
        "    groups: 0:{ span=0-3 cap=4096 }, 4:{ span=4-7 cap=4096 }, 8:{ span=8-11 cap=4096 }, 12:{ span=12-15 cap=4096 }\n");
}

TEST_CASE("the generic rules keep an LLC that spans nodes whole", "[domains]") {
  domain_options generic;
  generic.arch = arch_rules::generic;
  const auto b = build({"package:2 l3:1 numa:2 core:2 pu:2"}, generic);
  // MC is the whole L3 (8 CPUs); the node level below it is forced up to the LLC.
  CHECK(to_cpulist(b.tree->span(b.tree->domain_of(0, 1))) == "0-7");
  CHECK(b.tree->name(b.tree->domain_of(0, 1)) == "MC");
}

TEST_CASE("the Wasted Cores machine's top groups from CPU 0 are the paper's two groups", "[domains][wasted-cores]") {
  // Lozi et al. section 3.2: from node 0's perspective {0,1,2,4,6} and {1,2,3,4,5,7}.
  const auto b = build(machines::opteron64.spec);
  const auto& t = *b.tree;
  const std::size_t top = t.nr_domains(0) - 1;
  CHECK(group_spans(t, 0, top) == std::vector<std::string>{"0-23,32-39,48-55", "8-47,56-63"});
  // From a CPU of node 2 (CPU 16), its own group excludes node 1 (CPUs 8-15): the
  // per-CPU perspective lets node 2 see node 1's load separately.
  const auto& d16 = t.domain_of(16, t.nr_domains(16) - 1);
  const auto& own = t.span(t.group_of(d16, 0));
  CHECK(own.test(16));
  CHECK_FALSE(own.intersects(*cpumask<L::max_cpus>::parse("8-15")));
}

TEST_CASE("NUMA diameter 3 builds groups from descended siblings and covers the span", "[domains]") {
  // Scenario S5 (kernel 585b6d2723dc): without find_descended_sibling the top groups of
  // CPU 0 would not span 0-7.
  const auto b = build({"package:4 numa:1 l3:1 core:2 pu:1", "10 12 20 22;12 10 22 24;20 22 10 12;22 24 12 10"});
  const std::string out = sched_verbose(*b.tree);
  CHECK(block_of(out, 0) ==
        "CPU0 attaching sched-domain(s):\n"
        " domain-0: span=0-1 level=MC\n"
        "  groups: 0:{ span=0 }, 1:{ span=1 }\n"
        "  domain-1: span=0-3 level=NUMA\n"
        "   groups: 0:{ span=0-1 cap=2048 }, 2:{ span=2-3 cap=2048 }\n"
        "   domain-2: span=0-5 level=NUMA\n"
        "    groups: 0:{ span=0-3 cap=4096 }, 4:{ span=4-5 cap=2048 }\n"
        "    domain-3: span=0-7 level=NUMA\n"
        "     groups: 0:{ span=0-5 mask=0-1 cap=6144 }, 6:{ span=4-7 mask=6-7 cap=4096 }\n");
  CHECK_THAT(out, !Catch::Contains("ERROR"));
}

TEST_CASE("sd_init sets imbalance_pct, intervals, cache_nice_tries and NUMA flags per level", "[domains]") {
  const auto b = build(machines::hygon384.spec);
  const std::string out = debugfs(*b.tree);
  // SMT: 110, 2 CPUs; MC: LLC of 16; NODE: the 32-CPU node (x86 drops DIE: 6 nodes per
  // package); NUMA 16: the socket (192), keeps EXEC/FORK/WAKE_AFFINE; NUMA 32 > 30 loses them.
  CHECK_THAT(out, Catch::Contains(
                      "cpu0/domain0 name=SMT imbalance_pct=110 busy_factor=16 min_interval=2 max_interval=4 "
                      "cache_nice_tries=0 flags=SD_BALANCE_NEWIDLE SD_BALANCE_EXEC SD_BALANCE_FORK SD_WAKE_AFFINE "
                      "SD_SHARE_CPUCAPACITY SD_SHARE_PKG_RESOURCES SD_PREFER_SIBLING\n"));
  CHECK_THAT(out, Catch::Contains("cpu0/domain1 name=MC imbalance_pct=117 busy_factor=16 min_interval=16 max_interval=32 "
                                  "cache_nice_tries=1 flags=SD_BALANCE_NEWIDLE SD_BALANCE_EXEC SD_BALANCE_FORK "
                                  "SD_WAKE_AFFINE SD_SHARE_PKG_RESOURCES SD_PREFER_SIBLING\n"));
  CHECK_THAT(out, Catch::Contains("cpu0/domain2 name=NODE imbalance_pct=117 busy_factor=16 min_interval=32 "
                                  "max_interval=64 cache_nice_tries=1 flags=SD_BALANCE_NEWIDLE SD_BALANCE_EXEC "
                                  "SD_BALANCE_FORK SD_WAKE_AFFINE SD_PREFER_SIBLING\n"));
  CHECK_THAT(out, Catch::Contains("cpu0/domain3 name=NUMA imbalance_pct=117 busy_factor=16 min_interval=192 "
                                  "max_interval=384 cache_nice_tries=2 flags=SD_BALANCE_NEWIDLE SD_BALANCE_EXEC "
                                  "SD_BALANCE_FORK SD_WAKE_AFFINE SD_SERIALIZE SD_OVERLAP SD_NUMA\n"));
  CHECK_THAT(out, Catch::Contains("cpu0/domain4 name=NUMA imbalance_pct=117 busy_factor=16 min_interval=384 "
                                  "max_interval=768 cache_nice_tries=2 flags=SD_BALANCE_NEWIDLE SD_SERIALIZE "
                                  "SD_OVERLAP SD_NUMA\n"));
}

TEST_CASE("imb_numa_nr follows the LLC count and the first NUMA span", "[domains]") {
  // Hygon: NODE has 2 LLCs -> 2; NUMA(192): 192/192 = 1 -> 2; NUMA(384): 384/192 = 2 -> 4.
  const auto b = build(machines::hygon384.spec);
  const auto& t = *b.tree;
  CHECK(t.domain_of(0, 0).imb_numa_nr == 0);
  CHECK(t.domain_of(0, 1).imb_numa_nr == 0);
  CHECK(t.domain_of(0, 2).imb_numa_nr == 2);
  CHECK(t.domain_of(0, 3).imb_numa_nr == 2);
  CHECK(t.domain_of(0, 4).imb_numa_nr == 4);
  // One LLC per node: 12.5% of the node. seed64: 16 CPUs per socket -> 16 >> 3 = 2.
  const auto s = build(machines::seed64.spec);
  const auto& ts = *s.tree;
  CHECK(ts.name(ts.domain_of(0, 1)) == "MC");
  CHECK(ts.name(ts.domain_of(0, 2)) == "NUMA");
  CHECK(ts.domain_of(0, 2).imb_numa_nr == 2 * (64 / 64));
}

TEST_CASE("per-CPU shortcuts name the LLC and the lowest NUMA domain", "[domains]") {
  const auto b = build(machines::hygon384.spec);
  const auto& t = *b.tree;
  CHECK(t.sd_llc(17) == 1);
  CHECK(t.llc_id(17) == 16);
  CHECK(t.llc_size(17) == 16);
  CHECK(t.sd_numa(17) == 3);
  CHECK(t.cpus_share_cache(16, 31));
  CHECK_FALSE(t.cpus_share_cache(15, 16));
  CHECK(t.numa_type() == numa_topology_type::backplane);
  CHECK(t.numa_distances().size() == 3);
}

TEST_CASE("a one-CPU machine attaches no domain", "[domains]") {
  const auto b = build(machines::uni1.spec);
  CHECK(sched_verbose(*b.tree) == "CPU0 attaching NULL sched-domain.\nroot domain span: 0 (max cpu_capacity = 1024)\n");
  CHECK(debugfs(*b.tree).empty());
}

TEST_CASE("asymmetric capacity sets ASYM flags and clears PREFER_SIBLING below them", "[domains]") {
  const auto b = build(machines::phone8.spec);
  const std::string out = debugfs(*b.tree);
  CHECK_THAT(out, Catch::Contains("cpu0/domain0 name=CLS imbalance_pct=117 busy_factor=16 min_interval=4 max_interval=8 "
                                  "cache_nice_tries=1 flags=SD_BALANCE_NEWIDLE SD_BALANCE_EXEC SD_BALANCE_FORK "
                                  "SD_WAKE_AFFINE SD_SHARE_PKG_RESOURCES\n"));
  CHECK_THAT(out, Catch::Contains("SD_ASYM_CPUCAPACITY SD_ASYM_CPUCAPACITY_FULL"));
  CHECK(b.tree->sd_asym_cpucapacity(0) == 1);
  // MC groups are the two clusters: capacity 4 x 446 and 4 x 1024.
  CHECK_THAT(sched_verbose(*b.tree), Catch::Contains("groups: 0:{ span=0-3 cap=1784 }, 4:{ span=4-7 cap=4096 }"));
}

TEST_CASE("the mainline profile uses PKG, SD_SHARE_LLC and SD_CLUSTER and has no SD_OVERLAP", "[domains]") {
  domain_options mainline;
  mainline.profile = kernel_profile::mainline;
  const auto b = build({"package:2 numa:1 l3:1 core:2 pu:2", "10 21;21 10"}, mainline);
  const std::string out = debugfs(*b.tree);
  CHECK_THAT(out, Catch::Contains("SD_SHARE_LLC"));
  CHECK_THAT(out, !Catch::Contains("SD_OVERLAP") && !Catch::Contains("SD_SHARE_PKG_RESOURCES"));
  const auto p = build({"package:1 l3:1 cluster:2 core:2 pu:1"}, mainline);
  CHECK_THAT(debugfs(*p.tree), Catch::Contains("name=CLS") && Catch::Contains("SD_CLUSTER"));
  const auto q = build({"package:2 core:2 pu:1"}, mainline);
  CHECK_THAT(debugfs(*q.tree), Catch::Contains("name=PKG"));
}

TEST_CASE("building domains for the 384-CPU machine allocates nothing", "[domains][alloc]") {
  auto topo = std::make_unique<topology<large_limits>>();
  REQUIRE(make_topology(machines::hygon384.spec, *topo).ok());
  auto tree = std::make_unique<domain_tree<large_limits>>();
  status s;
  const std::size_t n = test::allocations_during([&] { s = domain_tree<large_limits>::build(*topo, {}, *tree); });
  REQUIRE(s.ok());
  CHECK(n == 0);
}

TEST_CASE("building twice gives the same tree", "[domains]") {
  const auto a = build(machines::opteron64.spec);
  const auto b = build(machines::opteron64.spec);
  CHECK(sched_verbose(*a.tree) == sched_verbose(*b.tree));
  CHECK(debugfs(*a.tree) == debugfs(*b.tree));
}

namespace {
// Written once, checked at compile time and at run time (sanitizers and coverage see it).
constexpr bool smt_machine_domains_in_constant_evaluation() {
  topology<small_limits> t;
  if (!make_topology(machine_spec{"package:1 l3:1 core:4 pu:2"}, t)) return false;
  domain_tree<small_limits> tree;
  if (!domain_tree<small_limits>::build(t, {}, tree)) return false;
  const auto& mc = tree.domain_of(0, 1);
  return tree.nr_domains(0) == 2 && tree.name(mc) == "MC" && mc.nr_groups == 4 && tree.group_of(mc, 3).capacity == 2048 &&
         tree.llc_size(5) == 8;
}
}  // namespace

TEST_CASE("a small machine's domains are built in constant evaluation", "[domains][constexpr]") {
  STATIC_REQUIRE(smt_machine_domains_in_constant_evaluation());
  REQUIRE(smt_machine_domains_in_constant_evaluation());
}

TEST_CASE("a custom level table replaces the kernel's", "[domains]") {
  // Only SMT and a node-wide level: no MC, so the node's cores are grouped directly.
  domain_options custom;
  custom.levels.push_back({"SMT", level_mask::smt, {sd_flag::share_cpucapacity, sd_flag::share_llc}});
  custom.levels.push_back({"BOX", level_mask::node, {}});
  const auto b = build({"package:1 l3:2 core:2 pu:2"}, custom);
  const auto& t = *b.tree;
  REQUIRE(t.nr_domains(0) == 2);
  CHECK(t.name(t.domain_of(0, 1)) == "BOX");
  CHECK(group_spans(t, 0, 1) == std::vector<std::string>{"0-1", "2-3", "4-5", "6-7"});
}

TEST_CASE("groups count their SMT cores and keep min and max capacity", "[domains]") {
  const auto h = build(machines::hygon384.spec);
  const auto& node = h.tree->domain_of(0, 2);  // NODE: two LLC groups of 8 cores x 2 threads
  CHECK(h.tree->group_of(node, 0).cores == 8);
  CHECK(h.tree->group_of(node, 0).weight == 16);
  CHECK(h.tree->group_balance_cpu(h.tree->group_of(node, 1)) == 16);
  const auto p = build(machines::phone8.spec);
  const auto& mc = p.tree->domain_of(0, 1);  // the two clusters: little (446) then big (1024)
  CHECK(p.tree->group_of(mc, 0).min_capacity == 446);
  CHECK(p.tree->group_of(mc, 0).max_capacity == 446);
  CHECK(p.tree->group_of(mc, 1).min_capacity == 1024);
  CHECK(p.tree->group_of(mc, 1).capacity == 4096);
}
