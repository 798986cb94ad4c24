/// \file
/// Per-entity load tracking as the kernel computes it: integer sums over 1024 µs periods
/// decayed by y (y^32 = 1/2) through the kernel's table of y^n, the averages derived from
/// them, the rq's scaled PELT clock, attach/detach on migration, and util_est.
///
/// kernel: kernel/sched/pelt.c, pelt.h, sched-pelt.h; attach_entity_load_avg(),
/// detach_entity_load_avg(), util_est_update() — kernel/sched/fair.c (v6.16).
///
/// Time is the kernel's too: nanoseconds, of which PELT counts units of 1024 ns ("µs").
/// Everything here is a pure function of its arguments; the simulator owns the state.
#pragma once

#include <array>
#include <cstdint>

namespace balancekit::model::pelt {

/// kernel: LOAD_AVG_PERIOD — y^32 = 1/2.
inline constexpr std::uint32_t load_avg_period = 32;
/// kernel: LOAD_AVG_MAX — the sum 1024 · Σ y^n the series reaches at its limit.
inline constexpr std::uint32_t load_avg_max = 47742;
/// kernel: PELT_MIN_DIVIDER.
inline constexpr std::uint32_t min_divider = load_avg_max - 1024;
/// kernel: SCHED_CAPACITY_SHIFT.
inline constexpr unsigned capacity_shift = 10;
/// kernel: UTIL_AVG_UNCHANGED, the flag in util_est that says util_avg has not moved
/// since the task was enqueued.
inline constexpr std::uint32_t util_avg_unchanged = 0x80000000U;
/// kernel: UTIL_EST_WEIGHT_SHIFT (new samples weigh 1/4) and UTIL_EST_MARGIN (1 %).
inline constexpr unsigned util_est_weight_shift = 2;
inline constexpr std::uint32_t util_est_margin = 1024 / 100;

/// kernel: runnable_avg_yN_inv[] (sched-pelt.h): y^n · 2^32 for n < 32.
inline constexpr std::array<std::uint32_t, load_avg_period> runnable_avg_yN_inv = {
    0xffffffff, 0xfa83b2da, 0xf5257d14, 0xefe4b99a, 0xeac0c6e6, 0xe5b906e6, 0xe0ccdeeb, 0xdbfbb796,
    0xd744fcc9, 0xd2a81d91, 0xce248c14, 0xc9b9bd85, 0xc5672a10, 0xc12c4cc9, 0xbd08a39e, 0xb8fbaf46,
    0xb504f333, 0xb123f581, 0xad583ee9, 0xa9a15ab4, 0xa5fed6a9, 0xa2704302, 0x9ef5325f, 0x9b8d39b9,
    0x9837f050, 0x94f4efa8, 0x91c3d373, 0x8ea4398a, 0x8b95c1e3, 0x88980e80, 0x85aac367, 0x82cd8698,
};

/// kernel: struct sched_avg.
struct sched_avg {
  std::uint64_t last_update_time = 0;
  std::uint64_t load_sum = 0;
  std::uint64_t runnable_sum = 0;
  std::uint32_t util_sum = 0;
  std::uint32_t period_contrib = 0;
  std::uint64_t load_avg = 0;
  std::uint64_t runnable_avg = 0;
  std::uint64_t util_avg = 0;
  std::uint32_t util_est = 0;  ///< per task: the EWMA with its flag; per rq: the sum
  friend constexpr bool operator==(const sched_avg&, const sched_avg&) = default;
};

/// kernel: mul_u64_u32_shr(a, mul, 32), exactly: the high half times `mul` plus the low
/// half's product shifted, with no 128-bit type.
[[nodiscard]] constexpr std::uint64_t mul_u64_u32_shr32(std::uint64_t a, std::uint32_t mul) noexcept {
  const std::uint64_t hi = a >> 32;
  const std::uint64_t lo = a & 0xffffffffULL;
  return hi * mul + ((lo * mul) >> 32);
}

/// kernel: decay_load() — val · y^n, zero past 63 half-lives.
[[nodiscard]] constexpr std::uint64_t decay_load(std::uint64_t val, std::uint64_t n) noexcept {
  if (n > std::uint64_t{load_avg_period} * 63) return 0;
  auto local_n = static_cast<std::uint32_t>(n);
  if (local_n >= load_avg_period) {
    val >>= local_n / load_avg_period;
    local_n %= load_avg_period;
  }
  return mul_u64_u32_shr32(val, runnable_avg_yN_inv[local_n]);
}

/// kernel: __accumulate_pelt_segments() — d1 · y^p + 1024 · Σ_{n=1}^{p-1} y^n + d3.
[[nodiscard]] constexpr std::uint32_t accumulate_pelt_segments(std::uint64_t periods, std::uint32_t d1,
                                                               std::uint32_t d3) noexcept {
  const auto c1 = static_cast<std::uint32_t>(decay_load(d1, periods));
  const auto c2 = static_cast<std::uint32_t>(load_avg_max - decay_load(load_avg_max, periods) - 1024);
  return c1 + c2 + d3;
}

/// kernel: accumulate_sum() — returns the number of period boundaries crossed.
constexpr std::uint64_t accumulate_sum(std::uint64_t delta, sched_avg& sa, std::uint64_t load, std::uint64_t runnable,
                                       bool running) noexcept {
  auto contrib = static_cast<std::uint32_t>(delta);  // no boundary crossed: delta < 1024
  delta += sa.period_contrib;
  const std::uint64_t periods = delta / 1024;
  if (periods != 0) {
    sa.load_sum = decay_load(sa.load_sum, periods);
    sa.runnable_sum = decay_load(sa.runnable_sum, periods);
    sa.util_sum = static_cast<std::uint32_t>(decay_load(sa.util_sum, periods));
    delta %= 1024;
    // With no load, runnable and running are clear too, and contrib is not used.
    if (load != 0) contrib = accumulate_pelt_segments(periods, 1024 - sa.period_contrib, static_cast<std::uint32_t>(delta));
  }
  sa.period_contrib = static_cast<std::uint32_t>(delta);
  if (load != 0) sa.load_sum += load * contrib;
  if (runnable != 0) sa.runnable_sum += (runnable * contrib) << capacity_shift;
  if (running) sa.util_sum += contrib << capacity_shift;
  return periods;
}

/// kernel: ___update_load_sum() — true when a period boundary was crossed, so the
/// averages are due.
constexpr bool update_load_sum(std::uint64_t now, sched_avg& sa, std::uint64_t load, std::uint64_t runnable,
                               bool running) noexcept {
  std::uint64_t delta = now - sa.last_update_time;
  // Time going backwards (sched clock init in the kernel): resynchronise only.
  if (static_cast<std::int64_t>(delta) < 0) {
    sa.last_update_time = now;
    return false;
  }
  delta >>= 10;
  if (delta == 0) return false;
  sa.last_update_time += delta << 10;
  if (load == 0) {
    runnable = 0;
    running = false;
  }
  return accumulate_sum(delta, sa, load, runnable, running) != 0;
}

/// kernel: get_pelt_divider() — the sum's maximum at this point of the period.
[[nodiscard]] constexpr std::uint32_t divider(const sched_avg& sa) noexcept { return min_divider + sa.period_contrib; }

/// kernel: ___update_load_avg().
constexpr void update_load_avg(sched_avg& sa, std::uint64_t load) noexcept {
  const std::uint32_t d = divider(sa);
  sa.load_avg = load * sa.load_sum / d;
  sa.runnable_avg = sa.runnable_sum / d;
  sa.util_avg = sa.util_sum / d;
}

/// kernel: __update_load_avg_se() for a task: on_rq gives load and runnable, being the
/// rq's current task gives running; `weight` is se_weight() (nice 0 = 1024).
constexpr bool update_task(std::uint64_t now, sched_avg& sa, bool on_rq, bool running, std::uint64_t weight) noexcept {
  if (!update_load_sum(now, sa, on_rq ? 1 : 0, on_rq ? 1 : 0, running)) return false;
  update_load_avg(sa, weight);
  sa.util_est &= ~util_avg_unchanged;  // cfs_se_util_change()
  return true;
}

/// kernel: __update_load_avg_blocked_se() — a sleeping task decays.
constexpr bool update_blocked_task(std::uint64_t now, sched_avg& sa, std::uint64_t weight) noexcept {
  if (!update_load_sum(now, sa, 0, 0, false)) return false;
  update_load_avg(sa, weight);
  return true;
}

/// kernel: __update_load_avg_cfs_rq() — `weight` is the queued tasks' summed weight,
/// `h_nr_runnable` how many are runnable, `running` whether one is current.
constexpr bool update_cfs_rq(std::uint64_t now, sched_avg& sa, std::uint64_t weight, std::uint64_t h_nr_runnable,
                             bool running) noexcept {
  if (!update_load_sum(now, sa, weight, h_nr_runnable, running)) return false;
  update_load_avg(sa, 1);
  return true;
}

namespace detail {
constexpr void sub_positive(std::uint64_t& v, std::uint64_t d) noexcept { v = v > d ? v - d : 0; }
constexpr void sub_positive(std::uint32_t& v, std::uint32_t d) noexcept { v = v > d ? v - d : 0; }
// After a subtraction, rounding can leave a sum below its average times the smallest
// divider: the kernel floors it there, comparing as u32 (its max_t(u32, …)).
[[nodiscard]] constexpr std::uint32_t floor_sum(std::uint64_t sum, std::uint64_t avg) noexcept {
  const auto a = static_cast<std::uint32_t>(sum);
  const auto b = static_cast<std::uint32_t>(avg * min_divider);
  return a > b ? a : b;
}
}  // namespace detail

/// kernel: attach_entity_load_avg() — a migrated task joins `rq`'s averages. The rq must
/// be up to date (update_cfs_rq at the same `now`): the task takes its decay window.
constexpr void attach(sched_avg& rq, sched_avg& se, std::uint64_t weight) noexcept {
  const std::uint32_t d = divider(rq);
  se.last_update_time = rq.last_update_time;
  se.period_contrib = rq.period_contrib;
  // The sums are rebuilt from the averages for the new window (the kernel truncates too).
  se.util_sum = static_cast<std::uint32_t>(se.util_avg * d);
  se.runnable_sum = se.runnable_avg * d;
  se.load_sum = se.load_avg * d;
  se.load_sum = weight < se.load_sum ? se.load_sum / weight : 1;
  rq.load_avg += se.load_avg;  // enqueue_load_avg()
  rq.load_sum += weight * se.load_sum;
  rq.util_avg += se.util_avg;
  rq.util_sum += se.util_sum;
  rq.runnable_avg += se.runnable_avg;
  rq.runnable_sum += se.runnable_sum;
}

/// kernel: detach_entity_load_avg() — a task leaves `rq`'s averages (load-balance
/// migration: the task is dequeued with DO_DETACH).
constexpr void detach(sched_avg& rq, const sched_avg& se, std::uint64_t weight) noexcept {
  detail::sub_positive(rq.load_avg, se.load_avg);  // dequeue_load_avg()
  detail::sub_positive(rq.load_sum, weight * se.load_sum);
  rq.load_sum = detail::floor_sum(rq.load_sum, rq.load_avg);
  detail::sub_positive(rq.util_avg, se.util_avg);
  detail::sub_positive(rq.util_sum, se.util_sum);
  rq.util_sum = detail::floor_sum(rq.util_sum, rq.util_avg);
  detail::sub_positive(rq.runnable_avg, se.runnable_avg);
  detail::sub_positive(rq.runnable_sum, se.runnable_sum);
  rq.runnable_sum = detail::floor_sum(rq.runnable_sum, rq.runnable_avg);
}

/// What tasks that left a rq without its lock (a wakeup elsewhere) take with them.
/// kernel: cfs_rq->removed, filled by remove_entity_load_avg().
struct removed_avg {
  std::uint64_t load_avg = 0;
  std::uint64_t util_avg = 0;
  std::uint64_t runnable_avg = 0;
  std::uint32_t nr = 0;
  constexpr void add(const sched_avg& se) noexcept {
    ++nr;
    load_avg += se.load_avg;
    util_avg += se.util_avg;
    runnable_avg += se.runnable_avg;
  }
};

/// kernel: update_cfs_rq_load_avg(): first the removed tasks' averages leave the rq's
/// (each sum by average × divider, floored at average × the smallest divider), then the
/// rq's own update. Returns whether anything changed.
constexpr bool update_cfs_rq_load_avg(std::uint64_t now, sched_avg& rq, removed_avg& removed, std::uint64_t weight,
                                      std::uint64_t h_nr_runnable, bool running) noexcept {
  bool decayed = false;
  if (removed.nr != 0) {
    const std::uint32_t d = divider(rq);
    detail::sub_positive(rq.load_avg, removed.load_avg);
    detail::sub_positive(rq.load_sum, removed.load_avg * d);
    rq.load_sum = detail::floor_sum(rq.load_sum, rq.load_avg);
    detail::sub_positive(rq.util_avg, removed.util_avg);
    detail::sub_positive(rq.util_sum, static_cast<std::uint32_t>(removed.util_avg * d));
    rq.util_sum = detail::floor_sum(rq.util_sum, rq.util_avg);
    detail::sub_positive(rq.runnable_avg, removed.runnable_avg);
    detail::sub_positive(rq.runnable_sum, removed.runnable_avg * d);
    rq.runnable_sum = detail::floor_sum(rq.runnable_sum, rq.runnable_avg);
    removed = removed_avg{};
    decayed = true;
  }
  return update_cfs_rq(now, rq, weight, h_nr_runnable, running) || decayed;
}

/// kernel: post_init_entity_util_avg() — a new task's first utilization, from the rq it
/// is placed on: the rq's util per unit of load times the task's weight, at most half
/// the room left on the CPU (`cpu_scale` its original capacity); runnable starts equal.
constexpr void post_init_entity_util_avg(const sched_avg& rq, sched_avg& se, std::uint64_t weight,
                                         std::uint64_t cpu_scale) noexcept {
  const auto cap = (static_cast<std::int64_t>(cpu_scale) - static_cast<std::int64_t>(rq.util_avg)) / 2;
  if (cap > 0) {
    if (rq.util_avg != 0) {
      se.util_avg = rq.util_avg * weight / (rq.load_avg + 1);
      if (se.util_avg > static_cast<std::uint64_t>(cap)) se.util_avg = static_cast<std::uint64_t>(cap);
    } else {
      se.util_avg = static_cast<std::uint64_t>(cap);
    }
  }
  se.runnable_avg = se.util_avg;
}

/// kernel: _task_util_est() and task_util_est().
[[nodiscard]] constexpr std::uint64_t task_util_est_ewma(const sched_avg& se) noexcept {
  return se.util_est & ~util_avg_unchanged;
}
[[nodiscard]] constexpr std::uint64_t task_util_est(const sched_avg& se) noexcept {
  return se.util_avg > task_util_est_ewma(se) ? se.util_avg : task_util_est_ewma(se);
}

/// kernel: util_est_enqueue() / util_est_dequeue() — the rq's sum of its tasks' estimates.
constexpr void util_est_enqueue(sched_avg& rq, const sched_avg& se) noexcept {
  rq.util_est += static_cast<std::uint32_t>(task_util_est_ewma(se));
}
constexpr void util_est_dequeue(sched_avg& rq, const sched_avg& se) noexcept {
  const auto e = static_cast<std::uint32_t>(task_util_est_ewma(se));
  rq.util_est -= rq.util_est < e ? rq.util_est : e;
}

/// kernel: util_est_update() — on a dequeue for sleep, fold util_avg into the task's EWMA:
/// up at once, down by a quarter of the difference, unless within 1 %, or the CPU had no
/// idle time (util above its capacity), or the task did not get the CPU it wanted
/// (runnable above util by more than 1 %).
constexpr void util_est_update(sched_avg& se, bool task_sleep, std::uint64_t cpu_capacity) noexcept {
  if (!task_sleep) return;  // not a completed activation (a migration)
  std::uint32_t ewma = se.util_est;
  if ((ewma & util_avg_unchanged) != 0) return;
  const std::uint64_t dequeued = se.util_avg;
  if (ewma <= dequeued) {
    ewma = static_cast<std::uint32_t>(dequeued);
  } else {
    const auto last_ewma_diff = static_cast<std::uint32_t>(ewma - dequeued);
    if (last_ewma_diff >= util_est_margin) {
      if (dequeued > cpu_capacity) return;
      if (dequeued + util_est_margin >= se.runnable_avg) {
        ewma <<= util_est_weight_shift;
        ewma -= last_ewma_diff;
        ewma >>= util_est_weight_shift;
      }
    }
  }
  se.util_est = ewma | util_avg_unchanged;
}

/// kernel: rq->clock_pelt and rq->lost_idle_time (pelt.h) — PELT's clock runs slower on a
/// CPU of lower capacity or frequency, so a task that fills a little CPU reaches a
/// util_avg of that CPU's capacity, and syncs back to the task clock when the CPU idles.
struct clock_pelt {
  std::uint64_t clock = 0;           ///< rq->clock_pelt
  std::uint64_t lost_idle_time = 0;  ///< rq->lost_idle_time
  /// kernel: update_rq_clock_pelt() — `clock_task` is the rq's task clock after the
  /// update, `delta` how far it moved.
  constexpr void advance(std::uint64_t clock_task, std::uint64_t delta, bool idle, std::uint64_t cpu_capacity,
                         std::uint64_t freq_capacity = 1024) noexcept {
    if (idle) {
      clock = clock_task;
      return;
    }
    delta = (delta * cpu_capacity) >> capacity_shift;  // cap_scale()
    delta = (delta * freq_capacity) >> capacity_shift;
    clock += delta;
  }
  /// kernel: update_idle_rq_clock_pelt() — on going idle, a CPU whose util_sum was at its
  /// maximum had no idle time to give back: count the gap as lost.
  constexpr void going_idle(std::uint64_t clock_task, std::uint32_t util_sum) noexcept {
    constexpr std::uint32_t full = (min_divider << capacity_shift) - load_avg_max;
    if (util_sum >= full) lost_idle_time += clock_task - clock;
  }
  /// kernel: rq_clock_pelt().
  [[nodiscard]] constexpr std::uint64_t now() const noexcept { return clock - lost_idle_time; }
};

}  // namespace balancekit::model::pelt
