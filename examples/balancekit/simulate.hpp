// `balancekit balance`: the system model run round by round, with CPU hogs and, optionally,
// light tasks that sleep most of their period and wake through the pack's placement.
#pragma once

#include <balancekit/balancekit.hpp>

#include <fmt/format.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "cli_common.hpp"

namespace bkcli {

struct balance_options {
  topology_options machine;
  std::string rules = "linux";
  std::optional<std::size_t> tasks;  // default: 1.5 per CPU, or none when light tasks are asked for
  std::size_t start = 0;
  bool spread = false;
  std::uint64_t weight = balancekit::nice_0_load;
  std::uint64_t demand = balancekit::sched_capacity_scale;
  std::uint32_t rounds = 200;
  std::uint32_t quiet = 8;
  std::string packing = "none";
  std::int64_t margin = 80;
  std::size_t light = 0;
  std::uint64_t light_demand = 200;
  std::uint32_t light_run = 1;
  std::uint32_t light_sleep = 3;
};

/// The packing policies `balance --packing` knows, besides `none`.
inline constexpr std::array<std::string_view, 7> packing_names{
    "conf0", "conf1", "conf2", "topology", "shi-powersaving", "shi-balance", "utilization"};

template <class P>
int simulate(const balance_options& o, const loaded& m, const cli_domains& tree) {
  using namespace balancekit;
  using L = large_limits;
  auto sys = std::make_unique<model::system<P, L>>(tree);
  sys->reset();
  if constexpr (std::is_same_v<typename P::packing::template state<L>, packing::batch_claims<L>>)
    if (status s = packing::set_margin(sys->state().packing, o.margin); !s)
      fail("--margin: " + std::string(s.error_value().message.view()));
  const auto& online = m.topology->online();
  const std::size_t hogs = o.tasks ? *o.tasks : (o.light != 0 ? 0 : online.weight() * 3 / 2);
  for (std::size_t i = 0; i < hogs; ++i) {
    const std::size_t cpu = o.spread ? online.nth(i % online.weight()) : o.start;
    if (sys->fork({i, o.weight, o.demand, ~cpumask<L::max_cpus>{}}, cpu) == no_task)
      fail(fmt::format("could not place task {} on CPU {}", i, cpu));
  }
  for (std::size_t i = 0; i < o.light; ++i) {
    const std::size_t cpu = online.nth(i % online.weight());
    model::task_spec<L> s{hogs + i, nice_0_load, o.light_demand, ~cpumask<L::max_cpus>{}, o.light_run, o.light_sleep};
    if (sys->fork(s, cpu) == no_task) fail(fmt::format("could not place light task {} on CPU {}", i, cpu));
  }
  fmt::print("{} tasks (weight {}, demand {}) {} on {} CPUs; rules: {}; a round = {} ms\n", hogs, o.weight, o.demand,
             o.spread ? "spread" : fmt::format("started on CPU {}", o.start), online.weight(), o.rules,
             sys->default_round_length() / 1'000'000);
  const bool light = o.light != 0;
  if (light)
    fmt::print("{} light tasks (demand {}, run {} round(s), sleep {}), started round-robin; packing: {}{}\n", o.light,
               o.light_demand, o.light_run, o.light_sleep, o.packing,
               o.packing == "utilization" ? fmt::format(" (margin {} %)", o.margin) : std::string{});
  fmt::print("{:>6} {:>10} {:>9} {:>14} {:>11}  {}{}\n", "round", "migrations", "periodic", "newidle+active", "idle/over",
             "I1", light ? "       woken  packed  on CPUs" : "");
  std::uint32_t quiet = 0;
  std::uint32_t last_active = 0;
  std::array<std::uint64_t, 32> branches{};
  for (std::uint32_t r = 1; r <= o.rounds && quiet < o.quiet; ++r) {
    const std::size_t before = sys->log().size();
    const std::size_t placed_before = sys->placements().size();
    const auto rep = sys->round();
    std::size_t periodic = 0;
    for (std::size_t i = before; i < sys->log().size(); ++i)
      periodic += sys->log()[i].move.reason == migration_reason::periodic ? 1U : 0U;
    const bool wc = !check::work_conservation(tree.cpu_map(), sys->snap()).found;
    quiet = rep.migrations == 0 ? quiet + 1 : 0;
    if (rep.migrations != 0) last_active = r;
    std::string woken;
    if (light) {
      std::size_t packed = 0;
      cpumask<L::max_cpus> cpus;
      for (std::size_t i = placed_before; i < sys->placements().size(); ++i) {
        const auto& p = sys->placements()[i];
        ++branches[static_cast<std::size_t>(p.why)];
        packed += p.why >= placement_branch::packing_buddy ? 1U : 0U;
        cpus.set(p.cpu);
      }
      woken = fmt::format("  {:>10} {:>7} {:>8}", sys->placements().size() - placed_before, packed, cpus.weight());
    }
    const std::string i1 = wc ? "holds" : "violated";
    fmt::print("{:>6} {:>10} {:>9} {:>14} {:>5}/{:<5}  {}{}\n", r, rep.migrations, periodic,
               (sys->log().size() - before) - periodic, rep.idle_cpus, rep.overloaded_cpus,
               light ? fmt::format("{:<8}", i1) : i1, woken);
  }
  if (quiet >= o.quiet)
    fmt::print("fixpoint: no migration in the last {} rounds; the last move was in round {}\n", o.quiet, last_active);
  else
    fmt::print("no fixpoint within {} rounds (the last move was in round {})\n", o.rounds, last_active);
  fmt::print("total migrations: {}{}\n", sys->total_migrations(),
             sys->dropped_log_entries() != 0 ? fmt::format(" ({} not kept in the log)", sys->dropped_log_entries()) : "");
  if (light) {
    std::string by;
    for (std::size_t b = 0; b < branches.size(); ++b)
      if (branches[b] != 0)
        by += fmt::format("{}{} {}", by.empty() ? "" : ", ", branches[b], to_string(static_cast<placement_branch>(b)));
    fmt::print("placements: {} ({})\n", sys->placements().size() + sys->dropped_placements(), by.empty() ? "none" : by);
  }
  return 0;
}

/// The run with a packing policy other than none, under Linux's other rules (in its own
/// translation unit: each pack is a model of its own to compile).
int simulate_packed(const balance_options& o, const loaded& m, const cli_domains& tree);

}  // namespace bkcli
