// Shapes of domain trees that some properties need, shared by the property suites.
#pragma once

#include <balancekit/domains.hpp>

#include <algorithm>
#include <cstddef>
#include <vector>

namespace balancekit::test {

// Every CPU of a domain sees the same groups as the other CPUs of that domain at that
// level. Overlapping NUMA groups built from each CPU's own perspective break this (T8,
// rings), and then "balanced" is not one notion for the whole level.
template <limits_pack L>
bool perspective_consistent(const domain_tree<L>& t) {
  auto groups_of = [&](std::size_t cpu, std::size_t k) {
    std::vector<cpumask<L::max_cpus>> g;
    const auto& d = t.domain_of(cpu, k);
    for (std::size_t i = 0; i < d.nr_groups; ++i) g.push_back(t.span(t.group_of(d, i)));
    std::sort(g.begin(), g.end(), [](const cpumask<L::max_cpus>& a, const cpumask<L::max_cpus>& b) { return a.first() < b.first(); });
    return g;
  };
  for (std::size_t cpu : t.cpu_map())
    for (std::size_t k = 0; k < t.nr_domains(cpu); ++k) {
      const auto& d = t.domain_of(cpu, k);
      const auto mine = groups_of(cpu, k);
      for (std::size_t other : t.span(d)) {
        const int ko = t.find_domain(other, d.level);
        if (ko < 0 || t.span(t.domain_of(other, static_cast<std::size_t>(ko))) != t.span(d)) return false;
        if (groups_of(other, static_cast<std::size_t>(ko)) != mine) return false;
      }
    }
  return true;
}

// Some domain has SD_SHARE_CPUCAPACITY: SMT threads, whose per-core task counts
// (sibling_imbalance) are what Linux balances.
template <limits_pack L>
bool has_smt(const domain_tree<L>& t) {
  for (std::size_t cpu : t.cpu_map())
    for (std::size_t k = 0; k < t.nr_domains(cpu); ++k)
      if (t.domain_of(cpu, k).flags.has(sd_flag::share_cpucapacity)) return true;
  return false;
}

// A domain with SD_ASYM_CPUCAPACITY whose groups hold several CPUs and whose child lost
// SD_PREFER_SIBLING (sd_init() clears it below an asymmetric domain). There an
// overloaded group can hide a misfit, and an idle CPU whose group has one idle CPU more
// computes (1 - 0) >> 1 = 0: balanced (docs/invariants.md, exception 8).
template <limits_pack L>
bool asymmetry_clears_prefer_sibling(const domain_tree<L>& t) {
  for (std::size_t cpu : t.cpu_map())
    for (std::size_t k = 1; k < t.nr_domains(cpu); ++k) {
      const auto& d = t.domain_of(cpu, k);
      if (!d.flags.has(sd_flag::asym_cpucapacity) || t.domain_of(cpu, k - 1).flags.has(sd_flag::prefer_sibling)) continue;
      for (std::size_t g = 0; g < d.nr_groups; ++g)
        if (t.group_of(d, g).weight > 1) return true;
    }
  return false;
}

}  // namespace balancekit::test
