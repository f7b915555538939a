// Boxed<T>: a heap value behind one pointer that copies deeply, for the side structures of
// the Tcb's layout rule (core/tcb.hpp): an idle connection pays one null pointer for them.
#pragma once

#include <memory>

namespace utcp::detail {

// Where Boxed<T> gets a fresh T or a copy of one and leaves one it is done with: operator new
// and delete, unless specialised (core/loss_state.hpp recycles LossStates, core/tcb.hpp takes
// TimerSets from a slot pool).
template <class T>
struct BoxPool {
  static std::unique_ptr<T> take() { return std::make_unique<T>(); }
  static std::unique_ptr<T> copy(const T& v) { return std::make_unique<T>(v); }
  static void give(std::unique_ptr<T>) {}
};

// A heap value behind one pointer that copies deeply (the Tcb is a value: persistent-map path
// copies copy it). Null until made.
template <class T>
class Boxed {
 public:
  Boxed() = default;
  Boxed(const Boxed& o) : p_(o.p_ ? BoxPool<T>::copy(*o.p_) : nullptr) {}
  Boxed& operator=(const Boxed& o) {
    if (this != &o) {
      if (!o.p_) {
        reset();
      } else if (p_) {
        *p_ = *o.p_;
      } else {
        p_ = BoxPool<T>::copy(*o.p_);
      }
    }
    return *this;
  }
  Boxed(Boxed&&) noexcept = default;
  Boxed& operator=(Boxed&& o) noexcept {
    if (this != &o) {
      reset();
      p_ = std::move(o.p_);
    }
    return *this;
  }
  ~Boxed() { reset(); }

  explicit operator bool() const { return p_ != nullptr; }
  T* get() const { return p_.get(); }
  T* operator->() const { return p_.get(); }
  T& operator*() const { return *p_; }
  T& make() {
    if (!p_) p_ = BoxPool<T>::take();
    return *p_;
  }
  void reset() {
    if (p_) BoxPool<T>::give(std::move(p_));
  }

 private:
  std::unique_ptr<T> p_;
};

}  // namespace utcp::detail
