/// \file
/// Errors are values: `error` (a code and a message that names what is wrong and where)
/// and `result<T>` (a value or an error). Both work in constant evaluation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>
#include <utility>

#include <balancekit/detail/contracts.hpp>

namespace balancekit {

/// A fixed-capacity string for messages built in constant evaluation. Text past the
/// capacity is cut and marked with "...", so a long culprit never makes a message fail.
template <std::size_t N>
class static_string {
public:
  constexpr static_string() = default;
  constexpr static_string(std::string_view s) { *this += s; }  // NOLINT: implicit on purpose

  [[nodiscard]] constexpr std::string_view view() const noexcept { return {data_.data(), size_}; }
  [[nodiscard]] constexpr std::size_t size() const noexcept { return size_; }
  [[nodiscard]] constexpr bool empty() const noexcept { return size_ == 0; }
  constexpr const char* c_str() const noexcept { return data_.data(); }

  constexpr static_string& operator+=(std::string_view s) noexcept {
    for (char c : s) push(c);
    return *this;
  }
  constexpr static_string& operator+=(char c) noexcept {
    push(c);
    return *this;
  }
  template <class I>
    requires(std::is_integral_v<I> && !std::is_same_v<I, char> && !std::is_same_v<I, bool>)
  constexpr static_string& operator+=(I value) noexcept {
    std::array<char, 24> digits{};
    std::size_t n = 0;
    bool negative = false;
    std::uint64_t v = 0;
    if constexpr (std::is_signed_v<I>) {
      negative = value < 0;
      v = negative ? std::uint64_t(0) - static_cast<std::uint64_t>(value) : static_cast<std::uint64_t>(value);
    } else {
      v = static_cast<std::uint64_t>(value);
    }
    do {
      digits[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    if (negative) push('-');
    while (n > 0) push(digits[--n]);
    return *this;
  }

  friend constexpr bool operator==(const static_string& a, const static_string& b) {
    return a.view() == b.view();
  }

private:
  constexpr void push(char c) noexcept {
    if (size_ + 1 < N) {
      data_[size_++] = c;
      data_[size_] = '\0';
    } else if (size_ + 1 == N && N > 4) {  // full: mark the cut once
      data_[N - 4] = data_[N - 3] = data_[N - 2] = '.';
    }
  }
  std::array<char, N> data_{};
  std::size_t size_ = 0;
};

/// What kind of thing is wrong. The message says which token or entry.
enum class errc : std::uint8_t {
  syntax,          ///< text that does not parse
  out_of_range,    ///< a number or id outside what is allowed
  unknown_name,    ///< a level, machine or option name that does not exist
  out_of_order,    ///< levels not outermost first, or repeated
  over_limit,      ///< more CPUs, nodes or levels than the `limits` allow
  not_square,      ///< a distance matrix row of the wrong length
  not_symmetric,   ///< d(i,j) != d(j,i)
  bad_distance,    ///< diagonal not 10, or off-diagonal not above 10
  wrong_count,     ///< e.g. distance rows != nodes
  bad_capacity,    ///< capacity outside 1..1024
  not_nested,      ///< a unit that spans two units of the level above
  duplicate,       ///< the same CPU or id given twice
  io,              ///< a file or source that could not be read (adapters only)
  unsupported,     ///< valid input that balancekit does not model (adapters only)
  invalid_argument,  ///< an argument that contradicts the snapshot, e.g. placing a queued task
};

[[nodiscard]] constexpr std::string_view to_string(errc c) noexcept {
  switch (c) {
    case errc::syntax: return "syntax";
    case errc::out_of_range: return "out_of_range";
    case errc::unknown_name: return "unknown_name";
    case errc::out_of_order: return "out_of_order";
    case errc::over_limit: return "over_limit";
    case errc::not_square: return "not_square";
    case errc::not_symmetric: return "not_symmetric";
    case errc::bad_distance: return "bad_distance";
    case errc::wrong_count: return "wrong_count";
    case errc::bad_capacity: return "bad_capacity";
    case errc::not_nested: return "not_nested";
    case errc::duplicate: return "duplicate";
    case errc::io: return "io";
    case errc::unsupported: return "unsupported";
    case errc::invalid_argument: return "invalid_argument";
  }
  return "unknown";
}

/// An error: a code and a message naming the culprit, e.g.
/// `distances: entry (0,2) is 32 but (2,0) is 31; a distance matrix must be symmetric`.
struct error {
  errc code = errc::syntax;
  static_string<192> message{};

  constexpr error() = default;
  constexpr error(errc c, std::string_view what) : code(c), message(what) {}

  template <class T>
  constexpr error& operator<<(const T& part) {
    message += part;
    return *this;
  }
  friend constexpr bool operator==(const error&, const error&) = default;
};

/// A value or an error. `T` must be default-constructible (constant evaluation).
template <class T>
class [[nodiscard]] result {
public:
  constexpr result(T v) : value_(std::move(v)), ok_(true) {}  // NOLINT: implicit on purpose
  constexpr result(error e) : error_(std::move(e)), ok_(false) {}  // NOLINT

  [[nodiscard]] constexpr bool has_value() const noexcept { return ok_; }
  constexpr explicit operator bool() const noexcept { return ok_; }

  constexpr T& value() & {
    BALANCEKIT_EXPECTS(ok_);
    return value_;
  }
  constexpr const T& value() const& {
    BALANCEKIT_EXPECTS(ok_);
    return value_;
  }
  constexpr T&& value() && {
    BALANCEKIT_EXPECTS(ok_);
    return std::move(value_);
  }
  constexpr const T& operator*() const& { return value(); }
  constexpr T& operator*() & { return value(); }
  constexpr const T* operator->() const { return &value(); }
  constexpr T* operator->() { return &value(); }

  constexpr const error& error_value() const {
    BALANCEKIT_EXPECTS(!ok_);
    return error_;
  }

private:
  T value_{};
  error error_{};
  bool ok_ = false;
};

/// Success, or an error, for operations that fill caller-owned storage.
class [[nodiscard]] status {
public:
  constexpr status() = default;
  constexpr status(error e) : error_(std::move(e)), ok_(false) {}  // NOLINT: implicit on purpose
  [[nodiscard]] constexpr bool ok() const noexcept { return ok_; }
  constexpr explicit operator bool() const noexcept { return ok_; }
  constexpr const error& error_value() const {
    BALANCEKIT_EXPECTS(!ok_);
    return error_;
  }

private:
  error error_{};
  bool ok_ = true;
};

}  // namespace balancekit
