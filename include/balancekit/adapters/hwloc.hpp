/// \file
/// Optional adapter: a balancekit topology from an hwloc topology (the running machine,
/// an hwloc XML export, a synthetic description or an unpacked Linux sysfs snapshot).
///
/// Unlike the core library this adapter allocates and is not constexpr; link
/// `balancekit::hwloc` (hwloc >= 2.1). Mapping rules, in the kernel's vocabulary:
///
/// - CPU id = PU os_index (the kernel's logical CPU number).
/// - core (topology_sibling_cpumask) = the Core ancestor, else the PU itself.
/// - cluster (cpu_clustergroup_mask) = the nearest ancestor below the LLC that is a Group
///   with subtype "Cluster" or an L2 cache wider than the core; else the core.
/// - LLC (cpu_coregroup_mask) = the L3 ancestor, else the L2, else the core.
/// - die = the Die ancestor, else the package.
/// - package (topology_core_cpumask) = the Package ancestor, else the whole machine.
/// - node (cpu_to_node) = among the NUMA nodes whose cpuset holds the PU, the one with the
///   fewest CPUs, ties to the lowest os_index; nodes no PU picks stay as CPU-less nodes.
/// - distances = the NUMA latency matrix ("NUMALatency" preferred), else the kernel default.
/// - capacity = cpukinds' "LinuxCapacity" scaled so the largest is 1024, else 1024.
///
/// See docs/hwloc.md for the corpus results and the known limits.
#pragma once

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <hwloc.h>

#include <balancekit/core/error.hpp>
#include <balancekit/core/limits.hpp>
#include <balancekit/core/units.hpp>
#include <balancekit/detail/text.hpp>
#include <balancekit/topology/spec.hpp>
#include <balancekit/topology/topology.hpp>

namespace balancekit::hwloc {

/// What an import saw besides the topology itself.
struct import_report {
  /// Where the topology came from: "host", "xml:<path>", "synthetic:<text>", "fsroot:<dir>".
  std::string source;
  /// CPU ids hwloc knows exist (complete cpuset) but could not place (not in the topology
  /// cpuset): offline CPUs of a sysfs snapshot, or CPUs a cgroup does not allow.
  std::vector<std::size_t> offline_unplaced;
  /// Human-readable remarks, e.g. which defaults were used.
  std::vector<std::string> notes;
};

namespace detail {

/// Owns an hwloc topology; hwloc_topology_destroy on every path.
class topology_handle {
public:
  topology_handle() = default;
  topology_handle(const topology_handle&) = delete;
  topology_handle& operator=(const topology_handle&) = delete;
  ~topology_handle() {
    if (t_ != nullptr) hwloc_topology_destroy(t_);
  }
  /// hwloc_topology_init; false (errno set) on failure.
  [[nodiscard]] bool init() {
    if (hwloc_topology_init(&t_) != 0) {
      t_ = nullptr;
      return false;
    }
    return true;
  }
  [[nodiscard]] hwloc_topology_t get() const noexcept { return t_; }

private:
  hwloc_topology_t t_ = nullptr;
};

/// Owns an hwloc bitmap.
struct bitmap {
  hwloc_bitmap_t b = hwloc_bitmap_alloc();
  bitmap() = default;
  bitmap(const bitmap&) = delete;
  bitmap& operator=(const bitmap&) = delete;
  ~bitmap() { hwloc_bitmap_free(b); }
};

/// Sets an environment variable until destroyed, then restores the previous value
/// (or its absence). hwloc has no API for HWLOC_FSROOT, only the environment.
class env_override {
public:
  env_override(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name); old != nullptr) old_ = std::string(old);
    ::setenv(name, value.c_str(), 1);
  }
  env_override(const env_override&) = delete;
  env_override& operator=(const env_override&) = delete;
  ~env_override() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }

private:
  const char* name_;
  std::optional<std::string> old_;
};

/// An errc::io error "<what> '<source>': <strerror(errno)>", errno read at the call.
inline error io_error(std::string_view what, std::string_view source, int err) {
  error e{errc::io, what};
  e << " '" << source << "': " << std::string_view(std::strerror(err));
  return e;
}

/// First PU id of an object's cpuset within the topology cpuset: a unit key that is
/// unique per unit and never above the unit's own CPU ids (so within the CPU limit).
inline std::uint32_t first_pu(hwloc_const_bitmap_t set, hwloc_const_bitmap_t topo, hwloc_bitmap_t scratch) {
  hwloc_bitmap_and(scratch, set, topo);
  const int f = hwloc_bitmap_first(scratch);
  return f < 0 ? 0U : static_cast<std::uint32_t>(f);
}

inline bool is_memory_side(const hwloc_obj* o) {
  return o->subtype != nullptr && balancekit::detail::iequals(o->subtype, "MemorySideCache");
}

inline bool is_cluster_group(const hwloc_obj* o) {
  return o->type == HWLOC_OBJ_GROUP && o->subtype != nullptr && balancekit::detail::iequals(o->subtype, "Cluster");
}

inline hwloc_obj_t ancestor(hwloc_topology_t t, hwloc_obj_type_t type, hwloc_obj_t o) {
  return hwloc_get_ancestor_obj_by_type(t, type, o);
}

/// The matrix for NUMA nodes: "NUMALatency" if present, else the first latency matrix.
/// Returns nullptr when there is none; the caller releases the result.
inline hwloc_distances_s* numa_latency(hwloc_topology_t t) {
#if HWLOC_API_VERSION >= 0x00030000
  constexpr unsigned long latency = HWLOC_DISTANCES_KIND_VALUE_LATENCY;
#else
  constexpr unsigned long latency = HWLOC_DISTANCES_KIND_MEANS_LATENCY;
#endif
  unsigned nr = 0;
  if (hwloc_distances_get_by_type(t, HWLOC_OBJ_NUMANODE, &nr, nullptr, latency, 0) != 0 || nr == 0) return nullptr;
  std::vector<hwloc_distances_s*> all(nr, nullptr);
  if (hwloc_distances_get_by_type(t, HWLOC_OBJ_NUMANODE, &nr, all.data(), latency, 0) != 0) return nullptr;
  all.resize(std::min<std::size_t>(nr, all.size()));
  hwloc_distances_s* pick = nullptr;
  for (hwloc_distances_s* d : all) {
    const char* name = hwloc_distances_get_name(t, d);
    if (pick == nullptr && name != nullptr && std::string_view(name) == "NUMALatency") pick = d;
  }
  if (pick == nullptr && !all.empty()) pick = all.front();
  for (hwloc_distances_s* d : all)
    if (d != pick) hwloc_distances_release(t, d);
  return pick;
}

/// hwloc 2.x refuses XML written by hwloc 3.0 with a bare EINVAL; say why instead.
inline status check_xml_version(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return io_error("cannot open XML", path, errno);
  std::string head(4096, '\0');
  head.resize(std::fread(head.data(), 1, head.size(), f));
  std::fclose(f);
  const auto at = head.find("<topology version=\"");
  if (at == std::string::npos) return {};  // hwloc 1.x XML has no version: hwloc decides
  const char* p = head.c_str() + at + 19;
  const unsigned long major = std::strtoul(p, nullptr, 10);
  const unsigned supported = hwloc_get_api_version() >> 16;
  if (major > supported) {
    error e{errc::unsupported, "XML format "};
    return e << major << ".x in '" << std::string_view(path) << "' needs hwloc >= " << major << ".0; this hwloc reads "
             << supported << ".x";
  }
  return {};
}

}  // namespace detail

/// Converts a balancekit level string ("package:2 numa:2 l3:2 cluster:2 core:4 pu:2",
/// aliases as in spec.hpp) to hwloc's synthetic syntax ("pack:2 numa:2 l3:2 l2:2 core:4
/// pu:2"). hwloc wants PUs as the last level, so "pu:1" is added when there is none.
/// Counts are passed through; hwloc (or the spec parser) judges them.
[[nodiscard]] inline result<std::string> to_hwloc_synthetic(std::string_view levels) {
  using balancekit::detail::spec_level;
  std::string out;
  bool has_pu = false;
  std::string_view text = levels;
  while (true) {
    const std::string_view tok = balancekit::detail::next_token(text, " \t\n\r");
    if (tok.empty()) break;
    const auto colon = tok.find(':');
    const std::string_view name = tok.substr(0, colon);
    const balancekit::detail::spec_alias* alias = nullptr;
    for (const auto& a : balancekit::detail::spec_aliases)
      if (balancekit::detail::iequals(a.name, name)) alias = &a;
    if (alias == nullptr) {
      error e{errc::unknown_name, "unknown level '"};
      return e << name << "' in '" << tok << "' (known: package, numa, die, l3, cluster, core, pu)";
    }
    std::string_view hw;
    switch (alias->level) {
      case spec_level::package: hw = "pack"; break;
      case spec_level::die: hw = "die"; break;
      case spec_level::l3: hw = "l3"; break;
      case spec_level::cluster: hw = "l2"; break;  // a cluster is the L2 shared by its cores
      case spec_level::core: hw = "core"; break;
      case spec_level::pu: hw = "pu"; has_pu = true; break;
      case spec_level::numa: hw = "numa"; break;
    }
    if (!out.empty()) out += ' ';
    out += hw;
    if (colon != std::string_view::npos) out += tok.substr(colon);
  }
  if (out.empty()) return error{errc::syntax, "the level string is empty (e.g. 'package:2 core:4 pu:2')"};
  if (!has_pu) out += " pu:1";
  return out;
}

/// Builds `out` from a loaded hwloc topology (see the file comment for the mapping).
/// Errors: errc::unsupported for what balancekit does not model (the message says what),
/// the builder's errors (over_limit, not_nested, bad_distance, ...) otherwise.
template <limits_pack L>
[[nodiscard]] status from_hwloc(hwloc_topology_t t, topology<L>& out, import_report* report = nullptr) {
  std::vector<std::string> notes;
  std::vector<std::size_t> unplaced;
  const auto finish = [&](status s) {
    if (!s) out.clear();
    if (report != nullptr) {
      report->notes = std::move(notes);
      report->offline_unplaced = std::move(unplaced);
    }
    return s;
  };

  hwloc_const_bitmap_t topo = hwloc_topology_get_topology_cpuset(t);
  hwloc_const_bitmap_t complete = hwloc_topology_get_complete_cpuset(t);
  {
    detail::bitmap rest;
    hwloc_bitmap_andnot(rest.b, complete, topo);
    for (int id = hwloc_bitmap_first(rest.b); id >= 0; id = hwloc_bitmap_next(rest.b, id))
      unplaced.push_back(static_cast<std::size_t>(id));
    if (!unplaced.empty())
      notes.push_back(std::to_string(unplaced.size()) +
                      " CPU(s) exist but have no placement (offline or not allowed); see offline_unplaced");
  }

  // NUMA nodes in ascending os_index order, the order machine_desc's matrix uses.
  struct node_info {
    unsigned id;
    hwloc_obj_t obj;
    int weight;
  };
  std::vector<node_info> nodes;
  for (hwloc_obj_t n = hwloc_get_next_obj_by_type(t, HWLOC_OBJ_NUMANODE, nullptr); n != nullptr;
       n = hwloc_get_next_obj_by_type(t, HWLOC_OBJ_NUMANODE, n)) {
    if (n->os_index >= L::max_nodes) {
      error e{errc::over_limit, "node "};
      return finish(e << n->os_index << " is above the limit of " << L::max_nodes << " nodes");
    }
    nodes.push_back({n->os_index, n, n->cpuset != nullptr ? hwloc_bitmap_weight(n->cpuset) : 0});
  }
  std::sort(nodes.begin(), nodes.end(), [](const node_info& a, const node_info& b) { return a.id < b.id; });
  for (std::size_t i = 1; i < nodes.size(); ++i)
    if (nodes[i].id == nodes[i - 1].id) {
      error e{errc::duplicate, "hwloc has two NUMA nodes with os_index "};
      return finish(e << nodes[i].id);
    }

  auto desc = std::make_unique<machine_desc<L>>();
  const bool has_core = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE) > 0;
  const bool has_package = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PACKAGE) > 0;
  bool any_cluster = false;
  bool any_llc = false;
  detail::bitmap scratch;

  // Each unit's key must stand for exactly the CPUs of the object it came from; if the
  // per-CPU choices overlap (a cache present above some cores but not their neighbours),
  // the partition would be invented, so say so instead.
  struct unit_check {
    hwloc_const_bitmap_t expect;
    std::vector<std::uint32_t> cpus;
  };
  std::array<std::map<std::uint32_t, unit_check>, nested_levels> seen;

  for (hwloc_obj_t pu = hwloc_get_next_obj_by_type(t, HWLOC_OBJ_PU, nullptr); pu != nullptr;
       pu = hwloc_get_next_obj_by_type(t, HWLOC_OBJ_PU, pu)) {
    if (pu->os_index >= L::max_cpus) {
      error e{errc::over_limit, "CPU "};
      return finish(e << pu->os_index << " is above the limit of " << L::max_cpus << " CPUs");
    }
    hwloc_obj_t core = detail::ancestor(t, HWLOC_OBJ_CORE, pu);
    if (core == nullptr) core = pu;
    hwloc_obj_t llc = detail::ancestor(t, HWLOC_OBJ_L3CACHE, pu);
    // A memory-side cache (KNL MCDRAM in cache mode) is not in the kernel's cacheinfo.
    while (llc != nullptr && detail::is_memory_side(llc)) llc = detail::ancestor(t, HWLOC_OBJ_L3CACHE, llc);
    if (llc == nullptr) llc = detail::ancestor(t, HWLOC_OBJ_L2CACHE, pu);
    if (llc != nullptr && hwloc_bitmap_isincluded(llc->cpuset, core->cpuset)) llc = nullptr;
    if (llc != nullptr) any_llc = true;
    if (llc == nullptr) llc = core;  // kernel: no shared cache, MC == the core
    hwloc_obj_t cluster = core;
    const int core_weight = hwloc_bitmap_weight(core->cpuset);
    for (hwloc_obj_t o = core->parent; o != nullptr && o != llc; o = o->parent) {
      // Stop at the LLC: the kernel clamps the cluster mask to the coregroup mask.
      if (hwloc_bitmap_isincluded(llc->cpuset, o->cpuset)) break;
      if (detail::is_cluster_group(o) || (o->type == HWLOC_OBJ_L2CACHE && hwloc_bitmap_weight(o->cpuset) > core_weight)) {
        cluster = o;
        any_cluster = true;
        break;
      }
    }
    hwloc_obj_t package = detail::ancestor(t, HWLOC_OBJ_PACKAGE, pu);
    if (package == nullptr && has_package) {  // else "the whole machine" would overlap the packages
      error e{errc::unsupported, "CPU "};
      return finish(e << pu->os_index << " has no package while other CPUs have one; balancekit needs every CPU in a package");
    }
    hwloc_obj_t die = detail::ancestor(t, HWLOC_OBJ_DIE, pu);
    const std::array<hwloc_const_bitmap_t, nested_levels> sets{
        core->cpuset, cluster->cpuset, llc->cpuset, die != nullptr ? die->cpuset : package != nullptr ? package->cpuset : topo,
        package != nullptr ? package->cpuset : topo};

    // The node: the smallest containing cpuset wins, so DDR beats MCDRAM/HBM over the
    // same CPUs and an SNC node beats a whole-socket one.
    const node_info* node = nullptr;
    for (const node_info& n : nodes)
      if (n.obj->cpuset != nullptr && hwloc_bitmap_isset(n.obj->cpuset, pu->os_index))
        if (node == nullptr || n.weight < node->weight) node = &n;
    if (node == nullptr) {
      error e{errc::unsupported, "CPU "};
      return finish(e << pu->os_index << " is in no NUMA node's cpuset (its node may be disallowed); balancekit needs a node per CPU");
    }

    cpu_desc c;
    c.id = pu->os_index;
    for (std::size_t l = 0; l < nested_levels; ++l) {
      c.unit[l] = detail::first_pu(sets[l], topo, scratch.b);
      auto [it, fresh] = seen[l].try_emplace(c.unit[l], unit_check{sets[l], {}});
      if (!fresh && !hwloc_bitmap_isequal(it->second.expect, sets[l])) {
        error e{errc::unsupported, "CPU "};
        return finish(e << c.id << ": its " << balancekit::to_string(hw_levels[l])
                        << " overlaps another CPU's but differs from it (a cache or group covers only some "
                           "cores); balancekit needs each level to partition the CPUs");
      }
      it->second.cpus.push_back(c.id);
    }
    c.node = node->id;
    if (desc->cpus.full()) {  // unreachable: ids are unique and below max_cpus
      error e{errc::over_limit, "more than "};
      return finish(e << L::max_cpus << " CPUs");
    }
    desc->cpus.push_back(c);
  }
  // Every unit must hold all the CPUs of its object (else two levels chose differently).
  for (std::size_t l = 0; l < nested_levels; ++l)
    for (const auto& [key, u] : seen[l]) {
      hwloc_bitmap_and(scratch.b, u.expect, topo);
      if (static_cast<std::size_t>(hwloc_bitmap_weight(scratch.b)) != u.cpus.size()) {
        error e{errc::unsupported, "the "};
        return finish(e << balancekit::to_string(hw_levels[l]) << " of CPU " << key
                        << " is chosen by only some of its CPUs (a cache or group covers only some cores); "
                           "balancekit needs each level to partition the CPUs");
      }
    }

  for (const node_info& n : nodes) desc->nodes.set(n.id);

  // Distances, row-major over ascending node ids.
  if (hwloc_distances_s* d = detail::numa_latency(t); d != nullptr) {
    const char* raw_name = hwloc_distances_get_name(t, d);
    const std::string name = raw_name != nullptr ? raw_name : "unnamed";
    std::vector<std::size_t> index_of(d->nbobjs, 0);
    bool covers = d->nbobjs == nodes.size();
    for (unsigned i = 0; covers && i < d->nbobjs; ++i) {
      const auto it = std::find_if(nodes.begin(), nodes.end(), [&](const node_info& n) { return n.obj == d->objs[i]; });
      if (it == nodes.end()) covers = false;
      else index_of[i] = static_cast<std::size_t>(it - nodes.begin());
    }
    if (!covers) {
      const auto nb = d->nbobjs;
      hwloc_distances_release(t, d);
      error e{errc::unsupported, "the NUMA distance matrix '"};
      return finish(e << std::string_view(name) << "' covers " << nb << " objects but there are " << nodes.size()
                      << " NUMA nodes; balancekit needs one distance per pair of nodes");
    }
    const std::size_t nn = nodes.size();
    std::vector<std::uint16_t> m(nn * nn, 0);
    for (unsigned i = 0; i < d->nbobjs; ++i)
      for (unsigned j = 0; j < d->nbobjs; ++j) {
        // Saturate: anything above 254 is rejected by the builder as a bad distance anyway.
        const hwloc_uint64_t v = d->values[std::size_t{i} * d->nbobjs + j];
        m[index_of[i] * nn + index_of[j]] = static_cast<std::uint16_t>(std::min<hwloc_uint64_t>(v, 65535));
      }
    hwloc_distances_release(t, d);
    for (std::uint16_t v : m) desc->distances.push_back(v);
    notes.push_back("NUMA distances from hwloc matrix '" + name + "'");
  } else if (nodes.size() > 1) {
    notes.push_back("no NUMA distance matrix; using the kernel default 10/20");
  }

  // Capacity: Linux's cpu_capacity (arm64, RISC-V) via cpukinds; x86 reports 1024 even on
  // hybrid parts, which is what no information means here too.
  {
    const int nr_kinds = hwloc_cpukinds_get_nr(t, 0);
    std::vector<std::pair<hwloc_bitmap_t, unsigned long>> kinds;
    bool all_known = nr_kinds > 0;
    for (int k = 0; k < nr_kinds; ++k) {
      hwloc_bitmap_t cs = hwloc_bitmap_alloc();
      int efficiency = 0;
      unsigned nr_infos = 0;
      hwloc_info_s* infos = nullptr;
      if (hwloc_cpukinds_get_info(t, static_cast<unsigned>(k), cs, &efficiency, &nr_infos, &infos, 0) != 0) {
        hwloc_bitmap_free(cs);
        all_known = false;
        continue;
      }
      unsigned long cap = 0;
      for (unsigned i = 0; i < nr_infos; ++i)
        if (infos[i].name != nullptr && infos[i].value != nullptr && std::string_view(infos[i].name) == "LinuxCapacity")
          cap = std::strtoul(infos[i].value, nullptr, 10);
      if (cap == 0) all_known = false;
      kinds.emplace_back(cs, cap);
    }
    if (all_known) {
      detail::bitmap covered;
      for (const auto& k : kinds) hwloc_bitmap_or(covered.b, covered.b, k.first);
      if (!hwloc_bitmap_isincluded(topo, covered.b)) all_known = false;
    }
    if (all_known) {
      unsigned long max = 0;
      for (const auto& k : kinds) max = std::max(max, k.second);
      for (cpu_desc& c : desc->cpus)
        for (const auto& k : kinds)
          if (hwloc_bitmap_isset(k.first, c.id)) {
            const unsigned long scaled = (k.second * sched_capacity_scale + max / 2) / max;
            c.capacity = static_cast<std::uint32_t>(std::clamp<unsigned long>(scaled, 1, sched_capacity_scale));
          }
      notes.push_back("capacity from Linux cpu_capacity (LinuxCapacity), scaled to 1024");
    } else if (nr_kinds > 1) {
      notes.push_back(std::to_string(nr_kinds) +
                      " CPU kinds without LinuxCapacity for every CPU; capacity 1024 everywhere (as x86 kernels report)");
    }
    for (auto& k : kinds) hwloc_bitmap_free(k.first);
  }

  desc->described[static_cast<std::size_t>(hw_level::core)] = has_core;
  desc->described[static_cast<std::size_t>(hw_level::cluster)] = any_cluster;
  desc->described[static_cast<std::size_t>(hw_level::llc)] = any_llc;
  desc->described[static_cast<std::size_t>(hw_level::die)] = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_DIE) > 0;
  desc->described[static_cast<std::size_t>(hw_level::package)] = has_package;
  desc->described[static_cast<std::size_t>(hw_level::node)] = !nodes.empty();

  return finish(topology<L>::build(*desc, out));
}

namespace detail {

/// init → configure → load → from_hwloc, with the source named in errors and the report.
template <limits_pack L, class Configure>
status load_with(std::string source, Configure&& configure, topology<L>& out, import_report* report) {
  if (report != nullptr) {
    report->source = source;
    report->notes.clear();
    report->offline_unplaced.clear();
  }
  const auto fail = [&](status s) {
    out.clear();
    return s;
  };
  topology_handle h;
  if (!h.init()) return fail(io_error("hwloc_topology_init for", source, errno));
  // I/O devices are irrelevant to CPU topology and slow to discover.
  hwloc_topology_set_io_types_filter(h.get(), HWLOC_TYPE_FILTER_KEEP_NONE);
  if (status s = configure(h.get()); !s) return fail(s);
  errno = 0;
  if (hwloc_topology_load(h.get()) != 0) {
    const int err = errno != 0 ? errno : EINVAL;
    return fail(io_error("hwloc could not load", source, err));
  }
  return from_hwloc(h.get(), out, report);
}

}  // namespace detail

/// The machine this process runs on (what hwloc sees: cgroup-disallowed CPUs are left out).
template <limits_pack L>
[[nodiscard]] status load_host(topology<L>& out, import_report* report = nullptr) {
  return detail::load_with<L>("host", [](hwloc_topology_t) { return status{}; }, out, report);
}

/// An hwloc XML export (`lstopo file.xml`).
template <limits_pack L>
[[nodiscard]] status load_xml(const std::string& path, topology<L>& out, import_report* report = nullptr) {
  return detail::load_with<L>(
      "xml:" + path,
      [&](hwloc_topology_t t) -> status {
        if (status s = detail::check_xml_version(path); !s) return s;
        errno = 0;
        if (hwloc_topology_set_xml(t, path.c_str()) != 0)
          return detail::io_error("hwloc cannot read XML", path, errno != 0 ? errno : EINVAL);
        return {};
      },
      out, report);
}

/// An hwloc synthetic description ("pack:2 numa:2 l3:2 core:4 pu:2"); see
/// to_hwloc_synthetic for balancekit level strings.
template <limits_pack L>
[[nodiscard]] status load_synthetic(const std::string& description, topology<L>& out,
                                    import_report* report = nullptr) {
  return detail::load_with<L>(
      "synthetic:" + description,
      [&](hwloc_topology_t t) -> status {
        errno = 0;
        if (hwloc_topology_set_synthetic(t, description.c_str()) != 0)
          return detail::io_error("hwloc rejects synthetic description", description, errno != 0 ? errno : EINVAL);
        return {};
      },
      out, report);
}

/// An unpacked Linux sysfs snapshot (hwloc-gather-topology, hwloc's tests/hwloc/linux),
/// read as `lstopo -i dir --if fsroot` does. Sets HWLOC_FSROOT, HWLOC_COMPONENTS,
/// HWLOC_THISSYSTEM (and HWLOC_DUMPED_HWDATA_DIR) for the load only, then restores them:
/// not safe while other threads read the environment or load hwloc topologies.
template <limits_pack L>
[[nodiscard]] status load_fsroot(const std::string& dir, topology<L>& out, import_report* report = nullptr) {
  detail::env_override fsroot("HWLOC_FSROOT", dir);
  // linux only: the x86 CPUID backend would describe the host, not the snapshot.
  detail::env_override components("HWLOC_COMPONENTS", "linux,stop");
  detail::env_override thissystem("HWLOC_THISSYSTEM", "0");
  std::optional<detail::env_override> hwdata;
  std::error_code ec;
  const std::string hwdata_dir = dir + "/var/run/hwloc";
  if (std::filesystem::is_directory(hwdata_dir, ec)) hwdata.emplace("HWLOC_DUMPED_HWDATA_DIR", hwdata_dir);
  return detail::load_with<L>(
      "fsroot:" + dir,
      [&](hwloc_topology_t) -> status {
        std::error_code dir_ec;
        if (!std::filesystem::is_directory(dir, dir_ec))
          return detail::io_error("no sysfs snapshot directory", dir, dir_ec ? dir_ec.value() : ENOENT);
        return {};
      },
      out, report);
}

}  // namespace balancekit::hwloc
