/// \file
/// Scheduling-domain flags, their metaflags, and how each kernel profile names and
/// orders them.
///
/// kernel: include/linux/sched/sd_flags.h (SD_FLAG(name, metaflags)); v6.1 has
/// SD_SHARE_PKG_RESOURCES and SD_OVERLAP and no SD_CLUSTER; mainline renamed the first to
/// SD_SHARE_LLC, added SD_CLUSTER (v6.8) and removed SD_OVERLAP (2025).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string_view>

#include <balancekit/core/static_vector.hpp>

namespace balancekit {

/// The flags, independent of any kernel's bit positions. `overlap` is 6.1's SD_OVERLAP:
/// set on NUMA levels whose groups overlap (every SD_NUMA level but NODE).
enum class sd_flag : std::uint8_t {
  balance_newidle,
  balance_exec,
  balance_fork,
  balance_wake,
  wake_affine,
  asym_cpucapacity,
  asym_cpucapacity_full,
  share_cpucapacity,
  cluster,
  share_llc,
  serialize,
  asym_packing,
  prefer_sibling,
  overlap,
  numa,
};
inline constexpr std::size_t sd_flag_count = 15;

/// A set of `sd_flag`s.
class sd_flags {
public:
  constexpr sd_flags() = default;
  constexpr sd_flags(std::initializer_list<sd_flag> fs) noexcept {
    for (sd_flag f : fs) set(f);
  }
  [[nodiscard]] constexpr bool has(sd_flag f) const noexcept { return (bits_ & bit(f)) != 0; }
  [[nodiscard]] constexpr bool any_of(sd_flags o) const noexcept { return (bits_ & o.bits_) != 0; }
  constexpr sd_flags& set(sd_flag f) noexcept { bits_ |= bit(f); return *this; }
  constexpr sd_flags& clear(sd_flag f) noexcept { bits_ &= ~bit(f); return *this; }
  [[nodiscard]] constexpr bool empty() const noexcept { return bits_ == 0; }
  [[nodiscard]] constexpr std::uint32_t bits() const noexcept { return bits_; }
  friend constexpr sd_flags operator|(sd_flags a, sd_flags b) noexcept { return from_bits(a.bits_ | b.bits_); }
  friend constexpr sd_flags operator&(sd_flags a, sd_flags b) noexcept { return from_bits(a.bits_ & b.bits_); }
  friend constexpr sd_flags operator-(sd_flags a, sd_flags b) noexcept { return from_bits(a.bits_ & ~b.bits_); }
  friend constexpr bool operator==(sd_flags, sd_flags) = default;

private:
  static constexpr std::uint32_t bit(sd_flag f) noexcept { return std::uint32_t{1} << static_cast<unsigned>(f); }
  static constexpr sd_flags from_bits(std::uint32_t b) noexcept {
    sd_flags s;
    s.bits_ = b;
    return s;
  }
  std::uint32_t bits_ = 0;
};

/// Metaflags (kernel: SDF_SHARED_CHILD, SDF_SHARED_PARENT, SDF_NEEDS_GROUPS):
/// a SHARED_CHILD flag set on a domain must be set on its child, a SHARED_PARENT flag on
/// its parent; a NEEDS_GROUPS flag only means something with at least two groups.
struct sd_flag_meta {
  sd_flag flag;
  bool shared_child;
  bool shared_parent;
  bool needs_groups;
};

inline constexpr std::array<sd_flag_meta, sd_flag_count> sd_flag_metaflags{{
    {sd_flag::balance_newidle, true, false, true},
    {sd_flag::balance_exec, true, false, true},
    {sd_flag::balance_fork, true, false, true},
    {sd_flag::balance_wake, true, false, true},
    {sd_flag::wake_affine, true, false, false},
    {sd_flag::asym_cpucapacity, false, true, true},
    {sd_flag::asym_cpucapacity_full, false, true, true},
    {sd_flag::share_cpucapacity, true, false, true},
    {sd_flag::cluster, false, false, true},
    {sd_flag::share_llc, true, false, true},
    {sd_flag::serialize, false, true, true},
    {sd_flag::asym_packing, false, false, true},
    {sd_flag::prefer_sibling, false, false, true},
    {sd_flag::overlap, false, true, true},
    {sd_flag::numa, false, true, true},
}};

[[nodiscard]] constexpr const sd_flag_meta& metaflags(sd_flag f) noexcept {
  return sd_flag_metaflags[static_cast<std::size_t>(f)];
}

/// Flags that mean nothing with a single group (kernel: SD_DEGENERATE_GROUPS_MASK).
[[nodiscard]] constexpr sd_flags degenerate_groups_mask() noexcept {
  sd_flags m;
  for (const auto& meta : sd_flag_metaflags)
    if (meta.needs_groups) m.set(meta.flag);
  return m;
}

/// The kernel whose names, bit order and level tables a build follows.
enum class kernel_profile : std::uint8_t {
  linux_6_1,   ///< Debian 12's kernel, the oracle: DIE, SD_SHARE_PKG_RESOURCES, SD_OVERLAP
  mainline,    ///< PKG, SD_SHARE_LLC, SD_CLUSTER, no SD_OVERLAP (removed in 2025, v6.17)
  linux_6_12,  ///< Debian 12's 6.12 backport, the second oracle: mainline's, with SD_OVERLAP
};

[[nodiscard]] constexpr std::string_view to_string(kernel_profile p) noexcept {
  switch (p) {
    case kernel_profile::linux_6_1: return "linux-6.1";
    case kernel_profile::linux_6_12: return "linux-6.12";
    case kernel_profile::mainline: break;
  }
  return "mainline";
}

/// The profile names its NUMA levels' overlapping groups with SD_OVERLAP (which always
/// meant the same as SD_NUMA, and went in 2025).
[[nodiscard]] constexpr bool has_sd_overlap(kernel_profile p) noexcept { return p != kernel_profile::mainline; }

struct sd_flag_name {
  sd_flag flag;
  std::string_view name;
};

namespace detail {
// Every flag in the bit order the kernels share, with its name in 6.1 and in mainline;
// "" where that kernel does not have it (SD_CLUSTER is mainline's, SD_OVERLAP 6.1's). 6.12
// has mainline's names and SD_OVERLAP.
struct sd_flag_names_row {
  sd_flag flag;
  std::string_view v6_1;
  std::string_view mainline;
};
inline constexpr std::array<sd_flag_names_row, sd_flag_count> sd_flag_name_table{{
    {sd_flag::balance_newidle, "SD_BALANCE_NEWIDLE", "SD_BALANCE_NEWIDLE"},
    {sd_flag::balance_exec, "SD_BALANCE_EXEC", "SD_BALANCE_EXEC"},
    {sd_flag::balance_fork, "SD_BALANCE_FORK", "SD_BALANCE_FORK"},
    {sd_flag::balance_wake, "SD_BALANCE_WAKE", "SD_BALANCE_WAKE"},
    {sd_flag::wake_affine, "SD_WAKE_AFFINE", "SD_WAKE_AFFINE"},
    {sd_flag::asym_cpucapacity, "SD_ASYM_CPUCAPACITY", "SD_ASYM_CPUCAPACITY"},
    {sd_flag::asym_cpucapacity_full, "SD_ASYM_CPUCAPACITY_FULL", "SD_ASYM_CPUCAPACITY_FULL"},
    {sd_flag::share_cpucapacity, "SD_SHARE_CPUCAPACITY", "SD_SHARE_CPUCAPACITY"},
    {sd_flag::cluster, "", "SD_CLUSTER"},
    {sd_flag::share_llc, "SD_SHARE_PKG_RESOURCES", "SD_SHARE_LLC"},
    {sd_flag::serialize, "SD_SERIALIZE", "SD_SERIALIZE"},
    {sd_flag::asym_packing, "SD_ASYM_PACKING", "SD_ASYM_PACKING"},
    {sd_flag::prefer_sibling, "SD_PREFER_SIBLING", "SD_PREFER_SIBLING"},
    {sd_flag::overlap, "SD_OVERLAP", ""},
    {sd_flag::numa, "SD_NUMA", "SD_NUMA"},
}};
}  // namespace detail

/// The flags a profile knows, in its bit order, with its names.
[[nodiscard]] constexpr static_vector<sd_flag_name, sd_flag_count> sd_flag_names(kernel_profile p) noexcept {
  static_vector<sd_flag_name, sd_flag_count> out;
  for (const auto& row : detail::sd_flag_name_table) {
    std::string_view name = p == kernel_profile::linux_6_1 ? row.v6_1 : row.mainline;
    if (p == kernel_profile::linux_6_12 && row.flag == sd_flag::overlap) name = row.v6_1;
    if (!name.empty()) out.push_back({row.flag, name});
  }
  return out;
}

}  // namespace balancekit
