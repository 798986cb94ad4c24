// Measures, on the machine it runs on, the two costs the simulator's push model needs
// (docs/simulator.md, "Cost model"); scripts/measure-push-costs builds and runs it.
//  - IPI round trip: membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) while a second thread
//    of the process spins on another CPU: the call sends that CPU an IPI and waits for its
//    handler to finish (kernel/sched/membarrier.c: smp_call_function_many(..., wait)).
//  - Posting a request to a busy CPU without waiting: tgkill() of a thread that spins on
//    another CPU with a SIGUSR1 handler installed; the kernel queues the signal and kicks
//    that CPU with an IPI (signal_wake_up() -> kick_process()), then returns. Signal
//    bookkeeping is included: an upper bound on posting an smp_call_function request.
//  - Moving a queued task off a busy CPU: the caller, pinned to CPU 0, changes the affinity
//    of a second thread that is queued behind it on CPU 0 to CPU 1 only; the kernel
//    detaches it from CPU 0's run queue and attaches it to CPU 1's under both locks
//    (move_queued_task()), which is what a push does. The syscall's own entry and mask
//    handling are included, so this is an upper bound.
// Prints the median of many repetitions, in ns.
#include <linux/membarrier.h>
#include <csignal>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

namespace {
std::atomic<bool> stop{false};
std::atomic<pid_t> spinner_tid{0};

void pin(int cpu) {
  cpu_set_t s;
  CPU_ZERO(&s);
  CPU_SET(cpu, &s);
  sched_setaffinity(0, sizeof s, &s);
}
long membarrier(int cmd) { return syscall(__NR_membarrier, cmd, 0, 0); }
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
using clk = std::chrono::steady_clock;
}  // namespace

int main() {
  if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
    std::puts("measure-push-costs: needs two online CPUs");
    return 1;
  }
  // 1. The IPI round trip.
  if (membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) != 0) {
    std::puts("measure-push-costs: membarrier expedited is not available");
    return 1;
  }
  std::thread spin([] {
    pin(1);
    while (!stop.load(std::memory_order_relaxed)) {
    }
  });
  pin(0);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::vector<double> ipi;
  for (int i = 0; i < 20000; ++i) {
    const auto t0 = clk::now();
    membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED);
    ipi.push_back(std::chrono::duration<double, std::nano>(clk::now() - t0).count());
  }
  stop = true;
  spin.join();

  // 2. Posting without waiting: a signal to a thread running on CPU 1.
  stop = false;
  spinner_tid = 0;
  std::signal(SIGUSR1, [](int) {});
  std::thread target([] {
    pin(1);
    spinner_tid = static_cast<pid_t>(syscall(SYS_gettid));
    while (!stop.load(std::memory_order_relaxed)) {
    }
  });
  while (spinner_tid.load() == 0) {
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::vector<double> post;
  for (int i = 0; i < 20000; ++i) {
    const auto t0 = clk::now();
    syscall(SYS_tgkill, getpid(), spinner_tid.load(), SIGUSR1);
    post.push_back(std::chrono::duration<double, std::nano>(clk::now() - t0).count());
    const auto until = clk::now() + std::chrono::microseconds(50);  // let the handler run
    while (clk::now() < until) {
    }
  }
  stop = true;
  target.join();
  spinner_tid = 0;

  // 3. Moving a queued task: the worker is pinned to CPU 0 behind us, then moved to CPU 1.
  stop = false;
  std::thread worker([] {
    spinner_tid = static_cast<pid_t>(syscall(SYS_gettid));
    while (!stop.load(std::memory_order_relaxed)) {
    }
  });
  while (spinner_tid.load() == 0) {
  }
  const pid_t tid = spinner_tid.load();
  cpu_set_t on0, on1;
  CPU_ZERO(&on0);
  CPU_SET(0, &on0);
  CPU_ZERO(&on1);
  CPU_SET(1, &on1);
  std::vector<double> move;
  for (int i = 0; i < 2000; ++i) {
    sched_setaffinity(tid, sizeof on0, &on0);  // back behind us (it runs on 1 now: a stopper move)
    // Let CPU 0's scheduler queue it: we keep running, it waits on our run queue.
    const auto t0 = clk::now();
    sched_setaffinity(tid, sizeof on1, &on1);
    move.push_back(std::chrono::duration<double, std::nano>(clk::now() - t0).count());
  }
  stop = true;
  worker.join();
  std::printf("ipi_round_trip_ns %.0f\npost_with_ipi_ns %.0f\nmove_queued_task_ns %.0f\n", median(ipi), median(post),
              median(move));
  return 0;
}
