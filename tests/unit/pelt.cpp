// PELT against hand-computed sequences. Every expected value below is derived in its
// comment from kernel/sched/pelt.c's integer arithmetic and sched-pelt.h's table
// (y^1 · 2^32 = 0xfa83b2da = 4202935002, y^0 · 2^32 = 0xffffffff); none is read back
// from the code under test.
#include <balancekit/model/pelt.hpp>

#include <catch2/catch.hpp>

#include <cstdint>

using namespace balancekit::model;

namespace {

constexpr std::uint64_t ns_per_period = 1024 * 1024;  // 1024 units of 1024 ns

// A task that runs without a break from a fresh start, updated once at the end.
constexpr pelt::sched_avg run_from_zero(std::uint64_t periods) {
  pelt::sched_avg sa;
  pelt::update_task(periods * ns_per_period, sa, true, true, 1024);
  return sa;
}

constexpr bool one_period_of_running_counts_as_decayed_once() {
  // delta = 1024 units, one boundary: contrib = decay_load(1024, 1) + (47742 -
  // decay_load(47742, 1) - 1024) + 0 = (1024 · 4202935002 >> 32 = 1002) + (47742 - 46718
  // - 1024 = 0) = 1002. util_sum = 1002 << 10 = 1026048; divider 47742 - 1024 + 0 =
  // 46718; util_avg = 1026048 / 46718 = 21; load_avg = 1024 · 1002 / 46718 = 21.
  const pelt::sched_avg sa = run_from_zero(1);
  return sa.util_sum == 1026048 && sa.runnable_sum == 1026048 && sa.load_sum == 1002 && sa.period_contrib == 0 &&
         sa.util_avg == 21 && sa.runnable_avg == 21 && sa.load_avg == 21 && sa.last_update_time == ns_per_period;
}

constexpr bool thirty_two_periods_of_running_reach_half() {
  // y^32 = 1/2: contrib = decay_load(1024, 32) + 47742 - decay_load(47742, 32) - 1024.
  // decay_load(1024, 32) = (1024 >> 1) · 0xffffffff >> 32 = 511; decay_load(47742, 32) =
  // (47742 >> 1 = 23871) · 0xffffffff >> 32 = 23870. contrib = 511 + 22848 = 23359;
  // util_sum = 23359 << 10 = 23919616 = 46718 · 512, so util_avg = 512 exactly.
  const pelt::sched_avg sa = run_from_zero(32);
  return sa.util_sum == 23919616 && sa.util_avg == 512;
}

constexpr bool decay_load_uses_the_table_and_halvings() {
  return pelt::decay_load(1024, 0) == 1023                          // 1024 · (2^32 - 1) >> 32
         && pelt::decay_load(1024, 1) == 1002                       // 1024 · 4202935002 >> 32
         && pelt::decay_load(47742, 1) == 46718                     // 47742 · 4202935002 >> 32
         && pelt::decay_load(1024, 32) == 511                       // 512 · (2^32 - 1) >> 32
         && pelt::decay_load(std::uint64_t{1} << 40, 64) == (std::uint64_t{1} << 38) - 64  // 2^38 (2^32 - 1) >> 32
         && pelt::decay_load(~std::uint64_t{0}, 32 * 63) == 0       // 2^64 >> 63 = 1, times y^0: 0
         && pelt::decay_load(1024, 32 * 63 + 1) == 0;               // past 63 half-lives
}

constexpr bool a_partial_period_only_accumulates() {
  // 500 units in: no boundary, contrib = delta = 500, nothing decays and the averages are
  // not recomputed (the kernel returns 0 and skips ___update_load_avg).
  pelt::sched_avg sa;
  const bool due = pelt::update_task(500 * 1024, sa, true, true, 1024);
  return !due && sa.period_contrib == 500 && sa.util_sum == 500 * 1024 && sa.load_sum == 500 && sa.util_avg == 0;
}

constexpr bool a_partial_period_then_a_boundary_splits_d1_and_d3() {
  // 500 units, then 700 more: delta = 700 + 500 = 1200, one boundary, d1 = 1024 - 500 =
  // 524, d3 = 1200 % 1024 = 176. Old sum 500 << 10 = 512000 decays once: 512000 ·
  // 4202935002 = 2151902721024000, >> 32 = 501028. contrib = decay_load(524, 1) + 0 + 176 = (524 ·
  // 4202935002 >> 32 = 512) + 176 = 688; util_sum = 501028 + (688 << 10 = 704512) =
  // 1205540; divider 46718 + 176 = 46894; util_avg = 1205540 / 46894 = 25.
  pelt::sched_avg sa;
  pelt::update_task(500 * 1024, sa, true, true, 1024);
  const bool due = pelt::update_task(1200 * 1024, sa, true, true, 1024);
  return due && sa.period_contrib == 176 && sa.util_sum == 1205540 && sa.util_avg == 25;
}

constexpr bool a_sleeping_task_only_decays() {
  // After 32 periods of running (util_sum 23919616), 32 periods asleep: the sum halves
  // through the table: (23919616 >> 1 = 11959808) · 0xffffffff >> 32 = 11959807; no new
  // contribution (no load); util_avg = 11959807 / 46718 = 255.
  pelt::sched_avg sa = run_from_zero(32);
  pelt::update_blocked_task(64 * ns_per_period, sa, 1024);
  return sa.util_sum == 11959807 && sa.util_avg == 255 && sa.load_sum == 11678;  // (23359 >> 1) · 0xffffffff >> 32
}

constexpr bool time_going_backwards_only_resynchronises() {
  pelt::sched_avg sa = run_from_zero(4);
  const pelt::sched_avg before = sa;
  const bool due = pelt::update_task(ns_per_period, sa, true, true, 1024);
  pelt::sched_avg expected = before;
  expected.last_update_time = ns_per_period;
  return !due && sa == expected;
}

constexpr bool attach_takes_the_rq_window_and_detach_gives_it_back() {
  // The rq: util_avg 100, util_sum 100 · 46718 = 4671800, period_contrib 500; the task:
  // util_avg 300, load_avg 300 (weight 1024), runnable_avg 300. The task's sums are rebuilt
  // for the rq's window: divider 46718 + 500 = 47218; util_sum = 300 · 47218 = 14165400;
  // load_sum = 300 · 47218 / 1024 = 13833.
  pelt::sched_avg rq;
  rq.util_avg = 100;
  rq.util_sum = 4671800;
  rq.period_contrib = 500;
  rq.last_update_time = 7 * ns_per_period;
  pelt::sched_avg se;
  se.util_avg = 300;
  se.load_avg = 300;
  se.runnable_avg = 300;
  pelt::attach(rq, se, 1024);
  const bool attached = se.last_update_time == rq.last_update_time && se.period_contrib == 500 &&
                        se.util_sum == 14165400 && se.load_sum == 13833 && rq.util_avg == 400 &&
                        rq.util_sum == 4671800 + 14165400 && rq.load_avg == 300 && rq.load_sum == 1024 * 13833 &&
                        rq.runnable_avg == 300;
  // Detaching removes exactly what was added; the floors (avg · 46718) do not bind.
  pelt::detach(rq, se, 1024);
  return attached && rq.util_avg == 100 && rq.util_sum == 4671800 && rq.load_avg == 0 && rq.load_sum == 0 &&
         rq.runnable_avg == 0 && rq.runnable_sum == 0;
}

constexpr bool detach_keeps_the_sum_at_least_the_average_times_the_divider() {
  // The rq's util_sum has drifted below what the task carries: sub_positive clamps at 0,
  // then max_t(u32, 0, util_avg · 46718) restores the floor: 50 · 46718 = 2335900.
  pelt::sched_avg rq;
  rq.util_avg = 350;
  rq.util_sum = 1000;
  pelt::sched_avg se;
  se.util_avg = 300;
  se.util_sum = 5000;
  pelt::detach(rq, se, 1024);
  return rq.util_avg == 50 && rq.util_sum == 2335900;
}

constexpr bool removed_tasks_leave_at_the_next_update() {
  // A rq at util_avg 400 (util_sum 400 · 46718 = 18687200, period_contrib 0) from which a
  // task of util 100 woke elsewhere: at its next update, even with no time passed, util_avg
  // 300 and util_sum 18687200 - 100 · 46718 = 14015400 (= 300 · 46718, the floor).
  pelt::sched_avg rq;
  rq.util_avg = rq.load_avg = rq.runnable_avg = 400;
  rq.util_sum = 18687200;
  rq.load_sum = rq.runnable_sum = 18687200;
  rq.last_update_time = 5 * ns_per_period;
  pelt::sched_avg gone;
  gone.util_avg = gone.load_avg = gone.runnable_avg = 100;
  pelt::removed_avg removed;
  removed.add(gone);
  const bool changed = pelt::update_cfs_rq_load_avg(5 * ns_per_period, rq, removed, 0, 0, false);
  return changed && removed.nr == 0 && rq.util_avg == 300 && rq.util_sum == 14015400 && rq.load_avg == 300 &&
         rq.runnable_avg == 300 && rq.runnable_sum == 14015400;
}

constexpr std::uint32_t ewma_after(std::uint32_t ewma, std::uint64_t util, std::uint64_t runnable, bool sleep,
                                   std::uint64_t capacity = 1024) {
  pelt::sched_avg se;
  se.util_est = ewma;
  se.util_avg = util;
  se.runnable_avg = runnable;
  pelt::util_est_update(se, sleep, capacity);
  return se.util_est;
}

constexpr bool util_est_follows_the_kernel_rule() {
  constexpr std::uint32_t f = pelt::util_avg_unchanged;
  return ewma_after(200, 300, 300, true) == (300 | f)     // up at once
         && ewma_after(305, 300, 300, true) == (305 | f)  // 5 < 10: within the margin
         && ewma_after(400, 300, 300, true) == (375 | f)  // (400 · 4 - 100) / 4
         && ewma_after(400, 300, 320, true) == (400 | f)  // 300 + 10 < 320: it was starved
         && ewma_after(400, 300, 300, true, 256) == 400   // util above the CPU: no sample
         && ewma_after(400 | f, 100, 100, true) == (400 | f)  // util_avg unchanged since enqueue
         && ewma_after(400, 100, 100, false) == 400;          // a migration, not a sleep
}

constexpr bool the_pelt_clock_runs_at_the_cpu_capacity() {
  // Capacity 512: 64 ms of running advance clock_pelt by 32 ms, so a hog there has the
  // util of 32 ms of running: 512, as above.
  pelt::clock_pelt c;
  c.advance(64 * ns_per_period, 64 * ns_per_period, false, 512);
  pelt::sched_avg sa;
  pelt::update_task(c.now(), sa, true, true, 1024);
  return c.now() == 32 * ns_per_period && sa.util_avg == 512;
}

constexpr bool idle_time_is_given_back_unless_the_cpu_was_full() {
  // Not full: on going idle the clock syncs to the task clock, and the 32 ms it lagged
  // count as idle time.
  pelt::clock_pelt a;
  a.advance(64 * ns_per_period, 64 * ns_per_period, false, 512);
  a.going_idle(64 * ns_per_period, 1000);
  a.advance(64 * ns_per_period, 0, true, 512);
  // Full (util_sum at least (46718 << 10) - 47742 = 47791490): the lag is lost idle time
  // and the PELT clock does not jump.
  pelt::clock_pelt b;
  b.advance(64 * ns_per_period, 64 * ns_per_period, false, 512);
  b.going_idle(64 * ns_per_period, 47791490);
  b.advance(64 * ns_per_period, 0, true, 512);
  return a.now() == 64 * ns_per_period && b.now() == 32 * ns_per_period && b.lost_idle_time == 32 * ns_per_period;
}

}  // namespace

TEST_CASE("decay_load uses the kernel's table of y^n and halves every 32 periods", "[simulator][pelt]") {
  STATIC_REQUIRE(decay_load_uses_the_table_and_halvings());
  CHECK(decay_load_uses_the_table_and_halvings());
}

TEST_CASE("One period of running counts as decayed once: util_avg 21", "[simulator][pelt]") {
  STATIC_REQUIRE(one_period_of_running_counts_as_decayed_once());
  CHECK(one_period_of_running_counts_as_decayed_once());
}

TEST_CASE("Thirty-two periods of running from zero reach half: util_avg 512", "[simulator][pelt]") {
  STATIC_REQUIRE(thirty_two_periods_of_running_reach_half());
  CHECK(thirty_two_periods_of_running_reach_half());
}

TEST_CASE("A partial period only accumulates, and a boundary splits it into d1 and d3", "[simulator][pelt]") {
  STATIC_REQUIRE(a_partial_period_only_accumulates());
  CHECK(a_partial_period_only_accumulates());
  STATIC_REQUIRE(a_partial_period_then_a_boundary_splits_d1_and_d3());
  CHECK(a_partial_period_then_a_boundary_splits_d1_and_d3());
}

TEST_CASE("A sleeping task only decays, and time going backwards only resynchronises", "[simulator][pelt]") {
  STATIC_REQUIRE(a_sleeping_task_only_decays());
  CHECK(a_sleeping_task_only_decays());
  STATIC_REQUIRE(time_going_backwards_only_resynchronises());
  CHECK(time_going_backwards_only_resynchronises());
}

TEST_CASE("Attach takes the rq's decay window and detach gives back what attach added", "[simulator][pelt]") {
  STATIC_REQUIRE(attach_takes_the_rq_window_and_detach_gives_it_back());
  CHECK(attach_takes_the_rq_window_and_detach_gives_it_back());
  STATIC_REQUIRE(detach_keeps_the_sum_at_least_the_average_times_the_divider());
  CHECK(detach_keeps_the_sum_at_least_the_average_times_the_divider());
}

TEST_CASE("Tasks that woke elsewhere leave the rq's averages at its next update", "[simulator][pelt]") {
  STATIC_REQUIRE(removed_tasks_leave_at_the_next_update());
  CHECK(removed_tasks_leave_at_the_next_update());
}

TEST_CASE("util_est moves up at once, down by a quarter, and skips what the kernel skips", "[simulator][pelt]") {
  STATIC_REQUIRE(util_est_follows_the_kernel_rule());
  CHECK(util_est_follows_the_kernel_rule());
}

TEST_CASE("The PELT clock runs at the CPU's capacity and gives idle time back unless the CPU was full",
          "[simulator][pelt]") {
  STATIC_REQUIRE(the_pelt_clock_runs_at_the_cpu_capacity());
  CHECK(the_pelt_clock_runs_at_the_cpu_capacity());
  STATIC_REQUIRE(idle_time_is_given_back_unless_the_cpu_was_full());
  CHECK(idle_time_is_given_back_unless_the_cpu_was_full());
}

TEST_CASE("A task running alone converges to its duty cycle within the kernel's time constant", "[simulator][pelt]") {
  // Run r units of every 1024 (one period), updated at every transition as the kernel
  // does at enqueue/dequeue. After 345 periods (LOAD_AVG_MAX_N, where the series has
  // converged) util_avg sits within 2 % of 1024 · r / 1024 at the end of a sleep, and
  // after 32 periods it has covered about half the way (y^32 = 1/2).
  for (const std::uint64_t r : {128U, 256U, 512U, 768U, 1024U}) {
    CAPTURE(r);
    pelt::sched_avg sa;
    std::uint64_t t = 0;
    std::uint64_t at32 = 0;
    for (std::uint64_t p = 1; p <= 345; ++p) {
      t += r * 1024;
      pelt::update_task(t, sa, true, true, 1024);
      if (r < 1024) {
        t += (1024 - r) * 1024;
        pelt::update_blocked_task(t, sa, 1024);
      }
      if (p == 32) at32 = sa.util_avg;
    }
    const double target = static_cast<double>(r);
    CHECK(static_cast<double>(sa.util_avg) >= target * 0.98 - 1);
    CHECK(static_cast<double>(sa.util_avg) <= target * 1.02 + 1);
    CHECK(static_cast<double>(at32) >= target * 0.45);
    CHECK(static_cast<double>(at32) <= target * 0.55);
  }
}
