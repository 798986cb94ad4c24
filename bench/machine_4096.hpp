// The 4096-CPU machine the benchmarks share: 8 sockets x 4 nodes x 4 LLCs x 16 cores x 2
// threads; SLIT 12 within a socket, 32 across.
#pragma once

#include <balancekit/topology/spec.hpp>

#include <string>

namespace bench {

inline constexpr const char* levels_4096 = "package:8 numa:4 l3:4 core:16 pu:2";

/// The two-level SLIT as a spec matrix, built once.
inline const std::string& distances_4096() {
  static const std::string m = [] {
    constexpr int sockets = 8;
    constexpr int nodes_per_socket = 4;
    constexpr int n = sockets * nodes_per_socket;
    std::string s;
    for (int a = 0; a < n; ++a) {
      for (int b = 0; b < n; ++b)
        s += (a == b ? "10" : a / nodes_per_socket == b / nodes_per_socket ? "12" : "32") + std::string(b + 1 < n ? " " : "");
      s += a + 1 < n ? ";" : "";
    }
    return s;
  }();
  return m;
}

inline balancekit::machine_spec machine_4096() { return {levels_4096, distances_4096()}; }

}  // namespace bench
