// Proofs for the text spec: topologies made from literals at compile time.
#include <balancekit/topology/machines.hpp>
#include <balancekit/topology/spec.hpp>

namespace {
using namespace balancekit;

// Numbering is depth-first: CPU 5 of "package:2 core:2 pu:2" is package 1, core 2, thread 1.
constexpr auto t = *make_topology<small_limits>({"package:2 core:2 pu:2"});
static_assert(t.nr_cpus() == 8 && t.count(hw_level::package) == 2 && t.count(hw_level::core) == 4);
static_assert(t.unit_of(hw_level::package, 5) == 1 && t.unit_of(hw_level::core, 5) == 2);
static_assert(t.siblings(hw_level::core, 5) == *cpumask<64>::parse("4-5"));
// No L3 and no cluster: the LLC is the core (no shared cache), as hwloc and the kernel see it.
static_assert(t.siblings(hw_level::llc, 5) == t.siblings(hw_level::core, 5));

// NUMA below the package, with a distance matrix.
constexpr auto n = *make_topology<small_limits>({"package:2 numa:2 l3:1 core:2 pu:2", "10 12 20 20;12 10 20 20;20 20 10 12;20 20 12 10"});
static_assert(n.count(hw_level::node) == 4 && n.node_of(9) == 2 && n.distance(0, 1) == 12 && n.distance(3, 0) == 20);
static_assert(n.siblings(hw_level::llc, 9) == n.cpus_of_node(2));

// Sparse ids, offline CPUs, asymmetric capacity.
constexpr auto s = *make_topology<small_limits>({"cluster:2 core:2 pu:1", "", "0-1:446", "20", "0-1,20-21"});
static_assert(s.nr_cpus() == 4 && s.nr_cpu_ids() == 22 && !s.online().test(20) && s.online().test(21));
static_assert(s.capacity_of(1) == capacity{446} && s.capacity_of(20) == capacity{1024} && s.asymmetric());

// The small built-ins fit small_limits.
static_assert(make_topology<small_limits>(machines::phone8.spec)->asymmetric());
static_assert(make_topology<small_limits>(machines::uni1.spec)->nr_cpus() == 1);

// Errors are values; each says what kind of thing is wrong.
static_assert(make_topology<small_limits>({"core:0"}).error_value().code == errc::out_of_range);
static_assert(make_topology<small_limits>({"core:2 package:2"}).error_value().code == errc::out_of_order);
static_assert(make_topology<small_limits>({"foo:2"}).error_value().code == errc::unknown_name);
static_assert(make_topology<small_limits>({"core:65"}).error_value().code == errc::over_limit);
static_assert(make_topology<small_limits>({"numa:2 core:1", "10 12;13 10"}).error_value().code == errc::not_symmetric);
}  // namespace
