// The balancing paths never touch the heap: statistics, decisions, whole balances and
// model rounds on the 384-CPU machine. Big objects are allocated before counting starts.
#include <balancekit/balancer.hpp>
#include <balancekit/domains.hpp>
#include <balancekit/model/system.hpp>
#include <balancekit/topology/machines.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "support/alloc_counter.hpp"
#include "support/balance_machine.hpp"

using namespace balancekit;

namespace {
using L = default_limits;
using tree_t = domain_tree<L>;
using sys_t = model::system<linux_defaults, L>;

struct hygon : test::balance_machine<L> {
  std::unique_ptr<sys_t> sys;
};

// hygon384 with 600 CPU hogs: task i on CPU i % 300, so CPUs 0-299 run two hogs each and
// CPUs 300-383 are idle (the last node of socket 1 and part of the one before).
std::unique_ptr<hygon> loaded_hygon() {
  auto h = std::make_unique<hygon>();
  REQUIRE(test::build_balance_machine(machines::hygon384.spec, *h) == "");
  h->sys = std::make_unique<sys_t>(*h->tree);
  h->sys->reset();
  for (std::uint32_t i = 0; i < 600; ++i) REQUIRE(h->sys->fork({i + 1, nice_0_load, 1024}, i % 300) != no_task);
  return h;
}
}  // namespace

TEST_CASE("the allocation counter sees a vector's allocation", "[allocation]") {
  // Guards the guard: with operator new not replaced, every check below would pass.
  std::vector<int> v;
  const std::size_t n = test::allocations_during([&] {
    v.push_back(1);
    v.push_back(2);
  });
  CHECK(n >= 1);
  CHECK(v.size() == 2);
}

TEST_CASE("group statistics and the busiest-group decision allocate nothing at any level of hygon384",
          "[allocation][balance]") {
  const auto h = loaded_hygon();
  const tree_t& tree = *h->tree;
  auto snap = std::make_unique<snapshot<L>>(h->sys->snap());
  const std::size_t nr = tree.nr_domains(0);
  // SMT, MC, NODE... : CPU 0 of hygon384 has at least SMT, MC and two NUMA levels.
  REQUIRE(nr >= 4);
  for (std::size_t k = 0; k < nr; ++k) {
    const auto& sd = tree.domain_of(0, k);
    INFO("level " << std::string(tree.name(sd)));
    for (const cpu_idle_type idle : {cpu_idle_type::not_idle, cpu_idle_type::idle}) {
      const auto env = make_lb_env<linux_defaults>(tree, *snap, nullptr, 0, k, idle, 0);
      sd_lb_stats sds;
      src_group_decision decision;
      const std::size_t n = test::allocations_during([&] {
        update_sd_lb_stats(env, sds);
        decision = find_src_group_decision(env, sds);
      });
      CHECK(n == 0);
      // The statistics were really computed: the local group holds CPU 0's two hogs.
      CHECK(sds.local == 0);
      CHECK(sds.local_stat.sum_nr_running >= 2);
      (void)decision;
    }
  }
}

TEST_CASE("a periodic and a newly idle balance on hygon384 allocate nothing", "[allocation][balance]") {
  const auto h = loaded_hygon();
  const tree_t& tree = *h->tree;
  auto snap = std::make_unique<snapshot<L>>(h->sys->snap());
  auto state = std::make_unique<balance_state<linux_defaults, L>>();
  state->reset(tree, 0);
  const balancer<linux_defaults, L> b{tree};
  const nanoseconds now = h->sys->default_round_length();

  // CPU 300 is idle, first of its LLC: its tick balances every level and pulls.
  balance_result<L> tick;
  const std::size_t n_tick = test::allocations_during([&] { tick = b.on_tick(300, now, *snap, *state); });
  CHECK(n_tick == 0);
  CHECK(tick.domains_balanced > 0);
  CHECK_FALSE(tick.migrations.empty());

  // CPU 301 runs out of work: the root domain is overloaded (CPUs with two hogs), so it
  // balances newly idle and pulls one task.
  balance_result<L> idle;
  const std::size_t n_idle = test::allocations_during([&] { idle = b.on_newidle(301, now, *snap, *state); });
  CHECK(n_idle == 0);
  CHECK(idle.domains_balanced > 0);
}

TEST_CASE("a model round on hygon384 with 600 hogs allocates nothing", "[allocation][model]") {
  const auto h = loaded_hygon();
  model::round_report r{};
  const std::size_t n = test::allocations_during([&] { r = h->sys->round(); });
  CHECK(n == 0);
  CHECK(r.round == 1);
  CHECK(r.migrations > 0);  // 84 idle CPUs next to 300 CPUs with a waiting hog
}

TEST_CASE("every placement path on hygon384 allocates nothing", "[placement][allocation]") {
  const auto h = loaded_hygon();
  const tree_t& tree = *h->tree;
  auto snap = std::make_unique<snapshot<L>>(h->sys->snap());
  auto state = std::make_unique<balance_state<linux_defaults, L>>();
  state->reset(tree, 0);
  // Every LLC scans deep and believes it has an idle core: the longest fast path.
  for (std::size_t c : tree.cpu_map()) {
    state->placement.llc[tree.llc_id(c)].has_idle_cores = true;
    state->placement.llc[tree.llc_id(c)].nr_idle_scan = static_cast<std::int32_t>(tree.llc_size(c));
  }
  task_state<L> t;
  t.util = t.util_est = 100;
  const std::uint32_t sleeper = snap->add_sleeping_task(t);
  REQUIRE(sleeper != no_task);
  const balancer<linux_defaults, L> b{tree};
  const nanoseconds now = h->sys->default_round_length();
  std::size_t seen_branches = 0;
  const std::size_t n = test::allocations_during([&] {
    std::uint64_t branches = 0;
    for (std::size_t prev : {0UL, 150UL, 299UL, 320UL, 383UL})
      for (std::size_t waker : {0UL, 1UL, 200UL, 383UL})
        for (std::uint32_t flags : {0U, wf::sync, wf::current_cpu}) {
          const auto r = b.on_wakeup(sleeper, prev, waker, flags, now, *snap, *state);
          if (r) branches |= 1ULL << static_cast<unsigned>(r->why);
        }
    for (std::size_t parent : {0UL, 310UL})
      if (const auto r = b.on_fork(sleeper, parent, now, *snap, *state)) branches |= 1ULL << static_cast<unsigned>(r->why);
    if (const auto r = b.on_exec(snap->curr(5), now, *snap, *state)) branches |= 1ULL << static_cast<unsigned>(r->why);
    b.on_cpu_idle(320, *snap, *state);
    // Bad arguments come back as error values, also without the heap.
    if (b.on_wakeup(sleeper, 9999, 0, 0, now, *snap, *state)) branches = 0;
    for (std::uint64_t m = branches; m != 0; m &= m - 1) ++seen_branches;
  });
  CHECK(n == 0);
  // The calls took several different branches (idle target, idle CPU scans, slow path…).
  CHECK(seen_branches >= 3);
}

namespace {
// A batch of light wakeups on hygon384 under packing policy `Packing`, counted.
template <class Packing>
std::size_t packing_allocations(const hygon& h, std::size_t& packed) {
  using P = rules<linux_defaults, with_packing<Packing>>;
  auto snap = std::make_unique<snapshot<L>>(h.sys->snap());
  auto state = std::make_unique<balance_state<P, L>>();
  state->reset(*h.tree, 0);  // computes the buddy table, outside the count
  task_state<L> t;
  t.util = t.util_est = 100;
  const std::uint32_t light = snap->add_sleeping_task(t);
  const balancer<P, L> b{*h.tree};
  return test::allocations_during([&] {
    for (std::size_t waker : {0UL, 7UL, 150UL, 299UL, 310UL, 383UL}) {
      const auto r = b.on_wakeup(light, 320, waker, 0, 1'000'000, *snap, *state);
      packed += r && r->why >= placement_branch::packing_buddy ? 1U : 0U;
    }
  });
}
}  // namespace

TEST_CASE("every packing policy's decision on hygon384 allocates nothing", "[packing][allocation]") {
  const auto h = loaded_hygon();
  std::size_t packed = 0;
  CHECK(packing_allocations<packing::guittot<packing::buddy_conf::conf0>>(*h, packed) == 0);
  CHECK(packing_allocations<packing::guittot_topology<packing::power_line::smt>>(*h, packed) == 0);
  CHECK(packing_allocations<packing::shi_power<packing::shi_mode::powersaving>>(*h, packed) == 0);
  CHECK(packing_allocations<packing::utilization_aware<80>>(*h, packed) == 0);
  CHECK(packed > 0);  // some of those wakeups were packed: the packing paths ran
}
