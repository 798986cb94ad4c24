// The hwloc test corpus (../shared/data/hwloc: hwloc XML exports and Linux sysfs snapshots
// of real machines) loads, or is rejected for a documented reason. For every file that
// loads, balancekit's counts are checked against hwloc's own objects from the same hwloc
// topology. docs/hwloc.md lists the same table with the reasons.
#include <balancekit/adapters/hwloc.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

using namespace balancekit;
namespace fs = std::filesystem;

namespace {

using lim = large_limits;
using mask = cpumask<lim::max_cpus>;

const fs::path corpus = fs::path(BALANCEKIT_SHARED_DIR) / "data" / "hwloc";

/// A file's expected outcome: loads with `cpus` CPUs, or is rejected with `code`.
struct expectation {
  std::string_view name;
  std::size_t cpus;              // 0 when rejected
  std::optional<errc> rejected;  // why, when rejected
};
constexpr std::optional<errc> loads{};

// hwloc's xml/ corpus is written in XML format 3.0, which hwloc 2.x refuses: load_xml
// says so (errc::unsupported). The test then rewrites the header to version="2.0" and
// loads the copy, which hwloc 2.9 reads (it ignores the few 3.0-only attributes).
const expectation xml_as_is[] = {
    {"16-2gr2gr2n2c+misc.xml", 0, errc::unsupported},
    {"16amd64-8n2c-cpusets.xml", 0, errc::unsupported},
    {"16em64t-4s2c2t-offlines.xml", 0, errc::unsupported},
    {"16em64t-4s2c2t.xml", 0, errc::unsupported},
    {"16intel64-manyVFs.xml", 0, errc::unsupported},
    {"192em64t-12gr2n8c2t.xml", 0, errc::unsupported},
    {"24em64t-2n6c2t-pci.xml", 0, errc::unsupported},
    {"32em64t-2n8c2t-pci-noio.xml", 0, errc::unsupported},
    {"32em64t-2n8c2t-pci-normalio.xml", 0, errc::unsupported},
    {"32em64t-2n8c2t-pci-wholeio.xml", 0, errc::unsupported},
    {"64intel64-heteromem.xml", 0, errc::unsupported},
    {"8intel64-4n2t-memattrs.xml", 0, errc::unsupported},
    {"cxlmem+dax.v2.xml", 4, loads},
    {"cxlmem+dax.v3.xml", 0, errc::unsupported},
    {"fakecpukinds.xml", 0, errc::unsupported},
    {"fakeheterodistances.xml", 0, errc::unsupported},
    {"memorysidecaches.xml", 0, errc::unsupported},
};
const expectation xml_as_v2[] = {
    {"16-2gr2gr2n2c+misc.xml", 16, loads},
    {"16amd64-8n2c-cpusets.xml", 0, errc::unsupported},  // CPUs 0-1 and 12-15 have no (allowed) node
    {"16em64t-4s2c2t-offlines.xml", 7, loads},
    {"16em64t-4s2c2t.xml", 16, loads},
    {"16intel64-manyVFs.xml", 16, loads},
    {"192em64t-12gr2n8c2t.xml", 384, loads},
    {"24em64t-2n6c2t-pci.xml", 24, loads},
    {"32em64t-2n8c2t-pci-noio.xml", 32, loads},
    {"32em64t-2n8c2t-pci-normalio.xml", 32, loads},
    {"32em64t-2n8c2t-pci-wholeio.xml", 32, loads},
    {"64intel64-heteromem.xml", 64, loads},
    {"8intel64-4n2t-memattrs.xml", 8, loads},
    {"cxlmem+dax.v2.xml", 4, loads},
    {"cxlmem+dax.v3.xml", 4, loads},
    {"fakecpukinds.xml", 4, loads},
    {"fakeheterodistances.xml", 8, loads},
    {"memorysidecaches.xml", 80, loads},
};
const expectation sysfs[] = {
    {"128arm-2pa2n8cluster4co", 128, loads},
    {"16amd64-4n4c-cgroup-distance-merge", 0, errc::unsupported},  // CPU 0's node is not allowed
    {"16amd64-8n2c", 16, loads},
    {"16amd64-8n2c-cpusets", 0, errc::unsupported},  // CPU 0's node is not allowed
    {"16em64t-4s2c2t", 16, loads},
    {"16em64t-4s2ca2c-cpusetreorder", 11, loads},
    {"16ia64-8n2s", 16, loads},
    {"20em64t-hybrid-1p6c2t+2ca4co1t", 20, loads},
    {"20s390-2g6s4c", 20, loads},
    {"256ia64-64n2s2c", 256, loads},
    {"2arm-2c", 2, loads},
    {"2i386-2c-nohugepage", 2, loads},
    {"2i386-2t-hugepagesizecount", 2, loads},
    {"2pa-pcidomain32bits", 2, loads},
    {"2ps3-2t", 2, loads},
    {"32amd64-4s2n4c-cgroup2", 6, loads},
    {"32em64t-2n8c+dax+nvme+mic+dimms", 16, loads},
    {"40intel64-2g2n4c+pcilocality", 40, loads},
    {"40intel64-4n10c+pci-conflicts", 0, errc::unsupported},  // CPUs 3,7,..,39 have no package
    {"4fake-4gr1nu1pu", 0, errc::unsupported},                // CPU 1 has no NUMA node
    {"64fake-4n2s2ca2c2t", 64, loads},
    {"8em64t-2s2ca2c", 8, loads},
    {"8em64t-2s4c-asymcaches", 8, loads},
    {"8ia64-2n2s2c", 8, loads},
    {"8ia64-2s2c2t", 8, loads},
    {"fakecpuid1f-64intel64-2p4d2n2c2t", 64, loads},
    {"fakeheterocpunuma", 0, errc::unsupported},  // CPUs 4-7, 12-19 have no NUMA node
    {"fakeheteromemtiers", 6, loads},
    {"fakememinitiators-1np2c+1npp+gi", 8, loads},
    {"fakepcilocalities", 40, loads},
    {"memorysidecaches", 80, loads},
    {"nvidiagpunumanodes", 32, loads},
    {"offline-cpu0-node0", 0, errc::unsupported},  // node 0 offline: its CPUs have no node
};

bool corpus_present() {
  if (fs::is_directory(corpus)) return true;
  WARN("skipped: the hwloc corpus " << corpus.string() << " does not exist");
  SUCCEED();
  return false;
}

std::vector<std::string> files_in(const fs::path& dir, std::string_view suffix) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (n.size() > suffix.size() && n.ends_with(suffix)) out.push_back(n.substr(0, n.size() - suffix.size()));
  }
  std::sort(out.begin(), out.end());
  return out;
}

template <std::size_t N>
std::vector<std::string> names_of(const expectation (&table)[N], std::string_view strip = {}) {
  std::vector<std::string> out;
  for (const auto& e : table) out.emplace_back(e.name.substr(0, e.name.size() - strip.size()));
  std::sort(out.begin(), out.end());
  return out;
}

/// A fresh directory under the temp dir, removed with everything in it.
struct temp_dir {
  fs::path path;
  temp_dir() {
    // tmpfs first: unpacking ~10,000 sysfs files takes 0.3 s there and ~10 s on the
    // build VM's disk.
    std::error_code ec;
    for (const fs::path& base : {fs::path("/dev/shm"), fs::temp_directory_path(ec)}) {
      if (base.empty() || !fs::is_directory(base, ec)) continue;
      std::string tmpl = (base / "balancekit-hwloc-XXXXXX").string();
      if (::mkdtemp(tmpl.data()) != nullptr) {
        path = tmpl;
        return;
      }
    }
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    if (path.empty()) return;
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

/// Owns a loaded hwloc topology for the cross-checks.
struct hwloc_topo {
  hwloc_topology_t t = nullptr;
  hwloc_topo() { hwloc_topology_init(&t); }
  hwloc_topo(const hwloc_topo&) = delete;
  hwloc_topo& operator=(const hwloc_topo&) = delete;
  ~hwloc_topo() { hwloc_topology_destroy(t); }
};

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string describe(const topology<lim>& t) {
  std::ostringstream o;
  o << t.nr_cpus() << " CPUs, " << t.count(hw_level::core) << " cores, " << t.count(hw_level::cluster)
    << " clusters, " << t.count(hw_level::llc) << " LLCs, " << t.count(hw_level::die) << " dies, "
    << t.count(hw_level::package) << " packages, " << t.count(hw_level::node) << " nodes"
    << (t.asymmetric() ? ", asymmetric capacity" : "");
  return o.str();
}

int nb(hwloc_topology_t t, hwloc_obj_type_t type) { return hwloc_get_nbobjs_by_type(t, type); }

/// balancekit's counts against hwloc's objects of the same hwloc topology.
void check_against_hwloc(hwloc_topology_t h, const topology<lim>& t) {
  CHECK(t.nr_cpus() == static_cast<std::size_t>(nb(h, HWLOC_OBJ_PU)));
  const int cores = nb(h, HWLOC_OBJ_CORE);
  CHECK(t.count(hw_level::core) == (cores > 0 ? static_cast<std::size_t>(cores) : t.nr_cpus()));
  // Packages that hold only memory (all their CPUs disallowed) are not packages of CPUs.
  int packages = 0;
  for (hwloc_obj_t p = hwloc_get_next_obj_by_type(h, HWLOC_OBJ_PACKAGE, nullptr); p != nullptr;
       p = hwloc_get_next_obj_by_type(h, HWLOC_OBJ_PACKAGE, p))
    if (!hwloc_bitmap_iszero(p->cpuset)) ++packages;
  CHECK(t.count(hw_level::package) == (packages > 0 ? static_cast<std::size_t>(packages) : 1));
  CHECK(t.count(hw_level::node) == static_cast<std::size_t>(nb(h, HWLOC_OBJ_NUMANODE)));
  // Every PU's core is hwloc's Core (or the PU alone).
  for (hwloc_obj_t pu = hwloc_get_next_obj_by_type(h, HWLOC_OBJ_PU, nullptr); pu != nullptr;
       pu = hwloc_get_next_obj_by_type(h, HWLOC_OBJ_PU, pu)) {
    hwloc_obj_t core = hwloc_get_ancestor_obj_by_type(h, HWLOC_OBJ_CORE, pu);
    const std::size_t expect = core != nullptr ? static_cast<std::size_t>(hwloc_bitmap_weight(core->cpuset)) : 1;
    CHECK(t.siblings(hw_level::core, pu->os_index).weight() == expect);
  }
  // Distances: hwloc's own NUMALatency matrix, entry by entry.
  unsigned nr = 1;
  hwloc_distances_s* d = nullptr;
  if (hwloc_distances_get_by_name(h, "NUMALatency", &nr, &d, 0) == 0 && nr >= 1 && d != nullptr) {
    for (unsigned i = 0; i < d->nbobjs; ++i)
      for (unsigned j = 0; j < d->nbobjs; ++j)
        CHECK(t.distance(d->objs[i]->os_index, d->objs[j]->os_index) == d->values[i * d->nbobjs + j]);
    hwloc_distances_release(h, d);
  }
}

/// Checks one file's outcome against its expectation; returns the topology's summary.
void check_outcome(const expectation& e, const status& s, const topology<lim>& t, const std::string& kind) {
  if (s) {
    std::cout << "  " << kind << " " << e.name << ": loads: " << describe(t) << "\n";
  } else {
    std::cout << "  " << kind << " " << e.name << ": rejected (" << to_string(s.error_value().code)
              << "): " << s.error_value().message.view() << "\n";
  }
  INFO(kind << " " << e.name << ": " << (s ? std::string("loads") : std::string(s.error_value().message.view())));
  if (e.rejected) {
    REQUIRE_FALSE(s.ok());
    CHECK(s.error_value().code == *e.rejected);
    CHECK(t.nr_cpus() == 0);
  } else {
    REQUIRE(s.ok());
    CHECK(t.nr_cpus() == e.cpus);
  }
}

/// Loads an XML through the adapter and, when it loads, again through a test-owned
/// hwloc topology for the cross-check; the two must give the same topology.
void check_xml(const expectation& e, const fs::path& file, const std::string& kind) {
  auto t = std::make_unique<topology<lim>>();
  hwloc::import_report report;
  const status s = hwloc::load_xml(file.string(), *t, &report);
  CHECK(report.source == "xml:" + file.string());
  check_outcome(e, s, *t, kind);
  if (!s) return;
  hwloc_topo h;
  REQUIRE(hwloc_topology_set_xml(h.t, file.c_str()) == 0);
  hwloc_topology_set_io_types_filter(h.t, HWLOC_TYPE_FILTER_KEEP_NONE);
  REQUIRE(hwloc_topology_load(h.t) == 0);
  auto again = std::make_unique<topology<lim>>();
  REQUIRE(hwloc::from_hwloc(h.t, *again).ok());
  CHECK(*again == *t);
  check_against_hwloc(h.t, *t);
}

/// Unpacks a sysfs snapshot; the tarballs hold one top directory (not always named as
/// the tarball), which is the fsroot.
fs::path unpack(const fs::path& tarball, const temp_dir& into) {
  const std::string cmd = "tar xjf " + shell_quote(tarball.string()) + " -C " + shell_quote(into.path.string());
  if (std::system(cmd.c_str()) != 0) return {};
  std::vector<fs::path> tops;
  for (const auto& d : fs::directory_iterator(into.path)) tops.push_back(d.path());
  return tops.size() == 1 && fs::is_directory(tops[0]) ? tops[0] : into.path;
}

struct loaded_sysfs {
  std::unique_ptr<topology<lim>> t = std::make_unique<topology<lim>>();
  hwloc::import_report report;
  status s;
};

loaded_sysfs check_sysfs(const expectation& e) {
  loaded_sysfs out;
  temp_dir tmp;
  REQUIRE_FALSE(tmp.path.empty());
  const fs::path root = unpack(corpus / "linux" / (std::string(e.name) + ".tar.bz2"), tmp);
  REQUIRE_FALSE(root.empty());
  out.s = hwloc::load_fsroot(root.string(), *out.t, &out.report);
  check_outcome(e, out.s, *out.t, "sysfs");
  if (!out.s) return out;
  // The same load by hand (what load_fsroot does), for hwloc's own counts.
  hwloc::detail::env_override fsroot("HWLOC_FSROOT", root.string());
  hwloc::detail::env_override components("HWLOC_COMPONENTS", "linux,stop");
  hwloc::detail::env_override thissystem("HWLOC_THISSYSTEM", "0");
  std::optional<hwloc::detail::env_override> hwdata;
  if (fs::is_directory(root / "var/run/hwloc")) hwdata.emplace("HWLOC_DUMPED_HWDATA_DIR", (root / "var/run/hwloc").string());
  hwloc_topo h;
  hwloc_topology_set_io_types_filter(h.t, HWLOC_TYPE_FILTER_KEEP_NONE);
  REQUIRE(hwloc_topology_load(h.t) == 0);
  auto again = std::make_unique<topology<lim>>();
  REQUIRE(hwloc::from_hwloc(h.t, *again).ok());
  CHECK(*again == *out.t);
  check_against_hwloc(h.t, *out.t);
  return out;
}

const expectation& find(std::string_view name, const auto& table) {
  for (const auto& e : table)
    if (e.name == name) return e;
  FAIL("no expectation for " << name);
  return table[0];
}

mask cpus(std::string_view list) { return *mask::parse(list); }

}  // namespace

TEST_CASE("every hwloc XML in the corpus loads or is rejected as the table says", "[topology][hwloc][corpus]") {
  if (!corpus_present()) return;
  const fs::path dir = corpus / "xml";
  REQUIRE(files_in(dir, ".xml") == names_of(xml_as_is, ".xml"));  // a new file needs a row
  REQUIRE(names_of(xml_as_v2) == names_of(xml_as_is));
  temp_dir tmp;
  REQUIRE_FALSE(tmp.path.empty());
  std::cout << "hwloc XML corpus (" << std::size(xml_as_is) << " files):\n";
  for (const auto& e : xml_as_is) {
    check_xml(e, dir / e.name, "xml");
    // The same file with its header rewritten to format 2.0.
    std::ifstream in(dir / e.name);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string from = "<topology version=\"3.0\">";
    if (const auto at = text.find(from); at != std::string::npos) text.replace(at, from.size(), "<topology version=\"2.0\">");
    const fs::path copy = tmp.path / e.name;
    std::ofstream(copy) << text;
    check_xml(find(e.name, xml_as_v2), copy, "xml-as-2.0");
  }
}

TEST_CASE("every Linux sysfs snapshot in the corpus loads or is rejected as the table says", "[topology][hwloc][corpus]") {
  if (!corpus_present()) return;
  REQUIRE(files_in(corpus / "linux", ".tar.bz2") == names_of(sysfs));  // a new file needs a row
  std::cout << "hwloc Linux sysfs corpus (" << std::size(sysfs) << " snapshots):\n";
  for (const auto& e : sysfs) (void)check_sysfs(e);
}

TEST_CASE("the 4-socket HT Xeon snapshot has SMT pairs n and n+8 and one L3 per package", "[topology][hwloc][corpus]") {
  if (!corpus_present()) return;
  // lstopo-no-graphics -i 16em64t-4s2c2t --if fsroot: Package 0 = L3 {0,8,4,12}, Core 0 = PU 0 + PU 8.
  const auto l = check_sysfs(find("16em64t-4s2c2t", sysfs));
  REQUIRE(l.s.ok());
  const auto& t = *l.t;
  CHECK(t.nr_cpus() == 16);
  CHECK(t.count(hw_level::package) == 4);
  CHECK(t.count(hw_level::core) == 8);
  CHECK(t.count(hw_level::llc) == 4);
  CHECK(t.count(hw_level::node) == 1);
  CHECK(t.siblings(hw_level::core, 0) == cpus("0,8"));
  CHECK(t.siblings(hw_level::core, 4) == cpus("4,12"));
  CHECK(t.siblings(hw_level::package, 0) == cpus("0,4,8,12"));
  CHECK(t.siblings(hw_level::llc, 0) == cpus("0,4,8,12"));
  CHECK(l.report.offline_unplaced.empty());
}

TEST_CASE("the snapshot with CPU 0 and node 0 offline is rejected and lists CPU 0 as unplaced", "[topology][hwloc][corpus]") {
  if (!corpus_present()) return;
  // online=4-20 of possible 0-191, 24 cpu dirs of which 17 have topology/: 7 unplaced,
  // and the CPUs of offline node 0 (4,6,..,20) have no NUMA node at all.
  const auto l = check_sysfs(find("offline-cpu0-node0", sysfs));
  REQUIRE_FALSE(l.s.ok());
  CHECK_THAT(std::string(l.s.error_value().message.view()), Catch::Contains("in no NUMA node"));
  const auto& u = l.report.offline_unplaced;
  CHECK(std::find(u.begin(), u.end(), std::size_t{0}) != u.end());
  CHECK(u.size() == 7);
}

TEST_CASE("Kunpeng 920 has clusters of four cores and equal Linux capacities", "[topology][hwloc][corpus]") {
  if (!corpus_present()) return;
  const auto l = check_sysfs(find("128arm-2pa2n8cluster4co", sysfs));
  REQUIRE(l.s.ok());
  const auto& t = *l.t;
  CHECK(t.count(hw_level::cluster) == 32);
  CHECK(t.siblings(hw_level::cluster, 0).weight() == 4);
  CHECK(t.count(hw_level::package) == 2);
  CHECK(t.count(hw_level::node) == 4);
  CHECK(t.described(hw_level::cluster));
  CHECK_FALSE(t.asymmetric());  // every cpu_capacity file says 1024
  CHECK(t.capacity_of(127).value == 1024);
}

TEST_CASE("Raptor Lake has six SMT P-cores and two E-core clusters under one LLC", "[topology][hwloc][corpus]") {
  if (!corpus_present()) return;
  const auto l = check_sysfs(find("20em64t-hybrid-1p6c2t+2ca4co1t", sysfs));
  REQUIRE(l.s.ok());
  const auto& t = *l.t;
  CHECK(t.count(hw_level::core) == 14);
  CHECK(t.count(hw_level::cluster) == 8);
  CHECK(t.count(hw_level::llc) == 1);
  std::size_t four_core_clusters = 0;
  for (std::size_t u = 0; u < t.count(hw_level::cluster); ++u)
    if (t.span(hw_level::cluster, u).weight() == 4) ++four_core_clusters;
  CHECK(four_core_clusters == 2);
  CHECK_FALSE(t.asymmetric());  // x86: no cpu_capacity, 1024 everywhere
}

TEST_CASE("the 64-node Itanium keeps hwloc's node distances", "[topology][hwloc][corpus]") {
  if (!corpus_present()) return;
  const auto l = check_sysfs(find("256ia64-64n2s2c", sysfs));
  REQUIRE(l.s.ok());
  CHECK(l.t->count(hw_level::node) == 64);
  CHECK(l.t->distance(0, 0) == 10);
  CHECK(l.t->distance(0, 63) > 10);
  CHECK(l.t->distance(0, 63) == l.t->distance(63, 0));
}

TEST_CASE("a missing XML file or snapshot directory is an io error naming it", "[topology][hwloc][errors]") {
  auto t = std::make_unique<topology<lim>>();
  const status a = hwloc::load_xml("/nonexistent/balancekit.xml", *t);
  REQUIRE_FALSE(a.ok());
  CHECK(a.error_value().code == errc::io);
  CHECK_THAT(std::string(a.error_value().message.view()), Catch::Contains("/nonexistent/balancekit.xml"));
  const status b = hwloc::load_fsroot("/nonexistent/balancekit-sysfs", *t);
  REQUIRE_FALSE(b.ok());
  CHECK(b.error_value().code == errc::io);
  CHECK_THAT(std::string(b.error_value().message.view()), Catch::Contains("No such file or directory"));
}

TEST_CASE("load_fsroot restores the hwloc environment variables it set", "[topology][hwloc]") {
  const char* was = std::getenv("HWLOC_COMPONENTS");
  const std::optional<std::string> original = was != nullptr ? std::optional<std::string>(was) : std::nullopt;
  ::setenv("HWLOC_COMPONENTS", "previous-value", 1);
  ::unsetenv("HWLOC_FSROOT");
  auto t = std::make_unique<topology<small_limits>>();
  temp_dir tmp;  // an empty directory: hwloc finds no CPUs there
  REQUIRE_FALSE(tmp.path.empty());
  (void)hwloc::load_fsroot(tmp.path.string(), *t);
  CHECK(std::string(std::getenv("HWLOC_COMPONENTS")) == "previous-value");
  CHECK(std::getenv("HWLOC_FSROOT") == nullptr);
  if (original) ::setenv("HWLOC_COMPONENTS", original->c_str(), 1);
  else ::unsetenv("HWLOC_COMPONENTS");
}
