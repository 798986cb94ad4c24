// [push][concurrency]: the atomic tracker under real threads. Two pusher threads claim
// idle targets, then deliver (88 %), release (10 %) or die holding the claim (2 %, so
// that only expiry frees the target); a target thread plays the 14 targets: it takes a
// delivered task, goes busy, and goes idle again. Every delivery bumps the target's
// count, which the target resets when it takes the task: a count above one is a double
// claim that delivered. Also checked: every target keeps receiving (a dead claimant
// starves nobody). Built twice: with the sanitizers of its configuration, and with
// ThreadSanitizer (tests/CMakeLists.txt). A plain program, so that TSan sees no code
// built without it. Exit status 0 when every check holds.
//
// BALANCEKIT_STRESS_OPS (default 1000000) sets the pushers' operations.
#include <balancekit/policy/push.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>

namespace {
using namespace balancekit;
using L = limits<16, 1, 1, 16>;
constexpr std::size_t targets = 14;
constexpr std::size_t pushers = 2;
constexpr std::uint32_t ttl = 2000;  // in pusher operations (the clock below)

struct shared {
  std::unique_ptr<push::atomic_tracker<L>> track = std::make_unique<push::atomic_tracker<L>>();
  std::array<std::atomic<int>, targets> received{};
  std::array<std::atomic<std::uint64_t>, targets> taken{};
  std::atomic<std::uint32_t> clock{0};
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> double_deliveries{0}, deliveries{0}, releases{0}, deaths{0}, misses{0};
};

// A small generator per thread (xorshift), so no shared state hides races.
struct rng {
  std::uint64_t s;
  std::uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
};

void pusher(shared& sh, std::size_t self, std::uint64_t ops) {
  rng r{0x9e3779b97f4a7c15ULL * (self + 1)};
  const cpumask<L::max_cpus> anywhere = cpumask<L::max_cpus>::range(0, targets + pushers - 1);
  const push::search s{push_reach::llc, false, push::scan_mode::claim, ttl};
  for (std::uint64_t i = 0; i < ops; ++i) {
    const std::uint32_t now = sh.clock.fetch_add(1, std::memory_order_relaxed);
    const std::size_t c = sh.track->find_target(self, anywhere, s, now);
    if (c == no_cpu) {
      sh.misses.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    const std::uint64_t roll = r.next() % 100;
    if (roll < 2) {
      sh.deaths.fetch_add(1, std::memory_order_relaxed);  // never delivers nor releases
    } else if (roll < 12) {
      if (sh.track->release(c, self)) sh.releases.fetch_add(1, std::memory_order_relaxed);
    } else if (sh.track->deliver(c, self)) {
      sh.deliveries.fetch_add(1, std::memory_order_relaxed);
      if (sh.received[c].fetch_add(1, std::memory_order_acq_rel) != 0)
        sh.double_deliveries.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

// The targets: one that was delivered to waits for the pusher's count, takes the task
// (busy), and goes idle again at its next visit.
void target_thread(shared& sh) {
  std::array<bool, targets> busy{};
  while (!sh.done.load(std::memory_order_acquire)) {
    for (std::size_t c = 0; c < targets; ++c) {
      if (busy[c]) {
        busy[c] = false;
        sh.track->set_idle(c);
        continue;
      }
      if (sh.track->slot_of(c).state != push::slot_state::delivered) continue;
      while (sh.received[c].load(std::memory_order_acquire) == 0 && !sh.done.load(std::memory_order_acquire)) {
      }
      sh.received[c].store(0, std::memory_order_release);
      sh.taken[c].fetch_add(1, std::memory_order_relaxed);
      sh.track->set_busy(c);
      busy[c] = true;
    }
  }
}
}  // namespace

int main() {
  std::uint64_t ops = 1'000'000;
  if (const char* e = std::getenv("BALANCEKIT_STRESS_OPS")) ops = std::strtoull(e, nullptr, 10);
  shared sh;
  if (!sh.track->attach_uniform(targets + pushers, targets + pushers)) return 2;
  for (std::size_t c = 0; c < targets; ++c) sh.track->set_idle(c);
  std::thread t(target_thread, std::ref(sh));
  std::thread p0(pusher, std::ref(sh), targets, ops / pushers);
  std::thread p1(pusher, std::ref(sh), targets + 1, ops / pushers);
  p0.join();
  p1.join();
  sh.done.store(true, std::memory_order_release);
  t.join();
  std::uint64_t least = ~std::uint64_t{0};
  for (const auto& n : sh.taken) least = std::min<std::uint64_t>(least, n.load());
  std::printf("push stress: %llu pusher operations; %llu deliveries, %llu releases, %llu dead claimants, %llu scans "
              "without a target; least taken by one target %llu; double deliveries %llu\n",
              static_cast<unsigned long long>(ops), static_cast<unsigned long long>(sh.deliveries.load()),
              static_cast<unsigned long long>(sh.releases.load()), static_cast<unsigned long long>(sh.deaths.load()),
              static_cast<unsigned long long>(sh.misses.load()), static_cast<unsigned long long>(least),
              static_cast<unsigned long long>(sh.double_deliveries.load()));
  const bool ok = sh.double_deliveries.load() == 0 && least > 0 && sh.deaths.load() > 0 && sh.deliveries.load() > 0;
  if (!ok) std::printf("push stress: FAILED\n");
  return ok ? 0 : 1;
}
