// `balancekit simulate` (docs/cli.md): each rule pack is a simulator of its own, compiled
// here rather than in main.cpp.
#include "simulate_time.hpp"

#include <balancekit/balancekit.hpp>
#include <balancekit/model/workloads.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <initializer_list>
#include <optional>
#include <type_traits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace bkcli {

loaded load_machine(const topology_options& o);  // main.cpp

namespace {

using namespace balancekit;
using L = large_limits;
constexpr double ns_per_s = 1e9;

struct sample {
  double time_s = 0;
  std::uint64_t migrations = 0;
  std::uint64_t wakeups = 0;
  std::size_t running = 0;
  std::size_t idle = 0;
  std::size_t overloaded = 0;
  std::size_t active = 0;  // CPUs that ran something during the step (a power proxy)
  std::size_t process_llcs = 0;  // LLCs holding a thread of process 0 (queued or running)
  std::size_t scope_llcs = 0;    // process 0's aggregation scope, in LLCs (topology-aware rules; else 0)
  bool work_conserving = true;
  double local_share = 1;  // NUMA: the share of the tasks' accesses to their CPU's node (1 without memory)
};

// The LLCs that hold a thread of process 0 — how far the process is spread.
template <class Sim>
std::size_t process_llcs(const Sim& sim, const cli_domains& tree) {
  cpumask<L::max_cpus> llcs;
  for (std::size_t c : tree.cpu_map())
    for (std::uint32_t t = sim.snap().head(c); t != no_task; t = sim.snap().next(t))
      if (sim.snap().task_at(t).process == 0) {
        llcs.set(tree.llc_id(c));
        break;
      }
  return llcs.weight();
}

// A progress bar on stderr, only when stderr is a terminal and the run has taken a second.
class progress {
public:
  explicit progress(double total_s) : total_(total_s), tty_(isatty(STDERR_FILENO) == 1) {}
  void show(double now_s) {
    if (!tty_) return;
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    if (wall < 1.0) return;
    const double f = total_ > 0 ? now_s / total_ : 1.0;
    const auto filled = static_cast<int>(f * 30);
    fmt::print(stderr, "\rsimulating [{:<30}] {:3.0f} % ({:.1f} of {:.1f} s, {:.1f} s wall)",
               std::string(static_cast<std::size_t>(filled), '='), f * 100, now_s, total_, wall);
    shown_ = true;
  }
  ~progress() {
    if (shown_) fmt::print(stderr, "\r{:80}\r", "");
  }
  progress(const progress&) = delete;
  progress& operator=(const progress&) = delete;

private:
  double total_;
  bool tty_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

struct run_result {
  nlohmann::json metrics;
  nlohmann::json metrics_numa;  // with a NUMA member: faults, migrations, locality, scheduling stats
  std::vector<sample> timeline;
  std::vector<std::vector<double>> cpu_util;  // per sample, per CPU of the map: util / capacity
  std::uint64_t wakeups = 0;
  double latency_mean_us = 0;
};

// The cost model with the command line's NAME=VALUE overrides; a bad one is bad input.
model::sim_costs parse_costs(const std::vector<std::string>& overrides) {
  model::sim_costs c;
  for (const std::string& kv : overrides) {
    const auto eq = kv.find('=');
    const std::string name = kv.substr(0, eq);
    std::uint64_t v = 0;
    const std::string value = eq == std::string::npos ? std::string{} : kv.substr(eq + 1);
    const char* end = value.data() + value.size();
    if (value.empty() || std::from_chars(value.data(), end, v).ptr != end)
      fail(fmt::format("--cost '{}': expected NAME=VALUE with a non-negative integer VALUE", kv));
    auto narrow = [&](std::uint32_t& field) {
      if (v > 0xFFFFFFFFULL) fail(fmt::format("--cost '{}': {} is too large", kv, v));
      field = static_cast<std::uint32_t>(v);
    };
    if (name == "smt_core_throughput") narrow(c.smt_core_throughput);
    else if (name == "message_lines") narrow(c.message_lines);
    else if (name == "dram_to_llc") {
      if (v == 0) fail(fmt::format("--cost '{}': dram_to_llc must be at least 1", kv));
      narrow(c.dram_to_llc);
    } else if (name == "line_same_core") c.line_same_core = static_cast<nanoseconds>(v);
    else if (name == "line_same_llc") c.line_same_llc = static_cast<nanoseconds>(v);
    else if (name == "line_same_node") c.line_same_node = static_cast<nanoseconds>(v);
    else if (name == "llc_bytes") c.llc_bytes = v;
    else if (name == "push") c.push = static_cast<nanoseconds>(v);
    else if (name == "ipi_send") c.ipi_send = static_cast<nanoseconds>(v);
    else if (name == "ipi_latency") c.ipi_latency = static_cast<nanoseconds>(v);
    else if (name == "numa_fault") c.numa_fault = static_cast<nanoseconds>(v);
    else if (name == "page_migrate") c.page_migrate = static_cast<nanoseconds>(v);
    else
      fail(fmt::format("--cost '{}': unknown parameter '{}' (smt_core_throughput, message_lines, line_same_core, "
                       "line_same_llc, line_same_node, llc_bytes, dram_to_llc, push, ipi_send, ipi_latency, numa_fault, "
                       "page_migrate)",
                       kv, name));
  }
  return c;
}

// NUMA balancing's measures and Peter Zijlstra's scheduling stats: per task, the share of
// its runtime (once it had a preferred node) spent on that node, how long it took to first
// run there, and the moves asked for that did not take it there. Null without a NUMA member.
template <class P, class Sim>
nlohmann::json numa_json(const Sim& sim, const std::vector<sample>& timeline) {
  if constexpr (!detail::numa_active<P>) {
    return nullptr;
  } else {
    const auto& mt = sim.metrics();
    const auto& st = sim.state().numa;
    nanoseconds with = 0;
    nanoseconds on = 0;
    double reach_sum = 0;
    double reach_max = 0;
    std::uint64_t reached = 0;
    std::uint64_t never = 0;
    std::uint64_t hints = 0;
    std::uint64_t followed = 0;
    std::uint64_t changes = 0;
    for (std::uint32_t t = 0; t < sim.snap().tasks().size(); ++t) {
      const auto& tn = st.tasks[t];
      with += tn.with_preferred;
      on += tn.on_preferred;
      hints += tn.hints;
      followed += tn.hints_followed;
      changes += tn.preferred_changes;
      if (tn.hinted_at < 0) continue;
      if (tn.reached_at < 0) {
        ++never;
        continue;
      }
      const double s = static_cast<double>(tn.reached_at - tn.hinted_at) / ns_per_s;
      reach_sum += s;
      reach_max = std::max(reach_max, s);
      ++reached;
    }
    // From when on the tasks' accesses stayed at least 95 % local to the end (null: they
    // were not at the end).
    nlohmann::json to95 = nullptr;
    for (std::size_t i = timeline.size(); i-- > 0 && timeline[i].local_share >= 0.95;) to95 = timeline[i].time_s;
    const auto ratio = [](auto a, auto b) { return b != 0 ? static_cast<double>(a) / static_cast<double>(b) : 0.0; };
    return {{"faults", mt.numa_faults},
            {"faults_local_share", ratio(mt.numa_faults_local, mt.numa_faults)},
            {"pages_migrated", mt.numa_pages_migrated},
            {"task_migrations", mt.migrations_numa},
            {"swaps", mt.numa_swaps},
            {"fault_cpu_ms", static_cast<double>(mt.numa_fault_time) / 1e6},
            {"local_access_share", ratio(mt.memory_local_time, mt.memory_time)},
            {"local_memory_share_end", static_cast<double>(sim.numa_local_share()) / 1e6},
            {"time_to_95_local_s", to95},
            {"sched",
             {{"on_preferred_share", ratio(on, with)},
              {"time_to_preferred_s_mean", reached != 0 ? reach_sum / static_cast<double>(reached) : 0.0},
              {"time_to_preferred_s_max", reach_max},
              {"never_on_preferred", never},
              {"hints", hints},
              {"hints_followed", followed},
              {"hints_not_followed", hints - followed},
              {"preferred_changes", changes}}}};
  }
}

template <class P>
run_result run_one(const simulate_options& o, const model::workload& w, const cli_domains& tree, progress& bar,
                   double progress_offset_s) {
  auto sim = std::make_unique<model::simulator<P, L>>(tree);
  sim->reset();
  sim->set_costs(parse_costs(o.costs));
  const auto until = static_cast<nanoseconds>(std::llround(o.seconds * ns_per_s));
  const auto step = static_cast<nanoseconds>(std::llround(o.step_ms * 1e6));
  run_result out;
  std::vector<nanoseconds> busy_before(L::max_cpus, 0);
  const bool ok = model::run_workload(*sim, w, until, step, [&](nanoseconds now) {
    sample s;
    for (std::size_t c : tree.cpu_map()) {
      s.active += sim->busy_time(c) != busy_before[c] ? 1U : 0U;
      busy_before[c] = sim->busy_time(c);
    }
    s.time_s = static_cast<double>(now) / ns_per_s;
    s.migrations = sim->metrics().balance_migrations();
    s.wakeups = sim->metrics().wakeups;
    for (std::size_t c : tree.cpu_map()) {
      const std::uint32_t nr = sim->snap().cpus[c].nr_running;
      s.running += nr != 0 ? 1U : 0U;
      s.idle += nr == 0 ? 1U : 0U;
      s.overloaded += nr >= 2 ? 1U : 0U;
    }
    s.work_conserving = !check::work_conservation(tree.cpu_map(), sim->snap()).found;
    s.process_llcs = process_llcs(*sim, tree);
    if constexpr (requires { sim->state().aggregation.scopes; }) s.scope_llcs = sim->state().aggregation.scopes[0].length;
    if constexpr (detail::numa_active<P>) s.local_share = static_cast<double>(sim->numa_local_share()) / 1e6;
    out.timeline.push_back(s);
    if (!o.plot.empty()) {
      std::vector<double> u;
      for (std::size_t c : tree.cpu_map())
        u.push_back(static_cast<double>(sim->snap().cpus[c].util) / static_cast<double>(sim->snap().cpus[c].arch_capacity));
      out.cpu_util.push_back(std::move(u));
    }
    bar.show(progress_offset_s + s.time_s);
  });
  if (!ok) fail(fmt::format("the workload does not fit: {} tasks, start CPU {}", w.hogs + w.light, w.start_cpu));

  const auto& mt = sim->metrics();
  const double elapsed = static_cast<double>(mt.elapsed) / ns_per_s;
  const auto quantile = [&](double q) {
    return static_cast<double>(std::min<std::uint64_t>(mt.wakeup_latency.quantile(q),
                                                       static_cast<std::uint64_t>(mt.wakeup_latency_max))) / 1e3;
  };
  out.wakeups = mt.wakeups;
  out.latency_mean_us = mt.wakeup_latency.total != 0 ? static_cast<double>(mt.wakeup_latency_sum) /
                                                           static_cast<double>(mt.wakeup_latency.total) / 1e3
                                                     : 0.0;
  double active_mean = 0;
  double llcs_mean = 0;
  double scope_mean = 0;
  std::uint64_t scope_changes = 0;
  for (std::size_t i = 0; i < out.timeline.size(); ++i) {
    const sample& s = out.timeline[i];
    active_mean += static_cast<double>(s.active);
    llcs_mean += static_cast<double>(s.process_llcs);
    scope_mean += static_cast<double>(s.scope_llcs);
    if (i > 0 && s.scope_llcs != out.timeline[i - 1].scope_llcs) ++scope_changes;
  }
  if (!out.timeline.empty()) {
    const auto n = static_cast<double>(out.timeline.size());
    active_mean /= n;
    llcs_mean /= n;
    scope_mean /= n;
  }
  out.metrics_numa = numa_json<P>(*sim, out.timeline);
  // Bottom up, the levels that moved a task.
  nlohmann::json by_level = nlohmann::json::array();
  for (std::size_t i = 0; i < tree.levels().size() && i < mt.migrations_by_level.size(); ++i)
    if (mt.migrations_by_level[i] != 0)
      by_level.push_back({{"level", std::string(tree.levels()[i].name)}, {"migrations", mt.migrations_by_level[i]}});
  out.metrics = {
      {"elapsed_s", elapsed},
      {"active_cpus_mean", active_mean},
      {"work_done_cpu_s", static_cast<double>(mt.work_done) / ns_per_s},
      {"throughput_cpus", elapsed > 0 ? static_cast<double>(mt.work_done) / ns_per_s / elapsed : 0.0},
      {"busy_cpus_mean", elapsed > 0 ? static_cast<double>(mt.busy_cpu_time) / ns_per_s / elapsed : 0.0},
      {"idle_while_waiting_cpu_s", static_cast<double>(mt.idle_while_waiting) / ns_per_s},
      {"activations", mt.activations},
      {"wakeups", mt.wakeups},
      {"wakeup_latency_us",
       {{"mean", out.latency_mean_us}, {"p50", quantile(0.5)}, {"p99", quantile(0.99)},
        {"max", static_cast<double>(mt.wakeup_latency_max) / 1e3}}},
      {"migrations",
       {{"periodic", mt.migrations_periodic},
        {"newidle", mt.migrations_newidle},
        {"active", mt.migrations_active},
        {"nohz", mt.migrations_nohz},
        {"push", mt.migrations_push},
        {"numa", mt.migrations_numa},
        {"affinity", mt.affinity_migrations},
        {"wakeup", mt.wakeup_migrations},
        {"by_level", by_level}}},
      {"messages",
       {{"sent", mt.messages},
        {"cross_llc_share", mt.messages != 0 ? static_cast<double>(mt.messages_cross_llc) / static_cast<double>(mt.messages) : 0.0},
        {"cross_node_share",
         mt.messages != 0 ? static_cast<double>(mt.messages_cross_node) / static_cast<double>(mt.messages) : 0.0}}},
      {"process_0",
       {{"llcs_mean", llcs_mean}, {"scope_llcs_mean", scope_mean}, {"scope_changes", scope_changes}}},
      {"push",
       {{"pushes", mt.pushes},
        {"pileups", mt.push_pileups},
        {"newidle_pulls", mt.push_pulls},
        {"offload_requests_void", mt.push_requests_void},
        {"busy_cpu_ms", static_cast<double>(mt.push_busy_time) / 1e6},
        {"target_cpu_ms", static_cast<double>(mt.push_target_time) / 1e6}}},
      {"context_switches", mt.context_switches},
      {"nohz_kicks", mt.nohz_kicks},
      {"exits", mt.exits},
  };
  if (!out.metrics_numa.is_null()) out.metrics["numa"] = out.metrics_numa;
  return out;
}

template <class Packing>
using linux_with = rules<linux_defaults, with_packing<Packing>>;
// The Wasted Cores fix for Overload-on-Wakeup (§3.3): wakeups go to an idle CPU anywhere.
using idle_first_rules = rules<linux_defaults, with_placement<wasted_cores::idle_first_placement>>;
// Seed 001's baseline: the cache-aware series' LLC-centric balancing, at its default
// aggr_tolerance (1) and at the 90 seed 001's RFC ran it with.
using llc_centric_rules = rules<linux_defaults, with_aggregation<aggregation::llc_centric<>>>;
using llc_centric_t90_rules = rules<llc_centric_rules, with_tunable<&aggregation_tunables::aggr_tolerance, 90U>>;
// Seed 001's topology-aware scope at the RFC's tolerance: the RFC's scope rule and ours.
template <aggregation::scope_rule Rule>
using topology_aware_t90_rules = rules<linux_defaults, with_aggregation<aggregation::topology_aware<64, Rule>>,
                                       with_tunable<&aggregation_tunables::aggr_tolerance, 90U>>;

// Seed 002's push balancing: the RFC's unclaimed choice, claimed targets, offloaded pulls.
template <class Push>
using push_rules = rules<linux_defaults, with_push<Push>>;

// Seed 003's NUMA balancing: off (the memory modelled, nothing balanced), mainline's,
// AutoNUMA's; and seed 001's interplay, the LLC-centric baseline with mainline's NUMA
// balancing, NUMA first (as merged) or cache first (as seed 001 proposes).
template <class Numa>
using numa_rules = rules<linux_defaults, with_numa<Numa>>;
template <class Numa>
using llc_numa_rules = rules<llc_centric_t90_rules, with_numa<Numa>>;

run_result run_rules(const std::string& rules, const simulate_options& o, const model::workload& w, const cli_domains& tree,
                     progress& bar, double offset_s) {
  using namespace balancekit::packing;
  if (rules == "linux-6.1") return run_one<linux_6_1_rules>(o, w, tree, bar, offset_s);
  if (rules == "min-load") return run_one<wasted_cores_rules>(o, w, tree, bar, offset_s);
  if (rules == "ipanema") return run_one<ipanema_rules>(o, w, tree, bar, offset_s);
  if (rules == "idle-first") return run_one<idle_first_rules>(o, w, tree, bar, offset_s);
  if (rules == "llc-centric") return run_one<llc_centric_rules>(o, w, tree, bar, offset_s);
  if (rules == "llc-centric-t90") return run_one<llc_centric_t90_rules>(o, w, tree, bar, offset_s);
  if (rules == "topology-aware-t90")
    return run_one<topology_aware_t90_rules<aggregation::rfc_scope>>(o, w, tree, bar, offset_s);
  if (rules == "topology-aware-damped-t90")
    return run_one<topology_aware_t90_rules<aggregation::damped_scope>>(o, w, tree, bar, offset_s);
  if (rules == "push-unclaimed") return run_one<push_rules<push::push_unclaimed>>(o, w, tree, bar, offset_s);
  if (rules == "push-claimed") return run_one<push_rules<push::push_claimed>>(o, w, tree, bar, offset_s);
  if (rules == "push-offload") return run_one<push_rules<push::push_offload>>(o, w, tree, bar, offset_s);
  if (rules == "numa-off") return run_one<numa_rules<numa::off>>(o, w, tree, bar, offset_s);
  if (rules == "numa-mainline") return run_one<numa_rules<numa::mainline>>(o, w, tree, bar, offset_s);
  if (rules == "numa-autonuma") return run_one<numa_rules<numa::autonuma>>(o, w, tree, bar, offset_s);
  if (rules == "llc-centric-numa-first") return run_one<llc_numa_rules<numa::mainline>>(o, w, tree, bar, offset_s);
  if (rules == "llc-centric-cache-first")
    return run_one<llc_numa_rules<numa::mainline_cache_first>>(o, w, tree, bar, offset_s);
  if (rules == "guittot") return run_one<linux_with<guittot<buddy_conf::conf0>>>(o, w, tree, bar, offset_s);
  if (rules == "shi-powersaving") return run_one<linux_with<shi_power<shi_mode::powersaving>>>(o, w, tree, bar, offset_s);
  if (rules == "utilization") return run_one<linux_with<utilization_aware<80>>>(o, w, tree, bar, offset_s);
  return run_one<linux_defaults>(o, w, tree, bar, offset_s);
}

nlohmann::json costs_json(const model::sim_costs& c) {
  return {{"smt_core_throughput", c.smt_core_throughput}, {"message_lines", c.message_lines},
          {"line_same_core", c.line_same_core},           {"line_same_llc", c.line_same_llc},
          {"line_same_node", c.line_same_node},           {"llc_bytes", c.llc_bytes},
          {"dram_to_llc", c.dram_to_llc},                 {"push", c.push},
          {"ipi_send", c.ipi_send},                       {"ipi_latency", c.ipi_latency},
          {"numa_fault", c.numa_fault},                   {"page_migrate", c.page_migrate}};
}

nlohmann::json describe_workload(const simulate_options& o, const model::workload& w) {
  nlohmann::json j = {{"name", o.workload},
          {"hogs", w.hogs},
          {"light", w.light},
          {"pairs", w.pairs},
          {"groups", w.groups},
          {"fds", w.groups != 0 ? w.fds : 0},
          {"messengers", w.messengers},
          {"workers", w.messengers != 0 ? w.workers : 0},
          {"churn", w.churn},
          {"footprint_kib", static_cast<double>(w.footprint) / 1024},
          {"memory_permille", w.memory_permille},
          {"costs", costs_json(parse_costs(o.costs))},
          {"work_us", static_cast<double>(w.work) / 1e3},
          {"period_us", static_cast<double>(w.period) / 1e3},
          {"start", w.start == model::start_mode::released ? "released" : "forked"},
          {"start_cpu", w.start_cpu},
          {"seed", w.seed}};
  // The scenarios' own parameters, only where they apply.
  if (w.s1_r != 0) j["s1_r"] = w.s1_r;
  if (w.s2_tasks != 0) {
    j["s2_tasks"] = w.s2_tasks;
    j["s2_cpu"] = w.s2_cpu;
  }
  if (w.s3_pairs != 0) {
    j["s3_pairs"] = w.s3_pairs;
    j["s3_transients"] = w.s3_transients;
  }
  if (w.s4_tasks != 0) j["s4_tasks"] = w.s4_tasks;
  if (w.numa_pages != 0 || w.shared_pages != 0) {
    j["numa"] = {{"private_mib", static_cast<double>(w.numa_pages) / 256},
                 {"processes", w.numa_processes},
                 {"shared_mib", static_cast<double>(w.shared_pages) / 256},
                 {"shared_permille", w.shared_permille},
                 {"dram_permille", w.dram_permille},
                 {"memory_node", w.memory_node}};
  }
  return j;
}

std::string workload_line(const model::workload& w) {
  std::string line;
  auto add = [&](const std::string& part) { line += (line.empty() ? "" : ", ") + part; };
  if (w.hogs != 0) add(fmt::format("{} hogs", w.hogs));
  if (w.light != 0)
    add(fmt::format("{} light tasks ({} us every {} us{})", w.light, static_cast<double>(w.work) / 1e3,
                    static_cast<double>(w.period) / 1e3,
                    w.seed != 0 ? fmt::format(", offsets from seed {}", w.seed) : std::string{}));
  if (w.pairs != 0) add(fmt::format("{} ping-pong pairs ({} us a turn)", w.pairs, static_cast<double>(w.work) / 1e3));
  if (w.groups != 0)
    add(fmt::format("{} hackbench groups of {} senders and {} receivers ({} us a message)", w.groups, w.fds, w.fds,
                    static_cast<double>(w.work) / 1e3));
  if (w.messengers != 0)
    add(fmt::format("{} schbench messengers waking {} workers every {} us ({} us a wakeup)", w.messengers, w.workers,
                    static_cast<double>(w.period) / 1e3, static_cast<double>(w.work) / 1e3));
  if (w.churn != 0)
    add(fmt::format("{} short-lived tasks forked every {} us, {} us of work each", w.churn,
                    static_cast<double>(w.period) / 1e3, static_cast<double>(w.work) / 1e3));
  if (w.s1_r != 0) add(fmt::format("Wasted Cores S1: {} R hogs on the start node, 2 make threads per CPU elsewhere", w.s1_r));
  if (w.s2_tasks != 0)
    add(fmt::format("Wasted Cores S2: {} hogs allowed on the start CPU's node and CPU {}'s, no other", w.s2_tasks, w.s2_cpu));
  if (w.s3_pairs != 0)
    add(fmt::format("Wasted Cores S3: a worker per CPU, {} of the start node's waking a wakee there every {} us of CPU "
                    "time ({} us a wakeup), {} other-node CPUs without one; {} transient tasks forked every {} us on "
                    "the other nodes, {} us of work each",
                    w.s3_pairs, static_cast<double>(w.work) / 1e3, static_cast<double>(w.work / 2) / 1e3, w.s3_pairs,
                    w.s3_transients, static_cast<double>(w.period) / 1e3, static_cast<double>(w.work) / 1e3));
  if (w.s4_tasks != 0) add(fmt::format("Wasted Cores S4: {} hogs after a hotplug cycle of CPU 5", w.s4_tasks));
  if (w.numa_pages != 0 || w.shared_pages != 0) {
    std::string mem = fmt::format("{} MiB private each", w.numa_pages / 256);
    if (w.numa_processes != 0)
      mem += fmt::format(", {} MiB shared by each of {} process{} ({} ‰ of accesses)", w.shared_pages / 256, w.numa_processes,
                         w.numa_processes == 1 ? "" : "es", w.shared_permille);
    add(fmt::format("NUMA memory: {}, all on node {} at first; {} ‰ of their time on memory when local", mem, w.memory_node,
                    w.dram_permille));
  }
  return fmt::format("{}, {} CPU {}", line, w.start == model::start_mode::released ? "released from" : "forked from",
                     w.start_cpu);
}

// `numa`: the run modelled memory, and each sample says how local the accesses were.
nlohmann::json timeline_json(const std::vector<sample>& timeline, bool numa) {
  nlohmann::json tl = nlohmann::json::array();
  for (const sample& s : timeline) {
    nlohmann::json e = {{"time_s", s.time_s},
                        {"migrations", s.migrations},
                        {"wakeups", s.wakeups},
                        {"running_cpus", s.running},
                        {"idle_cpus", s.idle},
                        {"overloaded_cpus", s.overloaded},
                        {"active_cpus", s.active},
                        {"work_conserving", s.work_conserving}};
    if (numa) e["local_share"] = s.local_share;
    tl.push_back(std::move(e));
  }
  return tl;
}

// Plots are drawn by gnuplot from a CSV written beside the SVG (FILE.csv), with the script
// kept as FILE.gp so that a plot can be redrawn or restyled by hand.
std::string stem_of(const std::string& svg) {
  const std::size_t dot = svg.rfind('.');
  const std::size_t slash = svg.rfind('/');
  return dot != std::string::npos && (slash == std::string::npos || dot > slash) ? svg.substr(0, dot) : svg;
}

std::string quoted(const std::string& path) {
  std::string q = "'";
  for (char ch : path) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return q + "'";
}

void write_file(const std::string& path, const std::string& text) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) fail(fmt::format("--plot: cannot write {}", path));
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  if (std::fclose(f) != 0 || !ok) fail(fmt::format("--plot: cannot write {}", path));
}

void run_gnuplot(const std::string& svg, const std::string& script) {
  const std::string gp = stem_of(svg) + ".gp";
  write_file(gp, script);
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0)
    fail("--plot needs gnuplot: apt-get install gnuplot-nox (the data and script are written: " + gp + ")");
  if (std::system(("gnuplot " + quoted(gp)).c_str()) != 0) fail("gnuplot failed on " + gp);
}

// Per-CPU utilization over time, a heatmap: CPUs up, time across.
void plot_heatmap(const simulate_options& o, const run_result& r, const std::string& title) {
  const std::string csv = stem_of(o.plot) + ".csv";
  std::string data;
  const std::size_t cpus = r.cpu_util.empty() ? 0 : r.cpu_util.front().size();
  for (std::size_t c = 0; c < cpus; ++c) {
    for (std::size_t t = 0; t < r.cpu_util.size(); ++t) data += fmt::format("{}{:.3f}", t == 0 ? "" : ",", r.cpu_util[t][c]);
    data += '\n';
  }
  write_file(csv, data);
  const double step_s = o.step_ms / 1000;
  run_gnuplot(o.plot, fmt::format("set terminal svg size 1000,600 dynamic background rgb 'white'\n"
                                  "set output {}\n"
                                  "set datafile separator ','\n"
                                  "set title {}\n"
                                  "set termoption noenhanced\n"
                                  "set xlabel 'time (s)'\nset ylabel 'CPU (index in the map)'\n"
                                  "set xrange [0:{}]\nset yrange [-0.5:{}]\n"
                                  "set cblabel 'util_avg / capacity'\nset cbrange [0:1]\n"
                                  "set palette defined (0 'white', 0.5 '#f4a261', 1 '#9b2226')\n"
                                  "plot {} matrix using (($1 + 0.5) * {}):2:3 with image notitle\n",
                                  quoted(o.plot), quoted(title), o.seconds, static_cast<double>(cpus) - 0.5, quoted(csv),
                                  step_s));
}

std::string hotplug_line(const nlohmann::json& h);

void print_run(const simulate_options& o, const model::workload& w, const loaded& m, const run_result& r,
               const nlohmann::json& hotplug) {
  if (!o.plot.empty()) plot_heatmap(o, r, fmt::format("{} — {} under {}", m.title.substr(0, m.title.find('\n')), o.workload, o.rules));
  const nlohmann::json& mj = r.metrics;
  if (o.format == "json") {
    nlohmann::json out = {{"machine", m.title},         {"rules", o.rules},   {"workload", describe_workload(o, w)},
                          {"seconds", o.seconds},        {"metrics", mj},      {"timeline", timeline_json(r.timeline, mj.contains("numa"))}};
    if (!hotplug.is_null()) out["hotplug"] = hotplug;
    fmt::print("{}\n", out.dump(2));
    return;
  }
  if (o.format == "csv") {
    fmt::print("time_s,migrations,wakeups,running_cpus,idle_cpus,overloaded_cpus,active_cpus,work_conserving\n");
    for (const sample& s : r.timeline)
      fmt::print("{:.3f},{},{},{},{},{},{},{}\n", s.time_s, s.migrations, s.wakeups, s.running, s.idle, s.overloaded,
                 s.active, s.work_conserving ? 1 : 0);
    return;
  }
  fmt::print("{}\n", m.title);
  fmt::print("workload {}: {}; rules: {}; {} s simulated\n", o.workload, workload_line(w), o.rules, o.seconds);
  if (!hotplug.is_null()) fmt::print("{}\n", hotplug_line(hotplug));
  fmt::print("{:>8} {:>10} {:>9} {:>8} {:>6} {:>6}  {}\n", "time s", "migrations", "wakeups", "running", "idle", "over", "I1");
  for (const sample& s : r.timeline)
    fmt::print("{:>8.2f} {:>10} {:>9} {:>8} {:>6} {:>6}  {}\n", s.time_s, s.migrations, s.wakeups, s.running, s.idle,
               s.overloaded, s.work_conserving ? "holds" : "violated");
  const auto& mg = mj["migrations"];
  fmt::print("throughput: {:.3f} CPUs of work per second (work done {:.3f} CPU-s at capacity 1024)\n",
             mj["throughput_cpus"].get<double>(), mj["work_done_cpu_s"].get<double>());
  fmt::print("busy CPUs on average: {:.2f}; CPUs active in a step on average: {:.2f}; idle while a task waited "
             "elsewhere: {:.3f} CPU-s\n",
             mj["busy_cpus_mean"].get<double>(), mj["active_cpus_mean"].get<double>(), mj["idle_while_waiting_cpu_s"].get<double>());
  fmt::print("wakeups: {} (latency us: mean {:.1f}, p50 <= {:.1f}, p99 <= {:.1f}, max {:.1f})\n", r.wakeups,
             r.latency_mean_us, mj["wakeup_latency_us"]["p50"].get<double>(), mj["wakeup_latency_us"]["p99"].get<double>(),
             mj["wakeup_latency_us"]["max"].get<double>());
  fmt::print("migrations: {} periodic, {} newly idle, {} active, {} by nohz idle balance; {} forced by affinity; {} "
             "wakeups placed off their previous CPU\n",
             mg["periodic"].get<std::uint64_t>(), mg["newidle"].get<std::uint64_t>(), mg["active"].get<std::uint64_t>(),
             mg["nohz"].get<std::uint64_t>(), mg["affinity"].get<std::uint64_t>(), mg["wakeup"].get<std::uint64_t>());
  if (!mg["by_level"].empty()) {
    std::string levels;
    for (const auto& l : mg["by_level"])
      levels += fmt::format("{}{} {}", levels.empty() ? "" : ", ", l["level"].get<std::string>(),
                            l["migrations"].get<std::uint64_t>());
    fmt::print("balance migrations by level: {}\n", levels);
  }
  if (w.pairs != 0 || w.groups != 0 || w.messengers != 0)
    fmt::print("messages: {} ({:.1f} % to another LLC, {:.1f} % to another node)\n", mj["messages"]["sent"].get<std::uint64_t>(),
               100 * mj["messages"]["cross_llc_share"].get<double>(), 100 * mj["messages"]["cross_node_share"].get<double>());
  fmt::print("context switches: {}; nohz kicks: {}\n", mj["context_switches"].get<std::uint64_t>(),
             mj["nohz_kicks"].get<std::uint64_t>());
  if (mj.contains("numa")) {
    const auto& n = mj["numa"];
    const auto& sc = n["sched"];
    fmt::print("NUMA: {} hinting faults ({:.1f} % local), {} pages migrated, {} task moves ({} swaps), {:.1f} CPU-ms of "
               "faults and copies; accesses local {:.1f} % of the time, {:.1f} % at the end; {}\n",
               n["faults"].get<std::uint64_t>(), 100 * n["faults_local_share"].get<double>(),
               n["pages_migrated"].get<std::uint64_t>(), n["task_migrations"].get<std::uint64_t>(),
               n["swaps"].get<std::uint64_t>(), n["fault_cpu_ms"].get<double>(), 100 * n["local_access_share"].get<double>(),
               100 * n["local_memory_share_end"].get<double>(),
               n["time_to_95_local_s"].is_null()
                   ? std::string("not 95 % local at the end")
                   : fmt::format("95 % local from {:.1f} s on", n["time_to_95_local_s"].get<double>()));
    fmt::print("scheduling stats: {:.1f} % of runtime on the preferred node once there was one; first there after {:.2f} s "
               "on average ({:.2f} s at most, {} tasks never); {} moves to it asked for, {} not followed; {} changes "
               "of preferred node\n",
               100 * sc["on_preferred_share"].get<double>(), sc["time_to_preferred_s_mean"].get<double>(),
               sc["time_to_preferred_s_max"].get<double>(), sc["never_on_preferred"].get<std::uint64_t>(),
               sc["hints"].get<std::uint64_t>(), sc["hints_not_followed"].get<std::uint64_t>(),
               sc["preferred_changes"].get<std::uint64_t>());
  } else if (w.numa_pages != 0 || w.shared_pages != 0) {
    fmt::print("note: rules '{}' model no memory, so this workload's memory costs nothing here; compare with numa-off, "
               "numa-mainline or numa-autonuma\n",
               o.rules);
  }
}

// Wasted Cores S4's hotplug cycle takes this CPU offline and online again.
constexpr std::size_t s4_hotplug_cpu = 5;

// The options every simulator command shares, checked; the machine and the workload.
model::workload check_and_describe(const simulate_options& o, const loaded& m) {
  static constexpr std::string_view known[] = {"hogs", "light", "mixed", "pairs", "hackbench", "schbench", "churn",
                                               "bursty", "numa-private", "numa-shared", "mysql", "s1", "s2", "s3", "s4"};
  if (std::find(std::begin(known), std::end(known), o.workload) == std::end(known))
    fail(fmt::format("unknown --workload '{}' (choose hogs, light, mixed, pairs, hackbench, schbench, churn, bursty, "
                     "numa-private, numa-shared, mysql, s1, s2, s3 or s4)",
                     o.workload));
  const bool numa_workload = o.workload == "numa-private" || o.workload == "numa-shared" || o.workload == "mysql";
  if (!numa_workload && (o.memory_mib != 0 || o.processes != 0 || o.shared_permille || o.memory_node))
    fail(fmt::format("--memory-mib, --memory-node, --processes and --shared-permille apply to the NUMA workloads "
                     "(numa-private, numa-shared, mysql), not {}",
                     o.workload));
  if (o.processes != 0 && o.workload != "numa-shared")
    fail(fmt::format("--processes applies to --workload numa-shared, not {}", o.workload));
  if (o.shared_permille && o.workload == "numa-private")
    fail("--shared-permille applies to numa-shared and mysql: numa-private's tasks share nothing");
  if (!(o.memory_mib >= 0) || o.memory_mib > 1024 * 1024)
    fail(fmt::format("--memory-mib {} is not in [0, 1048576] (up to a TiB)", o.memory_mib));
  if (o.s2_node && o.workload != "s2") fail(fmt::format("--s2-node applies to --workload s2, not {}", o.workload));
  if (o.fds == 0) fail("--fds must be at least 1");
  if (o.workers == 0) fail("--workers must be at least 1");
  if (!(o.footprint_kib >= 0)) fail(fmt::format("--footprint-kib {} must not be negative", o.footprint_kib));
  if (o.memory_permille > 1000) fail(fmt::format("--memory-permille {} is not in [0, 1000]", o.memory_permille));
  (void)parse_costs(o.costs);  // checked before any run
  if (o.start != "released" && o.start != "forked") fail(fmt::format("unknown --start '{}' (choose released or forked)", o.start));
  if (o.format != "table" && o.format != "csv" && o.format != "json")
    fail(fmt::format("unknown --format '{}' (choose table, csv or json)", o.format));
  if (!(o.seconds > 0) || o.seconds > 3600) fail(fmt::format("--seconds {} is not in (0, 3600]", o.seconds));
  if (!(o.step_ms >= 1) || o.step_ms > o.seconds * 1000) fail(fmt::format("--step-ms {} is not in [1, --seconds]", o.step_ms));
  if (!(o.period_us >= 1)) fail(fmt::format("--period-us {} must be at least 1", o.period_us));
  // A periodic task's work must fit its period; a message's or a short-lived task's need not.
  if (!(o.work_us > 0)) fail(fmt::format("--work-us {} must be positive", o.work_us));
  if ((o.workload == "light" || o.workload == "mixed") && o.work_us > o.period_us)
    fail(fmt::format("--work-us {} is not in (0, --period-us = {}]", o.work_us, o.period_us));
  const cli_topology& t = *m.topology;
  const auto& online = t.online();
  // The nodes with online CPUs, ascending, and each one's first online CPU.
  std::vector<std::size_t> nodes;
  std::vector<std::size_t> first_cpu;
  for (std::size_t c : online)
    if (std::find(nodes.begin(), nodes.end(), t.node_of(c)) == nodes.end()) {
      nodes.push_back(t.node_of(c));
      first_cpu.push_back(c);
    }
  for (std::size_t i = 1; i < nodes.size(); ++i)
    for (std::size_t j = i; j > 0 && nodes[j - 1] > nodes[j]; --j) {
      std::swap(nodes[j - 1], nodes[j]);
      std::swap(first_cpu[j - 1], first_cpu[j]);
    }
  const bool scenario = o.workload == "s1" || o.workload == "s2" || o.workload == "s3" || o.workload == "s4";
  if (scenario && nodes.size() < 2) fail(fmt::format("{} needs a machine with more than one NUMA node", o.workload));
  // S2's threads are created on the paper's node 1: by default the second node's first CPU.
  const std::size_t start = o.start_cpu.value_or(o.workload == "s2" ? first_cpu[1] : 0);
  if (!online.test(start))
    fail(fmt::format("--start-cpu {} is not an online CPU of this machine ({})", start, to_cpulist(online)));
  model::workload w;
  const std::size_t cpus = online.weight();
  std::size_t home = 0;  // online CPUs of the start CPU's node
  for (std::size_t c : online) home += t.node_of(c) == t.node_of(start) ? 1U : 0U;
  if (o.workload == "hogs") w.hogs = o.tasks.value_or(cpus * 3 / 2);
  if (o.workload == "light") w.light = o.tasks.value_or(cpus);
  if (o.workload == "mixed") {
    w.hogs = o.tasks.value_or(cpus / 2);
    w.light = o.light != 0 ? o.light : cpus;
  }
  if (o.workload == "pairs") {
    const std::size_t n = o.tasks.value_or(cpus);
    if (n < 2 || n % 2 != 0) fail(fmt::format("--tasks {} for pairs must be even and at least 2", n));
    w.pairs = n / 2;
  }
  if (o.workload == "hackbench") {
    w.groups = o.tasks.value_or(std::max<std::size_t>(1, cpus / 40));
    if (w.groups == 0) fail("--tasks for hackbench (the groups) must be at least 1");
    w.fds = o.fds;
  }
  if (o.workload == "schbench") {
    w.messengers = o.tasks.value_or(std::max<std::size_t>(1, cpus / 16));
    if (w.messengers == 0) fail("--tasks for schbench (the messengers) must be at least 1");
    w.workers = o.workers;
  }
  if (o.workload == "churn") {
    w.churn = o.tasks.value_or(static_cast<std::size_t>(std::llround(o.seconds * 1e6 / o.period_us)));
    if (w.churn == 0) fail("--tasks for churn (the short-lived tasks) must be at least 1");
  }
  if (o.workload == "bursty") {
    // schbench's bursts of wakeups, and fork churn beside them.
    w.messengers = o.tasks.value_or(std::max<std::size_t>(1, cpus / 16));
    if (w.messengers == 0) fail("--tasks for bursty (the messengers) must be at least 1");
    w.workers = o.workers;
    w.churn = std::max<std::size_t>(1, static_cast<std::size_t>(std::llround(o.seconds * 1e6 / o.period_us)));
  }
  if (o.workload == "s1") {
    w.s1_r = o.tasks.value_or(2);
    if (w.s1_r == 0) fail("--tasks for s1 (the R processes) must be at least 1");
    if (w.s1_r > home) fail(fmt::format("--tasks {}: the start CPU's node has only {} CPUs", w.s1_r, home));
  }
  if (o.workload == "s2") {
    const std::size_t from = t.node_of(start);
    std::size_t second = nodes.front() == from ? nodes[1] : nodes.front();
    if (o.s2_node) {
      if (std::find(nodes.begin(), nodes.end(), *o.s2_node) == nodes.end())
        fail(fmt::format("--s2-node {} is not a node with online CPUs (nodes: {})", *o.s2_node, fmt::join(nodes, ",")));
      if (*o.s2_node == from) fail(fmt::format("--s2-node {} is the start CPU's own node; choose another", *o.s2_node));
      second = *o.s2_node;
    } else {
      // The paper's pair is two hops apart: the farthest node, the lowest id on a tie.
      for (std::size_t n : nodes)
        if (n != from && t.distance(from, n) > t.distance(from, second)) second = n;
    }
    std::size_t app = 0;
    for (std::size_t c : online) app += t.node_of(c) == from || t.node_of(c) == second ? 1U : 0U;
    w.s2_tasks = o.tasks.value_or(app);
    if (w.s2_tasks == 0) fail("--tasks for s2 (the application's threads) must be at least 1");
    w.s2_cpu = first_cpu[static_cast<std::size_t>(std::find(nodes.begin(), nodes.end(), second) - nodes.begin())];
  }
  if (o.workload == "s3") {
    const std::size_t others = cpus - home;
    w.s3_pairs = o.tasks.value_or(std::min<std::size_t>({3, home, others}));
    if (w.s3_pairs == 0) fail("--tasks for s3 (the waker/wakee pairs) must be at least 1");
    if (w.s3_pairs > home) fail(fmt::format("--tasks {}: the start CPU's node has only {} CPUs for the wakers", w.s3_pairs, home));
    if (w.s3_pairs > others)
      fail(fmt::format("--tasks {}: the other nodes have only {} CPUs to leave without a worker", w.s3_pairs, others));
    w.s3_transients = static_cast<std::size_t>(std::llround(o.seconds * 1e6 / o.period_us));
  }
  if (o.workload == "s4") {
    // The paper's cycle: CPU 5 offline, then online (reference/verification-anchors.md, S4).
    if (!online.test(s4_hotplug_cpu))
      fail(fmt::format("s4 takes CPU {} offline and online again, and this machine has no online CPU {} (online: {})",
                       s4_hotplug_cpu, s4_hotplug_cpu, to_cpulist(online)));
    if (!o.machine.hwloc_xml.empty() || !o.machine.hwloc_fsroot.empty() || o.machine.host)
      fail("s4 rebuilds the machine with a CPU offline, which needs --machine or --spec (hwloc sources take no --offline)");
    w.s4_tasks = o.tasks.value_or(cpus);
    if (w.s4_tasks == 0) fail("--tasks for s4 (the hogs) must be at least 1");
  }
  if (numa_workload) {
    // The memory starts on the start CPU's node (its main thread allocated it) or the one
    // named, as the NUMA member numbers nodes: by their first CPUs.
    const std::size_t mem_node = o.memory_node.value_or(t.node_of(start));
    const auto at = std::find(nodes.begin(), nodes.end(), mem_node);
    if (at == nodes.end())
      fail(fmt::format("--memory-node {} is not a node with online CPUs (nodes: {})", mem_node, fmt::join(nodes, ",")));
    const std::size_t mem_first = first_cpu[static_cast<std::size_t>(at - nodes.begin())];
    w.memory_node = 0;
    for (std::size_t f : first_cpu) w.memory_node += f < mem_first ? 1U : 0U;
    w.dram_permille = o.dram_permille;
    constexpr double pages_per_mib = 256;  // 4 KiB pages
    if (o.workload == "numa-private") {
      w.hogs = o.tasks.value_or(std::max<std::size_t>(1, cpus / 2));
      w.numa_pages = static_cast<std::uint64_t>(std::llround((o.memory_mib != 0 ? o.memory_mib : 256) * pages_per_mib));
    } else {
      const bool mysql = o.workload == "mysql";
      w.hogs = o.tasks.value_or(mysql ? 64 : std::max<std::size_t>(1, cpus / 2));
      w.numa_processes = mysql ? 1 : (o.processes != 0 ? o.processes : std::min<std::size_t>(4, w.hogs));
      if (w.numa_processes > 64) fail(fmt::format("--processes {}: the simulator shares memory within at most 64", w.numa_processes));
      w.shared_pages =
          static_cast<std::uint64_t>(std::llround((o.memory_mib != 0 ? o.memory_mib : mysql ? 4096 : 1024) * pages_per_mib));
      w.numa_pages = mysql ? 16 * 256 : 64 * 256;
      w.shared_permille = o.shared_permille.value_or(mysql ? 900 : 800);
    }
    if (w.hogs == 0) fail(fmt::format("--tasks for {} must be at least 1", o.workload));
  }
  const std::size_t s1_tasks = w.s1_r != 0 ? w.s1_r + 2 * cpus : 0;
  const std::size_t s3_tasks = w.s3_pairs != 0 ? cpus + w.s3_transients : 0;
  const std::size_t total = w.hogs + w.light + 2 * w.pairs + s1_tasks + w.s2_tasks + s3_tasks + w.s4_tasks +
                            2 * w.groups * w.fds + w.messengers * (1 + w.workers) + w.churn;
  if (total > L::max_tasks) fail(fmt::format("{} tasks are more than the simulator holds ({})", total, L::max_tasks));
  w.work = static_cast<nanoseconds>(std::llround(o.work_us * 1e3));
  w.period = static_cast<nanoseconds>(std::llround(o.period_us * 1e3));
  w.start_cpu = start;
  // S2 and S4 fork their threads (the paper's application creates them; S4 is about where
  // new threads go).
  w.start = o.start == "released" && o.workload != "s2" && o.workload != "s4" ? model::start_mode::released
                                                                             : model::start_mode::forked;
  w.seed = o.seed;
  w.footprint = static_cast<std::uint64_t>(std::llround(o.footprint_kib * 1024));
  w.memory_permille = o.memory_permille;
  return w;
}

// One experiment's machine, checked workload and domains (for s4, those after the hotplug
// cycle, and what the cycle did).
struct prepared {
  loaded machine;
  model::workload workload;
  std::unique_ptr<cli_domains> tree;
  nlohmann::json hotplug;
};
prepared prepare(const simulate_options& o);

std::unique_ptr<cli_domains> build_tree(const loaded& m) {
  auto tree = std::make_unique<cli_domains>();
  if (status s = cli_domains::build(*m.topology, balancer_domain_options(), *tree); !s)
    fail(std::string(s.error_value().message.view()));
  return tree;
}

// The policies simulate and compare know: rule packs, and Linux with seed 000's packing.
constexpr std::string_view policy_names[] = {"linux",   "linux-6.1",       "min-load",    "idle-first", "ipanema",
                                             "guittot", "shi-powersaving", "utilization", "llc-centric",
                                             "llc-centric-t90", "topology-aware-t90", "topology-aware-damped-t90",
                                             "push-unclaimed", "push-claimed", "push-offload", "numa-off",
                                             "numa-mainline", "numa-autonuma", "llc-centric-numa-first",
                                             "llc-centric-cache-first"};

int rules_index(const std::string& n) {
  for (std::size_t i = 0; i < std::size(policy_names); ++i)
    if (policy_names[i] == n) return static_cast<int>(i);
  return -1;
}

std::string policy_list() { return fmt::format("{}", fmt::join(policy_names, ", ")); }

std::string sched_verbose_text(const cli_domains& tree) {
  std::string text;
  format_sched_verbose(tree, [&](std::string_view part) { text += part; });
  return text;
}

std::size_t numa_levels(const cli_domains& tree) {
  std::size_t n = 0;
  for (const auto& l : tree.levels()) n += l.is_numa ? 1U : 0U;
  return n;
}

// Wasted Cores S4: the kernel rebuilds its domains in place after each hotplug event
// (partition_sched_domains() → build_sched_domains()); 4.1 lost the NUMA levels on the
// way back because a global kept the level count. Here the same tree object is rebuilt
// with the CPU offline and then online, and compared with the domains built first (I15)
// in the kernel's own sched_verbose words.
nlohmann::json hotplug_cycle(const simulate_options& o, cli_domains& tree) {
  const std::string before = sched_verbose_text(tree);
  const std::size_t levels_before = numa_levels(tree);
  topology_options off = o.machine;
  const std::string cpu = std::to_string(s4_hotplug_cpu);
  off.offline = o.machine.offline && !o.machine.offline->empty() ? *o.machine.offline + "," + cpu : cpu;
  const loaded down = load_machine(off);
  if (status s = cli_domains::build(*down.topology, balancer_domain_options(), tree); !s)
    fail(fmt::format("s4, CPU {} offline: {}", s4_hotplug_cpu, s.error_value().message.view()));
  const std::size_t levels_offline = numa_levels(tree);
  const bool cpu_gone = !tree.cpu_map().test(s4_hotplug_cpu);
  const loaded up = load_machine(o.machine);
  if (status s = cli_domains::build(*up.topology, balancer_domain_options(), tree); !s)
    fail(fmt::format("s4, CPU {} online again: {}", s4_hotplug_cpu, s.error_value().message.view()));
  return {{"cpu", s4_hotplug_cpu},
          {"numa_levels_initial", levels_before},
          {"numa_levels_offline", levels_offline},
          {"numa_levels_after", numa_levels(tree)},
          {"offline_build_excludes_cpu", cpu_gone},
          {"equal_to_initial", sched_verbose_text(tree) == before}};
}

std::string hotplug_line(const nlohmann::json& h) {
  return fmt::format("hotplug cycle of CPU {}: NUMA levels {} built, {} with it offline, {} online again; the domains "
                     "after the cycle {} the initial ones (I15)",
                     h["cpu"].get<std::size_t>(), h["numa_levels_initial"].get<std::size_t>(),
                     h["numa_levels_offline"].get<std::size_t>(), h["numa_levels_after"].get<std::size_t>(),
                     h["equal_to_initial"].get<bool>() ? "equal" : "DIFFER FROM");
}

prepared prepare(const simulate_options& o) {
  prepared p{load_machine(o.machine), {}, nullptr, nullptr};
  p.workload = check_and_describe(o, p.machine);
  p.tree = build_tree(p.machine);
  if (p.workload.s4_tasks != 0) p.hotplug = hotplug_cycle(o, *p.tree);
  return p;
}

}  // namespace

int run_simulate(const simulate_options& o) {
  if (rules_index(o.rules) < 0) fail(fmt::format("unknown --rules '{}' (choose {})", o.rules, policy_list()));
  const prepared p = prepare(o);
  progress bar(o.seconds);
  const run_result r = run_rules(o.rules, o, p.workload, *p.tree, bar, 0);
  print_run(o, p.workload, p.machine, r, p.hotplug);
  return 0;
}

namespace {
// A NUMA measure of a run (its scheduling stats with `sched`); 0 for a run without memory,
// and -1 for a time never reached.
double numa_of(const nlohmann::json& j, const char* key, bool sched = false) {
  if (!j.contains("numa")) return 0;
  const nlohmann::json& v = sched ? j["numa"]["sched"][key] : j["numa"][key];
  return v.is_null() ? -1.0 : v.get<double>();
}
}  // namespace

int run_compare(const simulate_options& o, const std::string& policies) {
  std::vector<std::string> names;
  for (std::size_t at = 0; at <= policies.size();) {
    const std::size_t comma = std::min(policies.find(',', at), policies.size());
    names.push_back(policies.substr(at, comma - at));
    at = comma + 1;
  }
  for (const std::string& n : names) {
    if (n.empty()) fail(fmt::format("--policies '{}' has an empty name", policies));
    if (rules_index(n) < 0) fail(fmt::format("--policies: unknown rules '{}' (choose {})", n, policy_list()));
  }
  if (o.format == "csv") fail("compare writes table or json, not csv");
  const prepared p = prepare(o);
  const loaded& m = p.machine;
  const model::workload& w = p.workload;
  const auto& tree = p.tree;
  progress bar(o.seconds * static_cast<double>(names.size()));
  std::vector<run_result> runs;
  for (std::size_t i = 0; i < names.size(); ++i) runs.push_back(run_rules(names[i], o, w, *tree, bar, o.seconds * static_cast<double>(i)));

  // Each metric, which way is better, and how to read it from a run.
  struct row {
    const char* name;
    const char* better;
    double (*get)(const nlohmann::json&);
    bool if_any = false;  // shown only when some policy's value is not 0
  };
  const row rows[] = {
      {"throughput (CPUs of work)", "higher", [](const nlohmann::json& j) { return j["throughput_cpus"].get<double>(); }},
      // hackbench's own measure: messages passed per second.
      {"messages per second (thousands)", "higher",
       [](const nlohmann::json& j) {
         return static_cast<double>(j["messages"]["sent"].get<std::uint64_t>()) / j["elapsed_s"].get<double>() / 1000.0;
       }},
      {"idle while waiting (CPU-s)", "lower", [](const nlohmann::json& j) { return j["idle_while_waiting_cpu_s"].get<double>(); }},
      {"busy CPUs (mean)", "lower at equal throughput", [](const nlohmann::json& j) { return j["busy_cpus_mean"].get<double>(); }},
      {"active CPUs (mean per step)", "lower at equal throughput",
       [](const nlohmann::json& j) { return j["active_cpus_mean"].get<double>(); }},
      {"wakeup latency p50 (us)", "lower", [](const nlohmann::json& j) { return j["wakeup_latency_us"]["p50"].get<double>(); }},
      {"wakeup latency p99 (us)", "lower", [](const nlohmann::json& j) { return j["wakeup_latency_us"]["p99"].get<double>(); }},
      {"LLCs holding process 0 (mean)", "-", [](const nlohmann::json& j) { return j["process_0"]["llcs_mean"].get<double>(); },
       true},
      {"messages to another LLC (share)", "lower",
       [](const nlohmann::json& j) { return j["messages"]["cross_llc_share"].get<double>(); }},
      {"migrations", "lower at equal throughput",
       [](const nlohmann::json& j) {
         const auto& g = j["migrations"];
         return static_cast<double>(g["periodic"].get<std::uint64_t>() + g["newidle"].get<std::uint64_t>() +
                                    g["active"].get<std::uint64_t>() + g["nohz"].get<std::uint64_t>() +
                                    g["push"].get<std::uint64_t>() + g["numa"].get<std::uint64_t>());
       }},
      // NUMA balancing (seed 003), shown when some policy models memory.
      {"local accesses (share of time)", "higher", [](const nlohmann::json& j) { return numa_of(j, "local_access_share"); },
       true},
      {"local memory at end (share)", "higher",
       [](const nlohmann::json& j) { return numa_of(j, "local_memory_share_end"); }, true},
      {"95 % local from (s; -1: never)", "lower", [](const nlohmann::json& j) { return numa_of(j, "time_to_95_local_s"); },
       true},
      {"pages migrated (thousands)", "lower at equal locality",
       [](const nlohmann::json& j) { return numa_of(j, "pages_migrated") / 1000; }, true},
      {"NUMA task moves", "-", [](const nlohmann::json& j) { return numa_of(j, "task_migrations"); }, true},
      {"fault and copy time (CPU-ms)", "lower", [](const nlohmann::json& j) { return numa_of(j, "fault_cpu_ms"); }, true},
      {"runtime on preferred (share)", "higher",
       [](const nlohmann::json& j) { return numa_of(j, "on_preferred_share", true); }, true},
      {"hints not followed", "lower", [](const nlohmann::json& j) { return numa_of(j, "hints_not_followed", true); }, true},
      // Push balancing (seed 002), shown when some policy pushes.
      {"pushes", "-", [](const nlohmann::json& j) { return static_cast<double>(j["push"]["pushes"].get<std::uint64_t>()); },
       true},
      {"push pileups", "lower",
       [](const nlohmann::json& j) { return static_cast<double>(j["push"]["pileups"].get<std::uint64_t>()); }, true},
      {"time charged to busy CPUs (ms)", "lower",
       [](const nlohmann::json& j) { return j["push"]["busy_cpu_ms"].get<double>(); }, true},
      {"time idle targets pulled (ms)", "-", [](const nlohmann::json& j) { return j["push"]["target_cpu_ms"].get<double>(); },
       true},
  };
  const auto shown = [&](const row& r) {
    return !r.if_any || std::any_of(runs.begin(), runs.end(), [&](const run_result& run) { return r.get(run.metrics) != 0; });
  };
  if (!o.plot.empty()) {
    const std::string csv = stem_of(o.plot) + ".csv";
    std::string data = "metric";
    for (const std::string& n : names) data += "," + n;
    data += '\n';
    for (const row& r : rows) {
      if (!shown(r)) continue;
      const double base = r.get(runs.front().metrics);
      data += fmt::format("\"{} ({})\"", r.name, r.better);
      for (const run_result& run : runs) data += fmt::format(",{:.4f}", base != 0 ? r.get(run.metrics) / base : 0.0);
      data += '\n';
    }
    write_file(csv, data);
    run_gnuplot(o.plot, fmt::format("set terminal svg size 1100,550 dynamic background rgb 'white'\n"
                                    "set output {}\nset datafile separator ','\nset termoption noenhanced\n"
                                    "set title {}\nset ylabel 'relative to {}'\n"
                                    "set style data histograms\nset style histogram clustered gap 1\n"
                                    "set style fill solid 0.8 border -1\nset xtics rotate by -25 noenhanced\n"
                                    "set key outside right\nset yrange [0:*]\n"
                                    "plot for [i=2:{}] {} using i:xtic(1) title columnhead(i)\n",
                                    quoted(o.plot), quoted(fmt::format("{}: {} for {} s", o.workload, workload_line(w), o.seconds)),
                                    names.front(), names.size() + 1, quoted(csv)));
  }
  if (o.format == "json") {
    nlohmann::json out = {{"machine", m.title}, {"workload", describe_workload(o, w)}, {"seconds", o.seconds}};
    if (!p.hotplug.is_null()) out["hotplug"] = p.hotplug;
    nlohmann::json by = nlohmann::json::object();
    for (std::size_t i = 0; i < names.size(); ++i) by[names[i]] = runs[i].metrics;
    out["policies"] = by;
    fmt::print("{}\n", out.dump(2));
    return 0;
  }
  fmt::print("{}\n", m.title);
  fmt::print("workload {}: {}; {} s simulated each\n", o.workload, workload_line(w), o.seconds);
  if (!p.hotplug.is_null()) fmt::print("{}\n", hotplug_line(p.hotplug));
  fmt::print("values, and in brackets relative to {} (the first policy)\n", names.front());
  std::string head = fmt::format("{:<32} {:<26}", "metric", "better");
  for (const std::string& n : names) head += fmt::format(" {:>20}", n);
  fmt::print("{}\n", head);
  for (const row& r : rows) {
    if (!shown(r)) continue;
    std::string line = fmt::format("{:<32} {:<26}", r.name, r.better);
    const double base = r.get(runs.front().metrics);
    for (const run_result& run : runs) {
      const double v = r.get(run.metrics);
      const std::string rel = base != 0 ? fmt::format("({:.2f})", v / base) : std::string("(-)");
      line += fmt::format(" {:>12.3f} {:>7}", v, rel);
    }
    fmt::print("{}\n", line);
  }
  return 0;
}

int run_list() {
  fmt::print("machines (--machine; see `balancekit machines` for their specs):\n");
  for (const auto& m : machines::all)
    fmt::print("  {:<10} {}{}\n", m.name, m.summary, m.name == machines::default_machine.name ? " (default)" : "");
  fmt::print("workloads (--workload, balancekit simulate/compare):\n"
             "  hogs       CPU hogs, never sleeping (--tasks, default 1.5 per CPU)\n"
             "  light      periodic tasks: --work-us of CPU time every --period-us (--tasks, default 1 per CPU)\n"
             "  mixed      hogs (--tasks, default 0.5 per CPU) and light tasks (--light, default 1 per CPU)\n"
             "  pairs      ping-pong pairs: each side works --work-us, wakes the other (WF_SYNC) and sleeps (--tasks, "
             "default 1 per CPU)\n"
             "  hackbench  message groups: --tasks groups (default 1 per 40 CPUs) of --fds senders and --fds\n"
             "             receivers; a sender works --work-us a message and writes to its group's receivers in turn\n"
             "             without blocking, a receiver works half that a message and sleeps when none is left\n"
             "  schbench   --tasks messengers (default 1 per 16 CPUs) each waking its --workers workers every\n"
             "             --period-us; a worker works --work-us a wakeup (watch the wake-up latency)\n"
             "  churn      fork/exit churn: --tasks short-lived tasks (default: --seconds / --period-us), one\n"
             "             forked every --period-us from --start-cpu, each working --work-us and exiting\n"
             "  bursty     schbench's bursts (--tasks messengers, default 1 per 16 CPUs, each waking its --workers\n"
             "             workers every --period-us) and churn's short-lived tasks beside them\n"
             "  s1         Wasted Cores S1 (Group Imbalance): --tasks R hogs (default 2) on the start CPU's node, two\n"
             "             make threads of a shared autogroup per CPU of the other nodes\n"
             "  s2         Wasted Cores S2 (Scheduling Group Construction): --tasks hogs (default: the CPUs of both\n"
             "             nodes) allowed on two nodes only, the start CPU's and --s2-node (default: the farthest),\n"
             "             forked from --start-cpu (default: the first CPU of the second node)\n"
             "  s3         Wasted Cores S3 (Overload-on-Wakeup): a worker per CPU; on the start CPU's node --tasks\n"
             "             of them (default 3) wake a wakee there every --work-us of CPU time and never block, the\n"
             "             other nodes leave as many CPUs without a worker; transient tasks (--work-us each) forked\n"
             "             every --period-us on the other nodes\n"
             "  s4         Wasted Cores S4 (Missing Scheduling Domains): domains rebuilt with CPU 5 offline, then\n"
             "             online (compared with the first build, I15), then --tasks hogs (default 1 per CPU)\n"
             "             forked from --start-cpu\n"
             "  numa-private  hogs (--tasks, default 1 per 2 CPUs) with --memory-mib of private memory each (default\n"
             "             256), all of it on the start CPU's node at first; --dram-permille of their time on memory\n"
             "  numa-shared  the same hogs as threads of --processes processes (default 4), each sharing\n"
             "             --memory-mib (default 1024) that gets --shared-permille of their accesses (default 800)\n"
             "  mysql      one process's --tasks threads (default 64) on a shared buffer pool of --memory-mib\n"
             "             (default 4096) on the start CPU's node, 900 per mille of their accesses\n"
             "  each starts --start released (pinned to --start-cpu, released at 20 ms) or forked; s2 and s4\n"
             "  always fork; released, s1 and s3 pin each worker to its own CPU\n");
  fmt::print("policies (simulate --rules; compare --policies a,b,c):\n"
             "  linux            Linux v6.16's load balancer and placement\n"
             "  linux-6.1        the same with Linux 6.1's prefer-sibling task count (before sibling_imbalance)\n"
             "  min-load         the Wasted Cores fix for Group Imbalance: the busiest group by minimum load\n"
             "  idle-first       the Wasted Cores fix for Overload-on-Wakeup: a wakeup goes to its previous CPU if idle,\n"
             "                   else to the allowed CPU idle longest anywhere, else where Linux would put it\n"
             "  ipanema          Ipanema's steal: pull only when the gap exceeds the task's load; no active balance\n"
             "  guittot          Linux with Guittot's packing buddy (seed 000, conf0)\n"
             "  shi-powersaving  Linux with Alex Shi's power-aware placement, powersaving mode (seed 000)\n"
             "  utilization      Linux with utilization-aware packing under an 80 % margin (ours)\n"
             "  llc-centric      Linux with the cache-aware series' LLC-centric balancing (seed 001's baseline):\n"
             "                   a process's threads pulled towards its preferred LLC\n"
             "  llc-centric-t90  the same with aggr_tolerance 90, as seed 001's RFC ran its baseline\n"
             "  topology-aware-t90\n"
             "                   Linux with seed 001's topology-aware scope (the RFC's rule: the shortest prefix of\n"
             "                   LLCs under 50 %), aggr_tolerance 90\n"
             "  topology-aware-damped-t90\n"
             "                   the same with our hysteresis (grow past 50 %, shrink below 25 %, the anchor kept)\n"
             "  push-unclaimed   Linux with seed 002's push as the April 2025 RFC has it: a busy CPU pushes a waiting\n"
             "                   task to the first idle CPU it sees, unclaimed; newly idle CPUs pull one first\n"
             "  push-claimed     the same, each target claimed first (no pileup)\n"
             "  push-offload     the same, the claimed target asked to pull (the smp_call_function idea)\n"
             "  numa-off         Linux with memory modelled and NUMA balancing off (numa_balancing=0)\n"
             "  numa-mainline    Linux with mainline's NUMA balancing (seed 003): hinting faults, the cpupid\n"
             "                   filter, numa groups, task_numa_migrate\n"
             "  numa-autonuma    Linux with AutoNUMA's design (seed 003): the last_nid filter, the CPU follows its memory\n"
             "  llc-centric-numa-first\n"
             "                   llc-centric-t90 with mainline's NUMA balancing, NUMA first (as merged: a task whose\n"
             "                   node is not its process's preferred LLC's has no preferred LLC)\n"
             "  llc-centric-cache-first\n"
             "                   the same, cache first (seed 001: the preferred node follows the preferred LLC)\n");
  fmt::print("packing (--packing, balancekit balance and place): none, conf0, conf1, conf2, topology, shi-powersaving, "
             "shi-balance, utilization\n");
  return 0;
}


namespace {

// A sweep file's field `key` of `obj`, or nothing when absent; a wrong type is bad input
// that names the field.
template <class T>
std::optional<T> field(const nlohmann::json& obj, const std::string& where, const char* key) {
  const auto it = obj.find(key);
  if (it == obj.end()) return std::nullopt;
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception&) {
    fail(fmt::format("{}.{}: expected {}, found {}", where, key,
                     std::is_same_v<T, std::string> ? "a string" : "a number", it->dump()));
  }
}

void only_keys(const nlohmann::json& obj, const std::string& where, std::initializer_list<std::string_view> keys) {
  if (!obj.is_object()) fail(fmt::format("{}: expected an object, found {}", where, obj.dump()));
  for (const auto& [k, v] : obj.items()) {
    bool known = false;
    for (std::string_view key : keys) known = known || key == k;
    if (!known) fail(fmt::format("{}: unknown field '{}'", where, k));
  }
}

struct sweep_run {
  std::size_t machine = 0;
  std::size_t workload = 0;
  std::string policy;
  std::uint64_t seed = 0;
};

}  // namespace

int run_sweep(const std::string& file, const std::string& shard) {
  // --shard K/N: this process runs the runs whose index is K-1 modulo N.
  std::size_t k = 1;
  std::size_t n = 1;
  if (!shard.empty()) {
    unsigned long kk = 0;
    unsigned long nn = 0;
    char extra = 0;
    if (std::sscanf(shard.c_str(), "%lu/%lu%c", &kk, &nn, &extra) != 2 || nn == 0 || kk == 0 || kk > nn)
      fail(fmt::format("--shard '{}' is not K/N with 1 <= K <= N", shard));
    k = kk;
    n = nn;
  }
  std::FILE* f = std::fopen(file.c_str(), "rb");
  if (f == nullptr) fail(fmt::format("{}: cannot open", file));
  std::string text;
  char buf[4096];
  for (std::size_t got; (got = std::fread(buf, 1, sizeof buf, f)) != 0;) text.append(buf, got);
  std::fclose(f);
  nlohmann::json spec;
  try {
    spec = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    fail(fmt::format("{}: {}", file, e.what()));
  }
  only_keys(spec, file, {"machines", "workloads", "policies", "seeds", "seconds", "step_ms"});
  for (const char* key : {"machines", "workloads", "policies"})
    if (!spec.contains(key) || !spec[key].is_array() || spec[key].empty())
      fail(fmt::format("{}: '{}' must be a non-empty array", file, key));
  const double seconds = field<double>(spec, file, "seconds").value_or(1.0);
  const double step_ms = field<double>(spec, file, "step_ms").value_or(std::min(100.0, seconds * 1000));
  std::vector<std::uint64_t> seeds{0};
  if (spec.contains("seeds")) {
    if (!spec["seeds"].is_array() || spec["seeds"].empty()) fail(fmt::format("{}: 'seeds' must be a non-empty array", file));
    seeds.clear();
    for (std::size_t i = 0; i < spec["seeds"].size(); ++i) {
      const auto& v = spec["seeds"][i];
      if (!v.is_number_unsigned()) fail(fmt::format("{}: seeds[{}]: expected a non-negative integer, found {}", file, i, v.dump()));
      seeds.push_back(v.get<std::uint64_t>());
    }
  }

  // Machines, workloads and policies, all checked before anything runs.
  std::vector<topology_options> machines;
  std::vector<std::string> machine_names;
  for (std::size_t i = 0; i < spec["machines"].size(); ++i) {
    const auto& m = spec["machines"][i];
    const std::string where = fmt::format("{}: machines[{}]", file, i);
    topology_options t;
    if (m.is_string()) {
      t.machine = m.get<std::string>();
      machine_names.push_back(t.machine);
    } else {
      only_keys(m, where, {"machine", "spec", "distances", "capacity", "offline", "cpu_ids"});
      t.machine = field<std::string>(m, where, "machine").value_or("");
      t.spec = field<std::string>(m, where, "spec").value_or("");
      if (t.machine.empty() == t.spec.empty()) fail(fmt::format("{}: give exactly one of 'machine' and 'spec'", where));
      t.distances = field<std::string>(m, where, "distances");
      t.capacity = field<std::string>(m, where, "capacity");
      t.offline = field<std::string>(m, where, "offline");
      t.cpu_ids = field<std::string>(m, where, "cpu_ids");
      machine_names.push_back(t.machine.empty() ? "spec: " + t.spec : t.machine);
    }
    machines.push_back(t);
  }
  std::vector<simulate_options> workloads;
  for (std::size_t i = 0; i < spec["workloads"].size(); ++i) {
    const auto& w = spec["workloads"][i];
    const std::string where = fmt::format("{}: workloads[{}]", file, i);
    only_keys(w, where,
              {"workload", "tasks", "light", "fds", "workers", "work_us", "period_us", "start", "start_cpu", "s2_node",
               "footprint_kib", "memory_permille", "costs"});
    simulate_options o;
    o.workload = field<std::string>(w, where, "workload").value_or("hogs");
    if (const auto t = field<std::size_t>(w, where, "tasks")) o.tasks = *t;
    o.light = field<std::size_t>(w, where, "light").value_or(0);
    o.fds = field<std::size_t>(w, where, "fds").value_or(o.fds);
    o.workers = field<std::size_t>(w, where, "workers").value_or(o.workers);
    o.footprint_kib = field<double>(w, where, "footprint_kib").value_or(0);
    o.memory_permille = field<std::uint32_t>(w, where, "memory_permille").value_or(0);
    if (w.contains("costs")) {
      if (!w["costs"].is_object()) fail(fmt::format("{}: 'costs' must be an object of NAME: integer", where));
      for (const auto& [name, v] : w["costs"].items()) {
        if (!v.is_number_unsigned()) fail(fmt::format("{}: costs.{} must be a non-negative integer", where, name));
        o.costs.push_back(name + "=" + std::to_string(v.get<std::uint64_t>()));
      }
    }
    o.work_us = field<double>(w, where, "work_us").value_or(o.work_us);
    o.period_us = field<double>(w, where, "period_us").value_or(o.period_us);
    o.start = field<std::string>(w, where, "start").value_or(o.start);
    o.start_cpu = field<std::size_t>(w, where, "start_cpu");
    o.s2_node = field<std::size_t>(w, where, "s2_node");
    o.seconds = seconds;
    o.step_ms = step_ms;
    o.format = "json";
    workloads.push_back(o);
  }
  std::vector<std::string> policies;
  for (std::size_t i = 0; i < spec["policies"].size(); ++i) {
    const auto& p = spec["policies"][i];
    if (!p.is_string() || rules_index(p.get<std::string>()) < 0)
      fail(fmt::format("{}: policies[{}]: {} is not one of {}", file, i, p.dump(), policy_list()));
    policies.push_back(p.get<std::string>());
  }
  std::vector<loaded> loaded_machines;
  std::vector<std::unique_ptr<cli_domains>> trees;
  for (std::size_t i = 0; i < machines.size(); ++i) {
    try {
      loaded_machines.push_back(load_machine(machines[i]));
      trees.push_back(build_tree(loaded_machines.back()));
      for (std::size_t j = 0; j < workloads.size(); ++j) {
        try {
          (void)check_and_describe(workloads[j], loaded_machines.back());
        } catch (const bad_input& e) {
          fail(fmt::format("workloads[{}]: {}", j, e.message));
        }
      }
    } catch (const bad_input& e) {
      fail(fmt::format("{}: machines[{}]: {}", file, i, e.message));
    }
  }

  std::vector<sweep_run> runs;
  for (std::size_t mi = 0; mi < machines.size(); ++mi)
    for (std::size_t wi = 0; wi < workloads.size(); ++wi)
      for (const std::string& p : policies)
        for (const std::uint64_t seed : seeds) runs.push_back({mi, wi, p, seed});
  std::size_t mine = 0;
  for (std::size_t i = 0; i < runs.size(); ++i) mine += i % n == k - 1 ? 1U : 0U;
  progress bar(seconds * static_cast<double>(mine));
  std::size_t done = 0;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    if (i % n != k - 1) continue;
    const sweep_run& r = runs[i];
    simulate_options o = workloads[r.workload];
    o.seed = r.seed;
    o.rules = r.policy;
    o.machine = machines[r.machine];
    const model::workload w = check_and_describe(o, loaded_machines[r.machine]);
    // S4 runs on the domains its own hotplug cycle rebuilt.
    std::unique_ptr<cli_domains> cycled;
    nlohmann::json hotplug;
    if (w.s4_tasks != 0) {
      cycled = build_tree(loaded_machines[r.machine]);
      hotplug = hotplug_cycle(o, *cycled);
    }
    const run_result res =
        run_rules(r.policy, o, w, cycled ? *cycled : *trees[r.machine], bar, seconds * static_cast<double>(done));
    nlohmann::json line = {{"run", i},
                           {"machine", machine_names[r.machine]},
                           {"workload", describe_workload(o, w)},
                           {"policy", r.policy},
                           {"seed", r.seed},
                           {"seconds", seconds},
                           {"metrics", res.metrics}};
    if (!hotplug.is_null()) line["hotplug"] = hotplug;
    // One complete line per run, flushed: a shard that dies keeps what it finished.
    std::fputs((line.dump() + "\n").c_str(), stdout);
    std::fflush(stdout);
    ++done;
  }
  return 0;
}

int run_sweep_merge(const std::vector<std::string>& files) {
  struct group {
    std::string key;
    std::string machine;
    std::string workload;
    std::string policy;
    std::vector<double> throughput, idle_waiting, p99, migrations;
  };
  std::vector<group> groups;
  std::size_t lines = 0;
  for (const std::string& file : files) {
    std::FILE* f = std::fopen(file.c_str(), "rb");
    if (f == nullptr) fail(fmt::format("{}: cannot open", file));
    std::string line;
    std::size_t number = 0;
    for (int ch = 0; ch != EOF;) {
      line.clear();
      while ((ch = std::fgetc(f)) != EOF && ch != '\n') line.push_back(static_cast<char>(ch));
      ++number;
      if (line.empty()) continue;
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(line);
        const std::string machine = j.at("machine").get<std::string>();
        nlohmann::json wl = j.at("workload");
        wl.erase("seed");  // the runs of one group differ by seed only
        const std::string workload = wl.dump();
        const std::string policy = j.at("policy").get<std::string>();
        const auto& m = j.at("metrics");
        const std::string key = machine + '\x1f' + workload + '\x1f' + policy;
        auto it = std::find_if(groups.begin(), groups.end(), [&](const group& g) { return g.key == key; });
        if (it == groups.end()) {
          groups.push_back(group{key, machine, j.at("workload").at("name").get<std::string>(), policy, {}, {}, {}, {}});
          it = groups.end() - 1;
        }
        it->throughput.push_back(m.at("throughput_cpus").get<double>());
        it->idle_waiting.push_back(m.at("idle_while_waiting_cpu_s").get<double>());
        it->p99.push_back(m.at("wakeup_latency_us").at("p99").get<double>());
        const auto& g = m.at("migrations");
        // (files written before push balancing have no "push" count)
        it->migrations.push_back(static_cast<double>(g.at("periodic").get<std::uint64_t>() + g.at("newidle").get<std::uint64_t>() +
                                                     g.at("active").get<std::uint64_t>() + g.at("nohz").get<std::uint64_t>() +
                                                     g.value("push", std::uint64_t{0})));
        ++lines;
      } catch (const nlohmann::json::exception& e) {
        std::fclose(f);
        fail(fmt::format("{}:{}: {}", file, number, e.what()));
      }
    }
    std::fclose(f);
  }
  auto stats = [](const std::vector<double>& v) {
    double mean = 0;
    for (double x : v) mean += x;
    mean /= static_cast<double>(v.size());
    double var = 0;
    for (double x : v) var += (x - mean) * (x - mean);
    const double sd = v.size() > 1 ? std::sqrt(var / static_cast<double>(v.size() - 1)) : 0.0;
    return fmt::format("{:.3f} ± {:.3f}", mean, sd);
  };
  fmt::print("{} runs in {} groups (mean ± sample standard deviation over seeds)\n", lines, groups.size());
  fmt::print("{:<24} {:<9} {:<9} {:>4} {:>22} {:>22} {:>24} {:>22}\n", "machine", "workload", "policy", "runs",
             "throughput (CPUs)", "idle waiting (CPU-s)", "wakeup p99 (us)", "migrations");
  for (const group& g : groups)
    fmt::print("{:<24} {:<9} {:<9} {:>4} {:>22} {:>22} {:>24} {:>22}\n", g.machine.substr(0, 24), g.workload, g.policy,
               g.throughput.size(), stats(g.throughput), stats(g.idle_waiting), stats(g.p99), stats(g.migrations));
  return 0;
}


int run_tour(const std::string& out_dir) {
  if (std::system(("mkdir -p " + quoted(out_dir)).c_str()) != 0) fail(fmt::format("cannot create {}", out_dir));
  fmt::print("balancekit tour: the time-driven simulator on five experiments (plots in {}/)\n\n", out_dir);
  fmt::print("1. Wasted Cores S1, Group Imbalance, on hygon384: two R hogs on node 0, two make threads of\n"
             "   one autogroup per CPU of the other nodes. Linux v6.16 against the paper's min-load fix and\n"
             "   Ipanema's steal.\n\n");
  simulate_options s1;
  s1.machine.machine = "hygon384";
  s1.workload = "s1";
  s1.seconds = 2;
  s1.plot = out_dir + "/s1-compare.svg";
  run_compare(s1, "linux,min-load,ipanema");
  {
    simulate_options heat = s1;
    heat.plot = out_dir + "/s1-linux-cpus.svg";
    heat.step_ms = 20;
    const prepared p = prepare(heat);
    progress bar(heat.seconds);
    plot_heatmap(heat, run_rules("linux", heat, p.workload, *p.tree, bar, 0), "hygon384 — Wasted Cores S1 under Linux v6.16");
  }
  fmt::print("\n2. Seed 000's packing debate on seed64: eight light tasks, 2.5 ms of every 10 ms at start\n"
             "   offsets drawn from seed 1, forked from CPU 0, under Linux, Guittot's buddy, Shi's powersaving\n"
             "   and our utilization-aware packing.\n\n");
  simulate_options pack;
  pack.machine.machine = "seed64";
  pack.workload = "light";
  pack.tasks = 8;
  pack.work_us = 2500;
  pack.period_us = 10000;
  pack.start = "forked";
  pack.seconds = 2;
  // Evenly staggered starts would tile two CPUs exactly (four 2.5 ms tasks 2.5 ms apart),
  // which Linux's prev-CPU wakeups keep by luck; random offsets are the fairer test.
  pack.seed = 1;
  pack.plot = out_dir + "/packing-compare.svg";
  run_compare(pack, "linux,guittot,shi-powersaving,utilization");
  fmt::print("\n3. Seed 001's aggregation on hygon384: hackbench -T -p with 2 groups of 16 fds (64 threads,\n"
             "   more than one 16-CPU LLC holds), 0.6 us a message, started on CPU 0 and released, under\n"
             "   Linux, the cache-aware series' LLC-centric balancing and seed 001's topology-aware scope\n"
             "   (the RFC's rule and ours), all at aggr_tolerance 90 as the RFC ran (docs/results.md has\n"
             "   the whole table).\n\n");
  simulate_options hb;
  hb.machine.machine = "hygon384";
  hb.workload = "hackbench";
  hb.tasks = 2;
  hb.fds = 16;
  hb.work_us = 0.6;
  hb.seconds = 0.5;
  hb.plot = out_dir + "/hackbench-compare.svg";
  run_compare(hb, "linux,llc-centric-t90,topology-aware-t90,topology-aware-damped-t90");
  fmt::print("\n4. Seed 002's push balancing on hygon384: bursts of wakeups (every 4 ms each of 24\n"
             "   messengers wakes its 24 workers at once, 300 us of work each) with fork churn beside them,\n"
             "   under Linux's pull-only balancing, the April 2025 RFC's unclaimed push, our claimed push,\n"
             "   and claimed push with the pull offloaded to the target (docs/results.md has the whole table).\n\n");
  simulate_options bursty;
  bursty.machine.machine = "hygon384";
  bursty.workload = "bursty";
  bursty.workers = 24;
  bursty.work_us = 300;
  bursty.period_us = 4000;
  bursty.start = "forked";
  bursty.seconds = 0.5;
  bursty.plot = out_dir + "/push-compare.svg";
  run_compare(bursty, "linux,push-unclaimed,push-claimed,push-offload");
  fmt::print("\n5. Seed 003's NUMA balancing on opteron64 (8 nodes, two hops): 32 hogs with 256 MiB each,\n"
             "   all of it on node 0 where their parent allocated it, spending 30 % of their time on memory;\n"
             "   NUMA balancing off, AutoNUMA's design (the CPU follows its memory) and mainline's (the\n"
             "   memory follows its task), with the kernel's scan sysctls (docs/results.md has the whole table).\n\n");
  simulate_options numa;
  numa.machine.machine = "opteron64";
  numa.workload = "numa-private";
  numa.seconds = 10;
  numa.plot = out_dir + "/numa-compare.svg";
  run_compare(numa, "numa-off,numa-autonuma,numa-mainline");
  fmt::print("\nplots: {0}/s1-compare.svg, {0}/s1-linux-cpus.svg, {0}/packing-compare.svg, {0}/hackbench-compare.svg, "
             "{0}/push-compare.svg, {0}/numa-compare.svg "
             "(data and gnuplot scripts beside them)\n",
             out_dir);
  return 0;
}

}  // namespace bkcli
