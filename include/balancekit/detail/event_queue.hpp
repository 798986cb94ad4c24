/// \file
/// `event_queue<N>`: at most one pending time per slot 0..N-1, earliest first, ties by
/// slot. An indexed binary heap in fixed storage: rescheduling or cancelling a slot is
/// O(log N) and nothing allocates, so the simulator's order of events is a pure function
/// of the times it sets.
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
  [[nodiscard]] constexpr std::int64_t time_of(std::size_t slot) const noexcept { return time_[slot]; }
  /// The earliest slot (smallest time, then smallest slot).
  [[nodiscard]] constexpr std::size_t top() const {
    BALANCEKIT_EXPECTS(size_ != 0);
    return heap_[0];
  }

  /// Sets (or moves) `slot`'s time.
  constexpr void set(std::size_t slot, std::int64_t time) {
    BALANCEKIT_EXPECTS(slot < N);
    if (pos_[slot] == npos) {
      time_[slot] = time;
      pos_[slot] = size_;
      heap_[size_++] = slot;
      up(pos_[slot]);
      return;
    }
    const std::int64_t old = time_[slot];
    time_[slot] = time;
    if (time < old) up(pos_[slot]);
    else down(pos_[slot]);
  }

  /// Cancels `slot` (nothing happens when it is not pending).
  constexpr void erase(std::size_t slot) {
    BALANCEKIT_EXPECTS(slot < N);
    const std::size_t i = pos_[slot];
    if (i == npos) return;
    pos_[slot] = npos;
    --size_;
    if (i == size_) return;
    const std::size_t moved = heap_[size_];
    place(i, moved);
    up(i);
    down(pos_[moved]);
  }

  constexpr void clear() noexcept {
    for (std::size_t i = 0; i < size_; ++i) pos_[heap_[i]] = npos;
    size_ = 0;
  }

  constexpr event_queue() noexcept { pos_.fill(npos); }

private:
  [[nodiscard]] constexpr bool before(std::size_t a, std::size_t b) const noexcept {
    return time_[a] != time_[b] ? time_[a] < time_[b] : a < b;
  }
  constexpr void place(std::size_t i, std::size_t slot) noexcept {
    heap_[i] = slot;
    pos_[slot] = i;
  }
  constexpr void up(std::size_t i) noexcept {
    const std::size_t slot = heap_[i];
    while (i > 0) {
      const std::size_t parent = (i - 1) / 2;
      if (!before(slot, heap_[parent])) break;
      place(i, heap_[parent]);
      i = parent;
    }
    place(i, slot);
  }
  constexpr void down(std::size_t i) noexcept {
    const std::size_t slot = heap_[i];
    for (;;) {
      std::size_t child = 2 * i + 1;
      if (child >= size_) break;
      if (child + 1 < size_ && before(heap_[child + 1], heap_[child])) ++child;
      if (!before(heap_[child], slot)) break;
      place(i, heap_[child]);
      i = child;
    }
    place(i, slot);
  }

  std::array<std::int64_t, N> time_{};
  std::array<std::size_t, N> heap_{};
  std::array<std::size_t, N> pos_{};
  std::size_t size_ = 0;
};

}  // namespace balancekit::detail
