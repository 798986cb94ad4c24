// Wasted Cores S3, Overload-on-Wakeup (Lozi et al. 2016, §3.3; reference/verification-
// anchors.md): a worker on a busy node is woken by a thread of that node while a core of
// another node idles. Linux's search stops at the target's LLC and puts it on a busy CPU;
// the idle-first placement (the paper's fix, I18 past the LLC) takes the idle core.
#include <balancekit/balancer.hpp>
#include <balancekit/policy/wasted_cores.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "support/balance_machine.hpp"

using namespace balancekit;

namespace {
using L = small_limits;
using idle_first = rules<linux_defaults, with_placement<wasted_cores::idle_first_placement>>;

// Two nodes of four cores (distance 20: the NUMA domain keeps SD_WAKE_AFFINE). One CPU-bound
// worker per CPU except CPU 6, where a transient thread just exited; CPU 5 went idle first
// (stamp 100) and was then taken again, CPU 6 at 300. The worker to wake last ran on CPU 2.
template <class P>
struct s3 : test::balance_world<P, L> {
  std::uint32_t worker = no_task;
  s3() {
    REQUIRE(test::build_balance_machine({"package:2 numa:1 l3:1 core:4 pu:1", "10 20;20 10"}, *this).empty());
    this->state->reset(*this->tree, 0);
    for (std::size_t c = 0; c < 8; ++c) {
      if (c == 6) continue;
      task_state<L> t;
      t.id = c;
      t.util = t.util_est = t.runnable = 1024;
      this->snap->add_task(t, c, true);
      account_enqueue(this->snap->cpus[c], t);
    }
    this->snap->cpus[6].idle_stamp = 300;
    task_state<L> w;
    w.id = 100;
    w.util = w.util_est = w.runnable = 900;
    worker = this->snap->add_sleeping_task(w);
  }
};
}  // namespace

TEST_CASE("Linux wakes a worker onto a busy CPU of its node while another node idles", "[wakeup][overload-on-wakeup]") {
  // Waker on CPU 1, prev 2: want_affine; the lowest domain spanning both is MC {0-3};
  // wake_affine picks 1 or 2; select_idle_sibling scans the LLC {0-3}: nothing idle → the
  // busy target. CPU 6 stays idle until a periodic balance pulls.
  s3<linux_defaults> w;
  const auto r = w.b().on_wakeup(w.worker, 2, 1, 0, 1'000'000'000, *w.snap, *w.state);
  REQUIRE(r);
  CHECK(r->cpu < 4);
  CHECK(w.snap->cpus[r->cpu].nr_running == 1);
  CHECK(r->why == placement_branch::busy_target);
}

TEST_CASE("The idle-first placement wakes the worker on the idle core of the other node", "[wakeup][overload-on-wakeup]") {
  s3<idle_first> w;
  SECTION("prev busy: the allowed CPU idle longest on the machine, 6") {
    const auto r = w.b().on_wakeup(w.worker, 2, 1, 0, 1'000'000'000, *w.snap, *w.state);
    REQUIRE(r);
    CHECK(r->cpu == 6);
    CHECK(r->why == placement_branch::idle_longest);
  }
  SECTION("two idle CPUs: the one idle longer (earlier stamp)") {
    // CPU 5's worker leaves: CPU 5 idle since 100, earlier than CPU 6's 300.
    w.snap->dequeue_task(5);
    w.snap->cpus[5].idle_stamp = 100;
    const auto r = w.b().on_wakeup(w.worker, 2, 1, 0, 1'000'000'000, *w.snap, *w.state);
    REQUIRE(r);
    CHECK(r->cpu == 5);
  }
  SECTION("prev idle: prev") {
    w.snap->dequeue_task(2);
    const auto r = w.b().on_wakeup(w.worker, 2, 1, 0, 1'000'000'000, *w.snap, *w.state);
    REQUIRE(r);
    CHECK(r->cpu == 2);
    CHECK(r->why == placement_branch::idle_prev);
  }
  SECTION("no idle CPU it may use: Linux's placement") {
    w.snap->task_at(w.worker).allowed = cpumask<L::max_cpus>{}.set(0).set(1).set(2).set(3);
    const auto r = w.b().on_wakeup(w.worker, 2, 1, 0, 1'000'000'000, *w.snap, *w.state);
    REQUIRE(r);
    CHECK(r->cpu < 4);
    CHECK(r->why == placement_branch::busy_target);
  }
}
