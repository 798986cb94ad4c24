// The time-driven simulator on small machines: what a tick, a fork, a release from
// pinning, a periodic task and a shared CPU do, with expectations from the kernel's rules
// (derivations in the comments) and the conservation laws every run obeys.
#include <balancekit/balancer.hpp>
#include <balancekit/model/simulator.hpp>
#include <balancekit/model/system.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "support/balance_machine.hpp"

using namespace balancekit;
using L = small_limits;
using mask = cpumask<L::max_cpus>;
using sim_t = model::simulator<linux_defaults, L>;

namespace {

constexpr nanoseconds ms = 1'000'000;

struct bench {
  std::unique_ptr<test::balance_machine<L>> m = std::make_unique<test::balance_machine<L>>();
  std::unique_ptr<sim_t> sim;
  explicit bench(const machine_spec& spec) {
    REQUIRE(test::build_balance_machine(spec, *m).empty());
    sim = std::make_unique<sim_t>(*m->tree);
    sim->reset();
  }
};

model::sim_task<L> hog(std::uint64_t id, mask allowed = ~mask{}) {
  model::sim_task<L> t;
  t.id = id;
  t.allowed = allowed;
  return t;
}

// Every run: each task's CPU time is what the CPUs were busy with, no CPU worked more than
// the time that passed, and every queued task sits on an allowed CPU of the map.
void check_conservation(const sim_t& s) {
  nanoseconds total = 0;
  for (std::uint32_t t = 0; t < s.snap().tasks().size(); ++t) {
    total += s.runtime(t);
    if (s.snap().queued(t)) {
      CHECK(s.snap().task_at(t).allowed.test(s.snap().cpu_of(t)));
      CHECK(s.tree().cpu_map().test(s.snap().cpu_of(t)));
    }
  }
  CHECK(total == s.metrics().busy_cpu_time);
  // Every balance migration is counted at exactly one level.
  std::uint64_t by_level = 0;
  for (std::uint64_t n : s.metrics().migrations_by_level) by_level += n;
  CHECK(by_level == s.metrics().balance_migrations());
  CHECK(s.metrics().busy_cpu_time <= static_cast<nanoseconds>(s.tree().cpu_map().weight()) * s.now());
  std::size_t queued = 0;
  for (std::size_t c : s.tree().cpu_map()) {
    queued += s.snap().queue_length(c);
    CHECK(s.snap().cpus[c].nr_running == s.snap().queue_length(c));
    CHECK((s.running(c) == no_task) == (s.snap().queue_length(c) == 0));
    if (s.running(c) == no_task) CHECK(s.tick_stopped(c));
  }
  std::size_t awake = 0;
  for (std::uint32_t t = 0; t < s.snap().tasks().size(); ++t) awake += s.snap().queued(t) ? 1U : 0U;
  CHECK(queued == awake);
}

}  // namespace

TEST_CASE("A hog alone runs all the time and its util_avg converges to 1024", "[simulator]") {
  bench b({"l3:1 core:2 pu:1"});
  REQUIRE(b.sim->spawn(hog(1), 0) == 0);
  b.sim->run_until(1000 * ms);
  // Forked at 0 on an idle machine: the fork path picks an idle CPU and it runs from 0.
  CHECK(b.sim->runtime(0) == 1000 * ms);
  // After 1 s (about 31 half-lives) of running, util_avg is within 1 % of 1024.
  CHECK(b.sim->task_avg(0).util_avg >= 1014);
  const std::size_t c = b.sim->snap().cpu_of(0);
  CHECK(b.sim->cpu_avg(c).util_avg >= 1014);
  CHECK(b.sim->snap().cpus[c].util == b.sim->cpu_avg(c).util_avg);
  // The other CPU never woke: its tick stayed stopped.
  CHECK(b.sim->tick_stopped(1 - c));
  check_conservation(*b.sim);
}

TEST_CASE("Two hogs pinned to one CPU share it by weight, and PELT sees half each", "[simulator]") {
  bench b({"l3:1 core:2 pu:1"});
  model::sim_task<L> heavy = hog(1, mask::of(0));
  heavy.weight = 2048;
  REQUIRE(b.sim->spawn(heavy, 0) == 0);
  REQUIRE(b.sim->spawn(hog(2, mask::of(0)), 0) == 1);
  b.sim->run_until(2000 * ms);
  // vruntime advances by delta · 1024 / weight: the 2048 task gets two thirds of the CPU,
  // within one tick (4 ms at HZ 250) of switching granularity.
  const double share = static_cast<double>(b.sim->runtime(0)) / static_cast<double>(2000 * ms);
  CHECK(share > 0.66 - 0.01);
  CHECK(share < 0.67 + 0.01);
  // A task's util_avg follows the share of time it runs: about 2/3 and 1/3 of 1024, give
  // or take the ripple of 4 ms slices (a few %). The rq's util is the sum: about 1024.
  CHECK(b.sim->task_avg(0).util_avg > 640);
  CHECK(b.sim->task_avg(0).util_avg < 730);
  CHECK(b.sim->task_avg(1).util_avg > 300);
  CHECK(b.sim->task_avg(1).util_avg < 385);
  CHECK(b.sim->cpu_avg(0).util_avg >= 1000);
  CHECK(b.sim->snap().cpus[1].nr_running == 0);
  check_conservation(*b.sim);
}

TEST_CASE("Forked hogs spread over idle CPUs through the fork slow path", "[simulator]") {
  bench b({"l3:1 core:4 pu:1"});
  for (std::uint64_t i = 0; i < 4; ++i) REQUIRE(b.sim->spawn(hog(i + 1), 0) != no_task);
  b.sim->run_until(500 * ms);
  // sched_balance_find_dst_cpu() takes an idle CPU for each new task, so no balance is
  // needed: each CPU runs one hog and nothing ever migrated.
  for (std::size_t c = 0; c < 4; ++c) CHECK(b.sim->snap().cpus[c].nr_running == 1);
  CHECK(b.sim->metrics().balance_migrations() == 0);
  check_conservation(*b.sim);
}

TEST_CASE("Hogs released from CPU 0 spread by idle balancing, kicked from the busy CPU's tick", "[simulator]") {
  bench b({"l3:1 core:4 pu:1"});
  for (std::uint64_t i = 0; i < 4; ++i) REQUIRE(b.sim->spawn(hog(i + 1, mask::of(0)), 0) == i);
  b.sim->run_until(100 * ms);
  CHECK(b.sim->snap().cpus[0].nr_running == 4);
  for (std::uint32_t t = 0; t < 4; ++t) REQUIRE(b.sim->set_affinity(t, ~mask{}));
  b.sim->run_until(1100 * ms);
  // CPUs 1-3 are tickless idle; only CPU 0 ticks. Its tick sees nr_running >= 2 and kicks
  // the idle load balancer, which balances MC on behalf of the idle CPUs: each pulls one.
  for (std::size_t c = 0; c < 4; ++c) CHECK(b.sim->snap().cpus[c].nr_running == 1);
  CHECK(b.sim->metrics().nohz_kicks > 0);
  CHECK(b.sim->metrics().migrations_nohz >= 3);
  check_conservation(*b.sim);
}

TEST_CASE("A periodic light task's util_avg settles at its duty cycle and util_est remembers it", "[simulator]") {
  bench b({"l3:1 core:2 pu:1"});
  model::sim_task<L> light;
  light.id = 1;
  light.work = 1 * ms;
  light.period = 4 * ms;
  REQUIRE(b.sim->spawn(light, 0) == 0);
  b.sim->run_until(1000 * ms);
  // 1 ms of every 4 on a full-size CPU: util_avg ripples around 1024 / 4 = 256 (the PELT
  // sum gains for 1 ms and decays for 3: ±5 % or so); 250 activations ran.
  CHECK(b.sim->metrics().activations >= 249);
  CHECK(b.sim->task_avg(0).util_avg > 230);
  CHECK(b.sim->task_avg(0).util_avg < 285);
  const std::uint64_t est = model::pelt::task_util_est_ewma(b.sim->task_avg(0));
  CHECK(est > 230);
  CHECK(est < 285);
  check_conservation(*b.sim);
}

TEST_CASE("Work on a CPU of half capacity progresses at half speed, and PELT's clock with it", "[simulator]") {
  bench b({"l3:1 core:2 pu:1", "", "0:512"});
  REQUIRE(b.sim->spawn(hog(1, mask::of(0)), 0) == 0);
  b.sim->run_until(1000 * ms);
  CHECK(b.sim->metrics().work_done == 500 * ms);
  // PELT time ran at half speed: 500 ms of PELT time is over 15 half-lives: util near 1024
  // — a hog fills even a little CPU, which is what makes it a misfit there.
  CHECK(b.sim->task_avg(0).util_avg >= 1000);
  check_conservation(*b.sim);
}

TEST_CASE("The same inputs give the same run", "[simulator][determinism]") {
  auto run = [] {
    bench b({"l3:2 core:4 pu:2"});
    for (std::uint64_t i = 0; i < 12; ++i) {
      model::sim_task<L> t = hog(i + 1, mask::of(0));
      if (i % 3 == 0) {
        t.work = 2 * ms;
        t.period = (5 + static_cast<nanoseconds>(i)) * ms;
      }
      REQUIRE(b.sim->spawn(t, 0, static_cast<nanoseconds>(i) * ms) == i);
    }
    b.sim->run_until(50 * ms);
    for (std::uint32_t t = 0; t < 12; ++t) b.sim->set_affinity(t, ~mask{});
    b.sim->run_until(800 * ms);
    check_conservation(*b.sim);
    std::string out;
    for (std::uint32_t t = 0; t < 12; ++t)
      out += std::to_string(b.sim->snap().cpu_of(t)) + ':' + std::to_string(b.sim->runtime(t)) + ':' +
             std::to_string(b.sim->task_avg(t).util_avg) + ' ';
    const auto& m = b.sim->metrics();
    out += std::to_string(m.migrations_periodic) + ' ' + std::to_string(m.migrations_newidle) + ' ' +
           std::to_string(m.migrations_nohz) + ' ' + std::to_string(m.wakeup_latency_sum);
    return out;
  };
  const std::string a = run();
  CHECK(a == run());
}

TEST_CASE("The latency histogram has eight buckets per power of two and reports upper bounds", "[simulator]") {
  using H = model::latency_histogram;
  // Below 8 each value has its bucket; 8..15 are buckets 8..15 (exact); 16 and 17 share
  // bucket 16 (width 2), 1000 = 0b1111101000: e = 9, mantissa (1000 >> 6) = 15 → bucket
  // 8 + 6·8 + 7 = 63, covering 960..1023.
  STATIC_REQUIRE(H::bucket_of(7) == 7);
  STATIC_REQUIRE(H::bucket_of(15) == 15);
  STATIC_REQUIRE(H::bucket_of(16) == 16);
  STATIC_REQUIRE(H::bucket_of(17) == 16);
  STATIC_REQUIRE(H::bucket_of(1000) == 63);
  STATIC_REQUIRE(H::upper_bound(63) == 1023);
  STATIC_REQUIRE(H::upper_bound(16) == 17);
  H h;
  for (std::uint64_t v = 1; v <= 100; ++v) h.add(v * 1000);
  // The 50th value is 50000: bucket of 49152..53247 (e = 15, width 4096).
  CHECK(h.quantile(0.5) == 53247);
  CHECK(h.quantile(0.99) == 106495);  // 99000 lies in 98304..106495
  CHECK(h.quantile(1.0) == 106495);
  CHECK(H{}.quantile(0.5) == 0);
}

TEST_CASE("A ping-pong pair works one side at a time, one message a turn", "[simulator][messages]") {
  bench b({"l3:1 core:2 pu:1"});
  model::sim_task<L> a = hog(1);
  a.work = 1 * ms;
  a.partner = 1;
  model::sim_task<L> z = hog(2);
  z.work = 1 * ms;
  z.partner = 0;
  z.wait_first = true;
  REQUIRE(b.sim->spawn(a, 0) == 0);
  REQUIRE(b.sim->spawn(z, 0) == 1);
  b.sim->run_until(1000 * ms);
  // One message in flight: the sides never run at once, so the CPUs were busy 1 s in all,
  // about half each, and each 1 ms turn ends with one message: 1000 of them.
  const auto& m = b.sim->metrics();
  CHECK(m.busy_cpu_time == 1000 * ms);
  CHECK(m.messages >= 999);
  CHECK(m.messages <= 1000);
  CHECK(b.sim->runtime(0) + b.sim->runtime(1) == 1000 * ms);
  CHECK(b.sim->runtime(0) >= 499 * ms);
  CHECK(b.sim->runtime(1) >= 499 * ms);
  // Each side runs half the time: util_avg near 512 (the 1 ms ripple is under 3 %).
  CHECK(b.sim->task_avg(0).util_avg > 490);
  CHECK(b.sim->task_avg(0).util_avg < 535);
  check_conservation(*b.sim);
}

TEST_CASE("Messages between LLCs are counted as such", "[simulator][messages]") {
  bench b({"l3:2 core:2 pu:1"});
  model::sim_task<L> a = hog(1, mask::of(0));
  a.work = 1 * ms;
  a.partner = 1;
  model::sim_task<L> z = hog(2, mask::of(2));
  z.work = 1 * ms;
  z.partner = 0;
  z.wait_first = true;
  REQUIRE(b.sim->spawn(a, 0) == 0);
  REQUIRE(b.sim->spawn(z, 0) == 1);
  b.sim->run_until(100 * ms);
  // CPUs 0 and 2 are in different LLCs of one node: every message crosses an LLC, none a node.
  CHECK(b.sim->metrics().messages >= 99);
  CHECK(b.sim->metrics().messages_cross_llc == b.sim->metrics().messages);
  CHECK(b.sim->metrics().messages_cross_node == 0);
  check_conservation(*b.sim);
}

TEST_CASE("A writer that never blocks wakes its sleeping reader once a message", "[simulator][messages][hackbench]") {
  // One hackbench-like pair on two CPUs: the writer works 2 ms a message and writes at
  // once; the reader works 1 ms a message, so it is done before the next arrives and
  // sleeps: every message is one wakeup, and the reader is busy half the time.
  bench b({"l3:1 core:2 pu:1"});
  model::sim_task<L> w = hog(1, mask::of(0));
  w.work = 2 * ms;
  w.partner = 1;
  w.keeps_sending = true;
  model::sim_task<L> r = hog(2, mask::of(1));
  r.work = 1 * ms;
  r.wait_first = true;
  REQUIRE(b.sim->spawn(w, 0) == 0);
  REQUIRE(b.sim->spawn(r, 0) == 1);
  b.sim->run_until(1000 * ms);
  const auto& m = b.sim->metrics();
  CHECK(b.sim->runtime(0) == 1000 * ms);  // the writer never sleeps
  CHECK(m.messages == 500);
  CHECK(m.wakeups == 1 + 500);            // the writer's fork, then one per message
  // 1 ms for each message read, plus the cost model's 4 cache lines from a CPU of the same
  // LLC at 17 ns each; the 500th message, written at 1000 ms, is still unread.
  CHECK(b.sim->costs().message_lines == 4);
  CHECK(b.sim->costs().line_same_llc == 17);
  CHECK(b.sim->runtime(1) == 499 * (1 * ms + 4 * 17));
  check_conservation(*b.sim);
}

TEST_CASE("A messenger wakes all its workers each period", "[simulator][messages][schbench]") {
  // schbench-like: a messenger on CPU 0 works 0.1 ms every 10 ms, then wakes its three
  // workers (pinned to CPUs 1-3), each working 1 ms a wakeup: 100 periods in 1 s.
  bench b({"l3:1 core:4 pu:1"});
  model::sim_task<L> msgr = hog(1, mask::of(0));
  msgr.work = ms / 10;
  msgr.period = 10 * ms;
  msgr.partner = 1;
  msgr.recipients = 3;
  msgr.broadcast = true;
  REQUIRE(b.sim->spawn(msgr, 0) == 0);
  for (std::uint32_t k = 1; k <= 3; ++k) {
    model::sim_task<L> wk = hog(1 + k, mask::of(k));
    wk.work = 1 * ms;
    wk.wait_first = true;
    REQUIRE(b.sim->spawn(wk, 0) == k);
  }
  b.sim->run_until(1000 * ms);
  const auto& m = b.sim->metrics();
  CHECK(m.messages == 300);
  // The messenger's start and timers at 0, 10, …, 1000 ms (the last fires at the end, its
  // message not yet sent), and its workers once a message.
  CHECK(m.wakeups == 101 + 300);
  // Each wakeup: 1 ms of work and 4 cache lines from the messenger's LLC at 17 ns.
  for (std::uint32_t k = 1; k <= 3; ++k) CHECK(b.sim->runtime(k) == 100 * (1 * ms + 4 * 17));
  check_conservation(*b.sim);
}

TEST_CASE("A message costs its reader more the farther its writer ran", "[simulator][messages][costs]") {
  // Writer pinned to CPU 0; readers pinned to its SMT sibling (1), another core of its LLC
  // (2), the other LLC of its node (4) and the other node (8), SLIT distance 21. Each
  // reader gets 100 messages (work 1 ms each) and pays 4 lines per message at 4, 17, 80
  // and 80 · 21 / 10 = 168 ns.
  // SMT contention off, so that only the message costs show.
  model::sim_costs costs;
  costs.smt_core_throughput = 2048;  // two busy threads: 1024 each
  bench b({"package:2 numa:1 l3:2 core:2 pu:2", "10 21;21 10"});
  b.sim->set_costs(costs);
  model::sim_task<L> w = hog(1, mask::of(0));
  w.work = 2 * ms;
  w.partner = 1;
  w.recipients = 4;
  w.keeps_sending = true;
  REQUIRE(b.sim->spawn(w, 0) == 0);
  const std::size_t at[] = {1, 2, 4, 8};
  for (std::size_t cpu : at) {
    model::sim_task<L> r = hog(10 + cpu, mask::of(cpu));
    r.work = 1 * ms;
    r.wait_first = true;
    REQUIRE(b.sim->spawn(r, 0) != no_task);
  }
  b.sim->run_until(801 * ms + ms / 2);  // 400 messages written at 2, 4, …, 800 ms: 100 each
  const nanoseconds line[] = {4, 17, 80, 168};
  for (std::uint32_t k = 0; k < 4; ++k) CHECK(b.sim->runtime(1 + k) == 100 * (1 * ms + 4 * line[k]));
  // With no lines to move, a message costs nothing.
  model::sim_costs free = costs;
  free.message_lines = 0;
  bench c({"package:2 numa:1 l3:2 core:2 pu:2", "10 21;21 10"});
  c.sim->set_costs(free);
  REQUIRE(c.sim->spawn(w, 0) == 0);
  for (std::size_t cpu : at) {
    model::sim_task<L> r = hog(10 + cpu, mask::of(cpu));
    r.work = 1 * ms;
    r.wait_first = true;
    REQUIRE(c.sim->spawn(r, 0) != no_task);
  }
  c.sim->run_until(801 * ms + ms / 2);
  for (std::uint32_t k = 0; k < 4; ++k) CHECK(c.sim->runtime(1 + k) == 100 * ms);
}

TEST_CASE("Tasks whose footprints overflow their LLC slow each other down", "[simulator][costs]") {
  // Two hogs of 24 MiB footprint spending half their time on it, on CPUs 0 and 1 of one
  // 32 MiB LLC: 48 MiB hot, m = 1/3 of their accesses miss, 12× slower: speed
  // 1 / (1 + 0.5 · 1/3 · 11) = 6/17 of a CPU each. Alone, one fits and runs at full speed.
  auto run = [](std::size_t hogs) {
    bench b({"l3:1 core:2 pu:1"});
    for (std::size_t i = 0; i < hogs; ++i) {
      model::sim_task<L> t = hog(i, mask::of(i));
      t.footprint = std::uint64_t{24} << 20;
      t.memory_permille = 500;
      REQUIRE(b.sim->spawn(t, i) == i);
    }
    b.sim->run_until(1000 * ms);
    return b.sim->metrics().work_done;
  };
  CHECK(run(1) == 1000 * ms);
  const nanoseconds two = run(2);
  // Work is accounted at every tick (250 a second per CPU), each rounding down < 3 ns.
  CHECK(two >= 2 * 1000 * ms * 6 / 17 - 2 * 250 * 3);
  CHECK(two <= 2 * 1000 * ms * 6 / 17);
}

TEST_CASE("Short-lived tasks run their work once and exit, leaving nothing behind", "[simulator][churn]") {
  // Ten tasks forked from CPU 0 every 10 ms, 1 ms of work each: each runs 1 ms and exits
  // (do_exit, then task_dead_fair's removed path); nothing stays queued and the CPUs'
  // averages hold no exited task once updated.
  bench b({"l3:1 core:2 pu:1"});
  for (std::uint64_t i = 0; i < 10; ++i) {
    model::sim_task<L> t = hog(i);
    t.work = 1 * ms;
    t.exits = true;
    REQUIRE(b.sim->spawn(t, 0, static_cast<nanoseconds>(i) * 10 * ms) == i);
  }
  b.sim->run_until(200 * ms);
  CHECK(b.sim->metrics().exits == 10);
  for (std::uint32_t i = 0; i < 10; ++i) {
    CHECK(b.sim->runtime(i) == 1 * ms);
    CHECK_FALSE(b.sim->snap().queued(i));
  }
  for (std::size_t c : b.sim->tree().cpu_map()) {
    CHECK(b.sim->snap().cpus[c].nr_running == 0);
    CHECK(b.sim->running(c) == no_task);
  }
  check_conservation(*b.sim);
}

TEST_CASE("Forks on an idle machine spread over its LLCs as Linux's slow path does", "[simulator][fork]") {
  // "l3:2 core:4 pu:1", four hogs forked from CPU 0 at once (sched_balance_find_dst_cpu):
  // 1st: both LLCs have 4 idle CPUs, the local one stays, and so does CPU 0 → 0.
  // 2nd: the local LLC has 3 idle, the other 4 → the other LLC's first idle CPU, 4.
  // 3rd: 3 against 3 → local; in it {0} has no idle CPU, {1} one → 1. 4th: 2 against 3 → 5.
  // Every idle CPU of a booted machine is stamped by an earlier newly idle balance; were
  // they not, find_idlest_group_cpu would see none of them and all four would stay on 0.
  bench b({"l3:2 core:4 pu:1"});
  for (std::uint64_t i = 0; i < 4; ++i) REQUIRE(b.sim->spawn(hog(i), 0) == i);
  b.sim->run_until(1);
  CHECK(b.sim->snap().cpu_of(0) == 0);
  CHECK(b.sim->snap().cpu_of(1) == 4);
  CHECK(b.sim->snap().cpu_of(2) == 1);
  CHECK(b.sim->snap().cpu_of(3) == 5);
}

TEST_CASE("SMT siblings that both run share their core's throughput as the cost model says", "[simulator][costs]") {
  bench b({"l3:1 core:2 pu:2"});
  REQUIRE(b.m->tree->smt_mask(0) == mask::of(0).set(1));
  REQUIRE(b.sim->spawn(hog(1, mask::of(0)), 0) == 0);
  REQUIRE(b.sim->spawn(hog(2, mask::of(1)), 1) == 1);
  b.sim->run_until(1000 * ms);
  // Two busy threads of one core: 1178/1024 of one thread's work between them, 589/1024
  // each (the kernel's smt_gain). Each accounting interval rounds down, so allow 1 µs.
  const nanoseconds expected = 2 * 1000 * ms * 589 / 1024;
  CHECK(b.sim->metrics().work_done <= expected);
  CHECK(b.sim->metrics().work_done >= expected - 1'000);
  // CPU time is still all of it, and PELT (time-based) sees two full CPUs.
  CHECK(b.sim->runtime(0) == 1000 * ms);
  CHECK(b.sim->task_avg(1).util_avg >= 1014);
  // With the contention turned off, the same second does two seconds of work.
  bench c({"l3:1 core:2 pu:2"});
  c.sim->set_costs({.smt_core_throughput = 2048});
  REQUIRE(c.sim->spawn(hog(1, mask::of(0)), 0) == 0);
  REQUIRE(c.sim->spawn(hog(2, mask::of(1)), 1) == 1);
  c.sim->run_until(1000 * ms);
  CHECK(c.sim->metrics().work_done == 2000 * ms);
  check_conservation(*b.sim);
}

TEST_CASE("A periodic task takes longer when its SMT sibling is busy", "[simulator][costs]") {
  bench b({"l3:1 core:2 pu:2"});
  model::sim_task<L> light = hog(1, mask::of(0));
  light.work = 1 * ms;
  light.period = 10 * ms;
  REQUIRE(b.sim->spawn(light, 0) == 0);
  REQUIRE(b.sim->spawn(hog(2, mask::of(1)), 1) == 1);
  b.sim->run_until(1000 * ms);
  // 1 ms of work at 589/1024 speed takes ceil(1 ms · 1024 / 589) = 1.7385 ms of CPU time,
  // 100 times.
  CHECK(b.sim->metrics().activations == 100);
  const nanoseconds per = (1 * ms * 1024 + 588) / 589;
  CHECK(b.sim->runtime(0) >= 100 * per - 100);
  CHECK(b.sim->runtime(0) <= 100 * per + 100);
}

TEST_CASE("A task that stopped running is cache hot: its exec_start is the last time it ran", "[simulator]") {
  // One CPU, two hogs: the base slice is 0.75 ms (one CPU: factor 1), so the first tick
  // (one jiffy) switches to the waiting hog, whose vruntime is 0. update_curr() then set
  // the first hog's exec_start to that tick, and the second's runs on to each accounting.
  bench b({"pu:1"});
  REQUIRE(b.sim->spawn(hog(1), 0) == 0);
  REQUIRE(b.sim->spawn(hog(2), 0) == 1);
  const nanoseconds jiffy = b.sim->tick_length();
  b.sim->run_until(jiffy + jiffy / 2);
  CHECK(b.sim->running(0) == 1);
  CHECK(b.sim->snap().task_at(0).exec_start == jiffy);
  CHECK(b.sim->snap().task_at(1).exec_start == jiffy + jiffy / 2);
  check_conservation(*b.sim);
}

TEST_CASE("Driven by its caller, the engine moves only when told and refuses events it cannot apply",
          "[simulator][rounds]") {
  bench b({"l3:1 core:2 pu:1"});
  b.sim->reset(model::sim_mode::rounds);
  REQUIRE(b.sim->spawn(hog(1), 0) == 0);
  REQUIRE(b.sim->spawn(hog(2), 0) == 1);
  REQUIRE(b.sim->spawn(hog(3, mask::of(1)), 0) == 2);
  // Spawned tasks wait for the caller: nothing is queued until it places them.
  CHECK(b.sim->snap().cpus[0].nr_running + b.sim->snap().cpus[1].nr_running == 0);
  CHECK(b.sim->enqueue_at(0, 0));
  CHECK(b.sim->enqueue_at(1, 0));
  // Refused, and nothing applied: a queued task, an unknown one, a CPU the task may not
  // use, a CPU outside the map; a placement woken from outside the map; stopping a task
  // that is not queued.
  CHECK_FALSE(b.sim->enqueue_at(0, 1));
  CHECK_FALSE(b.sim->enqueue_at(7, 1));
  CHECK_FALSE(b.sim->enqueue_at(2, 0));
  CHECK_FALSE(b.sim->enqueue_at(2, 5));
  CHECK_FALSE(b.sim->place(2, 5).has_value());
  CHECK_FALSE(b.sim->place(0, 0).has_value());
  CHECK_FALSE(b.sim->stop(2));
  CHECK(b.sim->snap().cpus[0].nr_running == 2);
  CHECK(b.sim->snap().cpus[1].nr_running == 0);
  // The steady state: two hogs of demand 1024 share CPU 0, util 512 each, runnable all
  // the time (min(1024, 1024 · 2048 / 1024)).
  CHECK(b.sim->snap().task_at(1).util == 512);
  CHECK(b.sim->snap().task_at(1).runnable == 1024);
  CHECK(b.sim->snap().cpus[0].util == 1024);
  // The clock moves only when told, and accounts the running task up to then.
  CHECK(b.sim->now() == 0);
  b.sim->advance_clock(1000 * ms);
  CHECK(b.sim->now() == 1000 * ms);
  CHECK(b.sim->snap().task_at(b.sim->running(0)).exec_start == 1000 * ms);
  CHECK(b.sim->metrics().balance_migrations() == 0);
  // CPU 1's balance pulls the waiting hog (cold: it never ran).
  b.sim->balance_cpu(1);
  REQUIRE(b.sim->log().size() == 1);
  CHECK(b.sim->log()[0].move.src == 0);
  CHECK(b.sim->log()[0].move.dst == 1);
  CHECK(b.sim->running(1) == b.sim->log()[0].move.task);
  b.sim->clear_log();
  CHECK(b.sim->log().empty());
  // The fork placement of task 2, allowed only CPU 1, and its arrival there.
  const auto d = b.sim->place(2, 0);
  REQUIRE(d.has_value());
  CHECK(d->cpu == 1);
  CHECK(b.sim->enqueue_at(2, d->cpu));
  // Task 2 exits; CPU 1 still runs the hog it pulled.
  CHECK(b.sim->stop(2, true));
  CHECK(b.sim->exited(2));
  CHECK_FALSE(b.sim->enqueue_at(2, 1));
  CHECK(b.sim->snap().cpus[1].nr_running == 1);
}

TEST_CASE("The round model's events go through the engine: a CPU a block empties balances, a woken task is placed",
          "[simulator][rounds]") {
  auto m = std::make_unique<test::balance_machine<L>>();
  REQUIRE(test::build_balance_machine({"l3:1 core:2 pu:1"}, *m).empty());
  auto sys = std::make_unique<model::system<linux_defaults, L>>(*m->tree);
  sys->reset();
  REQUIRE(sys->fork({1, 1024, 1024}, 0) == 0);
  REQUIRE(sys->fork({2, 1024, 1024}, 1) == 1);
  CHECK(sys->round().migrations == 0);  // one hog per CPU: balanced
  // A third hog forked onto CPU 0 waits there; it never ran, so it is cold.
  REQUIRE(sys->fork({3, 1024, 1024}, 0) == 2);
  // Task 1 blocks: CPU 1 is empty and its newly idle balance pulls the waiting hog.
  CHECK(sys->block(1) == 1);
  REQUIRE_FALSE(sys->log().empty());
  CHECK(sys->log().back().move.task == 2);
  CHECK(sys->log().back().move.reason == migration_reason::newidle);
  CHECK(sys->snap().cpu_of(2) == 1);
  // Task 1 wakes, woken from its previous CPU: no CPU is idle, so select_idle_sibling()
  // keeps the target, its previous CPU.
  const auto woke = sys->place_wake(1);
  REQUIRE(woke.has_value());
  CHECK(woke->cpu == 1);
  CHECK(sys->placements().back().task == 1);
  CHECK(sys->snap().cpus[1].nr_running == 2);
  // Task 0 exits: CPU 0 is empty, but task 1 stopped running on CPU 1 moments ago (cache
  // hot) and task 2 runs there, so its newly idle balance pulls nothing.
  CHECK(sys->exit(0) == 0);
  CHECK(sys->exited(0));
  CHECK(sys->snap().cpus[0].nr_running == 0);
  CHECK_FALSE(sys->place_wake(0).has_value());
  CHECK_FALSE(sys->wake(1, 0));  // already queued
}
