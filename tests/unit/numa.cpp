// NUMA balancing's pure rules (seed 003, policy/numa/): the page migration filters on the
// reference's exact sequences, the group's 3/4 rule, fault classification with a pid-bit
// collision, the placement averaging and the scan period, each derived by hand in its
// comment. Constexpr scenarios, checked at compile time and at run time.
#include <balancekit/core/index.hpp>
#include <balancekit/policy/numa/faults.hpp>
#include <balancekit/policy/numa/migrate.hpp>
#include <balancekit/policy/numa/placement.hpp>
#include <balancekit/policy/numa/scan.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

using namespace balancekit;
using namespace balancekit::numa;

namespace {
constexpr std::size_t nodes = 4;
// Two nodes of four CPUs: CPUs 0-3 on node 0, 4-7 on node 1.
constexpr auto node_of = [](std::size_t cpu) { return cpu / 4; };

// Task A (pid 100) runs on CPU 4 (node 1), task B (pid 200) on CPU 0 (node 0), both past
// their early life (preferred node set, five scans). A page on node 0 last touched by B.
// Alternating A, B, A, B, …: every fault's stamp is the other node's, so the two-stage
// filter refuses each time and the page never moves. Then A twice in a row: the second
// fault finds A's own stamp from node 1, a private fault: it migrates.
constexpr bool mainline_alternating_never_migrates() {
  const faulting_task<nodes> a{100, 1, 5, nullptr};
  const faulting_task<nodes> b{200, 0, 5, nullptr};
  cpupid page = cpupid::of(0, 200);
  for (int i = 0; i < 10; ++i) {
    if (mainline_filter::should_migrate(page, a, 0, 4, node_of)) return false;
    if (mainline_filter::should_migrate(page, b, 0, 0, node_of)) return false;
  }
  const bool first = mainline_filter::should_migrate(page, a, 0, 4, node_of);   // stamp: B, node 0
  const bool second = mainline_filter::should_migrate(page, a, 0, 4, node_of);  // stamp: A, node 1
  return !first && second && page == cpupid::of(4, 100);
}

// The early-life rule: with no preferred node (or within four scans) a first fault, or one
// on a page the task touched last, migrates at once; a page another task touched last goes
// through the filter (here: B's stamp from node 0, a fault from node 1: refused).
constexpr bool mainline_early_life() {
  const faulting_task<nodes> young{100, no_node, 0, nullptr};
  cpupid unset{};
  cpupid mine = cpupid::of(5, 100);
  cpupid theirs = cpupid::of(0, 200);
  return mainline_filter::should_migrate(unset, young, 0, 4, node_of) &&
         mainline_filter::should_migrate(mine, young, 0, 4, node_of) &&
         !mainline_filter::should_migrate(theirs, young, 0, 4, node_of);
}

// AutoNUMA's last_nid on a page of node 0: nodes 1, 0, 1, 0, … record the first, then
// cancel every time; node 1 twice in a row migrates; node 0 (the page's own) only records.
constexpr bool autonuma_alternating_never_migrates() {
  std::size_t last = no_node;
  if (autonuma_filter::check(last, 1, 0) != last_nid_verdict::record) return false;
  for (int i = 0; i < 10; ++i) {
    if (autonuma_filter::check(last, 0, 0) != last_nid_verdict::cancel) return false;
    if (autonuma_filter::check(last, 1, 0) != last_nid_verdict::cancel) return false;
  }
  const bool twice = autonuma_filter::check(last, 1, 0) == last_nid_verdict::migrate;
  std::size_t own = 0;
  return twice && autonuma_filter::check(own, 0, 0) == last_nid_verdict::record &&
         autonuma_filter::check(last, 1, 0, true) == last_nid_verdict::migrate;
}

// The group's rule for a shared fault that passed the filter (stamp of pid 55 from CPU 5,
// node 1; task pid 100 faults from CPU 4; page on node 0):
//  - CPU faults 200 on node 1, 100 on node 0, memory 300 / 100: 200 > 3 x 100 fails, but
//    200 * 300 * 3 = 180 000 > 100 * 100 * 4 = 40 000: migrate;
//  - CPU 110 / 100, memory 100 / 100: 110 * 100 * 3 = 33 000 > 40 000 fails: stay;
//  - CPU 301 / 100: more than three times: migrate whatever the memory.
constexpr bool group_three_quarters_rule() {
  auto ask = [](std::uint64_t cpu1, std::uint64_t cpu0, std::uint64_t mem1, std::uint64_t mem0) {
    group_faults<nodes> g;
    g.cpu.n[1][0] = cpu1;
    g.cpu.n[0][0] = cpu0;
    g.mem.n[1][0] = mem1;
    g.mem.n[0][0] = mem0;
    const faulting_task<nodes> p{100, 1, 9, &g};
    cpupid page = cpupid::of(5, 55);
    return mainline_filter::should_migrate(page, p, 0, 4, node_of);
  };
  return ask(200, 100, 100, 300) && !ask(110, 100, 100, 100) && ask(301, 100, 1000, 1);
}

// Classification. A pid-bit collision: pid 261 faults a page stamped by pid 5 (261 = 5 +
// 256): the same low byte, so the fault counts private and no group is considered. True
// sharing between two processes: pid 5 faults a page stamped by pid 7, whose task runs on
// the stamp's CPU with a group as big as ours and a higher id: the join is considered but
// refused (different processes, private mapping) and the fault counts private. Threads of
// one process join; a task whose group is the bigger one does not move (a shared fault).
constexpr bool classification_and_collisions() {
  const sharer unrelated{true, true, false, 1, 1, 5, 7, false, false};
  const classification collision = classify(cpupid::of(3, 5), 261, unrelated);
  const classification refused = classify(cpupid::of(3, 7), 5, unrelated);
  sharer threads = unrelated;
  threads.same_process = true;
  const classification joined = classify(cpupid::of(3, 7), 5, threads);
  sharer bigger_mine = threads;
  bigger_mine.my_group_tasks = 3;
  const classification stays = classify(cpupid::of(3, 7), 5, bigger_mine);
  return collision.priv && !collision.join && refused.priv && !refused.join && joined.join && !joined.priv &&
         !stays.join && !stays.priv && classify(cpupid{}, 5, unrelated).priv;
}

// task_numa_placement()'s averaging. Buffers: memory node 0 private 10, node 1 shared 4;
// CPU node 1 private 10 and shared 4; locality 10 local + 4 remote; the task ran 50 of the
// last 100 ns. f_weight = (50 << 16) / 101 = 32 443; CPU node 1 private 32 443 * 10 / 15 =
// 21 628, shared 32 443 * 4 / 15 = 8 651. Memory takes the buffers (nothing to halve):
// total 14, most faults on node 0. A second pass with empty buffers halves them: 5 and 2,
// total 7.
constexpr bool placement_averaging() {
  task_faults<nodes> t;
  t.mem_buf.n[0][1] = 10;
  t.mem_buf.n[1][0] = 4;
  t.cpu_buf.n[1][1] = 10;
  t.cpu_buf.n[1][0] = 4;
  t.local = 10;
  t.remote = 4;
  const placement_pass p1 = decay(t, 50, 100, 2);
  const bool first = p1.priv == 10 && p1.shared == 4 && p1.max_node == 0 && p1.max_faults == 10 && t.total == 14 &&
                     t.cpu.n[1][1] == 21628 && t.cpu.n[1][0] == 8651 && t.mem_buf.on(0) == 0 && t.cpu_buf.on(1) == 0;
  const placement_pass p2 = decay(t, 50, 100, 2);
  return first && p2.priv == 0 && t.mem.n[0][1] == 5 && t.mem.n[1][0] == 2 && t.total == 7;
}

// update_task_scan_period() from 1000 ms (slots of 100 ms), bounds [500, 60000]:
constexpr std::uint32_t next(std::uint64_t priv, std::uint64_t shared, std::uint64_t local, std::uint64_t remote,
                             std::uint64_t failed = 0) {
  return *next_scan_period(1000, {shared, priv, local, remote, failed}, 500, 60000, 60000);
}
constexpr bool scan_period_cases() {
  return next(80, 20, 50, 50) == 1100      // private 8/10 >= 7: one slot slower
         && next(70, 30, 0, 100) == 1100   // private exactly 7/10: at least one slot
         && next(10, 90, 90, 10) == 1200   // shared, but 9/10 local: two slots slower
         && next(50, 50, 30, 70) == 800    // 5/10 private, 3/10 local: two slots faster
         && next(0, 10, 0, 10) == 500      // 0 and 0: seven slots faster, 300, clamped to 500
         && next(0, 0, 0, 0) == 2000       // no faults: doubled
         && next(80, 20, 50, 50, 1) == 2000;  // a failed migration: doubled
}

// The bounds from the resident set: 256 MB windows, at most 2560 MB/s (a floor of 100 ms).
// No RSS: one window, min 1000, max 60000. 1 GiB: four windows, min 250, max 15000; with a
// group of 4 tasks, 100 shared and 100 private faults: 15000 * 4 * 101 / 201 = 30149.
constexpr bool scan_bounds() {
  const scan_tunables t{};
  const group_scan g{4, 100, 100};
  return scan_min(0, t) == 1000 && scan_max(0, t) == 60000 && scan_windows(262144, t) == 4 && scan_min(262144, t) == 250 &&
         scan_max(262144, t) == 15000 && scan_max(262144, t, &g) == 30149 && scan_min(std::uint64_t{1} << 30, t) == 100;
}
}  // namespace

TEST_CASE("A page touched alternately from two nodes never migrates under mainline's two-stage filter",
          "[numa][two-stage]") {
  STATIC_REQUIRE(mainline_alternating_never_migrates());
  REQUIRE(mainline_alternating_never_migrates());
  STATIC_REQUIRE(mainline_early_life());
  REQUIRE(mainline_early_life());
}

TEST_CASE("A page touched alternately from two nodes never migrates under AutoNUMA's last_nid filter",
          "[numa][two-stage]") {
  STATIC_REQUIRE(autonuma_alternating_never_migrates());
  REQUIRE(autonuma_alternating_never_migrates());
}

TEST_CASE("A shared fault of a group migrates by the 3x and 3/4 rules", "[numa][exact]") {
  STATIC_REQUIRE(group_three_quarters_rule());
  REQUIRE(group_three_quarters_rule());
}

TEST_CASE("A pid-bit collision counts private and unrelated processes never merge", "[numa][groups]") {
  STATIC_REQUIRE(classification_and_collisions());
  REQUIRE(classification_and_collisions());
}

TEST_CASE("Placement halves the averaged faults and weighs CPU faults by runtime", "[numa][exact]") {
  STATIC_REQUIRE(placement_averaging());
  REQUIRE(placement_averaging());
}

TEST_CASE("The scan period slows past 70 % private or local faults and speeds up below", "[numa][scan-period]") {
  STATIC_REQUIRE(scan_period_cases());
  REQUIRE(scan_period_cases());
  STATIC_REQUIRE(scan_bounds());
  REQUIRE(scan_bounds());
}

TEST_CASE("Bad NUMA input is refused with a sentence naming it", "[numa][errors]") {
  task_faults<nodes> t;
  const status off = record(t, {5, 0, 1, true, false, false, false}, 2);
  REQUIRE(!off);
  CHECK(std::string(off.error_value().message.view()) == "numa: a fault on node 5, and the machine has nodes 0..1");
  CHECK(t.mem_buf.on(0) == 0);  // nothing recorded
  t.local = ~std::uint64_t{0} - 2;
  const status big = record(t, {0, 0, 3, true, true, false, false}, 2);
  REQUIRE(!big);
  CHECK(std::string(big.error_value().message.view()) == "numa: 3 more pages would overflow a fault counter");
  CHECK(t.mem_buf.on(0) == 0);
  const auto bad = next_scan_period(1000, {}, 2000, 1000, 60000);
  REQUIRE(!bad);
  CHECK(std::string(bad.error_value().message.view()) ==
        "numa: scan period 1000 ms with bounds [2000, 1000] ms: the period and the minimum must be positive and the "
        "minimum at most the maximum");
  REQUIRE(record(t, {1, 0, 2, false, false, true, false}, 2));
  CHECK(t.mem_buf.n[1][0] == 2);
  CHECK(t.cpu_buf.n[0][0] == 2);
  CHECK(t.pages_migrated == 2);
}

namespace {
constexpr distances<nodes> two_nodes() {
  distances<nodes> d;
  d.nodes = 2;
  d.d[0] = {10, 20};
  d.d[1] = {20, 10};
  return d;
}
// A ring of four nodes: 20 to a neighbour, 30 across.
constexpr distances<nodes> ring() {
  distances<nodes> d;
  d.nodes = 4;
  d.d[0] = {10, 20, 30, 20};
  d.d[1] = {20, 10, 20, 30};
  d.d[2] = {30, 20, 10, 20};
  d.d[3] = {20, 30, 20, 10};
  return d;
}
// Two sockets of two nodes: 12 inside a socket, 20 across.
constexpr distances<nodes> two_sockets() {
  distances<nodes> d;
  d.nodes = 4;
  d.d[0] = {10, 12, 20, 20};
  d.d[1] = {12, 10, 20, 20};
  d.d[2] = {20, 20, 10, 12};
  d.d[3] = {20, 20, 12, 10};
  return d;
}

// Topology types: two nodes have two distances: direct. On the ring nodes 0 and 2 are
// farthest (30) and node 1 is nearer to both (20, 20): glueless mesh. Across two sockets
// nodes 0 and 2 are farthest (20) and no node is nearer than 20 to both: backplane.
constexpr bool topology_types() {
  return classify_topology(two_nodes()) == topology_type::direct &&
         classify_topology(ring()) == topology_type::glueless_mesh &&
         classify_topology(two_sockets()) == topology_type::backplane;
}

// Weights on the ring (glueless mesh), memory faults 100, 50, 80, 0 (total 230): node 0
// counts its own 100 and node 1's 50 scaled by (30 - 20) / (30 - 10) = 25 (node 2 is the
// farthest, node 3 has none): 1000 * 125 / 230 = 543. On two nodes (direct), no nearby
// score: 1000 * 100 / 230 = 434.
constexpr bool weights() {
  fault_table<nodes> mem;
  mem.n[0][1] = 100;
  mem.n[1][1] = 50;
  mem.n[2][0] = 80;
  return weight(mem, 230, ring(), topology_type::glueless_mesh, 0, 30) == 543 &&
         weight(mem, 230, two_nodes(), topology_type::direct, 0, 20) == 434 &&
         weight(mem, 0, ring(), topology_type::glueless_mesh, 0, 30) == 0;
}

// A group's preferred node across two sockets (backplane), faults 10, 10, 15, 0: node 2
// has the most, but the socket of nodes 0 and 1 has 20 against 15, and inside it node 0
// comes first: 0. On two nodes (direct) the node with the most faults stands.
constexpr bool preferred_group_node() {
  group_faults<nodes> g;
  g.mem.n[0][0] = 10;
  g.mem.n[1][0] = 10;
  g.mem.n[2][0] = 15;
  g.total = 35;
  return preferred_group_nid(g, two_sockets(), topology_type::backplane, 2) == 0 &&
         preferred_group_nid(g, two_nodes(), topology_type::direct, 2) == 2;
}

// numa_classify at imbalance_pct 112, a node of 4 CPUs and capacity 4096: 3 tasks, spare;
// 5 tasks with util 4000 (409 600 < 448 000): overloaded; 4 tasks, util and runnable 3000
// (409 600 > 336 000 and 458 752 > 300 000): spare; 4 tasks with util 4000: fully busy.
// load_too_imbalanced between two nodes of capacity 1000 with loads 600 and 200 (old
// imbalance 400 000): moving 100 leaves 200 000, fine; moving 500 leaves 600 000, worse.
constexpr bool node_classes_and_imbalance() {
  const node_stats n3{0, 3000, 3000, 4096, 3, 4};
  const node_stats n5{0, 4000, 4000, 4096, 5, 4};
  const node_stats n4{0, 3000, 3000, 4096, 4, 4};
  const node_stats n4busy{0, 4000, 4000, 4096, 4, 4};
  const node_stats src{600, 0, 0, 1000, 0, 0};
  const node_stats dst{200, 0, 0, 1000, 0, 0};
  return classify_node(112, n3) == node_type::has_spare && classify_node(112, n5) == node_type::overloaded &&
         classify_node(112, n4) == node_type::has_spare && classify_node(112, n4busy) == node_type::fully_busy &&
         !load_too_imbalanced(500, 300, src, dst) && load_too_imbalanced(100, 700, src, dst);
}

// task_numa_compare from node 0 to node 1, loads equal (600 and 600 of capacity 1000):
//  a. an idle destination, moving allowed, improvement 200: move, and stop (idle CPU);
//  b. a candidate in the same (no) group while the destination has spare capacity: nothing;
//  c. a swap: the placed task gains 100, the candidate (weights 600 on node 0, 400 on node 1)
//     gains 200: 300, and it goes home (preferred node 0): + 300 / 8 = 337; loads equal:
//     swap with 337, and stop (no move allowed, the partner goes home);
//  d. a swap worth 20 < SMALLIMP: nothing;
//  e. moving allowed and worth 300 while the swap is worth 300 - 300 = 0: move.
constexpr bool numa_compare_cases() {
  const node_stats s{600, 0, 0, 1000, 0, 0};
  const node_stats d{600, 0, 0, 1000, 0, 0};
  const best_so_far none{};
  const compare_verdict a = task_numa_compare(200, true, candidate{}, none, 0, 1, 1024, s, d, node_type::has_spare);
  candidate same{true, false, true, 1, true, false, 0, 0, 1024};
  const compare_verdict b = task_numa_compare(200, true, same, none, 0, 1, 1024, s, d, node_type::has_spare);
  candidate home{true, false, true, 0, true, false, 600, 400, 1024};
  const compare_verdict c = task_numa_compare(100, false, home, none, 0, 1, 1024, s, d, node_type::fully_busy);
  candidate flat{true, false, true, no_node, true, false, 500, 500, 1024};
  const compare_verdict dd = task_numa_compare(20, false, flat, none, 0, 1, 1024, s, d, node_type::fully_busy);
  candidate loser{true, false, true, no_node, true, false, 100, 400, 1024};
  const compare_verdict e = task_numa_compare(300, true, loser, none, 0, 1, 1024, s, d, node_type::fully_busy);
  return a.assign && !a.swap && a.imp == 200 && a.stop && !b.assign && c.assign && c.swap && c.imp == 337 && c.stop &&
         !dd.assign && e.assign && !e.swap && e.imp == 300;
}
}  // namespace

TEST_CASE("NUMA topologies are direct, glueless mesh or backplane by their distances", "[numa][exact]") {
  STATIC_REQUIRE(topology_types());
  REQUIRE(topology_types());
}

TEST_CASE("Task and group weights count nearby nodes by the topology type", "[numa][exact]") {
  STATIC_REQUIRE(weights());
  REQUIRE(weights());
  STATIC_REQUIRE(preferred_group_node());
  REQUIRE(preferred_group_node());
}

TEST_CASE("Nodes are classified and moves refused when they worsen the imbalance", "[numa][exact]") {
  STATIC_REQUIRE(node_classes_and_imbalance());
  REQUIRE(node_classes_and_imbalance());
}

TEST_CASE("task_numa_compare moves, swaps or refuses as the kernel's rules say", "[numa][exact]") {
  STATIC_REQUIRE(numa_compare_cases());
  REQUIRE(numa_compare_cases());
}

namespace {
// task_numa_find_cpu on destination node 1 (CPUs 4-7), the placed task of load 1024:
//  - node 1 has spare room (1 task on 4 CPUs) and node 0 runs 4: after the move 3 against
//    2, imbalance 0, the allowance keeps it 0: the cached idle CPU 6, a move, at once;
//  - node 1 fully busy, equal loads: moving 1024 would worsen the balance, so no move; CPU
//    4 runs a candidate worth a swap of 337 (the compare's case c), CPU 5 one worth nothing:
//    the swap with CPU 4's task, and the search stops there (its partner goes home).
constexpr bool find_cpu_cases() {
  const std::array<std::size_t, 4> node1{4, 5, 6, 7};
  const auto adjust = [](std::int32_t imbalance, std::int32_t, std::int32_t) { return std::int64_t{imbalance}; };
  numa_env spare;
  spare.src_nid = 0;
  spare.dst_nid = 1;
  spare.p_h_load = 1024;
  spare.src = node_stats{4096, 0, 0, 4096, 4, 4};
  spare.dst = node_stats{1024, 0, 0, 4096, 1, 4};
  spare.dst_type = node_type::has_spare;
  spare.dst_idle_cpu = 6;
  numa_choice a;
  task_numa_find_cpu(spare, 200, node1, [](std::size_t) { return candidate{}; }, adjust, a);
  numa_env busy = spare;
  busy.src = node_stats{4096, 0, 0, 4096, 4, 4};
  busy.dst = node_stats{4096, 0, 0, 4096, 4, 4};
  busy.dst_type = node_type::fully_busy;
  busy.dst_idle_cpu = no_cpu;
  numa_choice b;
  int visited = 0;
  task_numa_find_cpu(busy, 100, node1,
                     [&](std::size_t cpu) {
                       ++visited;
                       return cpu == 4 ? candidate{true, false, true, 0, true, false, 600, 400, 1024}
                                       : candidate{true, false, true, no_node, true, false, 500, 500, 1024};
                     },
                     adjust, b);
  return a.cpu == 6 && !a.swap && b.cpu == 4 && b.swap && b.imp == 337 && b.partner_preferred_nid == 0 && visited == 1;
}
}  // namespace

TEST_CASE("task_numa_find_cpu takes an idle CPU of a node with room, else the best swap", "[numa][exact]") {
  STATIC_REQUIRE(find_cpu_cases());
  REQUIRE(find_cpu_cases());
}

namespace {
// A task of a group (its own gain 50, its group's 300) against a task of the same group on
// the destination (weights 600 at the source, 400 here; it prefers the source): the swap
// is weighed with the task's own gain, not the group's (v6: imp = taskimp + …):
// 50 + 600 − 400 = 250, less 250 / 16 = 15 within a group: 235, plus 235 / 8 = 29 for a
// partner going home: 264. With the group's gain it would be 300 + 200 − 31 + 58 = 527.
constexpr bool grouped_swap_uses_the_task_gain() {
  const node_stats s{4096, 0, 0, 4096, 4, 4};
  const candidate same{true, false, true, 0, true, true, 600, 400, 1024};
  const compare_verdict v =
      task_numa_compare(gain{50, 300, true}, false, same, best_so_far{}, 0, 1, 1024, s, s, node_type::fully_busy);
  return v.assign && v.swap && v.imp == 264;
}
}  // namespace

TEST_CASE("task_numa_compare weighs a swap within the group by the task's own gain", "[numa][exact]") {
  STATIC_REQUIRE(grouped_swap_uses_the_task_gain());
  REQUIRE(grouped_swap_uses_the_task_gain());
}
