/// \file
/// Constexpr text scanning shared by the parsers (cpulists, specs, distances).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace balancekit::detail {

constexpr bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\0';
}

/// Strips white space and the trailing NULs that some sysfs files carry.
constexpr std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

/// Returns the text before the first `sep` (trimmed) and drops it and `sep` from `s`.
constexpr std::string_view take_until(std::string_view& s, char sep) noexcept {
  const auto at = s.find(sep);
  const std::string_view head = s.substr(0, at);
  s = at == std::string_view::npos ? std::string_view{} : s.substr(at + 1);
  return trim(head);
}

/// Returns the next token separated by any of `seps` (empty tokens skipped).
constexpr std::string_view next_token(std::string_view& s, std::string_view seps) noexcept {
  while (!s.empty() && seps.find(s.front()) != std::string_view::npos) s.remove_prefix(1);
  std::size_t n = 0;
  while (n < s.size() && seps.find(s[n]) == std::string_view::npos) ++n;
  const std::string_view tok = s.substr(0, n);
  s.remove_prefix(n);
  return tok;
}

constexpr int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr char to_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  return true;
}

/// A left-to-right reader over one token.
struct cursor {
  std::string_view s;

  constexpr bool done() const noexcept { return s.empty(); }
  constexpr bool eat(char c) noexcept {
    if (s.empty() || s.front() != c) return false;
    s.remove_prefix(1);
    return true;
  }
  /// Reads a decimal number; false (cursor unchanged) if there is none or it overflows.
  constexpr bool number(std::uint64_t& out) noexcept {
    std::size_t n = 0;
    std::uint64_t v = 0;
    while (n < s.size() && s[n] >= '0' && s[n] <= '9') {
      if (v > (UINT64_MAX - 9) / 10) return false;
      v = v * 10 + static_cast<std::uint64_t>(s[n] - '0');
      ++n;
    }
    if (n == 0) return false;
    out = v;
    s.remove_prefix(n);
    return true;
  }
  /// Reads a decimal number that must make up the rest of the token.
  constexpr bool whole_number(std::uint64_t& out) noexcept { return number(out) && done(); }
};

}  // namespace balancekit::detail
