/// \file
/// `cpumask<N>`: a constexpr bitset of CPU ids with the kernel's operations.
///
/// kernel: include/linux/cpumask.h (cpumask_first/next/last, cpumask_weight,
/// cpumask_subset, cpumask_intersects, for_each_cpu, for_each_cpu_wrap),
/// lib/bitmap.c (bitmap_parselist, bitmap_parse) and lib/vsprintf.c (%*pbl, %*pb).
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>

#include <balancekit/core/error.hpp>
#include <balancekit/core/index.hpp>
#include <balancekit/detail/contracts.hpp>
#include <balancekit/detail/text.hpp>

namespace balancekit {

/// A set of CPU ids in `[0, N)`.
///
/// **Example**
/// \code
/// constexpr auto m = *cpumask<64>::parse("0-3,8-11");
/// static_assert(m.weight() == 8 && m.first() == 0 && m.next(3) == 8);
/// \endcode
template <std::size_t N>
class cpumask {
  static_assert(N > 0, "a cpumask needs room for at least one CPU");
  static constexpr std::size_t word_bits = 64;
  static constexpr std::size_t words = (N + word_bits - 1) / word_bits;
  using word = std::uint64_t;

public:
  using size_type = std::size_t;
  /// Returned by first/next/last when there is no such CPU: `no_cpu`. (The kernel returns
  /// nr_cpu_ids; one value for every mask size keeps "no CPU" a single sentinel.)
  static constexpr std::size_t npos = no_cpu;

  constexpr cpumask() = default;

  [[nodiscard]] static constexpr std::size_t size() noexcept { return N; }

  [[nodiscard]] static constexpr cpumask of(std::size_t cpu) {
    cpumask m;
    m.set(cpu);
    return m;
  }
  /// CPUs `first..last`, both included.
  [[nodiscard]] static constexpr cpumask range(std::size_t first, std::size_t last) {
    BALANCEKIT_EXPECTS(first <= last && last < N);
    cpumask m;
    for (std::size_t c = first; c <= last; ++c) m.set(c);
    return m;
  }
  /// CPUs `0..n-1`.
  [[nodiscard]] static constexpr cpumask first_n(std::size_t n) {
    BALANCEKIT_EXPECTS(n <= N);
    return n == 0 ? cpumask{} : range(0, n - 1);
  }

  constexpr cpumask& set(std::size_t cpu) {
    BALANCEKIT_EXPECTS(cpu < N);
    w_[cpu / word_bits] |= word{1} << (cpu % word_bits);
    return *this;
  }
  constexpr cpumask& reset(std::size_t cpu) {
    BALANCEKIT_EXPECTS(cpu < N);
    w_[cpu / word_bits] &= ~(word{1} << (cpu % word_bits));
    return *this;
  }
  [[nodiscard]] constexpr bool test(std::size_t cpu) const noexcept {
    return cpu < N && ((w_[cpu / word_bits] >> (cpu % word_bits)) & 1U) != 0;
  }
  constexpr void clear() noexcept { w_ = {}; }

  [[nodiscard]] constexpr std::size_t weight() const noexcept {
    std::size_t n = 0;
    for (word x : w_) n += static_cast<std::size_t>(std::popcount(x));
    return n;
  }
  /// Whether the mask holds two CPUs or more; stops at the second (kernel: nr_cpus_allowed
  /// > 1, which the kernel caches).
  [[nodiscard]] constexpr bool more_than_one() const noexcept {
    bool seen = false;
    for (word x : w_) {
      if (x == 0) continue;
      if (seen || (x & (x - 1)) != 0) return true;
      seen = true;
    }
    return false;
  }
  [[nodiscard]] constexpr bool empty() const noexcept {
    for (word x : w_)
      if (x != 0) return false;
    return true;
  }
  [[nodiscard]] constexpr bool any() const noexcept { return !empty(); }

  /// Lowest CPU in the mask, or `npos`.
  [[nodiscard]] constexpr std::size_t first() const noexcept { return find_from(0); }
  /// Lowest CPU strictly above `cpu`, or `npos` (kernel: cpumask_next).
  [[nodiscard]] constexpr std::size_t next(std::size_t cpu) const noexcept {
    return cpu >= N - 1 ? npos : find_from(cpu + 1);
  }
  /// Highest CPU in the mask, or `npos`.
  [[nodiscard]] constexpr std::size_t last() const noexcept {
    for (std::size_t i = words; i-- > 0;)
      if (w_[i] != 0) return i * word_bits + (word_bits - 1 - static_cast<std::size_t>(std::countl_zero(w_[i])));
    return npos;
  }
  /// The `n`-th CPU (0-based) in ascending order, or `npos` (kernel: cpumask_nth).
  [[nodiscard]] constexpr std::size_t nth(std::size_t n) const noexcept {
    for (std::size_t c = first(); c != npos; c = next(c))
      if (n-- == 0) return c;
    return npos;
  }

  [[nodiscard]] constexpr bool subset_of(const cpumask& o) const noexcept {
    for (std::size_t i = 0; i < words; ++i)
      if ((w_[i] & ~o.w_[i]) != 0) return false;
    return true;
  }
  /// `subset_of` for a mask whose CPUs all lie in [lo, hi], reading that range's words only.
  [[nodiscard]] constexpr bool subset_of_within(const cpumask& o, std::size_t lo, std::size_t hi) const noexcept {
    BALANCEKIT_EXPECTS(lo <= hi && hi < N);
    for (std::size_t i = lo / word_bits; i <= hi / word_bits; ++i)
      if ((w_[i] & ~o.w_[i]) != 0) return false;
    return true;
  }
  [[nodiscard]] constexpr bool intersects(const cpumask& o) const noexcept {
    for (std::size_t i = 0; i < words; ++i)
      if ((w_[i] & o.w_[i]) != 0) return true;
    return false;
  }

  constexpr cpumask& operator|=(const cpumask& o) noexcept {
    for (std::size_t i = 0; i < words; ++i) w_[i] |= o.w_[i];
    return *this;
  }
  constexpr cpumask& operator&=(const cpumask& o) noexcept {
    for (std::size_t i = 0; i < words; ++i) w_[i] &= o.w_[i];
    return *this;
  }
  constexpr cpumask& operator^=(const cpumask& o) noexcept {
    for (std::size_t i = 0; i < words; ++i) w_[i] ^= o.w_[i];
    return *this;
  }
  /// Set difference (kernel: cpumask_andnot).
  constexpr cpumask& operator-=(const cpumask& o) noexcept {
    for (std::size_t i = 0; i < words; ++i) w_[i] &= ~o.w_[i];
    return *this;
  }
  friend constexpr cpumask operator|(cpumask a, const cpumask& b) noexcept { return a |= b; }
  friend constexpr cpumask operator&(cpumask a, const cpumask& b) noexcept { return a &= b; }
  friend constexpr cpumask operator^(cpumask a, const cpumask& b) noexcept { return a ^= b; }
  friend constexpr cpumask operator-(cpumask a, const cpumask& b) noexcept { return a -= b; }
  /// Complement within `[0, N)`.
  friend constexpr cpumask operator~(cpumask a) noexcept {
    for (auto& x : a.w_) x = ~x;
    a.trim();
    return a;
  }
  friend constexpr bool operator==(const cpumask&, const cpumask&) = default;
  /// A hash of the set (FNV-1a over the words), for deduplicating masks.
  [[nodiscard]] constexpr std::uint64_t hash() const noexcept {
    std::uint64_t h = 14695981039346656037ULL;
    for (word x : w_) {
      h ^= x;
      h *= 1099511628211ULL;
    }
    return h;
  }
  /// Orders masks by their lowest differing CPU: a total order for sorting and dedup.
  friend constexpr bool operator<(const cpumask& a, const cpumask& b) noexcept {
    for (std::size_t i = 0; i < words; ++i)
      if (a.w_[i] != b.w_[i]) {
        const word diff = a.w_[i] ^ b.w_[i];
        return (b.w_[i] & (diff & (~diff + 1))) != 0;  // b owns the lowest differing bit
      }
    return false;
  }

  /// Iterates the CPUs in ascending order (kernel: for_each_cpu).
  class iterator {
  public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = std::size_t;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = std::size_t;

    constexpr iterator() = default;
    constexpr iterator(const cpumask* m, std::size_t pos, std::size_t hi = N - 1) : m_(m), pos_(pos), hi_(hi) {}
    constexpr std::size_t operator*() const noexcept { return pos_; }
    constexpr iterator& operator++() noexcept {
      pos_ = pos_ >= hi_ ? npos : m_->find_from(pos_ + 1, hi_);
      return *this;
    }
    constexpr iterator operator++(int) noexcept {
      iterator t = *this;
      ++*this;
      return t;
    }
    friend constexpr bool operator==(const iterator& a, const iterator& b) noexcept { return a.pos_ == b.pos_; }

  private:
    const cpumask* m_ = nullptr;
    std::size_t pos_ = npos;
    std::size_t hi_ = N - 1;
  };
  [[nodiscard]] constexpr iterator begin() const noexcept { return {this, first()}; }
  [[nodiscard]] constexpr iterator end() const noexcept { return {this, npos}; }

  /// The CPUs of a mask whose CPUs all lie in [lo, hi], ascending, reading only that range's
  /// words (an SMT mask inside its LLC's span).
  class within_view {
  public:
    constexpr within_view(const cpumask& m, std::size_t lo, std::size_t hi) : m_(&m), lo_(lo), hi_(hi < N ? hi : N - 1) {}
    [[nodiscard]] constexpr iterator begin() const noexcept { return {m_, m_->find_from(lo_, hi_), hi_}; }
    [[nodiscard]] constexpr iterator end() const noexcept { return {m_, npos, hi_}; }

  private:
    const cpumask* m_;
    std::size_t lo_;
    std::size_t hi_;
  };
  [[nodiscard]] constexpr within_view within(std::size_t lo, std::size_t hi) const noexcept {
    BALANCEKIT_EXPECTS(lo <= hi);
    return {*this, lo, hi};
  }

  /// The CPUs from `start` upwards, then from 0 up to `start` (kernel: for_each_cpu_wrap).
  class wrap_view {
  public:
    class iterator {
    public:
      using iterator_category = std::forward_iterator_tag;
      using value_type = std::size_t;
      using difference_type = std::ptrdiff_t;
      using pointer = void;
      using reference = std::size_t;

      constexpr iterator() = default;
      constexpr iterator(const cpumask* m, std::size_t start, std::size_t pos, bool wrapped, std::size_t lo = 0,
                         std::size_t hi = N - 1)
          : m_(m), start_(start), pos_(pos), wrapped_(wrapped), lo_(lo), hi_(hi) {
        settle();
      }
      constexpr std::size_t operator*() const noexcept { return pos_; }
      constexpr iterator& operator++() noexcept {
        pos_ = pos_ >= hi_ ? npos : m_->find_from(pos_ + 1, hi_);
        settle();
        return *this;
      }
      constexpr iterator operator++(int) noexcept {
        iterator t = *this;
        ++*this;
        return t;
      }
      friend constexpr bool operator==(const iterator& a, const iterator& b) noexcept { return a.pos_ == b.pos_; }

    private:
      constexpr void settle() noexcept {
        if (pos_ == npos && !wrapped_) {
          wrapped_ = true;
          pos_ = m_->find_from(lo_, hi_);
        }
        if (wrapped_ && pos_ >= start_) pos_ = npos;
      }
      const cpumask* m_ = nullptr;
      std::size_t start_ = 0;
      std::size_t pos_ = npos;
      bool wrapped_ = true;
      std::size_t lo_ = 0;
      std::size_t hi_ = N - 1;
    };
    constexpr wrap_view(const cpumask& m, std::size_t start, std::size_t lo = 0, std::size_t hi = N - 1)
        : m_(&m), start_(start < N ? start : 0), lo_(lo), hi_(hi < N ? hi : N - 1) {}
    [[nodiscard]] constexpr iterator begin() const noexcept {
      return {m_, start_, m_->find_from(start_, hi_), false, lo_, hi_};
    }
    [[nodiscard]] constexpr iterator end() const noexcept { return {m_, start_, npos, true, lo_, hi_}; }

  private:
    const cpumask* m_;
    std::size_t start_;
    std::size_t lo_;
    std::size_t hi_;
  };
  [[nodiscard]] constexpr wrap_view wrap(std::size_t start) const noexcept { return {*this, start}; }
  /// The same rotation for a mask whose CPUs all lie in [lo, hi] (an LLC's span): it reads
  /// only the words of that range, so its cost follows the range, not the mask's width.
  [[nodiscard]] constexpr wrap_view wrap(std::size_t start, std::size_t lo, std::size_t hi) const noexcept {
    BALANCEKIT_EXPECTS(lo <= hi);
    return {*this, start, lo, hi};
  }

  /// `a & b` for an `a` whose CPUs all lie in [lo, hi], computed on that range's words only.
  [[nodiscard]] static constexpr cpumask and_within(const cpumask& a, const cpumask& b, std::size_t lo, std::size_t hi) {
    BALANCEKIT_EXPECTS(lo <= hi && hi < N);
    cpumask r;
    for (std::size_t i = lo / word_bits; i <= hi / word_bits; ++i) r.w_[i] = a.w_[i] & b.w_[i];
    return r;
  }
  /// `*this -= o` for a mask whose CPUs all lie in [lo, hi], on that range's words only.
  constexpr cpumask& subtract_within(const cpumask& o, std::size_t lo, std::size_t hi) {
    BALANCEKIT_EXPECTS(lo <= hi && hi < N);
    for (std::size_t i = lo / word_bits; i <= hi / word_bits; ++i) w_[i] &= ~o.w_[i];
    return *this;
  }

  /// Parses a Linux cpulist: "0-3,8-11", "5", "", and the stride form "0-15:2/4"
  /// (2 CPUs of every group of 4). Whitespace and trailing NULs around it are ignored.
  [[nodiscard]] static constexpr result<cpumask> parse(std::string_view text);
  /// Parses a Linux hex mask: 32-bit chunks, most significant first, "ff,00000000".
  [[nodiscard]] static constexpr result<cpumask> parse_hex(std::string_view text);

  /// Writes the cpulist form ("0-3,8-11") to `sink(std::string_view)` (kernel: %*pbl).
  template <class Sink>
  constexpr void format_list(Sink&& sink) const {
    bool first_item = true;
    for (std::size_t c = first(); c != npos;) {
      std::size_t e = c;
      while (e + 1 < N && test(e + 1)) ++e;
      static_string<48> item;
      if (!first_item) item += ',';
      item += c;
      if (e != c) {
        item += '-';
        item += e;
      }
      sink(item.view());
      first_item = false;
      c = next(e);
    }
  }
  /// Writes the hex form for a mask of `nbits` bits (kernel: %*pb with nr_cpu_ids).
  template <class Sink>
  constexpr void format_hex(Sink&& sink, std::size_t nbits = N) const {
    BALANCEKIT_EXPECTS(nbits > 0 && nbits <= N);
    std::size_t chunk = nbits % 32 == 0 ? 32 : nbits % 32;
    for (std::size_t lo = (nbits + 31) / 32 * 32 - 32;; lo -= 32) {
      std::uint32_t val = 0;
      for (std::size_t b = 0; b < chunk; ++b)
        if (test(lo + b)) val |= std::uint32_t{1} << b;
      static_string<12> item;
      if (lo + 32 < (nbits + 31) / 32 * 32) item += ',';
      for (std::size_t d = (chunk + 3) / 4; d-- > 0;) item += "0123456789abcdef"[(val >> (4 * d)) & 0xFU];
      sink(item.view());
      chunk = 32;
      if (lo == 0) break;
    }
  }

private:
  constexpr std::size_t find_from(std::size_t cpu, std::size_t hi = N - 1) const noexcept {
    std::size_t i = cpu / word_bits;
    const std::size_t last_word = hi / word_bits;
    if (i >= words || cpu > hi) return npos;
    word x = w_[i] & (~word{0} << (cpu % word_bits));
    while (true) {
      if (x != 0) {
        const std::size_t c = i * word_bits + static_cast<std::size_t>(std::countr_zero(x));
        return c <= hi ? c : npos;
      }
      if (++i > last_word) return npos;
      x = w_[i];
    }
  }
  constexpr void trim() noexcept {
    if constexpr (N % word_bits != 0) w_[words - 1] &= (word{1} << (N % word_bits)) - 1;
  }

  std::array<word, words> w_{};
};

template <std::size_t N>
constexpr result<cpumask<N>> cpumask<N>::parse(std::string_view text) {
  text = detail::trim(text);
  cpumask m;
  while (!text.empty()) {
    const std::string_view item = detail::take_until(text, ',');
    detail::cursor cur{item};
    const auto bad = [&](std::string_view why) {
      error e{errc::syntax, "cpulist item '"};
      e << item << "' " << why;
      return e;
    };
    std::uint64_t lo = 0;
    std::uint64_t hi = 0;
    if (!cur.number(lo)) return bad("is not a CPU number or range (expected e.g. 0-3)");
    hi = lo;
    if (cur.eat('-') && !cur.number(hi)) return bad("has no range end after '-'");
    std::uint64_t used = 1;
    std::uint64_t group = 1;
    if (cur.eat(':')) {
      if (!cur.number(used) || !cur.eat('/') || !cur.number(group) || used == 0 || group == 0 || used > group)
        return bad("has a bad stride (expected a-b:used/group with 0 < used <= group)");
    }
    if (!cur.done()) return bad("has unexpected characters");
    if (hi < lo) return bad("is a reversed range");
    if (hi >= N) {
      error e{errc::out_of_range, "cpulist item '"};
      e << item << "' names CPU " << hi << ", above the limit of " << N << " CPUs";
      return e;
    }
    for (std::uint64_t c = lo; c <= hi; ++c)
      if ((c - lo) % group < used) m.set(static_cast<std::size_t>(c));
  }
  return m;
}

template <std::size_t N>
constexpr result<cpumask<N>> cpumask<N>::parse_hex(std::string_view text) {
  text = detail::trim(text);
  if (text.empty()) return error{errc::syntax, "hex mask is empty"};
  cpumask m;
  std::size_t chunks = 1;
  for (char c : text) chunks += c == ',' ? 1 : 0;
  std::size_t chunk_index = chunks;
  const std::string_view whole = text;
  while (!text.empty() || chunk_index > 0) {
    const std::string_view chunk = detail::take_until(text, ',');
    --chunk_index;
    if (chunk.empty() || chunk.size() > 8) {
      error e{errc::syntax, "hex mask '"};
      e << whole << "': chunk '" << chunk << "' must have 1 to 8 hex digits";
      return e;
    }
    std::uint32_t val = 0;
    for (char c : chunk) {
      const int d = detail::hex_digit(c);
      if (d < 0) {
        error e{errc::syntax, "hex mask '"};
        e << whole << "': '" << c << "' is not a hex digit";
        return e;
      }
      val = (val << 4U) | static_cast<std::uint32_t>(d);
    }
    for (std::size_t b = 0; b < 32; ++b) {
      if (((val >> b) & 1U) == 0) continue;
      const std::size_t cpu = chunk_index * 32 + b;
      if (cpu >= N) {
        error e{errc::out_of_range, "hex mask '"};
        e << whole << "' sets CPU " << cpu << ", above the limit of " << N << " CPUs";
        return e;
      }
      m.set(cpu);
    }
    if (chunk_index == 0) break;
  }
  return m;
}

/// The cpulist text of a mask, for printing ("0-3,8-11"; "" when empty).
template <std::size_t N>
[[nodiscard]] std::string to_cpulist(const cpumask<N>& m) {
  std::string s;
  m.format_list([&](std::string_view part) { s += part; });
  return s;
}

/// The hex text of a mask of `nbits` bits ("ff,00000000").
template <std::size_t N>
[[nodiscard]] std::string to_hex(const cpumask<N>& m, std::size_t nbits = N) {
  std::string s;
  m.format_hex([&](std::string_view part) { s += part; }, nbits);
  return s;
}

}  // namespace balancekit
