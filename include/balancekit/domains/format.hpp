/// \file
/// Domain trees as text: the kernel's `sched_verbose` boot output, its debugfs files, and
/// a readable tree. Each writer sends pieces to `sink(std::string_view)`; lines end in '\n'.
///
/// kernel: sched_domain_debug(), sched_domain_debug_one() (kernel/sched/topology.c),
/// register_sd() and sd_flags_show() (kernel/sched/debug.c), v6.1.
#pragma once

#include <cstddef>
#include <string_view>
#include <type_traits>

#include <balancekit/core/cpumask.hpp>
#include <balancekit/core/error.hpp>
#include <balancekit/core/units.hpp>
#include <balancekit/domains/domain_tree.hpp>
#include <balancekit/domains/flags.hpp>

namespace balancekit {

namespace detail {

template <class Sink>
struct line_writer {
  Sink& sink;
  constexpr line_writer& operator<<(std::string_view s) {
    sink(s);
    return *this;
  }
  constexpr line_writer& operator<<(char c) {
    sink(std::string_view(&c, 1));
    return *this;
  }
  template <class I>
    requires std::is_integral_v<I> && (!std::is_same_v<I, char>) && (!std::is_same_v<I, bool>)
  constexpr line_writer& operator<<(I v) {
    static_string<24> s;
    s += v;
    sink(s.view());
    return *this;
  }
  template <std::size_t N>
  constexpr line_writer& operator<<(const cpumask<N>& m) {
    m.format_list(sink);
    return *this;
  }
  constexpr line_writer& spaces(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) sink(" ");
    return *this;
  }
};

}  // namespace detail

/// The kernel's `sched_verbose` output for every CPU, without timestamps, and the final
/// "root domain span" line.
template <limits_pack L, class Sink>
constexpr void format_sched_verbose(const domain_tree<L>& tree, Sink&& sink) {
  detail::line_writer<Sink> out{sink};
  // SD_OVERLAP where the profile has it, SD_NUMA in mainline: groups may overlap.
  const sd_flag overlap = has_sd_overlap(tree.profile()) ? sd_flag::overlap : sd_flag::numa;
  const auto names = sd_flag_names(tree.profile());
  for (std::size_t cpu : tree.cpu_map()) {
    const std::size_t n = tree.nr_domains(cpu);
    if (n == 0) {
      out << "CPU" << cpu << " attaching NULL sched-domain.\n";
      continue;
    }
    out << "CPU" << cpu << " attaching sched-domain(s):\n";
    for (std::size_t k = 0; k < n; ++k) {
      const auto& d = tree.domain_of(cpu, k);
      out.spaces(k) << " domain-" << k << ": span=" << tree.span(d) << " level=" << tree.name(d) << '\n';
      for (const auto& fn : names) {
        if (!d.flags.has(fn.flag)) continue;
        const auto& meta = metaflags(fn.flag);
        if (meta.shared_child && k > 0 && !tree.domain_of(cpu, k - 1).flags.has(fn.flag))
          out << "ERROR: flag " << fn.name << " set here but not in child\n";
        if (meta.shared_parent && k + 1 < n && !tree.domain_of(cpu, k + 1).flags.has(fn.flag))
          out << "ERROR: flag " << fn.name << " set here but not in parent\n";
      }
      out.spaces(k + 1) << " groups:";
      typename domain_tree<L>::mask covered;
      for (std::size_t g = 0; g < d.nr_groups; ++g) {
        const auto& grp = tree.group_of(d, g);
        covered |= tree.span(grp);
        out << ' ' << static_cast<std::size_t>(grp.id) << ":{ span=" << tree.span(grp);
        if (d.flags.has(overlap) && !(tree.balance_mask(grp) == tree.span(grp))) out << " mask=" << tree.balance_mask(grp);
        if (grp.capacity != sched_capacity_scale) out << " cap=" << grp.capacity;
        out << " }" << (g + 1 < d.nr_groups ? "," : "");
      }
      out << '\n';
      if (!(covered == tree.span(d))) out << "ERROR: groups don't span domain->span\n";
      if (k + 1 < n && !covered.subset_of(tree.span(tree.domain_of(cpu, k + 1))))
        out << "ERROR: parent span is not a superset of domain->span\n";
    }
  }
  // 6.12 prints the span alone (rd->max_cpu_capacity was gone); so does mainline.
  out << "root domain span: " << tree.cpu_map();
  if (tree.profile() == kernel_profile::linux_6_1) out << " (max cpu_capacity = " << tree.max_cpu_capacity() << ")";
  out << '\n';
}

/// One line per CPU and domain with the files of /sys/kernel/debug/sched/domains:
/// `cpu0/domain0 name=SMT imbalance_pct=110 busy_factor=16 min_interval=2 max_interval=4
/// cache_nice_tries=0 flags=SD_BALANCE_NEWIDLE ...` (flags in the kernel's bit order).
template <limits_pack L, class Sink>
constexpr void format_debugfs(const domain_tree<L>& tree, Sink&& sink) {
  detail::line_writer<Sink> out{sink};
  const auto names = sd_flag_names(tree.profile());
  for (std::size_t cpu : tree.cpu_map())
    for (std::size_t k = 0; k < tree.nr_domains(cpu); ++k) {
      const auto& d = tree.domain_of(cpu, k);
      out << "cpu" << cpu << "/domain" << k << " name=" << tree.name(d) << " imbalance_pct=" << d.imbalance_pct
          << " busy_factor=" << d.busy_factor << " min_interval=" << d.min_interval << " max_interval=" << d.max_interval
          << " cache_nice_tries=" << d.cache_nice_tries << " flags=";
      bool first = true;
      for (const auto& fn : names)
        if (d.flags.has(fn.flag)) {
          out << (first ? "" : " ") << fn.name;
          first = false;
        }
      out << '\n';
    }
}

/// A picture for people: each level once, with how many domains it has, their size,
/// parameters and groups as CPU `cpu` sees them.
template <limits_pack L, class Sink>
constexpr void format_domain_tree(const domain_tree<L>& tree, std::size_t cpu, Sink&& sink) {
  detail::line_writer<Sink> out{sink};
  out << "scheduling domains (" << to_string(tree.profile()) << ") over CPUs " << tree.cpu_map() << '\n';
  if (!tree.cpu_map().test(cpu)) {
    out << "CPU " << cpu << " has no domains (not online)\n";
    return;
  }
  if (tree.nr_domains(cpu) == 0) out << "CPU " << cpu << ": no domains (nothing to balance)\n";
  for (std::size_t k = 0; k < tree.nr_domains(cpu); ++k) {
    const auto& d = tree.domain_of(cpu, k);
    out.spaces(2 * k) << tree.name(d) << "  span " << tree.span(d) << " (" << static_cast<std::size_t>(d.span_weight)
                      << " CPUs)  imbalance_pct " << d.imbalance_pct << "  interval " << d.min_interval << ".."
                      << d.max_interval << " ms  cache_nice_tries " << d.cache_nice_tries;
    if (d.imb_numa_nr != 0) out << "  imb_numa_nr " << d.imb_numa_nr;
    out << '\n';
    out.spaces(2 * k + 2) << static_cast<std::size_t>(d.nr_groups) << " groups:";
    for (std::size_t g = 0; g < d.nr_groups; ++g) {
      const auto& grp = tree.group_of(d, g);
      out << " [" << tree.span(grp) << ']';
    }
    out << '\n';
  }
  if (!tree.numa_distances().empty()) {
    out << "NUMA distances:";
    for (auto v : tree.numa_distances()) out << ' ' << v;
    out << "  (" << to_string(tree.numa_type()) << ")\n";
  }
}

}  // namespace balancekit
