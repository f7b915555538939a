// InlineVector<T, N>: a vector that keeps up to N elements inside itself and moves them to
// the heap only beyond N. The per-segment values (a segment's options, a SACK option's
// blocks) fit inline, so building, decoding and copying them allocates nothing (issue 15).
// The subset of std::vector's interface the library and its users need, with the same
// meaning; iterators are pointers, invalidated as std::vector's are.
#pragma once

#include <algorithm>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace utcp {

template <class T, std::size_t N>
class InlineVector {
  static_assert(N > 0);

 public:
  using value_type = T;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  using reference = T&;
  using const_reference = const T&;
  using pointer = T*;
  using const_pointer = const T*;
  using iterator = T*;
  using const_iterator = const T*;
  using reverse_iterator = std::reverse_iterator<iterator>;
  using const_reverse_iterator = std::reverse_iterator<const_iterator>;

  // User-provided, not `= default`: a value-initialized InlineVector (a `Segment` member
  // initialized from `{}`, as every `Output` built in place is) then runs this instead of
  // first zero-filling its inline bytes, which nothing reads before an element is placed.
  InlineVector() noexcept {}
  // Not inlined: GCC 12 at -O3, copying a std::variant element out of a constant
  // initializer_list inlined into the caller, reports the variant's other alternatives as
  // maybe-uninitialized (the false positive CMakeLists.txt silences under the sanitizers).
  [[gnu::noinline]] InlineVector(std::initializer_list<T> init) { append(init.begin(), init.end()); }
  template <std::input_iterator It>
  InlineVector(It first, It last) {
    append(first, last);
  }
  InlineVector(const InlineVector& o) { append(o.begin(), o.end()); }
  InlineVector(InlineVector&& o) noexcept { take(std::move(o)); }
  ~InlineVector() { release(); }

  InlineVector& operator=(const InlineVector& o) {
    if (this != &o) {
      clear();
      append(o.begin(), o.end());
    }
    return *this;
  }
  InlineVector& operator=(InlineVector&& o) noexcept {
    if (this != &o) {
      release();
      take(std::move(o));
    }
    return *this;
  }
  [[gnu::noinline]] InlineVector& operator=(std::initializer_list<T> init) {  // as above
    clear();
    append(init.begin(), init.end());
    return *this;
  }
  template <std::input_iterator It>
  void assign(It first, It last) {
    clear();
    append(first, last);
  }

  size_type size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  size_type capacity() const noexcept { return cap_ ? cap_ : N; }
  static constexpr size_type inline_capacity() noexcept { return N; }
  T* data() noexcept { return cap_ == 0 ? local() : heap(); }
  const T* data() const noexcept { return cap_ == 0 ? local() : heap(); }

  iterator begin() noexcept { return data(); }
  iterator end() noexcept { return data() + size_; }
  const_iterator begin() const noexcept { return data(); }
  const_iterator end() const noexcept { return data() + size_; }
  const_iterator cbegin() const noexcept { return begin(); }
  const_iterator cend() const noexcept { return end(); }
  reverse_iterator rbegin() noexcept { return reverse_iterator(end()); }
  reverse_iterator rend() noexcept { return reverse_iterator(begin()); }
  const_reverse_iterator rbegin() const noexcept { return const_reverse_iterator(end()); }
  const_reverse_iterator rend() const noexcept { return const_reverse_iterator(begin()); }

  T& operator[](size_type i) noexcept { return data()[i]; }
  const T& operator[](size_type i) const noexcept { return data()[i]; }
  T& front() noexcept { return data()[0]; }
  const T& front() const noexcept { return data()[0]; }
  T& back() noexcept { return data()[size_ - 1]; }
  const T& back() const noexcept { return data()[size_ - 1]; }

  void reserve(size_type n) {
    if (n > capacity()) grow(n);
  }
  template <class... Args>
  T& emplace_back(Args&&... args) {
    if (size_ == capacity()) grow(std::max<size_type>(2 * capacity(), N + 1));
    T* p = std::construct_at(data() + size_, std::forward<Args>(args)...);
    ++size_;
    return *p;
  }
  void push_back(const T& v) { emplace_back(v); }
  void push_back(T&& v) { emplace_back(std::move(v)); }
  void pop_back() noexcept { std::destroy_at(data() + --size_); }
  void clear() noexcept {
    if (size_ == 0) return;
    std::destroy(begin(), end());
    size_ = 0;
  }
  // Removes [first, last), moving the tail down.
  iterator erase(const_iterator first, const_iterator last) {
    T* f = begin() + (first - begin());
    T* l = begin() + (last - begin());
    T* e = std::move(l, end(), f);
    std::destroy(e, end());
    size_ = static_cast<std::uint32_t>(e - begin());
    return f;
  }
  iterator erase(const_iterator pos) { return erase(pos, pos + 1); }

  friend bool operator==(const InlineVector& a, const InlineVector& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }

 private:
  T* local() noexcept { return std::launder(reinterpret_cast<T*>(buf_)); }
  const T* local() const noexcept { return std::launder(reinterpret_cast<const T*>(buf_)); }
  // When spilled (cap_ != 0) the inline bytes hold the heap array's address instead.
  T* heap() const noexcept {
    T* p;
    std::memcpy(&p, buf_, sizeof p);
    return p;
  }
  void set_heap(T* p) noexcept { std::memcpy(buf_, &p, sizeof p); }

  template <class It>
  void append(It first, It last) {
    if constexpr (std::forward_iterator<It>)
      reserve(size_ + static_cast<size_type>(std::distance(first, last)));
    for (; first != last; ++first) emplace_back(*first);
  }
  // Moves the elements to a heap array of n (> capacity()) elements.
  void grow(size_type n) {
    T* p = std::allocator<T>().allocate(n);
    std::uninitialized_move(begin(), end(), p);
    std::destroy(begin(), end());
    if (cap_) std::allocator<T>().deallocate(heap(), cap_);
    set_heap(p);
    cap_ = static_cast<std::uint32_t>(n);
  }
  void release() noexcept {
    clear();
    if (cap_ == 0) return;
    std::allocator<T>().deallocate(heap(), cap_);
    cap_ = 0;
  }
  // Precondition: this holds nothing (released).
  void take(InlineVector&& o) noexcept {
    if (o.cap_) {
      set_heap(o.heap());
      cap_ = std::exchange(o.cap_, 0);
      size_ = std::exchange(o.size_, 0);
      return;
    }
    if (o.size_ == 0) return;
    std::uninitialized_move(o.begin(), o.end(), local());
    size_ = o.size_;
    o.clear();
  }

  // The elements, or (cap_ != 0: more than N were needed at once) the heap array's address.
  alignas(T) alignas(T*) std::byte buf_[std::max(N * sizeof(T), sizeof(T*))];
  std::uint32_t size_ = 0, cap_ = 0;
};

}  // namespace utcp
