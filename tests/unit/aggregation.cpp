// Aggregation, part 1 (seed 001; policy/aggregation.hpp): occupancy accounting and the
// preferred LLC of the cache-aware scheduling series, against values computed by hand from
// the series' formulas and its authors' worked examples (reference/seed-proposals.md §2).
#include <balancekit/policy/aggregation.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "support/balance_machine.hpp"

using namespace balancekit;
namespace ag = balancekit::aggregation;

namespace {
using L = small_limits;
using state_t = ag::occupancy_state<L, 4>;
constexpr std::uint32_t hz = 250;        // Debian's: EPOCH_PERIOD = HZ/100 = 2 jiffies
constexpr std::uint64_t ms = 1'000'000;  // ns
constexpr std::uint64_t mib = std::uint64_t{1} << 20;
}  // namespace

TEST_CASE("The thread and footprint limits follow the worked example of a 32 MB LLC with 8 cores",
          "[aggregation][examples]") {
  // The series' own comment (v1 19/19): 8 cores of 2 threads share a 32 MB L3.
  constexpr std::uint64_t llc_cpus = 16;
  constexpr std::uint64_t smt = 2;
  SECTION("tolerance 1: more than 8 running threads, or an RSS of 32 MB, exceed the LLC") {
    STATIC_REQUIRE_FALSE(ag::exceeds_llc_threads(8, smt, llc_cpus, 1));
    STATIC_REQUIRE(ag::exceeds_llc_threads(9, smt, llc_cpus, 1));
    STATIC_REQUIRE_FALSE(ag::exceeds_llc_footprint(32 * mib - 1, 32 * mib, 1));
    STATIC_REQUIRE(ag::exceeds_llc_footprint(32 * mib, 32 * mib, 1));  // `llc <= rss`: reaching it is enough
  }
  SECTION("tolerance 99: an RSS of (1 + 98 * 256) * 32 MB = 784 GB exceeds it") {
    constexpr std::uint64_t limit = (1 + 98 * 256) * 32 * mib;
    STATIC_REQUIRE(limit == 841'847'144'448);  // 784.03 GiB
    STATIC_REQUIRE_FALSE(ag::exceeds_llc_footprint(limit - 1, 32 * mib, 99));
    STATIC_REQUIRE(ag::exceeds_llc_footprint(limit, 32 * mib, 99));
  }
  SECTION("tolerance 99: the formula allows 792 running threads, where the comment says 785") {
    // exceed_llc_nr(): nr_running_avg * smt > scale(1) * sd_llc_size = 99 * 16, so the
    // limit is 792 threads. The comment's "785 = 1 + (99 - 1) * 8" scales the core count
    // instead; the formula is the oracle (it is what runs), and the two agree at
    // tolerance 1 (8 threads).
    STATIC_REQUIRE_FALSE(ag::exceeds_llc_threads(785, smt, llc_cpus, 99));
    STATIC_REQUIRE_FALSE(ag::exceeds_llc_threads(792, smt, llc_cpus, 99));
    STATIC_REQUIRE(ag::exceeds_llc_threads(793, smt, llc_cpus, 99));
  }
  SECTION("tolerance 0 turns aggregation off; 100 and above lift both limits") {
    STATIC_REQUIRE(ag::exceeds_llc_footprint(0, 32 * mib, 0));
    STATIC_REQUIRE(ag::exceeds_llc_threads(1, smt, llc_cpus, 0));
    STATIC_REQUIRE_FALSE(ag::exceeds_llc_threads(1'000'000, smt, llc_cpus, 100));
    STATIC_REQUIRE_FALSE(ag::exceeds_llc_footprint(std::uint64_t{1} << 60, 32 * mib, 250));
  }
}

TEST_CASE("Occupancy is the process's share of the CPU's runtime, halved every epoch", "[aggregation]") {
  test::balance_machine<L> m;
  REQUIRE(test::build_balance_machine({"l3:2 core:4"}, m).empty());
  auto st = std::make_unique<state_t>();
  const ag::occupancy_tunables tun{};
  REQUIRE(tun.period(hz) == 2);
  const ag::process_facts two{2, 0};
  // Jiffy 0: process 0 and process 1 run 4 ms each on CPU 0.
  REQUIRE(ag::account(*st, *m.tree, 0, 0, 4 * ms, 0, two, 32 * mib, tun, hz));
  REQUIRE(ag::account(*st, *m.tree, 0, 1, 4 * ms, 0, two, 32 * mib, tun, hz));
  CHECK(ag::occupancy(*st, 0, 0, 0, 2) == 1024 * 4 * ms / (8 * ms + 1));  // 511
  // Jiffy 3: ceil(3 / 2) = 2 epochs passed, both runtimes were quartered, then process 0
  // ran 2 ms more: 3 ms of the CPU's 4 ms.
  REQUIRE(ag::account(*st, *m.tree, 0, 0, 2 * ms, 3, two, 32 * mib, tun, hz));
  CHECK(st->cpus[0].epoch == 2);
  CHECK(st->cpus[0].epoch_next == 4);
  CHECK(ag::occupancy(*st, 0, 0, 3, 2) == 1024 * 3 * ms / (4 * ms + 1));  // 767
  CHECK(ag::occupancy(*st, 0, 1, 3, 2) == 1024 * 1 * ms / (4 * ms + 1));  // 255
  // 64 epochs later nothing is left of either (a shift by 64 or more empties, as __shr_u64).
  CHECK(ag::occupancy(*st, 0, 0, 3 + 2 * 64, 2) == 0);
}

TEST_CASE("A preference lapses without a scan for five epochs, with one thread, or over a limit", "[aggregation]") {
  test::balance_machine<L> m;
  REQUIRE(test::build_balance_machine({"l3:2 core:4"}, m).empty());
  auto st = std::make_unique<state_t>();
  const ag::occupancy_tunables tun{};
  const ag::process_facts four{4, 0};
  st->processes[0].preferred_cpu = 5;  // scanned at CPU epoch 0
  // Jiffy 10: epoch 5 on CPU 1 (ceil(10 / 2)); 5 - 0 is not more than 5.
  REQUIRE(ag::account(*st, *m.tree, 1, 0, ms, 10, four, 32 * mib, tun, hz));
  CHECK(st->processes[0].preferred_cpu == 5);
  // Jiffy 12: epoch 6.
  REQUIRE(ag::account(*st, *m.tree, 1, 0, ms, 12, four, 32 * mib, tun, hz));
  CHECK(st->processes[0].preferred_cpu == no_cpu);

  st->processes[0].preferred_cpu = 5;
  st->processes[0].epoch = st->cpus[1].epoch;
  REQUIRE(ag::account(*st, *m.tree, 1, 0, ms, 12, {1, 0}, 32 * mib, tun, hz));
  CHECK(st->processes[0].preferred_cpu == no_cpu);  // one thread

  st->processes[0].preferred_cpu = 5;
  REQUIRE(ag::account(*st, *m.tree, 1, 0, ms, 12, {4, 32 * mib}, 32 * mib, tun, hz));
  CHECK(st->processes[0].preferred_cpu == no_cpu);  // the footprint fills the LLC
}

TEST_CASE("Three threads on an 8-CPU LLC beat two on a 4-CPU LLC: the sum, not the average, picks the LLC",
          "[aggregation][examples]") {
  // LLC 0 holds CPUs 0-3 (4-7 offline), LLC 1 holds CPUs 8-15. The process runs alone on
  // CPUs 0 and 1 and on 8, 9 and 10: per CPU, LLC 0 is busier (2 of 4 against 3 of 8), but
  // LLC 1 has more of the process.
  test::balance_machine<L> m;
  REQUIRE(test::build_balance_machine({"l3:2 core:8", "", "", "4-7"}, m).empty());
  auto st = std::make_unique<state_t>();
  const ag::occupancy_tunables tun{};
  const ag::process_facts five{5, 0};
  for (const std::size_t c : {0UL, 1UL, 8UL, 9UL, 10UL}) REQUIRE(ag::account(*st, *m.tree, c, 0, 4 * ms, 0, five, 32 * mib, tun, hz));
  const std::uint64_t full = 1024 * 4 * ms / (4 * ms + 1);  // 1023
  const auto r = ag::scan(*st, *m.tree, 0, 0, 0, cpumask<L::max_cpus>{}, five, 32 * mib, tun, hz);
  REQUIRE(r);
  CHECK(r->scanned);
  CHECK(r->best_sum == 3 * full);
  CHECK(r->best_cpu == 8);  // the first of equally busy CPUs
  CHECK(r->switched);
  CHECK(ag::preferred_llc(*st, *m.tree, 0) == m.tree->llc_id(8));

  SECTION("a second scan in the same epoch does nothing (next_scan)") {
    const auto again = ag::scan(*st, *m.tree, 0, 0, 1, cpumask<L::max_cpus>{}, five, 32 * mib, tun, hz);
    REQUIRE(again);
    CHECK_FALSE(again->scanned);
  }
  SECTION("the preference moves only to an LLC with more than twice the current one's sum") {
    // Jiffy 2 (one epoch: everything halves): the process now also runs on CPUs 2 and 3,
    // and LLC 1 has its 3 CPUs: LLC 0 sums 4 full CPUs' worth against LLC 1's 3 — not twice.
    for (const std::size_t c : {0UL, 1UL, 2UL, 3UL}) REQUIRE(ag::account(*st, *m.tree, c, 0, 4 * ms, 2, five, 32 * mib, tun, hz));
    const auto stay = ag::scan(*st, *m.tree, 0, 0, 2, cpumask<L::max_cpus>{}, five, 32 * mib, tun, hz);
    REQUIRE(stay);
    CHECK(stay->best_cpu == 0);
    CHECK(stay->current_sum > 0);
    CHECK(stay->best_sum <= 2 * stay->current_sum);
    CHECK_FALSE(stay->switched);
    CHECK(ag::preferred_llc(*st, *m.tree, 0) == m.tree->llc_id(8));
  }
}

TEST_CASE("The running-thread average moves by a quarter of the LLC's CPUs' divisor, at least 2", "[aggregation]") {
  // update_avg_scale(): divisor clamp(sd_llc_size / 4, 2, 8); a 4-CPU LLC gives 2.
  test::balance_machine<L> m;
  REQUIRE(test::build_balance_machine({"l3:2 core:4"}, m).empty());
  auto st = std::make_unique<state_t>();
  const ag::occupancy_tunables tun{};
  const ag::process_facts three{3, 0};
  const auto running = cpumask<L::max_cpus>::range(0, 2);  // three threads running
  std::uint64_t expect[] = {1, 2, 2};                       // 0 + 3/2, 1 + 2/2, 2 + 1/2 (truncated)
  for (int i = 0; i < 3; ++i) {
    const auto r = ag::scan(*st, *m.tree, 0, 0, static_cast<jiffies_t>(2 * i), running, three, 32 * mib, tun, hz);
    REQUIRE(r);
    REQUIRE(r->scanned);
    CHECK(st->processes[0].nr_running_avg == expect[i]);
  }
}

TEST_CASE("An unknown process or an offline CPU is refused with its index named", "[aggregation][bad-input]") {
  test::balance_machine<L> m;
  REQUIRE(test::build_balance_machine({"l3:2 core:4", "", "", "7"}, m).empty());
  auto st = std::make_unique<state_t>();
  const ag::occupancy_tunables tun{};
  const status p = ag::account(*st, *m.tree, 0, 4, ms, 0, {2, 0}, 32 * mib, tun, hz);
  REQUIRE_FALSE(p);
  CHECK(p.error_value().code == errc::out_of_range);
  CHECK(p.error_value().message.view() == "aggregation: process 4 is not one of the state's 4 processes");
  const status c = ag::account(*st, *m.tree, 7, 0, ms, 0, {2, 0}, 32 * mib, tun, hz);
  REQUIRE_FALSE(c);
  CHECK(c.error_value().message.view() == "aggregation: CPU 7 is not an online CPU of the domains");
  CHECK(st->cpus[7].runtime == 0);  // nothing half-applied
  CHECK_FALSE(ag::scan(*st, *m.tree, 9, 0, 0, cpumask<L::max_cpus>{}, {2, 0}, 32 * mib, tun, hz));
}

namespace {
// One cell of the patch's decision matrix: LLC utilizations in percent of a capacity of
// 100, a task of utilization 0.
constexpr ag::llc_mig cell(std::uint64_t src, std::uint64_t dst, bool to_pref) {
  return ag::can_migrate_llc({src, 100}, {dst, 100}, 0, to_pref);
}
constexpr auto Y = ag::llc_mig::llc;
constexpr auto N = ag::llc_mig::forbid;
constexpr auto G = ag::llc_mig::unrestricted;
}  // namespace

TEST_CASE("can_migrate_llc follows its formula; the patch's matrix agrees in all but six cells",
          "[aggregation][llc-mig]") {
  // By hand from the formula (50 % busy, 20 % imbalance, util_greater multiplicative):
  // both LLCs busy (>= 50) -> G. Into the preferred LLC: N when dst is busy and
  // dst * 100 > src * 120. Out of it: N when src is not busy or src * 100 <= dst * 120.
  SECTION("into the preferred LLC") {
    STATIC_REQUIRE(cell(30, 30, true) == Y);
    STATIC_REQUIRE(cell(30, 40, true) == Y);
    STATIC_REQUIRE(cell(30, 60, true) == N);   // table: N
    STATIC_REQUIRE(cell(50, 30, true) == Y);
    STATIC_REQUIRE(cell(60, 40, true) == Y);
    STATIC_REQUIRE(cell(50, 50, true) == G);
    STATIC_REQUIRE(cell(60, 60, true) == G);
    // Where the patch comment's matrix says Y: 50 is busy and 50 > 30 * 1.2 (or 40 * 1.2).
    STATIC_REQUIRE(cell(30, 50, true) == N);
    STATIC_REQUIRE(cell(40, 50, true) == N);
    STATIC_REQUIRE(cell(40, 60, true) == N);
  }
  SECTION("out of the preferred LLC") {
    STATIC_REQUIRE(cell(30, 30, false) == N);
    STATIC_REQUIRE(cell(40, 60, false) == N);
    STATIC_REQUIRE(cell(60, 30, false) == Y);  // table: Y
    STATIC_REQUIRE(cell(50, 50, false) == G);
    STATIC_REQUIRE(cell(60, 50, false) == G);
    // Where the matrix says N: 50 is busy (not < 50) and 50 > 30 * 1.2, 50 > 40 * 1.2,
    // 60 > 40 * 1.2. (The matrix reads as an additive "more than 20 points apart".)
    STATIC_REQUIRE(cell(50, 30, false) == Y);
    STATIC_REQUIRE(cell(50, 40, false) == Y);
    STATIC_REQUIRE(cell(60, 40, false) == Y);
  }
  SECTION("every cell of both matrices") {
    // Rows src 30, 40, 50, 60; columns dst 30, 40, 50, 60; by hand from the rule above.
    constexpr std::uint64_t at[] = {30, 40, 50, 60};
    constexpr ag::llc_mig into[4][4] = {{Y, Y, N, N}, {Y, Y, N, N}, {Y, Y, G, G}, {Y, Y, G, G}};
    constexpr ag::llc_mig out[4][4] = {{N, N, N, N}, {N, N, N, N}, {Y, Y, G, G}, {Y, Y, G, G}};
    // The patch comment's matrices, for the count of cells where they agree.
    constexpr ag::llc_mig into_comment[4][4] = {{Y, Y, Y, N}, {Y, Y, Y, Y}, {Y, Y, G, G}, {Y, Y, G, G}};
    constexpr ag::llc_mig out_comment[4][4] = {{N, N, N, N}, {N, N, N, N}, {N, N, G, G}, {Y, N, G, G}};
    int agree = 0;
    for (std::size_t i = 0; i < 4; ++i)
      for (std::size_t j = 0; j < 4; ++j) {
        INFO("src " << at[i] << " dst " << at[j]);
        CHECK(cell(at[i], at[j], true) == into[i][j]);
        CHECK(cell(at[i], at[j], false) == out[i][j]);
        agree += (into[i][j] == into_comment[i][j]) + (out[i][j] == out_comment[i][j]);
      }
    CHECK(agree == 32 - 6);
  }
  SECTION("the task's own utilization is moved before the comparison") {
    // src 70 of 100 (busy), dst 20: moving a task of 25 leaves 45 and 45; out of the
    // preferred LLC that drains it below busy -> N; the same move into a preferred dst
    // leaves it at 45, not busy -> Y.
    STATIC_REQUIRE(ag::can_migrate_llc({70, 100}, {20, 100}, 25, false) == N);
    STATIC_REQUIRE(ag::can_migrate_llc({70, 100}, {20, 100}, 25, true) == Y);
    // A task bigger than the source's utilization leaves 0, not a wrapped-around value.
    STATIC_REQUIRE(ag::can_migrate_llc({10, 100}, {45, 100}, 30, true) == N);
  }
  SECTION("an LLC without statistics leaves the decision to generic balancing") {
    STATIC_REQUIRE(ag::can_migrate_llc({30, 100, false}, {30, 100}, 0, true) == G);
  }
}

TEST_CASE("A move is into or out of the preferred LLC only across LLCs and with a preference",
          "[aggregation][llc-mig]") {
  test::balance_machine<L> m;
  REQUIRE(test::build_balance_machine({"l3:3 core:4"}, m).empty());  // LLCs 0-3, 4-7, 8-11
  const auto& tree = *m.tree;
  CHECK(ag::towards_preferred(tree, 0, 5, 4) == std::optional<bool>{true});
  CHECK(ag::towards_preferred(tree, 5, 0, 4) == std::optional<bool>{false});
  CHECK_FALSE(ag::towards_preferred(tree, 0, 9, 4));  // neither is the preferred LLC
  CHECK_FALSE(ag::towards_preferred(tree, 4, 5, 4));  // inside one LLC
  CHECK_FALSE(ag::towards_preferred(tree, 0, 5, no_cpu));
}

TEST_CASE("The affinity order runs from the preferred LLC through its node, then nodes by distance",
          "[aggregation][scope]") {
  // Four nodes on a ring (0-1-2-3-0, distance 20 to a neighbour, 30 across), two LLCs of two
  // cores each per node: LLC ids 0, 2 (node 0), 4, 6 (node 1), 8, 10 (node 2), 12, 14 (node 3).
  test::balance_machine<L> m;
  REQUIRE(test::build_balance_machine(
              {"package:4 numa:1 l3:2 core:2", "10 20 30 20;20 10 20 30;30 20 10 20;20 30 20 10"}, m)
              .empty());
  static_vector<std::size_t, L::max_cpus> order;
  auto as_vector = [&] { return std::vector<std::size_t>(order.begin(), order.end()); };
  SECTION("from node 0: its other LLC, then nodes 1 and 3 (20; node 1 is nearer by index), then node 2 (30)") {
    ag::affinity_order(*m.topo, *m.tree, 3, order);  // CPU 3 is in LLC 2
    CHECK(as_vector() == std::vector<std::size_t>{2, 0, 4, 6, 12, 14, 8, 10});
  }
  SECTION("from node 2: nodes 1 and 3 are both one index away; the lower, 1, first") {
    ag::affinity_order(*m.topo, *m.tree, 9, order);  // LLC 8
    CHECK(as_vector() == std::vector<std::size_t>{8, 10, 4, 6, 12, 14, 0, 2});
  }
  SECTION("the domains alone (NUMA levels 20 and 30) give the same orders") {
    ag::affinity_order(*m.tree, 3, order);
    CHECK(as_vector() == std::vector<std::size_t>{2, 0, 4, 6, 12, 14, 8, 10});
    ag::affinity_order(*m.tree, 9, order);
    CHECK(as_vector() == std::vector<std::size_t>{8, 10, 4, 6, 12, 14, 0, 2});
  }
}

TEST_CASE("Every affinity order is a permutation of the LLCs with non-decreasing node distance, from the domains too",
          "[aggregation][scope]") {
  // T8 (opteron64's distances, machines.hpp: nodes 1 and 2 two hops apart), 2 LLCs per node.
  test::balance_machine<L> m;
  REQUIRE(test::build_balance_machine({"package:8 numa:1 l3:2 core:2",
                                       "10 16 16 22 16 22 16 22;16 10 22 16 22 16 22 22;16 22 10 16 22 22 16 22;"
                                       "22 16 16 10 16 16 22 16;16 22 22 16 10 22 22 16;22 16 22 16 22 10 16 22;"
                                       "16 22 16 22 22 16 10 16;22 22 22 16 16 22 16 10"},
                                      m)
              .empty());
  static_vector<std::size_t, L::max_cpus> order;
  for (std::size_t c : m.tree->cpu_map()) {
    ag::affinity_order(*m.topo, *m.tree, c, order);
    INFO("preferred CPU " << c);
    REQUIRE(order.size() == 16);
    CHECK(order[0] == m.tree->llc_id(c));
    std::vector<std::size_t> sorted(order.begin(), order.end());
    std::sort(sorted.begin(), sorted.end());
    CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
    const std::size_t home = m.topo->node_of(c);
    for (std::size_t i = 1; i < order.size(); ++i)
      CHECK(m.topo->distance(home, m.topo->node_of(order[i - 1])) <= m.topo->distance(home, m.topo->node_of(order[i])));
    // The balancer's view: the domains' node spans and NUMA levels give the same order.
    static_vector<std::size_t, L::max_cpus> from_domains;
    ag::affinity_order(*m.tree, c, from_domains);
    CHECK(std::equal(order.begin(), order.end(), from_domains.begin(), from_domains.end()));
  }
}

TEST_CASE("The RFC's scope is the shortest prefix under 50 % busy; ours grows alike but shrinks only below 25 %",
          "[aggregation][scope]") {
  // Eight LLCs of 16 CPUs (capacity 16384 each), as on hygon384.
  constexpr std::array<std::uint64_t, 8> llc{16384, 16384, 16384, 16384, 16384, 16384, 16384, 16384};
  SECTION("the RFC's rule, by hand: under 50 % of 16384 k LLCs' capacity") {
    STATIC_REQUIRE(ag::next_scope(llc, 8191, 0, ag::rfc_scope) == 1);   // 819100 < 819200
    STATIC_REQUIRE(ag::next_scope(llc, 8192, 0, ag::rfc_scope) == 2);
    STATIC_REQUIRE(ag::next_scope(llc, 8192, 2, ag::rfc_scope) == 2);
    STATIC_REQUIRE(ag::next_scope(llc, 8000, 2, ag::rfc_scope) == 1);   // shrinks as soon as one fits
    STATIC_REQUIRE(ag::next_scope(llc, 40000, 1, ag::rfc_scope) == 5);  // 40000 < 0.5 * 5 * 16384
    STATIC_REQUIRE(ag::next_scope(llc, 70000, 1, ag::rfc_scope) == 8);  // fits nowhere: the top level
  }
  SECTION("ours: one LLC holds up to 50 %, as the RFC's; two shrink to one only below 25 %") {
    STATIC_REQUIRE(ag::next_scope(llc, 8191, 0, ag::damped_scope) == 1);  // 819100 < 819200
    STATIC_REQUIRE(ag::next_scope(llc, 8192, 1, ag::damped_scope) == 2);
    STATIC_REQUIRE(ag::next_scope(llc, 8000, 2, ag::damped_scope) == 2);  // 49 %: the RFC would shrink
    STATIC_REQUIRE(ag::next_scope(llc, 4096, 2, ag::damped_scope) == 2);  // 409600 < 409600 fails
    STATIC_REQUIRE(ag::next_scope(llc, 4095, 2, ag::damped_scope) == 1);
    STATIC_REQUIRE(ag::next_scope(llc, 12000, 5, ag::damped_scope) == 3);  // 12000 < 0.25 * 3 * 16384; the RFC: 2
  }
  SECTION("a demand around the RFC's threshold moves its scope at every step, and ours once") {
    constexpr std::uint64_t demand[] = {8000, 8400, 8000, 8400, 8000, 8400};
    std::size_t rfc = 0, ours = 0, rfc_moves = 0, our_moves = 0;
    for (const std::uint64_t u : demand) {
      const std::size_t r = ag::next_scope(llc, u, rfc, ag::rfc_scope);
      const std::size_t o = ag::next_scope(llc, u, ours, ag::damped_scope);
      rfc_moves += rfc != 0 && r != rfc ? 1U : 0U;
      our_moves += ours != 0 && o != ours ? 1U : 0U;
      rfc = r;
      ours = o;
    }
    CHECK(rfc_moves == 5);
    CHECK(our_moves == 1);  // 8000 → one LLC, 8400 → two, and there it stays
  }
}

TEST_CASE("A process's utilization is each CPU's utilization times its occupancy there", "[aggregation][scope]") {
  test::balance_machine<L> m;
  REQUIRE(test::build_balance_machine({"l3:2 core:4"}, m).empty());
  auto st = std::make_unique<state_t>();
  const ag::occupancy_tunables tun{};
  const ag::process_facts two{2, 0};
  // Process 0 alone on CPU 0 (occupancy 1023), half of CPU 1 (511), nothing elsewhere.
  REQUIRE(ag::account(*st, *m.tree, 0, 0, 4 * ms, 0, two, 32 * mib, tun, hz));
  REQUIRE(ag::account(*st, *m.tree, 1, 0, 4 * ms, 0, two, 32 * mib, tun, hz));
  REQUIRE(ag::account(*st, *m.tree, 1, 1, 4 * ms, 0, two, 32 * mib, tun, hz));
  std::array<std::uint64_t, L::max_cpus> util{};
  util[0] = 1024;
  util[1] = 800;
  util[2] = 600;  // busy with others only
  // 1024 * 1023 / 1024 + 800 * 511 / 1024 = 1023 + 399
  CHECK(ag::process_util(*st, *m.tree, util, 0, 0, 2) == 1023 + 399);
}

TEST_CASE("Under both interplay rules a preferred LLC lies inside the preferred node", "[aggregation][alignment]") {
  // The 4-node ring, 2 LLCs per node (ids 0, 2 | 4, 6 | 8, 10 | 12, 14).
  test::balance_machine<L> m;
  REQUIRE(test::build_balance_machine(
              {"package:4 numa:1 l3:2 core:2", "10 20 30 20;20 10 20 30;30 20 10 20;20 30 20 10"}, m)
              .empty());
  const auto& topo = *m.topo;
  const auto& tree = *m.tree;
  using ag::numa_interplay;
  SECTION("by hand") {
    // The process prefers CPU 5 (LLC 4, node 1); NUMA balancing prefers node 2 for the task.
    CHECK(ag::interplay(topo, tree, 5, 2, numa_interplay::numa_first) == ag::task_preference{no_cpu, 2});
    CHECK(ag::interplay(topo, tree, 5, 2, numa_interplay::cache_first) == ag::task_preference{4, 1});
    // They agree, or NUMA balancing is off: the LLC and its node.
    CHECK(ag::interplay(topo, tree, 5, 1, numa_interplay::numa_first) == ag::task_preference{4, 1});
    CHECK(ag::interplay(topo, tree, 5, no_node, numa_interplay::numa_first) == ag::task_preference{4, 1});
    // No process preference: the node alone.
    CHECK(ag::interplay(topo, tree, no_cpu, 3, numa_interplay::cache_first) == ag::task_preference{no_cpu, 3});
  }
  SECTION("every CPU, node and rule") {
    for (const auto rule : {numa_interplay::numa_first, numa_interplay::cache_first})
      for (std::size_t c : tree.cpu_map())
        for (std::size_t n = 0; n <= 4; ++n) {
          const std::size_t node = n == 4 ? no_node : n;
          const auto p = ag::interplay(topo, tree, c, node, rule);
          INFO("cpu " << c << " node " << n << " rule " << static_cast<int>(rule));
          if (p.llc != no_cpu && p.node != no_node) CHECK(topo.node_of(p.llc) == p.node);
          if (rule == numa_interplay::numa_first && node != no_node) CHECK(p.node == node);  // NUMA wins
          if (rule == numa_interplay::cache_first) CHECK(p.llc == tree.llc_id(c));          // aggregation wins
        }
  }
}

TEST_CASE("The source of an LLC pass is the llc_balance group with the most tasks preferring the destination",
          "[aggregation][examples]") {
  // The authors' example: LLC0 holds 3 tasks preferring the destination, LLC1 2, LLC2 1.
  constexpr std::array<std::uint32_t, 3> nr_pref{3, 2, 1};
  constexpr std::array<bool, 3> all{true, true, true};
  STATIC_REQUIRE(ag::llc_busiest(nr_pref, all) == 0);
  // Only llc_balance groups count; ties go to the first.
  constexpr std::array<bool, 3> not_first{false, true, true};
  STATIC_REQUIRE(ag::llc_busiest(nr_pref, not_first) == 1);
  constexpr std::array<std::uint32_t, 3> tie{2, 2, 1};
  STATIC_REQUIRE(ag::llc_busiest(tie, all) == 0);
  constexpr std::array<bool, 3> none{false, false, false};
  STATIC_REQUIRE(ag::llc_busiest(nr_pref, none) == no_cpu);
}

TEST_CASE("A group is llc_balance when it holds a task preferring the destination that may move there",
          "[aggregation][llc-mig]") {
  // Group LLC 30 % busy, destination 40 %: into the preferred LLC, Y.
  STATIC_REQUIRE(ag::group_llc_balance(1, {30, 100}, {40, 100}));
  STATIC_REQUIRE_FALSE(ag::group_llc_balance(0, {30, 100}, {40, 100}));  // nobody prefers dst
  STATIC_REQUIRE_FALSE(ag::group_llc_balance(2, {30, 100}, {60, 100}));  // dst busy and 60 > 36: N
  STATIC_REQUIRE_FALSE(ag::group_llc_balance(2, {60, 100}, {60, 100}));  // both busy: G, not Y
}

TEST_CASE("A source's tasks are tried preferring the destination first and preferring the source last",
          "[aggregation][llc-mig]") {
  // Tasks 0..5 on LLC 8 moving to LLC 0; their preferred LLCs:
  constexpr std::array<std::size_t, 6> pref{8, no_cpu, 0, 4, 0, no_cpu};
  static_vector<std::uint32_t, 8> tasks;
  for (std::uint32_t t = 0; t < 6; ++t) tasks.push_back(t);
  ag::order_for_detach(tasks, 8, 0, [&](std::uint32_t t) { return pref[t]; });
  CHECK(std::vector<std::uint32_t>(tasks.begin(), tasks.end()) == std::vector<std::uint32_t>{2, 4, 1, 5, 3, 0});
}

TEST_CASE("LLC moves are refused by preference until the domain has failed often enough",
          "[aggregation][llc-mig]") {
  // cache_nice_tries 1 (an MC domain): the rules hold for 0 and 1 failures, not from 2.
  STATIC_REQUIRE(ag::migrate_degrades_llc(4, 0, true, ag::llc_mig::llc, 0, 1));        // an LLC pass moves only tasks preferring dst
  STATIC_REQUIRE_FALSE(ag::migrate_degrades_llc(0, 0, true, ag::llc_mig::llc, 0, 1));
  STATIC_REQUIRE(ag::migrate_degrades_llc(0, 4, false, ag::llc_mig::forbid, 1, 1));    // the hint forbids it
  STATIC_REQUIRE_FALSE(ag::migrate_degrades_llc(0, 4, false, ag::llc_mig::unrestricted, 1, 1));
  STATIC_REQUIRE_FALSE(ag::migrate_degrades_llc(0, 4, false, ag::llc_mig::forbid, 2, 1));  // waived
  STATIC_REQUIRE_FALSE(ag::migrate_degrades_llc(4, 0, true, ag::llc_mig::llc, 2, 1));
  // The active-balance veto: the only task, off its preferred LLC, leaving forbidden.
  STATIC_REQUIRE(ag::active_balance_breaks_llc(8, 8, true, ag::llc_mig::forbid));
  STATIC_REQUIRE_FALSE(ag::active_balance_breaks_llc(8, 8, false, ag::llc_mig::forbid));
  STATIC_REQUIRE_FALSE(ag::active_balance_breaks_llc(8, 8, true, ag::llc_mig::llc));
  STATIC_REQUIRE_FALSE(ag::active_balance_breaks_llc(0, 8, true, ag::llc_mig::forbid));
}

TEST_CASE("The affinity gain weighs each domain nearer to the destination by how much nearer, within its bounds",
          "[aggregation][gain]") {
  // Three LLCs, tasks preferring them 3, 2, 0; distances to the source 10, 20, 5 and to the
  // destination 0, 12, 1: LLC 0 gains 3 × 10, LLC 1 2 × 8, LLC 2 has no such task.
  constexpr std::array<std::uint32_t, 3> pref{3, 2, 0};
  constexpr std::array<std::uint64_t, 3> src{10, 20, 5};
  constexpr std::array<std::uint64_t, 3> dst{0, 12, 1};
  STATIC_REQUIRE(ag::affinity_gain(pref, src, dst, ag::llc_gain_floor) == 46);
  // A domain no nearer to the destination gains nothing, whatever it holds.
  constexpr std::array<std::uint64_t, 3> same{10, 20, 5};
  STATIC_REQUIRE(ag::affinity_gain(pref, src, same, ag::llc_gain_floor) == 0);
  // Differences of 1: weight 1 per LLC, but 4 per node (the node floor); 5000: capped at 1024.
  constexpr std::array<std::uint64_t, 2> s1{10, 13};
  constexpr std::array<std::uint64_t, 2> d1{9, 12};
  constexpr std::array<std::uint32_t, 2> p1{3, 2};
  STATIC_REQUIRE(ag::affinity_gain(p1, s1, d1, ag::llc_gain_floor) == 5);
  STATIC_REQUIRE(ag::affinity_gain(p1, s1, d1, ag::node_gain_floor) == 20);
  constexpr std::array<std::uint64_t, 1> far{5000};
  constexpr std::array<std::uint64_t, 1> here{0};
  constexpr std::array<std::uint32_t, 1> one{1};
  STATIC_REQUIRE(ag::affinity_gain(one, far, here, ag::llc_gain_floor) == 1024);
}

TEST_CASE("Between domains of the scope a task goes where there is room, or by the peak-lowering escape",
          "[aggregation][gain]") {
  // LLCs of 8 CPUs (capacity 8192; busy from 4096 at 50 %), tasks of util 1024.
  constexpr std::uint64_t cap = 8192;
  // Room: 1024 + 1024 = 2048 < 4096.
  STATIC_REQUIRE(ag::can_migrate_node({7168, cap}, {1024, cap}, 1024) == ag::llc_mig::llc);
  // 7 tasks next to 4: 5120 would be busy, but 7168 > 4096 · 1.2 and 7168 >= 4096 + 2048:
  // the move lowers the peak (the freeze the escape is for).
  STATIC_REQUIRE(ag::can_migrate_node({7168, cap}, {4096, cap}, 1024) == ag::llc_mig::llc);
  // 6 next to 5: 6144 is not more than 20 % above 5120 — it stops there, no ping-pong.
  STATIC_REQUIRE(ag::can_migrate_node({6144, cap}, {5120, cap}, 1024) == ag::llc_mig::forbid);
  // 5 next to 4: more than 20 % above, but 5120 < 4096 + 2048: the move would only swap the peak.
  STATIC_REQUIRE(ag::can_migrate_node({5120, cap}, {4096, cap}, 1024) == ag::llc_mig::forbid);
  // No statistics: no opinion.
  STATIC_REQUIRE(ag::can_migrate_node({7168, cap, false}, {0, cap}, 1024) == ag::llc_mig::unrestricted);
}

TEST_CASE("A nearer domain with room for the task vetoes a move to a farther one", "[aggregation][gain]") {
  constexpr std::uint64_t cap = 8192;
  // 3000 + 1024 = 4024 < 4096: the second nearer LLC still has room.
  constexpr std::array<ag::llc_stats, 2> nearer{ag::llc_stats{6000, cap}, ag::llc_stats{3000, cap}};
  STATIC_REQUIRE(ag::nearer_vetoes(nearer, 1024));
  // With a task of 2000 neither has: 8000 and 5000 are both busy.
  STATIC_REQUIRE_FALSE(ag::nearer_vetoes(nearer, 2000));
  // Unknown statistics veto nothing.
  constexpr std::array<ag::llc_stats, 1> unknown{ag::llc_stats{0, cap, false}};
  STATIC_REQUIRE_FALSE(ag::nearer_vetoes(unknown, 1024));
}
