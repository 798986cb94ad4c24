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

}  // namespace balancekit::test
