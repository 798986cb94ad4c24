// balancekit replay: a kernel trajectory capture (tools/kernel-oracle, trajectory.txt and
// spec.txt) replayed in the time-driven simulator — the same machine, the same spawns,
// forks and `taskset` releases at the same microseconds — and the settled placements
// compared, level by level, up to symmetry. Then the kernel's final placement is started
// in the simulator and left alone: it must be a fixpoint (no migration). docs/kernel-oracle.md.
#include "replay.hpp"

#include <balancekit/balancekit.hpp>
#include <balancekit/model/simulator.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace bkcli {

loaded load_machine(const topology_options& o);  // main.cpp

namespace {

using namespace balancekit;
namespace fs = std::filesystem;
using L = large_limits;
constexpr nanoseconds us = 1'000;


// One capture: the machine, the tasks and the procedure, and where the kernel ran them.
struct capture {
  std::string name;
  std::string levels;
  std::string distances;
  std::string kernel;
  std::size_t cpus = 0;
  std::string online;
  bool pinned = false;
  struct task {
    bool hog = true;
    nanoseconds run = 0;
    nanoseconds period = 0;
  };
  std::vector<task> tasks;
  struct event {
    nanoseconds time = 0;
    bool release = false;  // else a spawn
    std::size_t task = 0;
    std::size_t cpu = 0;   // a spawn's parent CPU
  };
  std::vector<event> events;
  std::vector<std::vector<std::pair<nanoseconds, std::size_t>>> seen;  // per task: (time, cpu)
  nanoseconds end = 0;
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  if (!in) fail(fmt::format("{}: cannot open", p.string()));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string spec_field(const std::string& spec, const std::string& key) {
  std::istringstream in(spec);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + ": ", 0) == 0) return line.substr(key.size() + 2);
  return {};
}

capture parse(const fs::path& dir) {
  capture c;
  c.name = dir.filename().string();
  const fs::path file = dir / "trajectory.txt";
  const std::string spec = read_file(dir / "spec.txt");
  c.levels = spec_field(spec, "levels");
  c.distances = spec_field(spec, "distances");
  if (c.distances == "(none)") c.distances.clear();
  if (c.levels.empty()) fail(fmt::format("{}: no 'levels:' line", (dir / "spec.txt").string()));
  std::istringstream in(read_file(file));
  std::size_t n = 0;
  auto bad = [&](const std::string& what) { fail(fmt::format("{}:{}: {}", file.string(), n, what)); };
  auto number = [&](std::istringstream& words, const char* what) {
    long long v = 0;
    std::string w;
    if (!(words >> w) || std::from_chars(w.data(), w.data() + w.size(), v).ptr != w.data() + w.size() || v < 0)
      bad(fmt::format("expected a non-negative integer ({})", what));
    return v;
  };
  auto task_index = [&](std::istringstream& words) {
    const auto t = static_cast<std::size_t>(number(words, "task"));
    if (t >= c.tasks.size()) bad(fmt::format("task {} was not declared", t));
    return t;
  };
  for (std::string line; std::getline(in, line);) {
    ++n;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::string key;
    words >> key;
    if (key == "kernel") words >> c.kernel;
    else if (key == "cpus") c.cpus = static_cast<std::size_t>(number(words, "cpus"));
    else if (key == "online") words >> c.online;
    else if (key == "scenario") {
      std::string s;
      words >> s;
      if (s != "hogs" && s != "light") bad(fmt::format("unknown scenario '{}'", s));
    } else if (key == "start") {
      std::string s;
      words >> s;
      if (s != "pinned" && s != "fork") bad(fmt::format("unknown start '{}'", s));
      c.pinned = s == "pinned";
    } else if (key == "task") {
      if (static_cast<std::size_t>(number(words, "task")) != c.tasks.size()) bad("tasks must be declared in order");
      std::string kind;
      words >> kind;
      capture::task t;
      if (kind == "periodic") {
        t.hog = false;
        t.run = number(words, "run_us") * us;
        t.period = number(words, "period_us") * us;
        if (t.run == 0 || t.period < t.run) bad("a periodic task needs 0 < run_us <= period_us");
      } else if (kind != "hog") {
        bad(fmt::format("unknown task kind '{}'", kind));
      }
      c.tasks.push_back(t);
      c.seen.emplace_back();
    } else if (key == "spawn" || key == "release") {
      capture::event e;
      e.release = key == "release";
      e.time = number(words, "time") * us;
      e.task = task_index(words);
      if (!e.release) e.cpu = static_cast<std::size_t>(number(words, "cpu"));
      c.events.push_back(e);
    } else if (key == "cpu") {
      const nanoseconds t = number(words, "time") * us;
      const std::size_t task = task_index(words);
      c.seen[task].emplace_back(t, static_cast<std::size_t>(number(words, "cpu")));
    } else if (key == "end") {
      c.end = number(words, "time") * us;
    } else {
      bad(fmt::format("unknown record '{}'", key));
    }
  }
  if (c.tasks.empty()) bad("no tasks");
  if (c.end == 0) bad("no 'end' record");
  for (std::size_t t = 0; t < c.tasks.size(); ++t)
    if (c.seen[t].empty()) fail(fmt::format("{}: task {} was never seen on a CPU", file.string(), t));
  std::stable_sort(c.events.begin(), c.events.end(), [](const auto& a, const auto& b) { return a.time < b.time; });
  return c;
}

// The offline CPUs: those of 0..cpus-1 not in the online list.
std::string offline_of(const capture& c) {
  const auto parsed = cpumask<L::max_cpus>::parse(c.online);
  if (!parsed) fail(fmt::format("{}: bad online list '{}'", c.name, c.online));
  const cpumask<L::max_cpus>& online = *parsed;
  cpumask<L::max_cpus> off;
  for (std::size_t i = 0; i < c.cpus; ++i)
    if (!online.test(i)) off.set(i);
  std::string s;
  off.format_list([&](std::string_view p) { s += p; });
  return s;
}

// Tasks per unit at one level, sorted: equal vectors are placements equal up to symmetry.
template <class UnitOf>
std::vector<std::size_t> profile(const cli_domains& tree, const std::vector<std::size_t>& where, UnitOf unit_of) {
  std::map<std::size_t, std::size_t> per;
  for (std::size_t c : tree.cpu_map()) per[unit_of(c)] += 0;
  for (std::size_t c : where) ++per[unit_of(c)];
  std::vector<std::size_t> v;
  for (const auto& [unit, count] : per) v.push_back(count);
  std::sort(v.rbegin(), v.rend());
  return v;
}

struct levels_compared {
  std::vector<std::vector<std::size_t>> kernel, sim;  // node, LLC, core, CPU
  std::array<bool, 4> agree{};
};

levels_compared compare(const cli_domains& tree, const std::vector<std::size_t>& k, const std::vector<std::size_t>& s) {
  levels_compared out;
  auto units = [&](const std::vector<std::size_t>& w) {
    return std::vector<std::vector<std::size_t>>{
        profile(tree, w, [&](std::size_t c) { return tree.node_mask(c).first(); }),
        profile(tree, w, [&](std::size_t c) { return tree.llc_id(c); }),
        profile(tree, w, [&](std::size_t c) { return tree.smt_mask(c).first(); }),
        profile(tree, w, [](std::size_t c) { return c; })};
  };
  out.kernel = units(k);
  out.sim = units(s);
  for (std::size_t i = 0; i < 4; ++i) out.agree[i] = out.kernel[i] == out.sim[i];
  return out;
}

std::string counts(const std::vector<std::size_t>& v) {
  std::string s;
  // Appended piecewise: GCC 12 at -O3 warns of an overlapping memcpy in
  // `("/" or "") + std::to_string(x)` (-Wrestrict, a false positive), which -Werror stops.
  for (std::size_t x : v) {
    if (!s.empty()) s += '/';
    s += std::to_string(x);
  }
  return s;
}

struct replayed {
  capture cap;
  std::vector<std::size_t> kernel_final, sim_final;
  levels_compared levels;
  std::uint64_t kernel_moves_late = 0;  // CPU changes in the last half of the run
  std::uint64_t sim_moves_late = 0;
  bool hogs = true;
  std::uint64_t fixpoint_migrations = 0;  // after the kernel's placement is released
  std::string rules;                      // the simulator's rules for this kernel
};

template <class P>
std::unique_ptr<model::simulator<P, L>> make_sim(const cli_domains& tree) {
  auto sim = std::make_unique<model::simulator<P, L>>(tree);
  sim->reset();
  return sim;
}

// Replays `r.cap` under pack `P` and fills the rest of `r`.
template <class P>
void replay_with(const cli_domains& tree, replayed& r) {
  const capture& c = r.cap;
  // The capture's procedure, at its own times.
  auto sim = make_sim<P>(tree);
  const nanoseconds half = c.end / 2;
  std::vector<std::size_t> at_half;
  bool halfway = false;
  auto advance = [&](nanoseconds t) {
    if (!halfway && t >= half) {
      sim->run_until(half);
      for (std::uint32_t i = 0; i < sim->snap().tasks().size(); ++i) at_half.push_back(sim->last_cpu(i));
      halfway = true;
    }
    sim->run_until(t);
  };
  for (const auto& e : c.events) {
    advance(e.time);
    if (e.release) {
      if (!sim->set_affinity(static_cast<std::uint32_t>(e.task), ~cpumask<L::max_cpus>{}))
        fail(fmt::format("{}: release of task {} before its spawn", c.name, e.task));
      continue;
    }
    if (e.task != sim->snap().tasks().size()) fail(fmt::format("{}: tasks must be spawned in order", c.name));
    model::sim_task<L> t;
    t.id = e.task;
    t.work = c.tasks[e.task].run;
    t.period = c.tasks[e.task].period;
    if (c.pinned) t.allowed = cpumask<L::max_cpus>::of(e.cpu);
    if (sim->spawn(t, e.cpu) == no_task) fail(fmt::format("{}: cannot spawn task {} on CPU {}", c.name, e.task, e.cpu));
  }
  advance(c.end);
  for (std::uint32_t i = 0; i < c.tasks.size(); ++i) r.sim_final.push_back(sim->last_cpu(i));
  for (std::size_t i = 0; i < c.tasks.size(); ++i) {
    r.kernel_final.push_back(c.seen[i].back().second);
    for (std::size_t k = 1; k < c.seen[i].size(); ++k) r.kernel_moves_late += c.seen[i][k].first >= half ? 1U : 0U;
  }
  for (const auto& mig : sim->log())
    if (mig.time >= half) ++r.sim_moves_late;
  r.levels = compare(tree, r.kernel_final, r.sim_final);

  // The kernel's final placement in the simulator: pinned there for a second (PELT
  // settles), released, then two seconds alone.
  if (r.hogs) {
    auto fix = make_sim<P>(tree);
    for (std::uint32_t i = 0; i < r.kernel_final.size(); ++i) {
      model::sim_task<L> t;
      t.id = i;
      t.allowed = cpumask<L::max_cpus>::of(r.kernel_final[i]);
      if (fix->spawn(t, r.kernel_final[i]) == no_task) fail(fmt::format("{}: cannot start the fixpoint run", c.name));
    }
    fix->run_until(1'000'000'000);
    for (std::uint32_t i = 0; i < r.kernel_final.size(); ++i) fix->set_affinity(i, ~cpumask<L::max_cpus>{});
    const std::uint64_t before = fix->metrics().balance_migrations();
    fix->run_until(3'000'000'000);
    r.fixpoint_migrations = fix->metrics().balance_migrations() - before;
  }
}

// Each kernel against the simulator under its own rules: a 6.1 capture under v6.16's
// rules with 6.1's prefer-sibling count, any later kernel under v6.16's.
replayed replay(const fs::path& dir) {
  replayed r;
  r.cap = parse(dir);
  const capture& c = r.cap;
  topology_options o;
  o.spec = c.levels;
  if (!c.distances.empty()) o.distances = c.distances;
  if (const std::string off = offline_of(c); !off.empty()) o.offline = off;
  const loaded m = load_machine(o);
  auto tree = std::make_unique<cli_domains>();
  if (status s = cli_domains::build(*m.topology, balancer_domain_options(), *tree); !s)
    fail(fmt::format("{}: {}", c.name, s.error_value().message.view()));
  for (const auto& t : c.tasks) r.hogs = r.hogs && t.hog;
  if (c.kernel.rfind("6.1.", 0) == 0) {
    r.rules = "linux-6.1";
    replay_with<linux_6_1_rules>(*tree, r);
  } else {
    r.rules = "linux";
    replay_with<linux_defaults>(*tree, r);
  }
  return r;
}

// A case named for a documented exception (docs/invariants.md) is a check of that
// exception, not of agreement.
bool is_exception(const std::string& name) { return name.rfind("exc", 0) == 0; }

}  // namespace

int run_replay(const std::vector<std::string>& paths, const std::string& format) {
  if (format != "table" && format != "markdown" && format != "json")
    fail(fmt::format("unknown --format '{}' (choose table, markdown or json)", format));
  std::vector<fs::path> dirs;
  for (const std::string& p : paths) {
    const fs::path path = p;
    if (fs::exists(path / "trajectory.txt")) {
      dirs.push_back(path);
    } else if (fs::is_directory(path)) {
      for (const auto& e : fs::directory_iterator(path))
        if (fs::exists(e.path() / "trajectory.txt")) dirs.push_back(e.path());
    } else {
      fail(fmt::format("{}: neither a capture (a directory with trajectory.txt) nor a directory of captures", p));
    }
  }
  if (dirs.empty()) fail("no captures found");
  std::sort(dirs.begin(), dirs.end());
  std::vector<replayed> runs;
  for (const fs::path& d : dirs) runs.push_back(replay(d));

  std::size_t not_fixpoints = 0;
  for (const auto& r : runs)
    if (r.hogs && !is_exception(r.cap.name) && r.fixpoint_migrations != 0) ++not_fixpoints;
  const char* level_names[] = {"node", "LLC", "core", "CPU"};
  if (format == "json") {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : runs) {
      nlohmann::json j = {{"case", r.cap.name},
                          {"kernel", r.cap.kernel},
                          {"rules", r.rules},
                          {"tasks", r.cap.tasks.size()},
                          {"kernel_final", r.kernel_final},
                          {"simulator_final", r.sim_final},
                          {"kernel_moves_second_half", r.kernel_moves_late},
                          {"simulator_moves_second_half", r.sim_moves_late}};
      for (std::size_t i = 0; i < 4; ++i)
        j["per_" + std::string(level_names[i])] = {
            {"kernel", r.levels.kernel[i]}, {"simulator", r.levels.sim[i]}, {"agree", r.levels.agree[i]}};
      if (r.hogs) j["fixpoint_migrations"] = r.fixpoint_migrations;
      out.push_back(j);
    }
    fmt::print("{}\n", out.dump(2));
  } else {
    const bool md = format == "markdown";
    auto row = [&](const std::vector<std::string>& cells) {
      if (md) {
        std::string s = "|";
        for (const auto& x : cells) s += " " + x + " |";
        fmt::print("{}\n", s);
      } else {
        fmt::print("{:<34} {:<16} {:>5} {:<22} {:<22} {:<13} {:<11} {}\n", cells[0], cells[1], cells[2], cells[3],
                   cells[4], cells[5], cells[6], cells[7]);
      }
    };
    row({"case", "kernel", "tasks", "kernel: per node/LLC/core", "simulator: same", "agree N L C P", "fixpoint",
         "moves in 2nd half k/s"});
    if (md) fmt::print("|---|---|---|---|---|---|---|---|\n");
    for (const auto& r : runs) {
      std::string agree;
      for (std::size_t i = 0; i < 4; ++i) agree += std::string(agree.empty() ? "" : " ") + (r.levels.agree[i] ? "y" : "n");
      const std::string k = counts(r.levels.kernel[0]) + " · " + counts(r.levels.kernel[1]) + " · " + counts(r.levels.kernel[2]);
      const std::string s = counts(r.levels.sim[0]) + " · " + counts(r.levels.sim[1]) + " · " + counts(r.levels.sim[2]);
      const std::string fix = !r.hogs ? "-" : r.fixpoint_migrations == 0 ? "yes" : fmt::format("no ({})", r.fixpoint_migrations);
      row({r.cap.name, r.cap.kernel, std::to_string(r.cap.tasks.size()), k, s, agree, fix,
           fmt::format("{}/{}", r.kernel_moves_late, r.sim_moves_late)});
    }
    std::size_t agree_all = 0;
    for (const auto& r : runs) agree_all += std::all_of(r.levels.agree.begin(), r.levels.agree.end(), [](bool b) { return b; }) ? 1U : 0U;
    fmt::print("{}{} captures; settled placements agree at every level in {}; kernel placements that are not a "
               "simulator fixpoint (documented exceptions aside): {}\n",
               md ? "\n" : "", runs.size(), agree_all, not_fixpoints);
  }
  return not_fixpoints == 0 ? 0 : 1;
}

}  // namespace bkcli
