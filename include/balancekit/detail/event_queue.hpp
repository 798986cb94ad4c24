/// \file
/// `event_queue<N>`: at most one pending time per slot 0..N-1, earliest first, ties by
/// slot. An indexed binary heap in fixed storage: rescheduling or cancelling a slot is
/// O(log N) and nothing allocates, so the simulator's order of events is a pure function
/// of the times it sets. Heap entries carry their time, so sifting compares without a
/// second, scattered load per step.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include <balancekit/detail/contracts.hpp>

namespace balancekit::detail {

template <std::size_t N>
class event_queue {
public:
  static constexpr std::size_t npos = N;

  [[nodiscard]] constexpr bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] constexpr std::size_t size() const noexcept { return size_; }
  [[nodiscard]] constexpr bool pending(std::size_t slot) const noexcept { return pos_[slot] != npos; }
  /// The pending time of `slot` (which must be pending).
  [[nodiscard]] constexpr std::int64_t time_of(std::size_t slot) const noexcept { return heap_[pos_[slot]].time; }
  /// The earliest slot (smallest time, then smallest slot).
  [[nodiscard]] constexpr std::size_t top() const {
    BALANCEKIT_EXPECTS(size_ != 0);
    return heap_[0].slot;
  }

  /// Sets (or moves) `slot`'s time.
  constexpr void set(std::size_t slot, std::int64_t time) {
    BALANCEKIT_EXPECTS(slot < N);
    if (pos_[slot] == npos) {
      up(size_++, entry{time, slot});
      return;
    }
    const std::size_t i = pos_[slot];
    const std::int64_t old = heap_[i].time;
    if (time < old) up(i, entry{time, slot});
    else down(i, entry{time, slot});
  }

  /// Cancels `slot` (nothing happens when it is not pending).
  constexpr void erase(std::size_t slot) {
    BALANCEKIT_EXPECTS(slot < N);
    const std::size_t i = pos_[slot];
    if (i == npos) return;
    pos_[slot] = npos;
    --size_;
    if (i == size_) return;
    const entry moved = heap_[size_];
    if (i > 0 && before(moved, heap_[(i - 1) / 2])) up(i, moved);
    else down(i, moved);
  }

  constexpr void clear() noexcept {
    for (std::size_t i = 0; i < size_; ++i) pos_[heap_[i].slot] = npos;
    size_ = 0;
  }

  constexpr event_queue() noexcept { pos_.fill(npos); }

private:
  struct entry {
    std::int64_t time = 0;
    std::size_t slot = 0;
  };
  [[nodiscard]] static constexpr bool before(const entry& a, const entry& b) noexcept {
    return a.time != b.time ? a.time < b.time : a.slot < b.slot;
  }
  constexpr void place(std::size_t i, const entry& e) noexcept {
    heap_[i] = e;
    pos_[e.slot] = i;
  }
  // Puts `e` at hole `i` and moves it towards the root while it is earlier than its parent.
  constexpr void up(std::size_t i, const entry& e) noexcept {
    while (i > 0) {
      const std::size_t parent = (i - 1) / 2;
      if (!before(e, heap_[parent])) break;
      place(i, heap_[parent]);
      i = parent;
    }
    place(i, e);
  }
  // Puts `e` at hole `i` and moves it towards the leaves while a child is earlier.
  constexpr void down(std::size_t i, const entry& e) noexcept {
    for (;;) {
      std::size_t child = 2 * i + 1;
      if (child >= size_) break;
      if (child + 1 < size_ && before(heap_[child + 1], heap_[child])) ++child;
      if (!before(heap_[child], e)) break;
      place(i, heap_[child]);
      i = child;
    }
    place(i, e);
  }

  std::array<entry, N> heap_{};
  std::array<std::size_t, N> pos_{};
  std::size_t size_ = 0;
};

}  // namespace balancekit::detail
