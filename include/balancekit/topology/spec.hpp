/// \file
/// The text spec: a machine in a few strings, parsed at compile time or at run time.
///
/// The level string is compatible with hwloc's synthetic topology strings for the shared
/// subset: levels outermost first, `name:count` each, CPUs numbered depth-first as
/// hwloc numbers logical PUs (and QEMU numbers vCPUs):
///
///     package:2 numa:3 l3:2 core:4 pu:2
///
/// Names (case-insensitive): `package` (`pack`, `socket`), `numa` (`node`), `die`,
/// `l3` (`llc`), `cluster` (`l2`), `core`, `pu` (`thread`). Order: package, die, l3,
/// cluster, core, pu, with `numa` anywhere before `core`. A level left out defaults as
/// hwloc and the kernel would see it: one package; die = package; cluster = core;
/// LLC = cluster (which is the core when there is no cluster: no shared cache);
/// core = one PU; one NUMA node. A cluster that is the only one of its LLC is the core
/// (kernel: cpu_clustergroup_mask never spans a whole LLC).
///
/// The other strings: `distances` "10 12 32;12 10 32;32 32 10" (rows by `;` or newline),
/// `capacity` "0-3:446,4-7:1024" (CPUs not named keep 1024), `offline` a cpulist,
/// `cpu_ids` a cpulist giving the OS id of each logical CPU in order (sparse ids).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <balancekit/core/cpumask.hpp>
#include <balancekit/core/error.hpp>
#include <balancekit/core/static_vector.hpp>
#include <balancekit/core/units.hpp>
#include <balancekit/detail/text.hpp>
#include <balancekit/topology/topology.hpp>

namespace balancekit {

struct machine_spec {
  std::string_view levels;
  std::string_view distances{};
  std::string_view capacity{};
  std::string_view offline{};
  std::string_view cpu_ids{};
};

namespace detail {

/// Positions in the level string; `numa` has no rank of its own.
enum class spec_level : std::uint8_t { package, die, l3, cluster, core, pu, numa };

struct spec_alias {
  std::string_view name;
  spec_level level;
};
inline constexpr std::array<spec_alias, 15> spec_aliases{{
    {"package", spec_level::package}, {"pack", spec_level::package}, {"socket", spec_level::package},
    {"die", spec_level::die},         {"l3", spec_level::l3},        {"llc", spec_level::l3},
    {"l3cache", spec_level::l3},      {"cluster", spec_level::cluster}, {"l2", spec_level::cluster},
    {"l2cache", spec_level::cluster}, {"core", spec_level::core},    {"pu", spec_level::pu},
    {"thread", spec_level::pu},       {"numa", spec_level::numa},    {"node", spec_level::numa},
}};
inline constexpr std::array<std::string_view, 7> spec_level_names{"package", "die", "l3", "cluster", "core", "pu", "numa"};

struct spec_item {
  spec_level level{};
  std::uint64_t count = 0;
  std::string_view token{};
};

template <std::size_t MaxCpus>
constexpr status parse_capacity(std::string_view text, const cpumask<MaxCpus>& cpus,
                                std::array<std::uint16_t, MaxCpus>& cap) {
  cpumask<MaxCpus> pending;
  std::string_view pending_text;
  while (true) {
    const std::string_view tok = next_token(text, ",; \t\n");
    if (tok.empty()) break;
    const auto colon = tok.find(':');
    const std::string_view range = tok.substr(0, colon);
    auto m = cpumask<MaxCpus>::parse(range);
    if (!m) {
      error e{errc::syntax, "capacity: '"};
      return e << tok << "': " << m.error_value().message.view();
    }
    for (std::size_t c : *m)
      if (!cpus.test(c)) {
        error e{errc::out_of_range, "capacity: '"};
        return e << tok << "' names CPU " << c << ", which the machine does not have";
      }
    pending |= *m;
    pending_text = tok;
    if (colon == std::string_view::npos) continue;
    cursor cur{tok.substr(colon + 1)};
    std::uint64_t v = 0;
    if (!cur.whole_number(v)) {
      error e{errc::syntax, "capacity: '"};
      return e << tok << "': the capacity after ':' must be a whole number";
    }
    if (v < 1 || v > sched_capacity_scale) {
      error e{errc::bad_capacity, "capacity: '"};
      return e << tok << "': capacity " << v << " is outside 1..1024";
    }
    for (std::size_t c : pending) cap[c] = static_cast<std::uint16_t>(v);
    pending.clear();
  }
  if (pending.any()) {
    error e{errc::syntax, "capacity: '"};
    return e << pending_text << "' has no ':capacity' (write e.g. 0-3:446)";
  }
  return {};
}

template <std::size_t MaxEntries>
constexpr status parse_distances(std::string_view text, std::size_t nodes,
                                 static_vector<std::uint16_t, MaxEntries>& out) {
  std::size_t rows = 0;
  std::size_t first_row_len = 0;
  std::string_view rest = text;
  while (true) {
    while (!rest.empty() && (is_space(rest.front()) || rest.front() == ';')) rest.remove_prefix(1);
    if (rest.empty()) break;
    std::size_t end = 0;
    while (end < rest.size() && rest[end] != ';' && rest[end] != '\n') ++end;
    std::string_view row = rest.substr(0, end);
    rest.remove_prefix(end);
    std::size_t len = 0;
    while (true) {
      const std::string_view tok = next_token(row, " ,\t\r");
      if (tok.empty()) break;
      cursor cur{tok};
      std::uint64_t v = 0;
      if (!cur.whole_number(v) || v > 65535) {
        error e{errc::syntax, "distances: row "};
        return e << rows << " entry " << len << " '" << tok << "' is not a distance (a whole number)";
      }
      if (out.full()) {
        error e{errc::over_limit, "distances: more entries than the node limit allows ("};
        return e << MaxEntries << ")";
      }
      out.push_back(static_cast<std::uint16_t>(v));
      ++len;
    }
    if (rows == 0) first_row_len = len;
    if (len != first_row_len) {
      error e{errc::not_square, "distances: row "};
      return e << rows << " has " << len << " entries but row 0 has " << first_row_len
               << "; the matrix must be square";
    }
    ++rows;
  }
  if (rows != first_row_len) {
    error e{errc::not_square, "distances: "};
    return e << rows << " rows of " << first_row_len << " entries; the matrix must be square";
  }
  if (rows != nodes) {
    error e{errc::wrong_count, "distances: "};
    return e << rows << " rows for " << nodes << " NUMA nodes; there must be one row per node";
  }
  return {};
}

}  // namespace detail

/// Parses a spec into a machine description (not yet validated as a whole: see
/// `topology::build`, or use `make_topology`).
template <limits_pack L>
[[nodiscard]] constexpr status parse_spec(const machine_spec& spec, machine_desc<L>& out) {
  using detail::spec_level;
  out.cpus.clear();  // in place: a machine_desc can be hundreds of KiB
  out.nodes.clear();
  out.distances.clear();
  out.described.fill(false);
  static_vector<detail::spec_item, 8> items;
  std::uint64_t total = 1;
  bool seen[7]{};
  int last_rank = -1;
  std::string_view text = spec.levels;
  while (true) {
    const std::string_view tok = detail::next_token(text, " \t\n\r");
    if (tok.empty()) break;
    const auto colon = tok.find(':');
    const std::string_view name = tok.substr(0, colon);
    // An index, not a pointer: GCC's sanitizers make pointer tests non-constant.
    std::size_t alias = detail::spec_aliases.size();
    for (std::size_t a = 0; a < detail::spec_aliases.size(); ++a)
      if (detail::iequals(detail::spec_aliases[a].name, name)) alias = a;
    if (alias == detail::spec_aliases.size()) {
      error e{errc::unknown_name, "unknown level '"};
      return e << name << "' in '" << tok << "' (known: package, numa, die, l3, cluster, core, pu)";
    }
    detail::cursor cur{colon == std::string_view::npos ? std::string_view{} : tok.substr(colon + 1)};
    std::uint64_t count = 0;
    if (colon == std::string_view::npos || !cur.whole_number(count) || count == 0) {
      error e{errc::out_of_range, "level '"};
      return e << tok << "': the count must be a whole number of at least 1 (e.g. " << name << ":2)";
    }
    const auto lvl = detail::spec_aliases[alias].level;
    if (seen[static_cast<int>(lvl)]) {
      error e{errc::out_of_order, "level '"};
      return e << tok << "' is given twice";
    }
    if (lvl == spec_level::numa) {
      if (seen[static_cast<int>(spec_level::core)] || seen[static_cast<int>(spec_level::pu)]) {
        error e{errc::out_of_order, "level '"};
        return e << tok << "' comes after core or pu; a NUMA node must contain whole cores";
      }
    } else {
      const int rank = static_cast<int>(lvl);
      if (rank < last_rank) {
        error e{errc::out_of_order, "level '"};
        return e << tok << "' comes after '" << detail::spec_level_names[static_cast<std::size_t>(last_rank)]
                 << "'; levels go outermost first: package, die, l3, cluster, core, pu (numa anywhere before core)";
      }
      last_rank = rank;
    }
    seen[static_cast<int>(lvl)] = true;
    total *= count;
    if (total > L::max_cpus) {
      error e{errc::over_limit, "levels '"};
      return e << detail::trim(spec.levels) << "' describe more than the limit of " << L::max_cpus
               << " CPUs (at '" << tok << "')";
    }
    if (items.full()) return error{errc::syntax, "too many levels"};
    items.push_back({lvl, count, tok});
  }
  if (items.empty()) return error{errc::syntax, "the level string is empty (e.g. 'package:2 core:4 pu:2')"};

  // Strides: CPUs under one unit of each item.
  std::array<std::uint64_t, 8> stride{};
  {
    std::uint64_t s = 1;
    for (std::size_t i = items.size(); i-- > 0;) {
      stride[i] = s;
      s *= items[i].count;
    }
  }
  const auto position = [&](spec_level l) -> int {
    for (std::size_t i = 0; i < items.size(); ++i)
      if (items[i].level == l) return static_cast<int>(i);
    return -1;
  };
  const int p_numa = position(spec_level::numa);
  if (p_numa >= 0 && total / stride[static_cast<std::size_t>(p_numa)] > L::max_nodes) {
    error e{errc::over_limit, "level '"};
    return e << items[static_cast<std::size_t>(p_numa)].token << "' makes "
             << total / stride[static_cast<std::size_t>(p_numa)] << " NUMA nodes, above the limit of " << L::max_nodes;
  }

  // OS ids: dense, or the n-th id of `cpu_ids`.
  cpumask<L::max_cpus> ids;
  if (!detail::trim(spec.cpu_ids).empty()) {
    auto m = cpumask<L::max_cpus>::parse(spec.cpu_ids);
    if (!m) {
      error e{m.error_value().code, "cpu ids: "};
      return e << m.error_value().message.view();
    }
    if (m->weight() != total) {
      error e{errc::wrong_count, "cpu ids '"};
      return e << detail::trim(spec.cpu_ids) << "' name " << m->weight() << " CPUs but the levels describe " << total;
    }
    ids = *m;
  } else {
    ids = cpumask<L::max_cpus>::first_n(static_cast<std::size_t>(total));
  }

  std::array<std::uint16_t, L::max_cpus> cap{};
  cap.fill(static_cast<std::uint16_t>(sched_capacity_scale));
  if (status s = detail::parse_capacity(spec.capacity, ids, cap); !s) return s;

  cpumask<L::max_cpus> offline;
  if (!detail::trim(spec.offline).empty()) {
    auto m = cpumask<L::max_cpus>::parse(spec.offline);
    if (!m) {
      error e{m.error_value().code, "offline: "};
      return e << m.error_value().message.view();
    }
    for (std::size_t c : *m)
      if (!ids.test(c)) {
        error e{errc::out_of_range, "offline: CPU "};
        return e << c << " does not exist";
      }
    offline = *m;
  }

  // A cluster that is its LLC's only one is no cluster: the kernel limits
  // cpu_clustergroup_mask to the SMT mask then, and so does the hwloc adapter.
  bool cluster_alone_in_llc = false;
  if (const int pc = position(spec_level::cluster), pl = position(spec_level::l3); pc >= 0) {
    std::uint64_t per_llc = 1;  // without an l3 the cluster is the LLC
    for (int i = pl + 1; pl >= 0 && i <= pc; ++i) per_llc *= items[static_cast<std::size_t>(i)].count;
    cluster_alone_in_llc = per_llc == 1;
  }
  const auto key = [&](std::uint64_t i, spec_level l) -> std::int64_t {
    const int p = position(l);
    return p < 0 ? -1 : static_cast<std::int64_t>(i / stride[static_cast<std::size_t>(p)]);
  };
  std::size_t id = ids.first();
  for (std::uint64_t i = 0; i < total; ++i, id = ids.next(id)) {
    cpu_desc c;
    c.id = static_cast<std::uint32_t>(id);
    const std::int64_t pkg = key(i, spec_level::package);
    const std::int64_t die = key(i, spec_level::die);
    const std::int64_t core = key(i, spec_level::core);
    const std::int64_t core_or_pu = core >= 0 ? core : static_cast<std::int64_t>(i);
    const std::int64_t cluster = key(i, spec_level::cluster);
    const std::int64_t cluster_or_core = cluster >= 0 ? cluster : core_or_pu;
    const std::int64_t l3 = key(i, spec_level::l3);
    const std::int64_t package = pkg >= 0 ? pkg : 0;
    c.unit = {static_cast<std::uint32_t>(core_or_pu),
              static_cast<std::uint32_t>(cluster_alone_in_llc ? core_or_pu : cluster_or_core),
              static_cast<std::uint32_t>(l3 >= 0 ? l3 : cluster_or_core),
              static_cast<std::uint32_t>(die >= 0 ? die : package), static_cast<std::uint32_t>(package)};
    const std::int64_t node = key(i, spec_level::numa);
    c.node = static_cast<std::uint32_t>(node >= 0 ? node : 0);
    c.capacity = cap[id];
    c.online = !offline.test(id);
    out.cpus.push_back(c);
  }

  const std::size_t nodes = p_numa >= 0 ? static_cast<std::size_t>(total / stride[static_cast<std::size_t>(p_numa)]) : 1;
  for (std::size_t n = 0; n < nodes; ++n) out.nodes.set(n);
  if (!detail::trim(spec.distances).empty())
    if (status s = detail::parse_distances(spec.distances, nodes, out.distances); !s) return s;

  out.described[static_cast<std::size_t>(hw_level::core)] = seen[static_cast<int>(spec_level::core)];
  out.described[static_cast<std::size_t>(hw_level::cluster)] = seen[static_cast<int>(spec_level::cluster)];
  out.described[static_cast<std::size_t>(hw_level::llc)] = seen[static_cast<int>(spec_level::l3)];
  out.described[static_cast<std::size_t>(hw_level::die)] = seen[static_cast<int>(spec_level::die)];
  out.described[static_cast<std::size_t>(hw_level::package)] = seen[static_cast<int>(spec_level::package)];
  out.described[static_cast<std::size_t>(hw_level::node)] = p_numa >= 0;
  return {};
}

/// Parses and validates a spec into `out` (caller-owned: a large-limits topology is
/// megabytes). Uses a `machine_desc` on the stack (hundreds of KiB for `large_limits`).
template <limits_pack L>
[[nodiscard]] constexpr status make_topology(const machine_spec& spec, topology<L>& out) {
  machine_desc<L> desc;
  if (status s = parse_spec(spec, desc); !s) return s;
  return topology<L>::build(desc, out);
}

/// By value, for small limits and constant evaluation:
/// `constexpr auto t = make_topology<small_limits>({"package:2 core:2 pu:2"});`
template <limits_pack L>
[[nodiscard]] constexpr result<topology<L>> make_topology(const machine_spec& spec) {
  topology<L> t;
  if (status s = make_topology(spec, t); !s) return s.error_value();
  return t;
}

}  // namespace balancekit
