// The balancekit command line: look at machines as balancekit sees them, and run the
// balancer in the system model.
//
// Exit codes: 0 success, 2 bad input (the message on stderr says what and where),
// 1 anything else (an I/O failure reading a file).
#include <balancekit/balancekit.hpp>
#if BALANCEKIT_CLI_HAS_HWLOC
#include <balancekit/adapters/hwloc.hpp>
#endif

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <string_view>
#include <utility>
#include <vector>
#include <memory>
#include <optional>
#include <string>

#include "cli_common.hpp"
#include "print_topology.hpp"
#include "simulate.hpp"
#include "replay.hpp"
#include "simulate_time.hpp"

namespace {

using namespace balancekit;
using namespace bkcli;

// Adds the options every command that reads a machine shares.
void add_machine_options(CLI::App& cmd, topology_options& o) {
  auto* spec = cmd.add_option("--spec", o.spec, "Level string, outermost first, e.g. \"package:2 numa:3 l3:2 core:4 pu:2\"");
  auto* machine = cmd.add_option("--machine", o.machine, "A built-in machine (see `balancekit machines`); default: " +
                                                             std::string(machines::default_machine.name));
  auto* xml = cmd.add_option("--hwloc-xml", o.hwloc_xml, "An hwloc XML export")->check(CLI::ExistingFile);
  auto* fsroot = cmd.add_option("--hwloc-fsroot", o.hwloc_fsroot, "An unpacked Linux sysfs snapshot (HWLOC_FSROOT)")
                     ->check(CLI::ExistingDirectory);
  auto* host = cmd.add_flag("--host", o.host, "This machine, read with hwloc");
  const std::vector<CLI::Option*> sources{spec, machine, xml, fsroot, host};
  for (auto* a : sources)
    for (auto* b : sources)
      if (a != b) a->excludes(b);
  cmd.add_option("--distances", o.distances, "NUMA distance matrix, rows by ';', e.g. \"10 12;12 10\"");
  cmd.add_option("--capacity", o.capacity, "Per-CPU capacity, e.g. \"0-3:446,4-7:1024\" (others keep 1024)");
  cmd.add_option("--offline", o.offline, "Offline CPUs as a cpulist, e.g. \"5,7\"");
  cmd.add_option("--cpu-ids", o.cpu_ids, "OS id of each logical CPU in order, a cpulist, e.g. \"0-7,16-23\"");
}

// Unsigned options: CLI11 would read "-3" as 2^64 - 3; refuse it with its text instead.
const CLI::Validator non_negative(
    [](std::string& text) {
      const std::size_t first = text.find_first_not_of(" \t");
      return first != std::string::npos && text[first] == '-' ? text + " is negative; give 0 or more" : std::string{};
    },
    "", "NON-NEGATIVE");

}  // namespace

loaded bkcli::load_machine(const topology_options& o) {
  loaded out;
  const bool hwloc_source = !o.hwloc_xml.empty() || !o.hwloc_fsroot.empty() || o.host;
  if (hwloc_source) {
    if (o.distances || o.capacity || o.offline || o.cpu_ids)
      fail("--distances, --capacity, --offline and --cpu-ids apply to --spec and --machine only");
#if BALANCEKIT_CLI_HAS_HWLOC
    hwloc::import_report report;
    status s = !o.hwloc_xml.empty()      ? hwloc::load_xml(o.hwloc_xml, *out.topology, &report)
               : !o.hwloc_fsroot.empty() ? hwloc::load_fsroot(o.hwloc_fsroot, *out.topology, &report)
                                         : hwloc::load_host(*out.topology, &report);
    if (!s) fail(std::string(s.error_value().message.view()));  // adapter messages name their source
    out.title = report.source;
    out.notes = report.notes;
    if (!report.offline_unplaced.empty())
      out.notes.push_back(fmt::format("{} offline CPU(s) without topology information: {}", report.offline_unplaced.size(),
                                      fmt::join(report.offline_unplaced, ",")));
    return out;
#else
    fail("this balancekit was built without hwloc (apt-get install libhwloc-dev, then rebuild)");
#endif
  }
  machine_spec spec;
  if (!o.spec.empty()) {
    spec.levels = o.spec;
    out.title = "spec: " + o.spec;
  } else {
    const std::string name = o.machine.empty() ? std::string(machines::default_machine.name) : o.machine;
    const auto m = machines::find(name);
    if (!m) {
      std::string known;
      for (const auto& k : machines::all) known += (known.empty() ? "" : ", ") + std::string(k.name);
      fail(fmt::format("unknown machine '{}' (known: {})", name, known));
    }
    spec = m->spec;
    out.title = fmt::format("{}: {}\nspec: {}", m->name, m->summary, m->spec.levels);
  }
  if (o.distances) spec.distances = *o.distances;
  if (o.capacity) spec.capacity = *o.capacity;
  if (o.offline) spec.offline = *o.offline;
  if (o.cpu_ids) spec.cpu_ids = *o.cpu_ids;
  if (status s = make_topology(spec, *out.topology); !s) fail(std::string(s.error_value().message.view()));
  return out;
}

namespace {

hw_level parse_depth(const std::string& d) {
  for (hw_level l : hw_levels)
    if (to_string(l) == d && l != hw_level::die) return l;
  fail(fmt::format("unknown --depth '{}' (choose package, node, llc, cluster or core)", d));
}

int run_topology(const topology_options& o) {
  const hw_level depth = parse_depth(o.depth);
  const loaded m = load_machine(o);
  fmt::print("{}\n", m.title);
  for (const auto& n : m.notes) fmt::print("note: {}\n", n);
  bkcli::topology_printer printer(*m.topology, stdout);
  printer.summary();
  fmt::print("\n");
  printer.tree(depth);
  fmt::print("\n");
  printer.distances();
  return 0;
}

struct domains_options {
  topology_options machine;
  std::string kernel = "linux-6.1";
  std::string arch = "x86";
  std::string format = "tree";
  std::size_t cpu = 0;
};

int run_domains(const domains_options& o) {
  domain_options opts;
  if (o.kernel == "linux-6.1") opts.profile = kernel_profile::linux_6_1;
  else if (o.kernel == "mainline") opts.profile = kernel_profile::mainline;
  else if (o.kernel == "linux-6.12") opts.profile = kernel_profile::linux_6_12;
  else fail(fmt::format("unknown --kernel '{}' (choose linux-6.1, linux-6.12 or mainline)", o.kernel));
  if (o.arch == "x86") opts.arch = arch_rules::x86;
  else if (o.arch == "generic") opts.arch = arch_rules::generic;
  else fail(fmt::format("unknown --arch '{}' (choose x86 or generic)", o.arch));
  if (o.format != "tree" && o.format != "sched_verbose" && o.format != "debugfs")
    fail(fmt::format("unknown --format '{}' (choose sched_verbose, debugfs or tree)", o.format));
  const loaded m = load_machine(o.machine);
  if (o.format == "tree" && !m.topology->online().test(o.cpu))
    fail(fmt::format("--cpu {} is not an online CPU of this machine ({})", o.cpu, to_cpulist(m.topology->online())));
  auto tree = std::make_unique<cli_domains>();
  if (status s = cli_domains::build(*m.topology, opts, *tree); !s) fail(std::string(s.error_value().message.view()));
  std::string text;
  const auto sink = [&](std::string_view part) { text += part; };
  if (o.format == "sched_verbose") format_sched_verbose(*tree, sink);
  else if (o.format == "debugfs") format_debugfs(*tree, sink);
  else format_domain_tree(*tree, o.cpu, sink);
  std::fputs(text.c_str(), stdout);
  return 0;
}

int run_balance(const balance_options& o) {
  if (o.rules != "linux" && o.rules != "min-load" && o.rules != "ipanema")
    fail(fmt::format("unknown --rules '{}' (choose linux, min-load or ipanema)", o.rules));
  const bool packed = o.packing != "none";
  if (packed && std::find(packing_names.begin(), packing_names.end(), o.packing) == packing_names.end())
    fail(fmt::format("unknown --packing '{}' (choose none, {})", o.packing, fmt::join(packing_names, ", ")));
  if (packed && o.rules != "linux") fail("--packing goes with --rules linux");
  if (o.margin < 1 || o.margin > 100) fail(fmt::format("--margin {} is outside 1..100 (percent of a CPU's capacity)", o.margin));
  if (o.tasks.value_or(0) + o.light > large_limits::max_tasks)
    fail(fmt::format("{} tasks are more than the model holds ({})", o.tasks.value_or(0) + o.light, large_limits::max_tasks));
  if (o.weight == 0) fail("--weight must be at least 1");
  if (o.demand == 0 || o.demand > sched_capacity_scale) fail(fmt::format("--demand {} is not in 1..1024", o.demand));
  if (o.light_demand == 0 || o.light_demand > sched_capacity_scale)
    fail(fmt::format("--light-demand {} is not in 1..1024", o.light_demand));
  if (o.light_run == 0) fail("--light-run must be at least 1");
  if (o.rounds == 0) fail("--rounds must be at least 1");
  const loaded m = load_machine(o.machine);
  if (!o.spread && !m.topology->online().test(o.start))
    fail(fmt::format("--start {} is not an online CPU of this machine ({})", o.start, to_cpulist(m.topology->online())));
  auto tree = std::make_unique<cli_domains>();
  if (status s = cli_domains::build(*m.topology, balancer_domain_options(), *tree); !s) fail(std::string(s.error_value().message.view()));
  fmt::print("{}\n", m.title);
  if (packed) return simulate_packed(o, m, *tree);
  if (o.rules == "min-load") return simulate<wasted_cores_rules>(o, m, *tree);
  if (o.rules == "ipanema") return simulate<ipanema_rules>(o, m, *tree);
  return simulate<linux_defaults>(o, m, *tree);
}

struct place_options {
  topology_options machine;
  std::string packing = "conf0";
  std::string power_line = "smt";
};

// The buddy table of a packing policy, printed as the seed prints it: a column for each
// socket leader (the first CPU of a group of the top domain) and each CPU that is its own
// buddy, and one for each run of other consecutive CPUs with the same buddy.
template <class Packing>
void print_buddies(const cli_domains& tree) {
  auto table = std::make_unique<buddy_table<large_limits>>();
  Packing::attach(tree, *table);
  const auto& cpus = tree.cpu_map();
  cpumask<large_limits::max_cpus> alone;
  for (std::size_t c : cpus) {
    if (table->buddy[c] == c) alone.set(c);
    if (const std::size_t nr = tree.nr_domains(c); nr != 0)
      alone.set(tree.span(tree.group_of(tree.domain_of(c, nr - 1), 0)).first());
  }
  std::vector<std::string> lcpus;
  std::vector<std::string> buddies;
  for (auto it = cpus.begin(); it != cpus.end();) {
    const std::size_t first = *it;
    const std::size_t b = table->buddy[first];
    std::size_t last = first;
    ++it;
    if (!alone.test(first))
      while (it != cpus.end() && *it == last + 1 && !alone.test(*it) && table->buddy[*it] == b) last = *it++;
    lcpus.push_back(first == last ? std::to_string(first) : fmt::format("{}-{}", first, last));
    buddies.push_back(b == no_cpu ? std::string("-") : std::to_string(b));
  }
  std::string row1 = "LCPU ";
  std::string row2 = "buddy";
  for (std::size_t i = 0; i < lcpus.size(); ++i) {
    const std::size_t w = std::max(lcpus[i].size(), buddies[i].size());
    row1 += fmt::format(" | {:<{}}", lcpus[i], w);
    row2 += fmt::format(" | {:<{}}", buddies[i], w);
  }
  fmt::print("{}\n{}\n", row1, row2);
  std::size_t worst = 0;
  std::size_t worst_cpu = no_cpu;
  std::size_t cycles = 0;
  std::size_t with_buddy = 0;
  for (std::size_t c : cpus) {
    with_buddy += table->buddy[c] != no_cpu ? 1U : 0U;
    const std::size_t h = buddy_hops(*table, c);
    if (h == no_cpu) ++cycles;
    else if (h > worst) {
      worst = h;
      worst_cpu = c;
    }
  }
  if (with_buddy == 0) fmt::print("no CPU has a packing buddy: packing is off\n");
  else if (worst_cpu != no_cpu) fmt::print("hops to a packing CPU: at most {} (from CPU {})\n", worst, worst_cpu);
  if (cycles != 0) fmt::print("{} CPU(s) whose buddy links cycle and never reach a packing CPU\n", cycles);
}

template <packing::power_line Line>
void print_topology_buddies(const cli_domains& tree) {
  print_buddies<packing::guittot_topology<Line>>(tree);
}

int run_place(const place_options& o) {
  using packing::power_line;
  static constexpr std::pair<std::string_view, power_line> lines[] = {
      {"none", power_line::none}, {"smt", power_line::smt},         {"cluster", power_line::cluster},
      {"llc", power_line::llc},   {"package", power_line::package}, {"all", power_line::all}};
  const auto line = std::find_if(std::begin(lines), std::end(lines), [&](const auto& l) { return l.first == o.power_line; });
  if (line == std::end(lines))
    fail(fmt::format("unknown --power-line '{}' (choose none, smt, cluster, llc, package or all)", o.power_line));
  if (o.packing != "conf0" && o.packing != "conf1" && o.packing != "conf2" && o.packing != "topology")
    fail(fmt::format("unknown --packing '{}' (choose conf0, conf1, conf2 or topology)", o.packing));
  const loaded m = load_machine(o.machine);
  auto tree = std::make_unique<cli_domains>();
  if (status s = cli_domains::build(*m.topology, balancer_domain_options(), *tree); !s) fail(std::string(s.error_value().message.view()));
  fmt::print("{}\n", m.title);
  if (o.packing == "topology") {
    fmt::print("packing buddies (seed 000): Guittot's topology rule, CPUs sharing a power line up to: {}\n", o.power_line);
    switch (line->second) {
      case power_line::none: print_topology_buddies<power_line::none>(*tree); break;
      case power_line::smt: print_topology_buddies<power_line::smt>(*tree); break;
      case power_line::cluster: print_topology_buddies<power_line::cluster>(*tree); break;
      case power_line::llc: print_topology_buddies<power_line::llc>(*tree); break;
      case power_line::package: print_topology_buddies<power_line::package>(*tree); break;
      case power_line::all: print_topology_buddies<power_line::all>(*tree); break;
    }
    return 0;
  }
  fmt::print("packing buddies (seed 000): the seed's {}, sockets = the groups of the top domain\n", o.packing);
  if (o.packing == "conf0") print_buddies<packing::guittot<packing::buddy_conf::conf0>>(*tree);
  else if (o.packing == "conf1") print_buddies<packing::guittot<packing::buddy_conf::conf1>>(*tree);
  else print_buddies<packing::guittot<packing::buddy_conf::conf2>>(*tree);
  return 0;
}

void add_simulate_options(CLI::App& cmd, simulate_options& o) {
  add_machine_options(cmd, o.machine);
  cmd.add_option("--workload", o.workload,
                 "hogs (CPU hogs), light (periodic tasks: --work-us every --period-us), mixed (both), pairs "
                 "(ping-pong pairs: --work-us a turn), hackbench (message groups: --work-us a message), schbench "
                 "(messengers waking --workers workers every --period-us), churn (short-lived tasks forked every --period-us), "
                 "bursty (schbench's bursts and churn together), numa-private (hogs whose memory starts on the start "
                 "CPU's node), numa-shared (threads of processes sharing memory), mysql (one process's threads on a "
                 "shared buffer pool) or the Wasted Cores scenarios s1 (Group Imbalance), s2 (Scheduling Group Construction), s3 "
                 "(Overload-on-Wakeup), s4 (Missing Scheduling Domains)")
      ->capture_default_str();
  cmd.add_option("--tasks", o.tasks,
                 "Tasks (hogs: default 1.5 per online CPU; light and pairs: 1 per CPU; mixed: the hogs, default 0.5 "
                 "per CPU; hackbench: groups, default 1 per 40 CPUs; schbench and bursty: messengers, default 1 per 16 CPUs; s1: R hogs, "
                 "default 2; s2: the application's threads, default the CPUs of its two nodes; s3: waker/wakee pairs, "
                 "default 3; s4: hogs, default 1 per online CPU; numa-private and numa-shared: tasks, default 1 per 2 "
                 "CPUs; mysql: threads, default 64)")
      ->check(non_negative);
  cmd.add_option("--fds", o.fds, "hackbench: senders and receivers per group")->check(CLI::PositiveNumber)->capture_default_str();
  cmd.add_option("--footprint-kib", o.footprint_kib, "Every task's cache footprint, in KiB (the cost model's LLC penalty)")
      ->check(CLI::NonNegativeNumber);
  cmd.add_option("--memory-permille", o.memory_permille, "The share (per mille) of a task's time spent on its footprint")
      ->check(CLI::Range(0, 1000));
  cmd.add_option("--memory-mib", o.memory_mib,
                 "NUMA memory, in MiB: each task's private memory (numa-private, default 256), each process's shared "
                 "memory (numa-shared, default 1024; mysql, the buffer pool, default 4096)")
      ->check(CLI::NonNegativeNumber);
  cmd.add_option("--processes", o.processes, "numa-shared: the processes the tasks are threads of (default 4)")
      ->check(non_negative);
  cmd.add_option("--shared-permille", o.shared_permille,
                 "The share (per mille) of a task's memory accesses to its process's shared memory (numa-shared: "
                 "default 800; mysql: 900)")
      ->check(CLI::Range(0, 1000));
  cmd.add_option("--memory-node", o.memory_node,
                 "NUMA workloads: the node whose memory the tasks' pages start on (default: the start CPU's node)")
      ->check(non_negative);
  cmd.add_option("--dram-permille", o.dram_permille,
                 "The share (per mille) of a task's time spent waiting on memory when all of it is local (NUMA "
                 "workloads; remote memory slows it by the SLIT distance)")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  cmd.add_option("--cost", o.costs,
                 "Override a cost model parameter, NAME=VALUE (repeatable): smt_core_throughput, message_lines, "
                 "line_same_core, line_same_llc, line_same_node (ns), llc_bytes, dram_to_llc, push, ipi_send, ipi_latency, numa_fault, page_migrate (ns); docs/simulator.md");
  cmd.add_option("--workers", o.workers, "schbench: workers per messenger")->check(CLI::PositiveNumber)->capture_default_str();
  cmd.add_option("--light", o.light, "For mixed: light tasks (default: 1 per online CPU)")->check(non_negative);
  cmd.add_option("--work-us", o.work_us, "A light task's CPU time per period, in us at capacity 1024")->capture_default_str();
  cmd.add_option("--period-us", o.period_us, "A light task's period, in us")->capture_default_str();
  cmd.add_option("--start", o.start, "released (pinned to --start-cpu, released after 20 ms) or forked (from --start-cpu)")
      ->capture_default_str();
  cmd.add_option("--start-cpu", o.start_cpu,
                 "The CPU the tasks start from (default 0; s2: the first CPU of the second node, the paper's node 1)")
      ->check(non_negative);
  cmd.add_option("--s2-node", o.s2_node,
                 "s2: the second node the application may run on (default: the lowest-numbered node farthest from "
                 "the start CPU's)")
      ->check(non_negative);
  cmd.add_option("--seconds", o.seconds, "Simulated seconds")->capture_default_str();
  cmd.add_option("--step-ms", o.step_ms, "Timeline sampling step, in simulated ms")->capture_default_str();
  cmd.add_option("--format", o.format, "table, csv (simulate: the timeline) or json")->capture_default_str();
  cmd.add_option("--seed", o.seed, "Light tasks start at offsets drawn from this seed (0: evenly staggered)")
      ->check(non_negative)
      ->capture_default_str();
  cmd.add_option("--plot", o.plot,
                 "Draw an SVG with gnuplot (simulate: per-CPU utilization over time; compare: the metrics as bars); "
                 "the CSV and the gnuplot script are written beside it");
}

int run_machines() {
  for (const auto& m : machines::all)
    fmt::print("{:<10} {}{}\n           --spec \"{}\"\n", m.name, m.summary,
               m.name == machines::default_machine.name ? " (default)" : "", m.spec.levels);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"balancekit: CPU load-balancing policies in the Linux scheduler's vocabulary"};
  app.set_version_flag("--version", fmt::format("balancekit {}.{}.{}", BALANCEKIT_VERSION_MAJOR, BALANCEKIT_VERSION_MINOR,
                                                BALANCEKIT_VERSION_PATCH));
  app.require_subcommand(1);

  topology_options topo;
  auto* topology_cmd = app.add_subcommand("topology", "Print a machine as a tree with counts, capacities and distances");
  add_machine_options(*topology_cmd, topo);
  topology_cmd->add_option("--depth", topo.depth, "Deepest level to print: package, node, llc, cluster or core")
      ->capture_default_str();
  domains_options doms;
  auto* domains_cmd = app.add_subcommand("domains", "Print the scheduling domains and groups Linux would build");
  add_machine_options(*domains_cmd, doms.machine);
  domains_cmd->add_option("--kernel", doms.kernel, "Kernel profile: linux-6.1 (the oracle), linux-6.12 (the second oracle) or mainline")->capture_default_str();
  domains_cmd->add_option("--arch", doms.arch, "Architecture rules: x86 or generic")->capture_default_str();
  domains_cmd->add_option("--format", doms.format,
                          "sched_verbose (the kernel's boot output), debugfs (one line per CPU and domain) or tree")
      ->capture_default_str();
  domains_cmd->add_option("--cpu", doms.cpu, "The CPU whose domains the tree shows")
      ->check(non_negative)
      ->capture_default_str();
  auto* machines_cmd = app.add_subcommand("machines", "List the built-in machines");
  balance_options bal;
  auto* balance_cmd = app.add_subcommand(
      "balance", "Run the system model: CPU hogs balanced round by round (Linux v6.16 rules by default)");
  add_machine_options(*balance_cmd, bal.machine);
  balance_cmd->add_option("--rules", bal.rules, "linux (Linux v6.16), min-load (Wasted Cores fix) or ipanema (steal)")
      ->capture_default_str();
  balance_cmd->add_option("--tasks", bal.tasks, "Number of tasks (default: 1.5 per online CPU)")->check(non_negative);
  balance_cmd->add_option("--start", bal.start, "The CPU every task starts on")->check(non_negative)->capture_default_str();
  balance_cmd->add_flag("--spread", bal.spread, "Start tasks round-robin over the online CPUs instead");
  balance_cmd->add_option("--weight", bal.weight, "Task weight (nice 0 = 1024)")->check(non_negative)->capture_default_str();
  balance_cmd->add_option("--demand", bal.demand, "Task utilization when alone, 1..1024 (1024 = CPU hog)")
      ->check(non_negative)
      ->capture_default_str();
  balance_cmd->add_option("--rounds", bal.rounds, "At most this many rounds")->check(non_negative)->capture_default_str();
  balance_cmd->add_option("--quiet-rounds", bal.quiet, "Stop after this many rounds without a migration")
      ->check(non_negative)
      ->capture_default_str();
  balance_cmd->add_option("--packing", bal.packing,
                          "Packing policy (seed 000): none, conf0, conf1, conf2, topology (threads share a power "
                          "line), shi-powersaving, shi-balance or utilization")
      ->capture_default_str();
  balance_cmd->add_option("--margin", bal.margin, "For --packing utilization: percent of a CPU's capacity, 1..100")
      ->capture_default_str();
  balance_cmd->add_option("--light", bal.light, "Light tasks, started round-robin over the online CPUs (then --tasks "
                                                "defaults to 0)")
      ->check(non_negative);
  balance_cmd->add_option("--light-demand", bal.light_demand, "A light task's utilization, 1..1024 (light: under 256)")
      ->check(non_negative)
      ->capture_default_str();
  balance_cmd->add_option("--light-run", bal.light_run, "Rounds a light task runs before it sleeps")
      ->check(non_negative)
      ->capture_default_str();
  balance_cmd->add_option("--light-sleep", bal.light_sleep, "Rounds it sleeps before it wakes through the pack")
      ->check(non_negative)
      ->capture_default_str();

  simulate_options sim;
  auto* simulate_cmd = app.add_subcommand(
      "simulate", "Run the time-driven simulator on a workload: ticks, PELT, newly idle and nohz idle balances");
  add_simulate_options(*simulate_cmd, sim);
  simulate_cmd->add_option("--rules", sim.rules,
                           "linux (Linux v6.16), linux-6.1, min-load (Wasted Cores fix for Group Imbalance), idle-first "
                           "(Wasted Cores fix for Overload-on-Wakeup), ipanema (steal), Linux with packing: "
                           "guittot, shi-powersaving, utilization, or with aggregation: llc-centric, llc-centric-t90, "
                           "topology-aware-t90, topology-aware-damped-t90")
      ->capture_default_str();
  simulate_options cmp;
  std::string policies = "linux,min-load,ipanema";
  auto* compare_cmd = app.add_subcommand(
      "compare", "Run one workload in the simulator under several policies and compare them in one table");
  add_simulate_options(*compare_cmd, cmp);
  compare_cmd->add_option("--policies", policies,
                          "Comma-separated: linux, linux-6.1, min-load, idle-first, ipanema, guittot, shi-powersaving, "
                          "utilization, llc-centric, llc-centric-t90, topology-aware-t90, topology-aware-damped-t90")
      ->capture_default_str();
  auto* list_cmd = app.add_subcommand("list", "List the machines, workloads and policies");
  std::string tour_dir = "tour";
  auto* tour_cmd = app.add_subcommand(
      "tour", "The main job: Wasted Cores S1, seed 001's aggregation and seed 002's push on hygon384, seed 000's packing on seed64, with tables and plots");
  tour_cmd->add_option("--out", tour_dir, "Directory for the plots")->capture_default_str();
  std::vector<std::string> sweep_files;
  std::string shard;
  bool merge = false;
  auto* sweep_cmd = app.add_subcommand(
      "sweep", "Run a sweep file's machines x workloads x policies x seeds as JSON lines, or --merge their outputs");
  sweep_cmd->add_option("files", sweep_files, "The sweep file (JSON), or with --merge the JSON-lines outputs")->required();
  sweep_cmd->add_option("--shard", shard, "K/N: run only the runs whose index is K-1 modulo N (1 <= K <= N)");
  sweep_cmd->add_flag("--merge", merge, "Summarise JSON-lines outputs of sweeps, grouped over seeds");

  std::vector<std::string> replay_paths;
  std::string replay_format = "table";
  auto* replay_cmd = app.add_subcommand(
      "replay", "Replay kernel trajectory captures (tools/kernel-oracle) in the simulator and compare where tasks settle");
  replay_cmd->add_option("captures", replay_paths, "Capture directories, or directories of captures")->required();
  replay_cmd->add_option("--format", replay_format, "table, markdown (docs/kernel-oracle.md's table) or json")
      ->capture_default_str();

  place_options plc;
  auto* place_cmd = app.add_subcommand(
      "place", "Print each CPU's packing buddy (seed 000): the seed's conf0/conf1/conf2 or Guittot's topology rule");
  add_machine_options(*place_cmd, plc.machine);
  place_cmd->add_option("--packing", plc.packing, "conf0, conf1, conf2 (the seed's tables) or topology (Guittot's rule)")
      ->capture_default_str();
  place_cmd->add_option("--power-line", plc.power_line,
                        "For topology: up to which level CPUs share a power line: none, smt, cluster, llc, package "
                        "or all (all: nothing can be power-gated, so no buddy)")
      ->capture_default_str();

  try {
    app.parse(argc, argv);
    if (*topology_cmd) return run_topology(topo);
    if (*domains_cmd) return run_domains(doms);
    if (*machines_cmd) return run_machines();
    if (*balance_cmd) return run_balance(bal);
    if (*place_cmd) return run_place(plc);
    if (*simulate_cmd) return run_simulate(sim);
    if (*compare_cmd) return run_compare(cmp, policies);
    if (*list_cmd) return run_list();
    if (*tour_cmd) return run_tour(tour_dir);
    if (*replay_cmd) return run_replay(replay_paths, replay_format);
    if (*sweep_cmd) {
      if (merge) return run_sweep_merge(sweep_files);
      if (sweep_files.size() != 1) fail("sweep takes one sweep file (or --merge with output files)");
      return run_sweep(sweep_files.front(), shard);
    }
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "balancekit: error: {}\nRun with --help for usage.\n", e.what());
    return exit_bad_input;
  } catch (const bad_input& e) {
    fmt::print(stderr, "balancekit: error: {}\n", e.message);
    return exit_bad_input;
  }
  return 0;
}
