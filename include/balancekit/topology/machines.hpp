/// \file
/// Built-in named machines: the seeds' machines and a few that exercise the model.
/// docs/topology.md gives the source of every number here.
#pragma once

#include <array>
#include <optional>
#include <string_view>

#include <balancekit/topology/spec.hpp>

namespace balancekit {

struct named_machine {
  std::string_view name;
  std::string_view summary;
  machine_spec spec;
};

namespace machines {

/// Seed 000: 4 sockets x 16 LCPUs (8 cores x 2 threads), one node per socket, LCPUs
/// 0-15 on socket 0 as in the seed's buddy table. The seed gives no SLIT; 21 is the usual
/// value for directly linked Intel sockets.
inline constexpr named_machine seed64{
    "seed64", "seed 000: 4 sockets x 8 cores x 2 threads, one node per socket",
    {"package:4 numa:1 l3:1 core:8 pu:2",
     "10 21 21 21;21 10 21 21;21 21 10 21;21 21 21 10"}};

/// Seed 001: the Hygon server, 2 sockets x 6 nodes x 2 LLCs x 8 cores x 2 threads = 384.
/// SLIT: the seed gives none; 16 between nodes of one socket and 32 across sockets is
/// the pattern of AMD Naples / Hygon Dhyana multi-die parts (and puts the cross-socket
/// level beyond RECLAIM_DISTANCE 30, as on those machines).
inline constexpr named_machine hygon384{
    "hygon384", "seed 001: Hygon, 2 sockets x 6 nodes x 2 LLCs x 8 cores x 2 threads",
    {"package:2 numa:6 l3:2 core:8 pu:2",
     "10 16 16 16 16 16 32 32 32 32 32 32;"
     "16 10 16 16 16 16 32 32 32 32 32 32;"
     "16 16 10 16 16 16 32 32 32 32 32 32;"
     "16 16 16 10 16 16 32 32 32 32 32 32;"
     "16 16 16 16 10 16 32 32 32 32 32 32;"
     "16 16 16 16 16 10 32 32 32 32 32 32;"
     "32 32 32 32 32 32 10 16 16 16 16 16;"
     "32 32 32 32 32 32 16 10 16 16 16 16;"
     "32 32 32 32 32 32 16 16 10 16 16 16;"
     "32 32 32 32 32 32 16 16 16 10 16 16;"
     "32 32 32 32 32 32 16 16 16 16 10 16;"
     "32 32 32 32 32 32 16 16 16 16 16 10"}};

/// A big.LITTLE phone: 4 little CPUs (0-3) and 4 big ones (4-7) in two clusters under
/// one shared L3 (DynamIQ), little CPUs first as on Qualcomm parts.
inline constexpr named_machine phone8{
    "phone8", "big.LITTLE phone: 4 little (capacity 446) + 4 big (1024) in two clusters",
    {"package:1 l3:1 cluster:2 core:4 pu:1", "", "0-3:446,4-7:1024"}};

/// The Wasted Cores machine as the verification notes model it: 8 nodes of 8 cores
/// (Bulldozer modules of 2 cores as clusters, one L3 per node) with the synthetic T8
/// distances: 16 at one hop, 22 at two hops, nodes 1 and 2 two hops apart. T8 does not
/// pair nodes into sockets, so packages are not described.
inline constexpr named_machine opteron64{
    "opteron64", "Wasted Cores: 8 nodes x 8 cores, T8 distances (1 and 2 are two hops apart)",
    {"numa:8 l3:1 cluster:4 core:2 pu:1",
     "10 16 16 22 16 22 16 22;"
     "16 10 22 16 22 16 22 22;"
     "16 22 10 16 22 22 16 22;"
     "22 16 16 10 16 16 22 16;"
     "16 22 22 16 10 22 22 16;"
     "22 16 22 16 22 10 16 22;"
     "16 22 16 22 22 16 10 16;"
     "22 22 22 16 16 22 16 10"}};

/// One CPU.
inline constexpr named_machine uni1{"uni1", "one CPU", {"pu:1"}};

inline constexpr std::array<named_machine, 5> all{seed64, hygon384, phone8, opteron64, uni1};

/// The machine the CLI uses when none is named.
inline constexpr named_machine default_machine = hygon384;

/// Looks a machine up by name.
[[nodiscard]] constexpr std::optional<named_machine> find(std::string_view name) noexcept {
  for (const named_machine& m : all)
    if (m.name == name) return m;
  return std::nullopt;
}

}  // namespace machines
}  // namespace balancekit
