/// \file
/// `static_vector<T, N>`: a fixed-capacity vector that never allocates.
///
/// Storage is a `std::array<T, N>`, so `T` must be default-constructible; that keeps the
/// type usable in constant evaluation (C++20 has no constexpr placement storage).
#pragma once

#include <array>
#include <cstddef>
#include <initializer_list>

#include <balancekit/detail/contracts.hpp>

namespace balancekit {

template <class T, std::size_t N>
class static_vector {
public:
  using value_type = T;
  using size_type = std::size_t;
  using iterator = T*;
  using const_iterator = const T*;
  using reference = T&;
  using const_reference = const T&;

  constexpr static_vector() = default;
  constexpr static_vector(std::initializer_list<T> init) {
    BALANCEKIT_EXPECTS(init.size() <= N);
    for (const T& v : init) data_[size_++] = v;
  }

  [[nodiscard]] static constexpr size_type capacity() noexcept { return N; }
  [[nodiscard]] constexpr size_type size() const noexcept { return size_; }
  [[nodiscard]] constexpr bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] constexpr bool full() const noexcept { return size_ == N; }

  constexpr void push_back(const T& v) {
    BALANCEKIT_EXPECTS(size_ < N);
    data_[size_++] = v;
  }
  /// Appends when there is room; returns false (and changes nothing) when full.
  [[nodiscard]] constexpr bool try_push_back(const T& v) {
    if (size_ == N) return false;
    data_[size_++] = v;
    return true;
  }
  constexpr T& emplace_back() {
    BALANCEKIT_EXPECTS(size_ < N);
    data_[size_] = T{};
    return data_[size_++];
  }
  constexpr void pop_back() {
    BALANCEKIT_EXPECTS(size_ > 0);
    --size_;
  }
  constexpr void clear() noexcept { size_ = 0; }
  constexpr void resize(size_type n, const T& fill = T{}) {
    BALANCEKIT_EXPECTS(n <= N);
    for (size_type i = size_; i < n; ++i) data_[i] = fill;
    size_ = n;
  }

  constexpr T& operator[](size_type i) {
    BALANCEKIT_EXPECTS(i < size_);
    return data_[i];
  }
  constexpr const T& operator[](size_type i) const {
    BALANCEKIT_EXPECTS(i < size_);
    return data_[i];
  }
  constexpr T& back() { return (*this)[size_ - 1]; }
  constexpr const T& back() const { return (*this)[size_ - 1]; }

  constexpr iterator begin() noexcept { return data_.data(); }
  constexpr iterator end() noexcept { return data_.data() + size_; }
  constexpr const_iterator begin() const noexcept { return data_.data(); }
  constexpr const_iterator end() const noexcept { return data_.data() + size_; }
  constexpr T* data() noexcept { return data_.data(); }
  constexpr const T* data() const noexcept { return data_.data(); }

  friend constexpr bool operator==(const static_vector& a, const static_vector& b) {
    if (a.size_ != b.size_) return false;
    for (size_type i = 0; i < a.size_; ++i)
      if (!(a.data_[i] == b.data_[i])) return false;
    return true;
  }

private:
  std::array<T, N> data_{};
  size_type size_ = 0;
};

}  // namespace balancekit
