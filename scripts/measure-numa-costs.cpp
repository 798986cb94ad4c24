// Measures, on the machine it runs on, the two costs the simulator's NUMA-balancing model
// needs (docs/simulator.md, "Cost model"; sim_costs::numa_fault and ::page_migrate);
// scripts/measure-numa-costs builds and runs it. Both are per 4 KiB page.
//  - If the machine has two or more memory nodes, move_pages(2) moving a buffer between
//    two of them is timed too: the kernel's own migration. With one node (a usual VM)
//    nothing can migrate, so both parameters come from the proxies below.
//  - numa_fault, a hinting fault: the page is in memory and only its PTE is inaccessible,
//    so the fault allocates nothing and zeroes nothing, it maps (do_numa_page()). Proxy:
//    a minor fault that maps a page already in the page cache: a 256 MiB memfd is filled,
//    then mapped MAP_SHARED afresh and written once per page. A write, because a read
//    fault on a file mapping maps up to fault_around_bytes (16 pages) at once
//    (do_fault_around()) and a write fault on a shared mapping maps one page
//    (do_shared_fault()). The read variant is printed too, with its own fault count.
//  - page_migrate, what migrating the page adds to the fault: a new page is allocated,
//    4 KiB are copied into it, and the PTE is pointed at it (migrate_misplaced_folio()).
//    Proxy: a minor fault that allocates a fresh anonymous page (alloc + zero + map; huge
//    pages turned off with MADV_NOHUGEPAGE) plus a 4 KiB memcpy between two 256 MiB
//    buffers, far larger than the LLC, page by page in a shuffled order so the hardware
//    prefetcher cannot stream from one page into the next (a sequential copy is printed
//    for reference).
// Every fault loop's getrusage() ru_minflt is checked, so huge pages or fault-around
// hiding faults shows up as faults/page below 1. Prints min, median and max of the
// repetitions, in ns, then the two parameters from the medians, to the nearest 10 ns.
#include <dirent.h>
#include <linux/mempolicy.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {
constexpr std::size_t page = 4096;
constexpr std::size_t bytes = std::size_t{256} << 20;  // far beyond any LLC and fault batch
constexpr std::size_t pages = bytes / page;
constexpr int runs = 11;  // after one discarded warm-up run

void pin(int cpu) {
  cpu_set_t s;
  CPU_ZERO(&s);
  CPU_SET(cpu, &s);
  sched_setaffinity(0, sizeof s, &s);
}
long minflt() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}
[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(1);
}
char* map(std::size_t len, int prot, int flags, int fd) {
  void* p = mmap(nullptr, len, prot, flags, fd, 0);
  if (p == MAP_FAILED) die("measure-numa-costs: mmap");
  return static_cast<char*>(p);
}
using clk = std::chrono::steady_clock;
double ns_since(clk::time_point t0) { return std::chrono::duration<double, std::nano>(clk::now() - t0).count(); }

struct stats {
  double min, median, max;
};
stats summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v.front(), v[v.size() / 2], v.back()};
}
void print(const char* name, const stats& s, double faults_per_page) {
  std::printf("%-28s min %6.0f  median %6.0f  max %6.0f ns", name, s.min, s.median, s.max);
  if (faults_per_page >= 0) std::printf("   faults/page %.3f", faults_per_page);
  std::printf("\n");
}
long round10(double ns) { return std::lround(ns / 10.0) * 10; }

// One repetition of a fault loop over a fresh mapping: ns per page and faults per page.
// The mapping is made and torn down outside the timed loop.
struct fault_run {
  double ns_per_page, faults_per_page;
};
template <class Map, class Touch>
fault_run fault_loop(Map make, Touch touch) {
  char* p = make();
  const long f0 = minflt();
  const auto t0 = clk::now();
  for (std::size_t i = 0; i < pages; ++i) touch(p + i * page);
  const double ns = ns_since(t0);
  const long f = minflt() - f0;
  munmap(p, bytes);
  return {ns / pages, static_cast<double>(f) / pages};
}
// Runs `one` (returning a fault_run) runs+1 times, drops the first, and summarizes the
// ns per page, the ns per counted fault and the fault count of the middle run.
struct fault_stats {
  stats per_page, per_fault;
  double faults_per_page;
};
template <class One>
fault_stats repeat_faults(One one) {
  one();
  std::vector<double> per_page, per_fault, fpp;
  for (int r = 0; r < runs; ++r) {
    const fault_run f = one();
    per_page.push_back(f.ns_per_page);
    per_fault.push_back(f.faults_per_page > 0 ? f.ns_per_page / f.faults_per_page : 0);
    fpp.push_back(f.faults_per_page);
  }
  return {summarize(per_page), summarize(per_fault), summarize(fpp).median};
}

// The memory nodes, from sysfs: "0" or e.g. "0-1".
std::string memory_nodes() {
  std::string s;
  if (FILE* f = std::fopen("/sys/devices/system/node/has_memory", "r")) {
    char buf[256];
    if (std::fgets(buf, sizeof buf, f)) s = buf;
    std::fclose(f);
  }
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}
std::vector<int> node_ids() {
  std::vector<int> ids;
  if (DIR* d = opendir("/sys/devices/system/node")) {
    while (dirent* e = readdir(d))
      if (std::strncmp(e->d_name, "node", 4) == 0 && e->d_name[4] >= '0' && e->d_name[4] <= '9')
        ids.push_back(std::atoi(e->d_name + 4));
    closedir(d);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}
long move_pages(std::size_t n, void** addrs, const int* nodes, int* status) {
  return syscall(__NR_move_pages, 0, n, addrs, nodes, status, MPOL_MF_MOVE);
}
}  // namespace

int main() {
  pin(0);  // one CPU's caches and no migrations of our own between runs
  const std::vector<int> nodes = node_ids();
  const std::string with_memory = memory_nodes();
  std::printf("NUMA nodes: %zu (with memory: %s)\n", nodes.size(), with_memory.c_str());

  // 0. The kernel's own migration, if there is anywhere to migrate to: a 64 MiB buffer
  //    moved back and forth between the first two nodes with move_pages().
  const bool two_nodes = with_memory.find_first_of(",-") != std::string::npos && nodes.size() >= 2;
  if (two_nodes) {
    constexpr std::size_t mp = (std::size_t{64} << 20) / page;
    char* buf = map(mp * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    madvise(buf, mp * page, MADV_NOHUGEPAGE);
    std::memset(buf, 1, mp * page);
    std::vector<void*> addrs(mp);
    std::vector<int> status(mp);
    for (std::size_t i = 0; i < mp; ++i) addrs[i] = buf + i * page;
    std::vector<double> per_page;
    for (int r = 0; r <= runs; ++r) {
      const std::vector<int> to(mp, nodes[(r + 1) % 2]);  // r = 0 puts it on nodes[1]: warm-up
      const auto t0 = clk::now();
      if (move_pages(mp, addrs.data(), to.data(), status.data()) != 0) die("measure-numa-costs: move_pages");
      const double ns = ns_since(t0);
      if (r > 0) per_page.push_back(ns / mp);
    }
    print("move_pages_per_page", summarize(per_page), -1);
    std::printf("  (the whole migration by syscall, no fault: an upper bound's reference for page_migrate)\n");
    munmap(buf, mp * page);
  } else {
    std::printf("  one memory node: nothing can migrate (move_pages has no other node), so proxies are used\n");
  }

  // 1. numa_fault: minor faults mapping pages already in memory (a filled memfd).
  const int fd = static_cast<int>(syscall(SYS_memfd_create, "measure-numa-costs", 0));
  if (fd < 0) die("measure-numa-costs: memfd_create");
  if (ftruncate(fd, static_cast<off_t>(bytes)) != 0) die("measure-numa-costs: ftruncate");
  {
    // Filled through a mapping with huge pages refused, so the page cache holds 4 KiB
    // pages whatever shmem_enabled says; nonzero so every page is really there.
    char* p = map(bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    madvise(p, bytes, MADV_NOHUGEPAGE);
    std::memset(p, 1, bytes);
    munmap(p, bytes);
  }
  auto shared = [fd] {
    char* p = map(bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    madvise(p, bytes, MADV_NOHUGEPAGE);
    return p;
  };
  const fault_stats file_write =
      repeat_faults([&] { return fault_loop(shared, [](char* q) { *static_cast<volatile char*>(q) = 2; }); });
  const fault_stats file_read = repeat_faults([&] {
    return fault_loop(shared, [](char* q) { static_cast<void>(*static_cast<volatile char*>(q)); });
  });
  close(fd);

  // 2a. page_migrate's fault: minor faults that allocate, zero and map a fresh page.
  auto anonymous = [] {
    char* p = map(bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    madvise(p, bytes, MADV_NOHUGEPAGE);
    return p;
  };
  const fault_stats anon =
      repeat_faults([&] { return fault_loop(anonymous, [](char* q) { *static_cast<volatile char*>(q) = 2; }); });

  // 2b. page_migrate's copy: 4 KiB at a time between two 256 MiB buffers, populated first
  //     so no fault is timed; each run copies every page once, so no page is in cache
  //     from the run before.
  char* src = map(bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1);
  char* dst = map(bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1);
  std::memset(src, 3, bytes);
  std::memset(dst, 4, bytes);
  std::vector<std::size_t> order(pages);
  for (std::size_t i = 0; i < pages; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937_64{42});
  auto copy_runs = [&](bool shuffled) {
    std::vector<double> per_page;
    for (int r = 0; r <= runs; ++r) {
      const auto t0 = clk::now();
      for (std::size_t i = 0; i < pages; ++i) {
        const std::size_t k = shuffled ? order[i] : i;
        std::memcpy(dst + k * page, src + k * page, page);
      }
      const double ns = ns_since(t0);
      if (r > 0) per_page.push_back(ns / pages);
    }
    return summarize(per_page);
  };
  const stats copy_shuffled = copy_runs(true);
  const stats copy_sequential = copy_runs(false);
  if (dst[12345] != 3) std::puts("measure-numa-costs: copy check failed");
  munmap(src, bytes);
  munmap(dst, bytes);

  std::printf("%d runs of %zu pages (%zu MiB) each, ns per 4 KiB page unless per fault:\n", runs, pages, bytes >> 20);
  print("file_write_fault_per_page", file_write.per_page, file_write.faults_per_page);
  print("file_write_fault_per_fault", file_write.per_fault, -1);
  print("file_read_fault_per_page", file_read.per_page, file_read.faults_per_page);
  print("file_read_fault_per_fault", file_read.per_fault, -1);
  std::printf("  (a read fault maps up to fault_around_bytes at once, so numa_fault uses the write fault)\n");
  print("anon_fault_per_page", anon.per_page, anon.faults_per_page);
  print("anon_fault_per_fault", anon.per_fault, -1);
  print("copy_4k_shuffled", copy_shuffled, -1);
  print("copy_4k_sequential", copy_sequential, -1);
  // numa_fault is per page faulted, and a hinting fault is one page: ns per counted write
  // fault. page_migrate is the allocating fault plus the copy, per page.
  const double numa_fault = file_write.per_fault.median;
  const double page_migrate = anon.per_fault.median + copy_shuffled.median;
  std::printf("page_migrate = anon_fault_per_fault %.0f + copy_4k_shuffled %.0f (medians)\n", anon.per_fault.median,
              copy_shuffled.median);
  std::printf("numa_fault = %ld\npage_migrate = %ld\n", round10(numa_fault), round10(page_migrate));
  return 0;
}
