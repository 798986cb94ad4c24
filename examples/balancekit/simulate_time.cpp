// `balancekit simulate` (docs/cli.md): each rule pack is a simulator of its own, compiled
// here rather than in main.cpp.
#include "simulate_time.hpp"

#include <balancekit/balancekit.hpp>
#include <balancekit/model/workloads.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
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
  bool work_conserving = true;
};

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

template <class Sim>
std::uint64_t migrations_of(const Sim& s) {
  const auto& m = s.metrics();
  return m.migrations_periodic + m.migrations_newidle + m.migrations_active + m.migrations_nohz;
}

template <class P>
int simulate_with(const simulate_options& o, const model::workload& w, const loaded& m, const cli_domains& tree) {
  auto sim = std::make_unique<model::simulator<P, L>>(tree);
  sim->reset();
  const auto until = static_cast<nanoseconds>(std::llround(o.seconds * ns_per_s));
  const auto step = static_cast<nanoseconds>(std::llround(o.step_ms * 1e6));
  std::vector<sample> timeline;
  progress bar(o.seconds);
  const bool ok = model::run_workload(*sim, w, until, step, [&](nanoseconds now) {
    sample s;
    s.time_s = static_cast<double>(now) / ns_per_s;
    s.migrations = migrations_of(*sim);
    s.wakeups = sim->metrics().wakeups;
    for (std::size_t c : tree.cpu_map()) {
      const std::uint32_t nr = sim->snap().cpus[c].nr_running;
      s.running += nr != 0 ? 1U : 0U;
      s.idle += nr == 0 ? 1U : 0U;
      s.overloaded += nr >= 2 ? 1U : 0U;
    }
    s.work_conserving = !check::work_conservation(tree.cpu_map(), sim->snap()).found;
    timeline.push_back(s);
    bar.show(s.time_s);
  });
  if (!ok) fail(fmt::format("the workload does not fit: {} tasks, start CPU {}", w.hogs + w.light, w.start_cpu));

  const auto& mt = sim->metrics();
  const double elapsed = static_cast<double>(mt.elapsed) / ns_per_s;
  const double lat_mean = mt.wakeup_latency.total != 0
                              ? static_cast<double>(mt.wakeup_latency_sum) / static_cast<double>(mt.wakeup_latency.total) / 1e3
                              : 0.0;
  nlohmann::json metrics = {
      {"elapsed_s", elapsed},
      {"work_done_cpu_s", static_cast<double>(mt.work_done) / ns_per_s},
      {"throughput_cpus", elapsed > 0 ? static_cast<double>(mt.work_done) / ns_per_s / elapsed : 0.0},
      {"busy_cpus_mean", elapsed > 0 ? static_cast<double>(mt.busy_cpu_time) / ns_per_s / elapsed : 0.0},
      {"idle_while_waiting_cpu_s", static_cast<double>(mt.idle_while_waiting) / ns_per_s},
      {"activations", mt.activations},
      {"wakeups", mt.wakeups},
      {"wakeup_latency_us",
       {{"mean", lat_mean},
        {"p50", static_cast<double>(std::min<std::uint64_t>(mt.wakeup_latency.quantile(0.5),
                                                            static_cast<std::uint64_t>(mt.wakeup_latency_max))) / 1e3},
        {"p99", static_cast<double>(std::min<std::uint64_t>(mt.wakeup_latency.quantile(0.99),
                                                            static_cast<std::uint64_t>(mt.wakeup_latency_max))) / 1e3},
        {"max", static_cast<double>(mt.wakeup_latency_max) / 1e3}}},
      {"migrations",
       {{"periodic", mt.migrations_periodic},
        {"newidle", mt.migrations_newidle},
        {"active", mt.migrations_active},
        {"nohz", mt.migrations_nohz},
        {"affinity", mt.affinity_migrations},
        {"wakeup", mt.wakeup_migrations}}},
      {"context_switches", mt.context_switches},
      {"nohz_kicks", mt.nohz_kicks},
  };

  if (o.format == "json") {
    nlohmann::json out = {
        {"machine", m.title},
        {"rules", o.rules},
        {"workload",
         {{"name", o.workload},
          {"hogs", w.hogs},
          {"light", w.light},
          {"work_us", static_cast<double>(w.work) / 1e3},
          {"period_us", static_cast<double>(w.period) / 1e3},
          {"start", o.start},
          {"start_cpu", w.start_cpu}}},
        {"seconds", o.seconds},
        {"metrics", metrics},
    };
    nlohmann::json tl = nlohmann::json::array();
    for (const sample& s : timeline)
      tl.push_back({{"time_s", s.time_s},
                    {"migrations", s.migrations},
                    {"wakeups", s.wakeups},
                    {"running_cpus", s.running},
                    {"idle_cpus", s.idle},
                    {"overloaded_cpus", s.overloaded},
                    {"work_conserving", s.work_conserving}});
    out["timeline"] = tl;
    fmt::print("{}\n", out.dump(2));
    return 0;
  }
  if (o.format == "csv") {
    fmt::print("time_s,migrations,wakeups,running_cpus,idle_cpus,overloaded_cpus,work_conserving\n");
    for (const sample& s : timeline)
      fmt::print("{:.3f},{},{},{},{},{},{}\n", s.time_s, s.migrations, s.wakeups, s.running, s.idle, s.overloaded,
                 s.work_conserving ? 1 : 0);
    return 0;
  }
  fmt::print("{}\n", m.title);
  fmt::print("workload {}: {} hogs, {} light tasks ({} us every {} us), {} CPU {}; rules: {}; {} s simulated\n", o.workload,
             w.hogs, w.light, static_cast<double>(w.work) / 1e3, static_cast<double>(w.period) / 1e3,
             o.start == "released" ? "released from" : "forked from", w.start_cpu, o.rules, o.seconds);
  fmt::print("{:>8} {:>10} {:>9} {:>8} {:>6} {:>6}  {}\n", "time s", "migrations", "wakeups", "running", "idle", "over", "I1");
  for (const sample& s : timeline)
    fmt::print("{:>8.2f} {:>10} {:>9} {:>8} {:>6} {:>6}  {}\n", s.time_s, s.migrations, s.wakeups, s.running, s.idle,
               s.overloaded, s.work_conserving ? "holds" : "violated");
  fmt::print("throughput: {:.3f} CPUs of work per second (work done {:.3f} CPU-s at capacity 1024)\n",
             metrics["throughput_cpus"].get<double>(), metrics["work_done_cpu_s"].get<double>());
  fmt::print("busy CPUs on average: {:.2f}; idle while a task waited elsewhere: {:.3f} CPU-s\n",
             metrics["busy_cpus_mean"].get<double>(), metrics["idle_while_waiting_cpu_s"].get<double>());
  fmt::print("wakeups: {} (latency us: mean {:.1f}, p50 <= {:.1f}, p99 <= {:.1f}, max {:.1f})\n", mt.wakeups, lat_mean,
             metrics["wakeup_latency_us"]["p50"].get<double>(), metrics["wakeup_latency_us"]["p99"].get<double>(),
             metrics["wakeup_latency_us"]["max"].get<double>());
  fmt::print("migrations: {} periodic, {} newly idle, {} active, {} by nohz idle balance; {} forced by affinity; {} "
             "wakeups placed off their previous CPU\n",
             mt.migrations_periodic, mt.migrations_newidle, mt.migrations_active, mt.migrations_nohz,
             mt.affinity_migrations, mt.wakeup_migrations);
  fmt::print("context switches: {}; nohz kicks: {}\n", mt.context_switches, mt.nohz_kicks);
  return 0;
}

}  // namespace

int run_simulate(const simulate_options& o) {
  if (o.workload != "hogs" && o.workload != "light" && o.workload != "mixed")
    fail(fmt::format("unknown --workload '{}' (choose hogs, light or mixed)", o.workload));
  if (o.rules != "linux" && o.rules != "min-load" && o.rules != "ipanema")
    fail(fmt::format("unknown --rules '{}' (choose linux, min-load or ipanema)", o.rules));
  if (o.start != "released" && o.start != "forked") fail(fmt::format("unknown --start '{}' (choose released or forked)", o.start));
  if (o.format != "table" && o.format != "csv" && o.format != "json")
    fail(fmt::format("unknown --format '{}' (choose table, csv or json)", o.format));
  if (!(o.seconds > 0) || o.seconds > 3600) fail(fmt::format("--seconds {} is not in (0, 3600]", o.seconds));
  if (!(o.step_ms >= 1) || o.step_ms > o.seconds * 1000) fail(fmt::format("--step-ms {} is not in [1, --seconds]", o.step_ms));
  if (!(o.period_us >= 1)) fail(fmt::format("--period-us {} must be at least 1", o.period_us));
  if (!(o.work_us > 0) || o.work_us > o.period_us)
    fail(fmt::format("--work-us {} is not in (0, --period-us = {}]", o.work_us, o.period_us));
  const loaded m = load_machine(o.machine);
  const auto& online = m.topology->online();
  if (!online.test(o.start_cpu))
    fail(fmt::format("--start-cpu {} is not an online CPU of this machine ({})", o.start_cpu, to_cpulist(online)));
  model::workload w;
  const std::size_t cpus = online.weight();
  if (o.workload == "hogs") w.hogs = o.tasks.value_or(cpus * 3 / 2);
  if (o.workload == "light") w.light = o.tasks.value_or(cpus);
  if (o.workload == "mixed") {
    w.hogs = o.tasks.value_or(cpus / 2);
    w.light = o.light != 0 ? o.light : cpus;
  }
  if (w.hogs + w.light > L::max_tasks)
    fail(fmt::format("{} tasks are more than the simulator holds ({})", w.hogs + w.light, L::max_tasks));
  w.work = static_cast<nanoseconds>(std::llround(o.work_us * 1e3));
  w.period = static_cast<nanoseconds>(std::llround(o.period_us * 1e3));
  w.start_cpu = o.start_cpu;
  w.start = o.start == "released" ? model::start_mode::released : model::start_mode::forked;
  auto tree = std::make_unique<cli_domains>();
  if (status s = cli_domains::build(*m.topology, balancer_domain_options(), *tree); !s)
    fail(std::string(s.error_value().message.view()));
  if (o.rules == "min-load") return simulate_with<wasted_cores_rules>(o, w, m, *tree);
  if (o.rules == "ipanema") return simulate_with<ipanema_rules>(o, w, m, *tree);
  return simulate_with<linux_defaults>(o, w, m, *tree);
}

}  // namespace bkcli
