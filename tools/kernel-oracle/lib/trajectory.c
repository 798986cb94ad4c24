/* trajectory.c — run a small CPU-load scenario inside the kernel-oracle guest and
 * record on which CPU each task ran over time.  Built by tools/kernel-oracle/capture
 * with `gcc -static -O2 -Wall` and started by /init (lib/init.sh) in trajectory mode.
 *
 * usage: trajectory SCENARIO...      (arguments, or one comma-separated argument)
 *   hogs N pinned|fork [gap=US] [duration=S] [check=ITERS]
 *   light N RUN_US PERIOD_US fork [gap=US] [duration=S] [check=ITERS]
 *
 * pinned: the parent pins itself to CPU 0, forks N spinning children back to back
 *         (they inherit the CPU-0 affinity), unpins itself, waits (polling every 1 ms)
 *         until every child has run, then widens each child's affinity to all online
 *         CPUs, one child at a time: gap µs (default 2000) after that, then gap µs after
 *         the previous release returned — like successive `taskset -p` commands.
 * fork:   the (unpinned) parent forks the N children, each gap µs after the previous
 *         fork returned (default 0: back to back).
 * Either way the parent then sleeps until `end`, duration seconds (default 10) after the
 * last release/fork, kills the children and prints the records up to `end`.
 *
 * Recording: no sampler.  Every task checks sched_getcpu() itself — hogs every ITERS
 * iterations of their spin loop (default 1024), periodic tasks at each wakeup and
 * every ~200 iterations while they run — and on a change appends (t_us, cpu) to its
 * own fixed array in a MAP_SHARED anonymous mapping created before the forks.
 * CLOCK_MONOTONIC is read only when the CPU differs from the last record.
 *
 * Output (stdout, every line prefixed with "@@T "): see docs/kernel-oracle.md,
 * "Trajectories".  Times are µs since the first fork.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_TASKS 64
#define MAX_REC (1 << 16)
#define MAX_CPUS 1024

struct rec {
  int64_t t_ns;
  int32_t cpu;
  int32_t pad;
};

struct task_log {
  volatile int64_t nrec;
  volatile int64_t checks;
  volatile int64_t overflow;
  volatile int64_t periods;  /* periodic tasks: periods started */
  volatile int64_t overruns; /* periodic tasks: wakeups that were already late by a period */
  char pad[64 - 5 * 8];
  struct rec r[MAX_REC];
};

static struct task_log *logs;
static int64_t t0_ns;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t cputime_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_until(int64_t t_ns) {
  struct timespec ts = {.tv_sec = t_ns / 1000000000, .tv_nsec = t_ns % 1000000000};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
  }
}

static void die(const char *msg) {
  printf("@@T # ERROR: %s (%s)\n", msg, strerror(errno));
  fflush(stdout);
  exit(1);
}

/* Record the current CPU if it differs from *last. */
static inline void check(struct task_log *L, int *last) {
  int c = sched_getcpu();
  L->checks++;
  if (c != *last) {
    int64_t n = L->nrec;
    if (n < MAX_REC) {
      L->r[n].t_ns = now_ns();
      L->r[n].cpu = c;
      L->nrec = n + 1;
    } else {
      L->overflow++;
    }
    *last = c;
  }
}

static void hog(struct task_log *L, long iters) {
  int last = -1;
  uint64_t x = (uint64_t)(uintptr_t)L;
  check(L, &last);
  for (;;) {
    for (long k = 0; k < iters; k++) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      __asm__ volatile("" : "+r"(x));
    }
    check(L, &last);
  }
}

static void periodic(struct task_log *L, long run_us, long period_us) {
  int last = -1;
  uint64_t x = (uint64_t)(uintptr_t)L;
  int64_t next = now_ns();
  for (;;) {
    check(L, &last);
    L->periods++;
    int64_t c0 = cputime_ns();
    while (cputime_ns() - c0 < run_us * 1000) {
      for (int k = 0; k < 200; k++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        __asm__ volatile("" : "+r"(x));
      }
      check(L, &last);
    }
    next += period_us * 1000;
    if (now_ns() > next + period_us * 1000) L->overruns++;
    sleep_until(next);
  }
}

/* ---------------------------------------------------------------- output */
enum { EV_SPAWN, EV_RELEASE, EV_CPU };
struct ev {
  int64_t t_ns;
  int kind, task, cpu;
};

static int ev_cmp(const void *a, const void *b) {
  const struct ev *x = a, *y = b;
  if (x->t_ns != y->t_ns) return x->t_ns < y->t_ns ? -1 : 1;
  if (x->kind != y->kind) return x->kind - y->kind;
  return x->task - y->task;
}

static long us(int64_t t_ns) { /* relative to t0, rounded down (never before 0) */
  int64_t d = t_ns - t0_ns;
  return d < 0 ? 0 : (long)(d / 1000);
}

static void read_line(const char *path, char *buf, size_t n) {
  FILE *f = fopen(path, "r");
  buf[0] = 0;
  if (!f) return;
  if (!fgets(buf, (int)n, f)) buf[0] = 0;
  fclose(f);
  buf[strcspn(buf, "\n")] = 0;
}

static int parse_cpulist(const char *s, cpu_set_t *set) {
  const char *p = s;
  int n = 0;
  CPU_ZERO(set);
  while (*p) {
    char *end;
    long a = strtol(p, &end, 10), b;
    if (end == p) break;
    b = a;
    if (*end == '-') b = strtol(end + 1, &end, 10);
    for (long c = a; c <= b && c < MAX_CPUS; c++) {
      CPU_SET(c, set);
      n++;
    }
    if (*end != ',') break;
    p = end + 1;
  }
  return n;
}

/* the highest CPU of a set, plus one */
static int set_span(const cpu_set_t *set) {
  int hi = -1;
  for (int c = 0; c < MAX_CPUS; c++)
    if (CPU_ISSET(c, set)) hi = c;
  return hi + 1;
}

int main(int argc, char **argv) {
  /* accept "hogs 4 pinned", "hogs,4,pinned" or a mix */
  char *tok[32];
  int ntok = 0;
  for (int i = 1; i < argc; i++)
    for (char *s = strtok(argv[i], ", "); s && ntok < 32; s = strtok(NULL, ", ")) tok[ntok++] = s;
  if (ntok < 3) {
    fprintf(stderr, "usage: trajectory hogs N pinned|fork [gap=US] [duration=S] | light N RUN_US PERIOD_US fork ...\n");
    return 2;
  }
  const char *kind = tok[0];
  int n = atoi(tok[1]);
  long run_us = 0, period_us = 0;
  int rest;
  if (!strcmp(kind, "hogs")) {
    rest = 2;
  } else if (!strcmp(kind, "light")) {
    if (ntok < 5) return 2;
    run_us = atol(tok[2]);
    period_us = atol(tok[3]);
    rest = 4;
    if (run_us <= 0 || period_us <= run_us) {
      fprintf(stderr, "trajectory: need 0 < RUN_US < PERIOD_US\n");
      return 2;
    }
  } else {
    fprintf(stderr, "trajectory: unknown scenario '%s'\n", kind);
    return 2;
  }
  if (rest >= ntok) return 2;
  const char *start = tok[rest];
  int pinned;
  if (!strcmp(start, "pinned"))
    pinned = 1;
  else if (!strcmp(start, "fork"))
    pinned = 0;
  else {
    fprintf(stderr, "trajectory: start must be pinned or fork, not '%s'\n", start);
    return 2;
  }
  if (n < 1 || n > MAX_TASKS) {
    fprintf(stderr, "trajectory: N must be 1..%d\n", MAX_TASKS);
    return 2;
  }
  long gap_us = pinned ? 2000 : 0, check_iters = 1024;
  double duration_s = 10.0;
  for (int i = rest + 1; i < ntok; i++) {
    if (!strncmp(tok[i], "gap=", 4))
      gap_us = atol(tok[i] + 4);
    else if (!strncmp(tok[i], "duration=", 9))
      duration_s = atof(tok[i] + 9);
    else if (!strncmp(tok[i], "check=", 6))
      check_iters = atol(tok[i] + 6);
    else {
      fprintf(stderr, "trajectory: unknown option '%s'\n", tok[i]);
      return 2;
    }
  }

  char online[4096], present[4096];
  read_line("/sys/devices/system/cpu/online", online, sizeof online);
  read_line("/sys/devices/system/cpu/present", present, sizeof present);
  cpu_set_t online_set, cpu0;
  if (parse_cpulist(online, &online_set) < 1) die("cannot read /sys/devices/system/cpu/online");
  CPU_ZERO(&cpu0);
  CPU_SET(0, &cpu0);

  size_t sz = sizeof(struct task_log) * (size_t)n;
  logs = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (logs == MAP_FAILED) die("mmap");
  memset(logs, 0, sz); /* touch every page now, not in the children */

  pid_t pid[MAX_TASKS];
  int64_t spawn_t[MAX_TASKS] = {0}, release_t[MAX_TASKS] = {0}, release_call[MAX_TASKS] = {0};
  int spawn_cpu[MAX_TASKS] = {0};
  fflush(stdout);

  if (pinned && sched_setaffinity(0, sizeof cpu0, &cpu0)) die("sched_setaffinity(self, {0})");
  /* Gaps are relative: each fork/release comes gap µs after the previous one returned,
   * so a late wakeup of the parent delays the rest instead of bunching them. */
  for (int i = 0; i < n; i++) {
    if (!pinned && i > 0 && gap_us > 0) sleep_until(now_ns() + gap_us * 1000);
    spawn_cpu[i] = sched_getcpu();
    spawn_t[i] = now_ns();
    if (i == 0) t0_ns = spawn_t[0];
    pid[i] = fork();
    if (pid[i] < 0) die("fork");
    if (pid[i] == 0) {
      if (period_us)
        periodic(&logs[i], run_us, period_us);
      else
        hog(&logs[i], check_iters);
      _exit(0);
    }
  }
  int64_t last_ns = spawn_t[n - 1], all_running = 0;
  if (pinned) {
    if (sched_setaffinity(0, sizeof online_set, &online_set)) die("sched_setaffinity(self, online)");
    /* Start releasing only once every child has run (recorded CPU 0): a fork can take
     * milliseconds under TCG, and a child that never ran before its release would not
     * have started pinned.  Poll every 1 ms, for at most 2 s. */
    for (int64_t deadline = now_ns() + 2000000000LL;;) {
      int i = 0;
      while (i < n && logs[i].nrec > 0) i++;
      if (i == n || now_ns() > deadline) break;
      sleep_until(now_ns() + 1000000);
    }
    all_running = now_ns();
    for (int i = 0; i < n; i++) {
      sleep_until((i ? release_t[i - 1] : all_running) + gap_us * 1000);
      release_call[i] = now_ns();
      if (sched_setaffinity(pid[i], sizeof online_set, &online_set)) die("sched_setaffinity(child, online)");
      release_t[i] = now_ns();
    }
    last_ns = release_t[n - 1];
  }
  /* `end` is the planned time, not the parent's actual wakeup: the wakeup itself can
   * disturb a CPU (seen: a hog pulled away from the CPU the parent woke on), and
   * every record after the planned time is dropped. */
  int64_t end_ns = last_ns + (int64_t)(duration_s * 1e9);
  sleep_until(end_ns);
  int64_t woke_ns = now_ns();
  for (int i = 0; i < n; i++) kill(pid[i], SIGKILL);
  for (int i = 0; i < n; i++) waitpid(pid[i], NULL, 0);

  /* ------------------------------------------------------------ print */
  struct utsname u;
  uname(&u);
  printf("@@T # balancekit kernel-oracle trajectory (tools/kernel-oracle/lib/trajectory.c)\n");
  printf("@@T # times: microseconds of CLOCK_MONOTONIC since the first fork\n");
  printf("@@T # gap_us %ld duration_s %g check_iters %ld\n", gap_us, duration_s, check_iters);
  printf("@@T # end = last release/fork + duration; the parent woke at %ld us and then killed the tasks\n", us(woke_ns));
  if (pinned)
    printf("@@T # every task had run on CPU 0 at %ld us; first release gap_us after that, each next one gap_us after the previous returned\n",
           us(all_running));
  printf("@@T kernel %s\n", u.release);
  cpu_set_t present_set;
  parse_cpulist(present, &present_set);
  printf("@@T cpus %d\n", set_span(&present_set));
  printf("@@T online %s\n", online);
  printf("@@T scenario %s\n", kind);
  printf("@@T start %s\n", pinned ? "pinned" : "fork");
  for (int i = 0; i < n; i++) {
    if (period_us)
      printf("@@T task %d periodic %ld %ld\n", i, run_us, period_us);
    else
      printf("@@T task %d hog\n", i);
  }
  size_t nev = 2 * (size_t)n;
  for (int i = 0; i < n; i++) nev += (size_t)logs[i].nrec;
  struct ev *ev = calloc(nev, sizeof *ev);
  if (!ev) die("calloc");
  size_t k = 0;
  for (int i = 0; i < n; i++) {
    ev[k++] = (struct ev){spawn_t[i], EV_SPAWN, i, spawn_cpu[i]};
    if (pinned) ev[k++] = (struct ev){release_t[i], EV_RELEASE, i, -1};
    for (int64_t j = 0; j < logs[i].nrec; j++)
      if (logs[i].r[j].t_ns <= end_ns) ev[k++] = (struct ev){logs[i].r[j].t_ns, EV_CPU, i, logs[i].r[j].cpu};
  }
  qsort(ev, k, sizeof *ev, ev_cmp);
  for (int i = 0; i < n; i++) {
    printf("@@T # task %d pid %d checks %lld records %lld overflow %lld", i, (int)pid[i],
           (long long)logs[i].checks, (long long)logs[i].nrec, (long long)logs[i].overflow);
    if (period_us) printf(" periods %lld overruns %lld", (long long)logs[i].periods, (long long)logs[i].overruns);
    if (pinned) printf(" release_call_us %ld", us(release_call[i]));
    printf("\n");
  }
  for (size_t j = 0; j < k; j++) {
    switch (ev[j].kind) {
    case EV_SPAWN: printf("@@T spawn %ld %d %d\n", us(ev[j].t_ns), ev[j].task, ev[j].cpu); break;
    case EV_RELEASE: printf("@@T release %ld %d\n", us(ev[j].t_ns), ev[j].task); break;
    default: printf("@@T cpu %ld %d %d\n", us(ev[j].t_ns), ev[j].task, ev[j].cpu); break;
    }
  }
  printf("@@T end %ld\n", us(end_ns));
  fflush(stdout);
  return 0;
}
