// The push tracker (seed 002, policy/push.hpp): target choice from the LLC outward, claims,
// their release and expiry, and the newly idle pull-one. Each scenario is a constexpr
// function over the tracker's word type: checked at compile time on plain words and at run
// time on plain and atomic words. Expectations derived by hand in each comment.
#include <balancekit/domains.hpp>
#include <balancekit/policy/pack.hpp>
#include <balancekit/policy/push.hpp>
#include <balancekit/topology/spec.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

using namespace balancekit;

namespace {
using L = small_limits;
using mask = cpumask<L::max_cpus>;
using value_tracker = push::tracker<L>;
using atomic_tracker = push::atomic_tracker<L>;

using claimed_rules = rules<linux_defaults, with_push<push::push_claimed>>;
using offload_rules = rules<linux_defaults, with_push<push::push_offload>>;
using unclaimed_rules = rules<linux_defaults, with_push<push::push_unclaimed>>;
static_assert(check_pack<claimed_rules, L>() && check_pack<offload_rules, L>() && check_pack<unclaimed_rules, L>());
static_assert(detail::push_active<claimed_rules> && !detail::push_active<linux_defaults>);

constexpr push::search claim_node{push_reach::node, true, push::scan_mode::claim, 100};

// The tracker of `spec`'s domains with every CPU of `idle` idle, handed to `check`.
template <class Tracker, class F>
constexpr bool with_tracker(const machine_spec& spec, const mask& idle, F&& check) {
  topology<L> topo;
  if (!make_topology(spec, topo)) return false;
  domain_tree<L> tree;
  if (!domain_tree<L>::build(topo, {}, tree)) return false;
  Tracker tr;
  if (!tr.attach(tree)) return false;
  for (std::size_t c : idle) tr.set_idle(c);
  return check(tree, tr);
}

constexpr machine_spec flat8{"package:1 l3:1 core:8 pu:1"};
constexpr machine_spec smt8{"package:1 l3:1 core:4 pu:2"};
// Two nodes of two LLCs of two CPUs: node 0 holds LLCs {0,1} and {2,3}, node 1 {4,5}, {6,7}.
constexpr machine_spec two_nodes{"package:2 numa:1 l3:2 core:2", "10 20;20 10"};

// One LLC of 8, all idle but the pusher: CPU 5 finds 6 (wrap from this_cpu + 1), CPU 7
// wraps to 0; with only 2 and 3 idle, CPU 5 wraps to 2.
template <class T>
constexpr bool targets_wrap_from_the_next_cpu() {
  return with_tracker<T>(flat8, mask::range(0, 7).reset(5).reset(7),
                         [](const auto& tree, auto& tr) {
                           return tr.find_target(tree, 5, mask::range(0, 7), claim_node, 0) == 6 &&
                                  tr.find_target(tree, 7, mask::range(0, 7), claim_node, 0) == 0;
                         }) &&
         with_tracker<T>(flat8, mask::range(2, 3), [](const auto& tree, auto& tr) {
           return tr.find_target(tree, 5, mask::range(0, 7), claim_node, 0) == 2;
         });
}

// Four cores of two threads (core k = CPUs 2k, 2k+1). Busy: 0, 2, 3. From CPU 0 the wrap
// order meets 1 first, whose sibling 0 is busy; cores 2 and 3 are wholly idle, so an idle
// core wins: CPU 4. Without the preference: CPU 1.
template <class T>
constexpr bool idle_cores_come_first() {
  return with_tracker<T>(smt8, mask::range(4, 7).set(1), [](const auto& tree, auto& tr) {
    push::search any = claim_node;
    any.idle_cores_first = false;
    return tr.find_target(tree, 0, mask::range(0, 7), claim_node, 0) == 4 &&
           tr.find_target(tree, 0, mask::range(0, 7), any, 0) == 1;
  });
}

// Affinity: from CPU 5 with 6 excluded, 7 is next; with no idle CPU allowed, none.
template <class T>
constexpr bool affinity_is_honoured() {
  return with_tracker<T>(flat8, mask::range(6, 7), [](const auto& tree, auto& tr) {
    return tr.find_target(tree, 5, mask::range(0, 7).reset(6), claim_node, 0) == 7 &&
           tr.find_target(tree, 5, mask::range(0, 5), claim_node, 0) == no_cpu;
  });
}

// From CPU 0: only CPU 2 idle (its node's other LLC) is found at reach node, not at reach
// llc; only CPU 4 idle (the other node) is found at reach machine only.
template <class T>
constexpr bool the_search_stops_where_the_pack_says() {
  const auto reach = [](push_reach r) {
    push::search s = claim_node;
    s.reach = r;
    return s;
  };
  const mask all = mask::range(0, 7);
  return with_tracker<T>(two_nodes, mask::of(2),
                         [&](const auto& tree, auto& tr) {
                           return tr.find_target(tree, 0, all, reach(push_reach::llc), 0) == no_cpu &&
                                  tr.find_target(tree, 0, all, reach(push_reach::node), 0) == 2;
                         }) &&
         with_tracker<T>(two_nodes, mask::of(4), [&](const auto& tree, auto& tr) {
           return tr.find_target(tree, 0, all, reach(push_reach::node), 0) == no_cpu &&
                  tr.find_target(tree, 0, all, reach(push_reach::machine), 0) == 4;
         });
}

// Claims: CPUs 6 and 7 idle. Pusher 5 claims 6; pusher 4 is then offered 7, not 6; once
// 5 releases 6, pusher 3 is offered 6 again. Only the claimant delivers, once.
template <class T>
constexpr bool a_claimed_cpu_is_not_offered_again() {
  return with_tracker<T>(flat8, mask::range(6, 7), [](const auto& tree, auto& tr) {
    const mask all = mask::range(0, 7);
    const bool first = tr.find_target(tree, 5, all, claim_node, 0) == 6 && tr.claimed(6);
    const bool second = tr.find_target(tree, 4, all, claim_node, 0) == 7;
    const bool none_left = tr.find_target(tree, 2, all, claim_node, 0) == no_cpu;
    const bool foreign = !tr.deliver(6, 4) && !tr.release(6, 4);
    const bool released = tr.release(6, 5) && !tr.claimed(6) && tr.find_target(tree, 3, all, claim_node, 0) == 6;
    const bool once = tr.deliver(6, 3) && !tr.deliver(6, 3) && tr.slot_of(6).state == push::slot_state::delivered;
    return first && second && none_left && foreign && released && once;
  });
}

// Expiry: 5 claims 6 at t = 1000 with a ttl of 100 and dies. At t = 1100 the claim holds
// (no CPU offered); at t = 1101 a scan breaks it and claims 6 for pusher 4; the dead
// claimant's late delivery then fails.
template <class T>
constexpr bool a_dead_claimant_cannot_starve_a_cpu() {
  return with_tracker<T>(flat8, mask::of(6), [](const auto& tree, auto& tr) {
    const mask all = mask::range(0, 7);
    return tr.find_target(tree, 5, all, claim_node, 1000) == 6 &&
           tr.find_target(tree, 4, all, claim_node, 1100) == no_cpu &&
           tr.find_target(tree, 4, all, claim_node, 1101) == 6 && tr.slot_of(6).by == 4 && !tr.deliver(6, 5) &&
           tr.deliver(6, 4);
  });
}

// A claimed CPU that goes busy by another way (a wakeup) voids the claim: the delivery
// fails; idle again, it is offered again, under a new generation.
template <class T>
constexpr bool going_busy_voids_a_claim() {
  return with_tracker<T>(flat8, mask::of(6), [](const auto& tree, auto& tr) {
    const mask all = mask::range(0, 7);
    const bool claimed = tr.find_target(tree, 5, all, claim_node, 0) == 6;
    const std::uint16_t gen = tr.slot_of(6).gen;
    tr.set_busy(6);
    const bool void_claim = !tr.deliver(6, 5) && !tr.claimed(6) && !tr.idle(6) && tr.slot_of(6).gen != gen;
    tr.set_idle(6);
    return claimed && void_claim && tr.find_target(tree, 5, all, claim_node, 0) == 6;
  });
}

// The RFC's unclaimed choice offers one idle CPU to every pusher: the pileup.
template <class T>
constexpr bool unclaimed_offers_the_same_cpu_twice() {
  return with_tracker<T>(flat8, mask::range(6, 7), [](const auto& tree, auto& tr) {
    push::search rfc = claim_node;
    rfc.mode = push::scan_mode::unclaimed;
    const mask all = mask::range(0, 7);
    return tr.find_target(tree, 5, all, rfc, 0) == 6 && tr.find_target(tree, 4, all, rfc, 0) == 6 && !tr.claimed(6);
  });
}

// Pull-one from CPU 0 of two_nodes: overloaded 1 and 5. Its LLC first: 1. Without 1: its
// node's LLCs only ({2,3} has none), so 5 on the other node is not reached. With 3 also
// overloaded but refusing (`take` false, say affinity), none.
template <class T>
constexpr bool pull_one_stays_below_numa() {
  return with_tracker<T>(two_nodes, mask::of(0), [](const auto& tree, auto& tr) {
    tr.set_overloaded(1, true);
    tr.set_overloaded(5, true);
    const bool own = tr.pull_one(tree, 0, [](std::size_t) { return true; }) == 1;
    tr.set_overloaded(1, false);
    const bool not_beyond = tr.pull_one(tree, 0, [](std::size_t) { return true; }) == no_cpu;
    tr.set_overloaded(3, true);
    const bool asks = tr.pull_one(tree, 0, [](std::size_t c) { return c != 3; }) == no_cpu &&
                      tr.pull_one(tree, 0, [](std::size_t) { return true; }) == 3;
    return own && not_beyond && asks;
  });
}

}  // namespace

TEST_CASE("A push target is found in wrap order from the pusher's next CPU", "[push]") {
  STATIC_REQUIRE(targets_wrap_from_the_next_cpu<value_tracker>());
  REQUIRE(targets_wrap_from_the_next_cpu<value_tracker>());
  REQUIRE(targets_wrap_from_the_next_cpu<atomic_tracker>());
}

TEST_CASE("Inside an LLC a wholly idle core is chosen before an idle sibling of a busy one", "[push]") {
  STATIC_REQUIRE(idle_cores_come_first<value_tracker>());
  REQUIRE(idle_cores_come_first<value_tracker>());
  REQUIRE(idle_cores_come_first<atomic_tracker>());
}

TEST_CASE("A push target is allowed by the task's affinity", "[push]") {
  STATIC_REQUIRE(affinity_is_honoured<value_tracker>());
  REQUIRE(affinity_is_honoured<atomic_tracker>());
}

TEST_CASE("The target search goes outward from the LLC and stops at the pack's reach", "[push]") {
  STATIC_REQUIRE(the_search_stops_where_the_pack_says<value_tracker>());
  REQUIRE(the_search_stops_where_the_pack_says<atomic_tracker>());
}

TEST_CASE("A claimed CPU is not offered again until it is released, and only its claimant delivers, once", "[push]") {
  STATIC_REQUIRE(a_claimed_cpu_is_not_offered_again<value_tracker>());
  REQUIRE(a_claimed_cpu_is_not_offered_again<atomic_tracker>());
}

TEST_CASE("A claim expires after its ttl on a CPU still idle, and the dead claimant's delivery fails", "[push]") {
  STATIC_REQUIRE(a_dead_claimant_cannot_starve_a_cpu<value_tracker>());
  REQUIRE(a_dead_claimant_cannot_starve_a_cpu<atomic_tracker>());
}

TEST_CASE("A claimed CPU that goes busy another way voids the claim", "[push]") {
  STATIC_REQUIRE(going_busy_voids_a_claim<value_tracker>());
  REQUIRE(going_busy_voids_a_claim<atomic_tracker>());
}

TEST_CASE("The unclaimed choice offers one idle CPU to two pushers", "[push]") {
  STATIC_REQUIRE(unclaimed_offers_the_same_cpu_twice<value_tracker>());
  REQUIRE(unclaimed_offers_the_same_cpu_twice<atomic_tracker>());
}

TEST_CASE("A newly idle CPU pulls one task from its LLC, then its node, never across NUMA", "[push]") {
  STATIC_REQUIRE(pull_one_stays_below_numa<value_tracker>());
  REQUIRE(pull_one_stays_below_numa<atomic_tracker>());
}

TEST_CASE("A slot round-trips through its 64-bit encoding, and deadlines compare across the clock's wrap", "[push]") {
  constexpr push::slot s{push::slot_state::claimed, 511, 0x3fff, 0xfffffff0U};
  STATIC_REQUIRE(push::slot::decode(s.encode()).by == 511);
  STATIC_REQUIRE(push::slot::decode(s.encode()).gen == 0x3fff);
  STATIC_REQUIRE(push::slot::decode(s.encode()).deadline == 0xfffffff0U);
  STATIC_REQUIRE(push::slot::decode(s.encode()).state == push::slot_state::claimed);
  STATIC_REQUIRE(!s.expired(0xfffffff0U));
  STATIC_REQUIRE(s.expired(5));  // 21 µs after the deadline, across the wrap
}

TEST_CASE("A tracker refuses an LLC bigger than its masks, naming the CPU", "[push]") {
  topology<L> topo;
  REQUIRE(make_topology(flat8, topo));
  domain_tree<L> tree;
  REQUIRE(domain_tree<L>::build(topo, {}, tree));
  auto narrow = std::make_unique<push::basic_tracker<L, std::uint64_t, 4>>();
  const status s = narrow->attach(tree);
  REQUIRE(!s);
  CHECK(std::string(s.error_value().message.view()) == "push: CPU 0's LLC has 8 CPUs, more than the tracker's 4");
  REQUIRE(!narrow->attach_uniform(8, 5));
  REQUIRE(narrow->attach_uniform(8, 4));
  CHECK(narrow->nr_llcs() == 2);
  CHECK(narrow->llc_cpu(1, 0) == 4);
}
