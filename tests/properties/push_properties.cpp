// Properties of push balancing (seed 002, policy/push.hpp):
//  - [push][no-pileup]: RapidCheck stateful commands split each push into decide / claim /
//    apply and interleave them with releases, dead claimants, targets going idle again and
//    time passing. The model runs the value tracker, the system under test the atomic one;
//    every step must agree, and no target may receive two tasks in one idle period (I17).
//    The RFC's unclaimed protocol is shown to fail the same property, and its shortest
//    failing schedule is kept as a test of its own.
//  - [push][exhaustive]: the compile-time proof's exploration at run time, on bounds too
//    big for constant evaluation.
//  - [push][work-conservation] and [push][bounded]: the pack member's push loop over random
//    LLCs with random queues and affinities.
#include <balancekit/check/push_claims.hpp>
#include <balancekit/domains.hpp>
#include <balancekit/policy/pack.hpp>
#include <balancekit/policy/push.hpp>
#include <balancekit/stats/snapshot.hpp>
#include <balancekit/topology/spec.hpp>

#include <catch2/catch.hpp>
#include <rapidcheck.h>
#include <rapidcheck/state.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "support/alloc_counter.hpp"
#include "support/property.hpp"

using namespace balancekit;

namespace {
using L8 = limits<8, 1, 1, 8>;
using mask8 = cpumask<L8::max_cpus>;
constexpr std::size_t pushers = 3;
constexpr std::size_t targets = 4;
constexpr std::uint32_t ttl = 100;

enum class phase : std::uint8_t { ready, decided, claimed };

// One protocol step on either tracker; the result says what happened.
template <push::push_mode Mode, class Tracker>
std::size_t decide(Tracker& tr, std::size_t self, std::uint32_t now) {
  const push::search s{push_reach::llc, false,
                       Mode == push::push_mode::unclaimed ? push::scan_mode::unclaimed : push::scan_mode::peek, ttl};
  return tr.find_target(self, ~mask8{}, s, now);
}
template <push::push_mode Mode, class Tracker>
bool claim(Tracker& tr, std::size_t target, std::size_t self, std::uint32_t now) {
  return Mode == push::push_mode::unclaimed ? tr.idle(target) : tr.try_claim(target, self, now, ttl);
}
template <push::push_mode Mode, class Tracker>
bool deliver(Tracker& tr, std::size_t target, std::size_t self) {
  if (Mode != push::push_mode::unclaimed && !tr.deliver(target, self)) return false;
  tr.set_busy(target);  // the pushed task is enqueued: the target is no longer idle
  return true;
}

template <push::push_mode Mode>
struct claim_model {
  push::tracker<L8> track{};
  std::array<phase, pushers> step{};
  std::array<std::size_t, pushers> target{};
  std::uint32_t now = 0;
  claim_model() {
    (void)track.attach_uniform(targets + pushers, targets + pushers);
    for (std::size_t c = 0; c < targets; ++c) track.set_idle(c);
  }
};
struct claim_sut {
  std::unique_ptr<push::atomic_tracker<L8>> track = std::make_unique<push::atomic_tracker<L8>>();
  std::array<int, targets> received{};
  claim_sut() {
    (void)track->attach_uniform(targets + pushers, targets + pushers);
    for (std::size_t c = 0; c < targets; ++c) track->set_idle(c);
  }
};

template <push::push_mode Mode>
using command = rc::state::Command<claim_model<Mode>, claim_sut>;

template <push::push_mode Mode>
struct pusher_command : command<Mode> {
  std::size_t p = *rc::gen::inRange<std::size_t>(0, pushers);
  std::size_t self() const { return targets + p; }
};

template <push::push_mode Mode>
struct decide_cmd : pusher_command<Mode> {
  using pusher_command<Mode>::p;
  void checkPreconditions(const claim_model<Mode>& m) const override { RC_PRE(m.step[p] == phase::ready); }
  void apply(claim_model<Mode>& m) const override {
    m.target[p] = decide<Mode>(m.track, this->self(), m.now);
    if (m.target[p] != no_cpu) m.step[p] = phase::decided;
  }
  void run(const claim_model<Mode>& m, claim_sut& s) const override {
    RC_ASSERT(decide<Mode>(*s.track, this->self(), m.now) == this->nextState(m).target[p]);
  }
  void show(std::ostream& os) const override { os << "decide(pusher " << p << ")"; }
};

template <push::push_mode Mode>
struct claim_cmd : pusher_command<Mode> {
  using pusher_command<Mode>::p;
  void checkPreconditions(const claim_model<Mode>& m) const override { RC_PRE(m.step[p] == phase::decided); }
  void apply(claim_model<Mode>& m) const override {
    m.step[p] = claim<Mode>(m.track, m.target[p], this->self(), m.now) ? phase::claimed : phase::ready;
  }
  void run(const claim_model<Mode>& m, claim_sut& s) const override {
    const bool ok = claim<Mode>(*s.track, m.target[p], this->self(), m.now);
    RC_ASSERT(ok == (this->nextState(m).step[p] == phase::claimed));
  }
  void show(std::ostream& os) const override { os << "claim(pusher " << p << ")"; }
};

template <push::push_mode Mode>
struct apply_cmd : pusher_command<Mode> {
  using pusher_command<Mode>::p;
  void checkPreconditions(const claim_model<Mode>& m) const override { RC_PRE(m.step[p] == phase::claimed); }
  void apply(claim_model<Mode>& m) const override {
    (void)deliver<Mode>(m.track, m.target[p], this->self());
    m.step[p] = phase::ready;
  }
  void run(const claim_model<Mode>& m, claim_sut& s) const override {
    claim_model<Mode> next = m;
    const bool expected = deliver<Mode>(next.track, m.target[p], this->self());
    RC_ASSERT(deliver<Mode>(*s.track, m.target[p], this->self()) == expected);
    // I17: one pushed task per idle period of a target.
    if (expected) RC_ASSERT(++s.received[m.target[p]] <= 1);
  }
  void show(std::ostream& os) const override { os << "apply(pusher " << p << ")"; }
};

// The pusher found nothing to send and gives its claim back.
template <push::push_mode Mode>
struct release_cmd : pusher_command<Mode> {
  using pusher_command<Mode>::p;
  void checkPreconditions(const claim_model<Mode>& m) const override { RC_PRE(m.step[p] == phase::claimed); }
  void apply(claim_model<Mode>& m) const override {
    if (Mode != push::push_mode::unclaimed) (void)m.track.release(m.target[p], this->self());
    m.step[p] = phase::ready;
  }
  void run(const claim_model<Mode>& m, claim_sut& s) const override {
    if (Mode == push::push_mode::unclaimed) return;
    claim_model<Mode> next = m;
    RC_ASSERT(s.track->release(m.target[p], this->self()) == next.track.release(m.target[p], this->self()));
  }
  void show(std::ostream& os) const override { os << "release(pusher " << p << ")"; }
};

// The pusher dies holding its claim: only expiry frees the target.
template <push::push_mode Mode>
struct die_cmd : pusher_command<Mode> {
  using pusher_command<Mode>::p;
  void checkPreconditions(const claim_model<Mode>& m) const override { RC_PRE(m.step[p] == phase::claimed); }
  void apply(claim_model<Mode>& m) const override { m.step[p] = phase::ready; }
  void show(std::ostream& os) const override { os << "die(pusher " << p << ")"; }
};

// A target that ran its pushed task goes idle again: a new idle period.
template <push::push_mode Mode>
struct idle_again_cmd : command<Mode> {
  std::size_t c = *rc::gen::inRange<std::size_t>(0, targets);
  void checkPreconditions(const claim_model<Mode>& m) const override { RC_PRE(!m.track.idle(c)); }
  void apply(claim_model<Mode>& m) const override { m.track.set_idle(c); }
  void run(const claim_model<Mode>&, claim_sut& s) const override {
    s.track->set_idle(c);
    s.received[c] = 0;
  }
  void show(std::ostream& os) const override { os << "idle_again(cpu " << c << ")"; }
};

template <push::push_mode Mode>
struct time_passes_cmd : command<Mode> {
  std::uint32_t dt = *rc::gen::inRange<std::uint32_t>(1, 2 * ttl);
  void apply(claim_model<Mode>& m) const override { m.now += dt; }
  void show(std::ostream& os) const override { os << "time_passes(" << dt << " us)"; }
};

template <push::push_mode Mode>
bool no_pileup_property(const std::string& id, int cases) {
  return test::check(id, cases, [] {
    claim_model<Mode> model;
    claim_sut sut;
    rc::state::check(model, sut,
                     rc::state::gen::execOneOfWithArgs<decide_cmd<Mode>, claim_cmd<Mode>, apply_cmd<Mode>, release_cmd<Mode>,
                                                      die_cmd<Mode>, idle_again_cmd<Mode>, time_passes_cmd<Mode>>());
  });
}

// A volatile read keeps g++ from trying the run-time explorations in constant evaluation
// at compile time (it tries calls with constant arguments, for minutes here).
std::size_t opaque(std::size_t v) {
  volatile std::size_t x = v;
  return x;
}
}  // namespace

TEST_CASE("No interleaving of claimed pushes delivers two tasks to one idle CPU in one idle period",
          "[push][no-pileup]") {
  REQUIRE(no_pileup_property<push::push_mode::claimed>("push: claimed pushes never pile up", 300));
}

TEST_CASE("The RFC's unclaimed pushes pile up under the same commands", "[push][no-pileup]") {
  // The property must fail: RapidCheck finds and shrinks a pileup (its report is expected).
  REQUIRE_FALSE(no_pileup_property<push::push_mode::unclaimed>("push: unclaimed pushes pile up (expected to fail)", 300));
}

TEST_CASE("The kept pileup: two unclaimed pushers both see CPU 0 idle before either attaches", "[push][no-pileup]") {
  // The shortest failing schedule RapidCheck finds, by hand: pushers 4 and 5 both decide
  // on CPU 0 (the first idle CPU in wrap order from 5 and from 6), both re-check idle_cpu(),
  // both attach.
  auto run = [](auto mode_tag) {
    constexpr push::push_mode mode = decltype(mode_tag)::value;
    claim_sut s;
    auto& tr = *s.track;
    const std::size_t a = decide<mode>(tr, 4, 0);
    const std::size_t b = decide<mode>(tr, 5, 0);
    const bool ca = a != no_cpu && claim<mode>(tr, a, 4, 0);
    const bool cb = b != no_cpu && claim<mode>(tr, b, 5, 0);
    int to_zero = 0;
    if (ca && deliver<mode>(tr, a, 4) && a == 0) ++to_zero;
    if (cb && deliver<mode>(tr, b, 5) && b == 0) ++to_zero;
    return std::array<std::size_t, 3>{a, b, static_cast<std::size_t>(to_zero)};
  };
  const auto unclaimed = run(std::integral_constant<push::push_mode, push::push_mode::unclaimed>{});
  CHECK(unclaimed == std::array<std::size_t, 3>{0, 0, 2});
  // Claimed: both decide on 0 too, but only the first claim holds; the second pusher stops
  // (a real one scans on and claims 1).
  const auto claimed = run(std::integral_constant<push::push_mode, push::push_mode::claimed>{});
  CHECK(claimed == std::array<std::size_t, 3>{0, 0, 1});
}

TEST_CASE("Every interleaving of 4 claimed pushers against up to 6 idle CPUs delivers at most once per CPU",
          "[push][exhaustive]") {
  const auto claimed = check::explore_push_claims<push::push_mode::claimed, 16>(opaque(4), opaque(6));
  CHECK(claimed.schedules > 1'000'000);
  CHECK(claimed.no_pileup());
  const auto unclaimed = check::explore_push_claims<push::push_mode::unclaimed, 16>(opaque(4), opaque(6));
  CHECK(unclaimed.pileups > 0);
  INFO("unclaimed: " << unclaimed.pileups << " of " << unclaimed.schedules << " schedules pile up");
  CHECK(unclaimed.pileups < unclaimed.schedules);
}

namespace {
using SL = small_limits;
using smask = cpumask<SL::max_cpus>;
using claimed_rules = rules<linux_defaults, with_push<push::push_claimed>>;
using member = claimed_rules::push;

// A random single-LLC machine (1-8 cores of 1-2 threads) with 0-3 tasks per CPU (the
// first runs), each allowed everywhere or on a random set that includes its CPU.
struct llc_world {
  std::unique_ptr<topology<SL>> topo = std::make_unique<topology<SL>>();
  std::unique_ptr<domain_tree<SL>> tree = std::make_unique<domain_tree<SL>>();
  std::unique_ptr<snapshot<SL>> snap = std::make_unique<snapshot<SL>>();
  std::unique_ptr<push::state<SL>> st = std::make_unique<push::state<SL>>();
  std::size_t nr_cpus = 0;

  void refresh(std::size_t c) {
    if (snap->queue_length(c) == 0) st->track.set_idle(c);
    st->track.set_overloaded(c, member::pushable(*snap, c, *st) != no_task);
  }
};

std::unique_ptr<llc_world> random_llc_world() {
  auto w = std::make_unique<llc_world>();
  const int cores = *rc::gen::inRange(1, 9);
  const int threads = *rc::gen::inRange(1, 3);
  const std::string spec = "package:1 l3:1 core:" + std::to_string(cores) + " pu:" + std::to_string(threads);
  RC_ASSERT(static_cast<bool>(make_topology(machine_spec{spec}, *w->topo)));
  RC_ASSERT(static_cast<bool>(domain_tree<SL>::build(*w->topo, {}, *w->tree)));
  w->nr_cpus = static_cast<std::size_t>(cores * threads);
  const smask all = smask::range(0, w->nr_cpus - 1);
  for (std::size_t c = 0; c < w->nr_cpus; ++c) {
    const int n = *rc::gen::inRange(0, 4);
    for (int k = 0; k < n; ++k) {
      task_state<SL> t;
      t.id = w->snap->tasks().size();
      t.allowed = all;
      if (*rc::gen::inRange(0, 2) == 0) {
        t.allowed = smask::of(c);
        for (std::size_t o = 0; o < w->nr_cpus; ++o)
          if (*rc::gen::inRange(0, 3) == 0) t.allowed.set(o);
      }
      RC_ASSERT(w->snap->add_task(t, c, k == 0) != no_task);
    }
  }
  member::attach(*w->tree, *w->st);
  for (std::size_t c = 0; c < w->nr_cpus; ++c) w->refresh(c);
  return w;
}

// Queued tasks of `c` another CPU could run now.
std::size_t waiting(const snapshot<SL>& snap, std::size_t c) {
  std::size_t n = 0;
  for (std::uint32_t t = snap.head(c); t != no_task; t = snap.next(t))
    if (t != snap.curr(c)) ++n;
  return n;
}
}  // namespace

TEST_CASE("After a push step no allowed idle CPU of the LLC is left while a migratable task waits",
          "[push][work-conservation]") {
  REQUIRE(test::check("push: work conservation within an LLC", 300, [] {
    auto w = random_llc_world();
    auto& snap = *w->snap;
    // The push step: every busy CPU, in a random order, pushes while it can; a pushed task
    // runs at once on its idle target.
    std::vector<std::size_t> order(w->nr_cpus);
    for (std::size_t c = 0; c < order.size(); ++c) order[c] = c;
    for (std::size_t c = order.size(); c > 1; --c) std::swap(order[c - 1], order[*rc::gen::inRange<std::size_t>(0, c)]);
    for (std::size_t c : order) {
      for (;;) {
        const push::decision d = member::decide<claimed_rules>(*w->tree, snap, c, 0, *w->st);
        if (d.task == no_task) break;
        RC_ASSERT(snap.queue_length(d.target) == 0);
        RC_ASSERT(w->st->track.deliver(d.target, c));
        snap.move_task(d.task, d.target);
        snap.set_curr(d.task);
        w->st->track.set_busy(d.target);
        w->st->pushed.reset(d.task);  // it runs
        w->refresh(c);
      }
    }
    for (std::size_t idle = 0; idle < w->nr_cpus; ++idle) {
      if (snap.queue_length(idle) != 0) continue;
      for (std::size_t o = 0; o < w->nr_cpus; ++o)
        for (std::uint32_t t = snap.head(o); t != no_task; t = snap.next(t))
          RC_ASSERT(t == snap.curr(o) || !snap.task_at(t).allowed.test(idle));
    }
  }));
}

TEST_CASE("A pushed task is not pushed again before it runs, and a CPU pushes at most its waiting tasks per tick",
          "[push][bounded]") {
  REQUIRE(test::check("push: bounded pushes", 300, [] {
    auto w = random_llc_world();
    auto& snap = *w->snap;
    struct flight {
      std::uint32_t task;
      std::size_t src, dst;
    };
    std::vector<flight> in_flight;  // pushed, not yet arrived (the offload's window)
    std::vector<int> pushed_before_run(snap.tasks().size(), 0);
    const int ticks = *rc::gen::inRange(1, 5);
    for (int tick = 0; tick < ticks; ++tick) {
      std::vector<std::size_t> budget(w->nr_cpus);
      for (std::size_t c = 0; c < w->nr_cpus; ++c) budget[c] = waiting(snap, c);
      const int steps = *rc::gen::inRange(1, 20);
      for (int s = 0; s < steps; ++s) {
        const std::size_t c = *rc::gen::inRange<std::size_t>(0, w->nr_cpus);
        if (*rc::gen::inRange(0, 3) == 0 && !in_flight.empty()) {
          // The oldest push arrives: its claimed target takes the task and runs it.
          const flight f = in_flight.front();
          in_flight.erase(in_flight.begin());
          RC_ASSERT(w->st->track.deliver(f.dst, f.src));
          snap.move_task(f.task, f.dst);
          snap.set_curr(f.task);
          w->st->track.set_busy(f.dst);
          w->st->pushed.reset(f.task);
          pushed_before_run[f.task] = 0;
          w->refresh(f.src);
          continue;
        }
        const push::decision d = member::decide<claimed_rules>(*w->tree, snap, c, 0, *w->st);
        if (d.task == no_task) continue;
        RC_ASSERT(++pushed_before_run[d.task] == 1);
        RC_ASSERT(budget[c] > 0);
        --budget[c];
        in_flight.push_back({d.task, c, d.target});
      }
    }
  }));
}

TEST_CASE("The atomic tracker's transitions, claims and scans allocate nothing", "[push][allocation]") {
  // An embedder's whole decision path on real words: idle and busy transitions, overload
  // bits, a claim found by a scan, its delivery and release, expiry, and a pull-one.
  auto tr = std::make_unique<push::atomic_tracker<L8>>();
  REQUIRE(tr->attach_uniform(8, 4));
  const push::search s{push_reach::machine, true, push::scan_mode::claim, ttl};
  std::size_t found = 0;
  const std::size_t n = test::allocations_during([&] {
    for (std::uint32_t round = 0; round < 100; ++round) {
      for (std::size_t c = 4; c < 8; ++c) tr->set_idle(c);
      tr->set_overloaded(0, true);
      const std::size_t t = tr->find_target(0, ~mask8{}, s, round);
      if (t != no_cpu) {
        ++found;
        if (round % 2 == 0) (void)tr->deliver(t, 0);
        else (void)tr->release(t, 0);
        tr->set_busy(t);
      }
      (void)tr->expire(5, round + 2 * ttl);
      (void)tr->pull_one(4, [](std::size_t) { return true; });
      for (std::size_t c = 4; c < 8; ++c) tr->set_busy(c);
    }
  });
  CHECK(n == 0);
  CHECK(found == 100);
}
