// `balancekit simulate`: the time-driven simulator on a named workload, with a metrics
// table, a CSV timeline or one JSON object.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cli_common.hpp"

namespace bkcli {

struct simulate_options {
  topology_options machine;
  std::string workload = "hogs";
  std::string rules = "linux";
  std::optional<std::size_t> tasks;  // default: 1.5 per CPU for hogs, 1 per CPU for light
  std::size_t light = 0;             // for mixed: the light tasks beside the hogs
  std::size_t fds = 20;              // hackbench: senders (and receivers) per group
  std::size_t workers = 16;          // schbench: workers per messenger
  double footprint_kib = 0;          // every task's LLC footprint (the cost model's over-subscription)
  std::uint32_t memory_permille = 0; // … and the share of its time spent on it
  // NUMA memory (numa-private, numa-shared, mysql): MiB per task or process (0: the
  // workload's default), processes sharing memory (0: the default), the share of accesses
  // to shared memory (unset: the default), and the share of time on memory when local.
  double memory_mib = 0;
  std::size_t processes = 0;
  std::optional<std::uint32_t> shared_permille;
  std::uint32_t dram_permille = 300;
  std::optional<std::size_t> memory_node;  // where the memory starts (default: the start CPU's node)
  std::vector<std::string> costs;    // NAME=VALUE overrides of the cost model
  double work_us = 1000;
  double period_us = 10000;
  std::string start = "released";
  std::optional<std::size_t> start_cpu;  // default 0; for s2 the first CPU of the second node (the paper's node 1)
  std::optional<std::size_t> s2_node;    // s2: the second node (default: the farthest from the start CPU's)
  double seconds = 2;
  double step_ms = 100;
  std::string format = "table";
  std::uint64_t seed = 0;  // light tasks' start offsets (0: evenly staggered)
  std::string plot;        // an SVG to draw with gnuplot (the data and script go beside it)
};

/// Checks the options, loads the machine, runs, prints. Bad input throws `bad_input`.
int run_simulate(const simulate_options& o);

/// The same workload under each of `policies` (comma-separated rule names), one table
/// with each metric relative to the first policy.
int run_compare(const simulate_options& o, const std::string& policies);

/// The machines, workloads and policies the commands know.
int run_list();

/// The runs of a sweep file (machines × workloads × policies × seeds) as JSON lines, those
/// of shard K of N ("K/N", empty: all).
int run_sweep(const std::string& file, const std::string& shard);

/// The main job: five experiments with their tables and plots, written under `out_dir`.
int run_tour(const std::string& out_dir);

/// A summary of sweep outputs (JSON lines files), grouped over seeds.
int run_sweep_merge(const std::vector<std::string>& files);

}  // namespace bkcli
