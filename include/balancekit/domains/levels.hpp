/// \file
/// Topology-level tables: the levels a domain build walks, bottom up, before the NUMA
/// levels that `sched_init_numa` appends.
///
/// kernel: default_topology[] (kernel/sched/topology.c), x86_topology[] and
/// x86_numa_in_package_topology[] (arch/x86/kernel/smpboot.c), sched_init_numa().
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <balancekit/core/static_vector.hpp>
#include <balancekit/domains/flags.hpp>

namespace balancekit {

/// Which CPUs a level groups with a CPU (kernel: the level's mask function).
enum class level_mask : std::uint8_t {
  smt,      ///< SMT siblings (cpu_smt_mask)
  cluster,  ///< cluster / shared L2 (cpu_clustergroup_mask)
  llc,      ///< last-level cache (cpu_coregroup_mask)
  node,     ///< the CPU's NUMA node (cpu_cpu_mask: the DIE/PKG level spans the node, not the package)
};

/// One row of a level table (kernel: struct sched_domain_topology_level).
struct topology_level {
  std::string_view name;
  level_mask mask;
  sd_flags flags;  ///< what the level's sd_flags() returns
};

inline constexpr std::size_t max_table_levels = 8;
using level_table = static_vector<topology_level, max_table_levels>;

/// Architecture rules beyond the table.
enum class arch_rules : std::uint8_t {
  /// The generic table as is.
  generic,
  /// x86: the DIE/PKG level is dropped when a die holds CPUs of two nodes
  /// (x86_has_numa_in_package), and an LLC is cut at node boundaries on CPUs that
  /// support Sub-NUMA Clustering (match_llc; the oracle's Skylake-Server is one).
  x86,
};

/// The SMT, CLS, MC, DIE/PKG table of a kernel profile. x86 and the generic kernel
/// table have the same rows; `arch_rules` holds x86's differences.
[[nodiscard]] constexpr level_table default_levels(kernel_profile p) {
  const bool v61 = p == kernel_profile::linux_6_1;
  level_table t;
  t.push_back({"SMT", level_mask::smt, {sd_flag::share_cpucapacity, sd_flag::share_llc}});
  t.push_back({"CLS", level_mask::cluster, v61 ? sd_flags{sd_flag::share_llc} : sd_flags{sd_flag::cluster, sd_flag::share_llc}});
  t.push_back({"MC", level_mask::llc, {sd_flag::share_llc}});
  t.push_back({v61 ? "DIE" : "PKG", level_mask::node, {}});
  return t;
}

/// How to build domains. The default profile is linux-6.1's, the kernel the domain oracle
/// boots; the balancer needs `balancer_domain_options()`.
struct domain_options {
  kernel_profile profile = kernel_profile::linux_6_1;
  arch_rules arch = arch_rules::x86;
  /// The table to use instead of `default_levels(profile)`; empty means the default.
  level_table levels{};
  /// Append NODE and NUMA levels from the distance matrix (sched_init_numa).
  bool numa = true;
  /// NUMA levels farther than this lose BALANCE_EXEC, BALANCE_FORK and WAKE_AFFINE
  /// (kernel: node_reclaim_distance, RECLAIM_DISTANCE = 30).
  std::uint16_t reclaim_distance = 30;
};

/// The domain options the balancer's rules expect: the rules are v6.16's, and so must be
/// the group flags they read (kernel_profile::mainline; see docs/domains.md). The balancer
/// refuses a tree built with another profile.
[[nodiscard]] constexpr domain_options balancer_domain_options() noexcept {
  domain_options o;
  o.profile = kernel_profile::mainline;
  return o;
}

}  // namespace balancekit
