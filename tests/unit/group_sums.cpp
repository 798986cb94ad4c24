// Group sums kept as CPUs change (stats/group_sums.hpp) against sums computed by hand
// from the snapshot, over a machine with SMT, LLCs and overlapping NUMA groups.
#include <balancekit/stats/group_sums.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "support/balance_machine.hpp"

using namespace balancekit;

namespace {
using L = small_limits;

// What update_sg_lb_stats() adds over a group whose CPUs all take part, computed here
// without group_sums.
group_sums<L>::contribution brute(const domain_tree<L>& tree, const snapshot<L>& snap,
                                  const domain_tree<L>::group& g) {
  group_sums<L>::contribution t;
  for (std::size_t c : tree.span(g)) {
    const cpu_state& rq = snap.cpus[c];
    t.capacity += rq.capacity;
    t.load += rq.load;
    t.util += cpu_util_cfs(rq);
    t.runnable += rq.runnable;
    t.h_nr_runnable += rq.h_nr_runnable;
    t.nr_running += rq.nr_running;
    if (rq.nr_running == 0 && !rq.ttwu_pending) {
      ++t.idle;
      continue;
    }
    if (rq.nr_running > 1) ++t.overloaded;
    t.nr_numa_running += rq.nr_numa_running;
    t.nr_preferred_running += rq.nr_preferred_running;
    if (rq.h_nr_runnable == 1 && rq.capacity < rq.arch_capacity) ++t.squeezed;
  }
  return t;
}

void check_every_record(const domain_tree<L>& tree, const snapshot<L>& snap, const group_sums<L>& sums) {
  for (std::size_t i = 0; i < tree.nr_group_records(); ++i) {
    const auto& g = tree.group_record(i);
    INFO("group record " << i << " of " << tree.nr_group_records());
    CHECK(sums.of(g).total == brute(tree, snap, g));
    std::uint64_t lo = ~std::uint64_t{0}, hi = 0;
    for (std::size_t c : tree.span(g)) {
      lo = std::min(lo, snap.cpus[c].capacity);
      hi = std::max(hi, snap.cpus[c].capacity);
    }
    CHECK(sums.of(g).min_capacity == lo);
    CHECK(sums.of(g).max_capacity == hi);
  }
}
}  // namespace

TEST_CASE("Kept group sums follow every change the snapshot and its owner make", "[group-sums]") {
  test::balance_machine<L> m;
  REQUIRE(test::build_balance_machine(
              {"package:4 numa:1 l3:1 core:2 pu:2", "10 20 30 20;20 10 20 30;30 20 10 20;20 30 20 10"}, m)
              .empty());
  const auto& tree = *m.tree;
  auto snap = std::make_unique<snapshot<L>>();
  auto sums = std::make_unique<group_sums<L>>();
  REQUIRE(sums->bind(tree, *snap));
  snap->observe(&group_sums<L>::observer, sums.get());
  check_every_record(tree, *snap, *sums);

  // Tasks through the snapshot's own operations.
  task_state<L> t;
  t.load = 700;
  t.util = t.util_est = 300;
  t.runnable = 400;
  const std::uint32_t a = snap->add_sleeping_task(t);
  const std::uint32_t b = snap->add_sleeping_task(t);
  const std::uint32_t c = snap->add_sleeping_task(t);
  snap->enqueue_task(a, 0);
  snap->enqueue_task(b, 0);  // CPU 0 overloaded
  snap->enqueue_task(c, 13);
  check_every_record(tree, *snap, *sums);
  snap->move_task(b, 9);  // across the ring
  check_every_record(tree, *snap, *sums);
  snap->dequeue_task(c);
  check_every_record(tree, *snap, *sums);

  // The owner writes a CPU's record and says so: a squeezed CPU with one task, NUMA
  // counters, a wakeup on its way to an idle CPU, a new capacity.
  snap->cpus[0].capacity = 700;
  snap->cpus[0].nr_numa_running = 1;
  snap->cpus[0].nr_preferred_running = 1;
  snap->touched(0);
  snap->cpus[5].ttwu_pending = true;
  snap->touched(5);
  snap->cpus[9].util_est = 2000;  // above the CPU's capacity: cpu_util_cfs caps it
  snap->touched(9);
  check_every_record(tree, *snap, *sums);
  CHECK(sums->of(tree.group_of(tree.domain_of(0, 0), 0)).total.squeezed == 1);
  CHECK(sums->of(tree.group_of(tree.domain_of(0, 0), 0)).min_capacity == 700);

  // A copy observes nothing: changing it leaves the sums of the original as they were
  // (and a copy never calls back into sums it may outlive).
  auto copy = std::make_unique<snapshot<L>>(*snap);
  copy->enqueue_task(c, 2);
  check_every_record(tree, *snap, *sums);
  // Neither does a snapshot a value was assigned into, even one that had an observer.
  *snap = *copy;
  snap->move_task(c, 4);  // an observer would re-read CPU 4's record
  CHECK_FALSE(sums->of(tree.group_of(tree.domain_of(4, 0), 0)).total == brute(tree, *snap, tree.group_of(tree.domain_of(4, 0), 0)));
  snap->dequeue_task(c);
  REQUIRE(sums->bind(tree, *snap));
  snap->observe(&group_sums<L>::observer, sums.get());
  check_every_record(tree, *snap, *sums);

  // Without the observer, a change goes unseen: the sums are only as good as the calls.
  snap->observe(nullptr, nullptr);
  snap->enqueue_task(c, 2);
  CHECK_FALSE(sums->of(tree.group_of(tree.domain_of(2, 0), 0)).total == brute(tree, *snap, tree.group_of(tree.domain_of(2, 0), 0)));
}
