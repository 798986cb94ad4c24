// The simulator with the pack's push member (seed 002): when and where a push lands, what it
// costs the pusher, and the claim's sign to wakeup placement. Expectations derived by hand
// from the cost model's push costs (docs/simulator.md) in each comment.
#include <balancekit/balancer.hpp>
#include <balancekit/model/simulator.hpp>
#include <balancekit/policy/push.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "support/balance_machine.hpp"

using namespace balancekit;

namespace {
using L = small_limits;
using mask = cpumask<L::max_cpus>;
constexpr nanoseconds ms = 1'000'000;

template <class Push>
using push_rules = rules<linux_defaults, with_push<Push>>;

// Four CPUs in one LLC. Two hogs pinned to CPU 0 from time 0, both released to CPUs 0-1 at
// 1 ms: they stay queued on CPU 0. At its 4 ms tick CPU 0 has run the first hog for its
// slice (2.25 ms with 4 CPUs), switches to the second, and pushes the first: CPU 1 is the
// first idle CPU in wrap order from CPU 0 + 1. Returns the simulator at 1 ms.
template <class P>
std::unique_ptr<model::simulator<P, L>> two_hogs_on_cpu0(const test::balance_machine<L>& m) {
  auto sim = std::make_unique<model::simulator<P, L>>(*m.tree);
  sim->reset();
  for (std::uint64_t i = 0; i < 2; ++i) {
    model::sim_task<L> t;
    t.id = i;
    t.allowed = mask::of(0);
    REQUIRE(sim->spawn(t, 0) == i);
  }
  sim->run_until(1 * ms);
  for (std::uint32_t i = 0; i < 2; ++i) REQUIRE(sim->set_affinity(i, mask::range(0, 1)));
  return sim;
}
// The same, run to 10 ms.
template <class P>
std::unique_ptr<model::simulator<P, L>> two_hogs_at_10ms(const test::balance_machine<L>& m) {
  auto sim = two_hogs_on_cpu0<P>(m);
  sim->run_until(10 * ms);
  return sim;
}

template <class P>
const model::sim_migration& first_move(const model::simulator<P, L>& sim) {
  REQUIRE(!sim.log().empty());
  return sim.log()[0];
}
}  // namespace

TEST_CASE("A task waiting behind a hog is pushed at the tick and lands one push's cost later", "[push][simulator]") {
  test::balance_machine<L> m;
  REQUIRE(test::build_balance_machine({"l3:1 core:4 pu:1"}, m).empty());
  const model::sim_costs costs{};

  SECTION("claimed: the pusher pays one push, the task lands at 4 ms + the push") {
    auto sim = two_hogs_at_10ms<push_rules<push::push_claimed>>(m);
    const auto& mv = first_move(*sim);
    CHECK(mv.by == model::sim_balance::push);
    CHECK(mv.time == 4 * ms + costs.push);
    CHECK(mv.move.task == 0);
    CHECK(mv.move.src == 0);
    CHECK(mv.move.dst == 1);
    CHECK(sim->metrics().pushes == 1);
    CHECK(sim->metrics().push_busy_time == costs.push);
    CHECK(sim->metrics().push_pileups == 0);
    CHECK(sim->running(0) == 1);
    CHECK(sim->running(1) == 0);
  }
  SECTION("offload: the pusher pays the post only; the target pulls after the IPI's flight") {
    auto sim = two_hogs_at_10ms<push_rules<push::push_offload>>(m);
    const auto& mv = first_move(*sim);
    CHECK(mv.by == model::sim_balance::push);
    CHECK(mv.time == 4 * ms + costs.ipi_send + costs.ipi_latency + costs.push);
    CHECK(mv.move.dst == 1);
    CHECK(sim->metrics().push_busy_time == costs.ipi_send);
    CHECK(sim->metrics().push_target_time == costs.push);
    CHECK(sim->metrics().push_requests_void == 0);
  }
  SECTION("the pusher's running task loses the push's time: it gets that much less work done") {
    // Single-thread cores of capacity 1024: work equals CPU time, but for the push.
    auto sim = two_hogs_at_10ms<push_rules<push::push_claimed>>(m);
    CHECK(sim->metrics().busy_cpu_time - sim->metrics().work_done == costs.push);
    auto linux_sim = two_hogs_at_10ms<linux_defaults>(m);
    CHECK(linux_sim->metrics().busy_cpu_time == linux_sim->metrics().work_done);
  }
}

TEST_CASE("A claimed CPU shows a pending wakeup until the pushed task lands", "[push][simulator]") {
  test::balance_machine<L> m;
  REQUIRE(test::build_balance_machine({"l3:1 core:4 pu:1"}, m).empty());
  auto sim = two_hogs_on_cpu0<push_rules<push::push_offload>>(m);
  // The request is posted at 4 ms and lands 27.9 us later: in between, CPU 1 is claimed.
  sim->run_until(4 * ms + 10'000);
  CHECK(sim->snap().cpus[1].ttwu_pending);
  CHECK(!sim->snap().cpus[1].is_idle());
  CHECK(sim->state().push.track.slot_of(1).state == push::slot_state::claimed);
  sim->run_until(5 * ms);
  CHECK(!sim->snap().cpus[1].ttwu_pending);
  CHECK(sim->running(1) == 0);
  CHECK(sim->state().push.track.slot_of(1).state == push::slot_state::busy);
}

TEST_CASE("In the round model a push member pushes nothing but still pulls one task when a CPU goes newly idle",
          "[push][simulator][rounds]") {
  // Rounds mode has no clock to land a push by. Two tasks enqueued on CPU 0 stay queued
  // there (no flight); when the task of CPU 1 stops, CPU 1 pulls one of them at once.
  test::balance_machine<L> m;
  REQUIRE(test::build_balance_machine({"l3:1 core:4 pu:1"}, m).empty());
  auto sim = std::make_unique<model::simulator<push_rules<push::push_claimed>, L>>(*m.tree);
  sim->reset(model::sim_mode::rounds);
  for (std::uint64_t i = 0; i < 3; ++i) {
    model::sim_task<L> t;
    t.id = i;
    REQUIRE(sim->spawn(t, 0) == i);
  }
  REQUIRE(sim->enqueue_at(0, 0));
  REQUIRE(sim->enqueue_at(1, 0));
  REQUIRE(sim->enqueue_at(2, 1));
  CHECK(sim->snap().queue_length(0) == 2);
  CHECK(sim->metrics().pushes == 0);
  REQUIRE(sim->stop(2));
  CHECK(sim->snap().queue_length(0) == 1);
  CHECK(sim->snap().queue_length(1) == 1);
  CHECK(sim->metrics().push_pulls == 1);
}
