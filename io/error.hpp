// Errors of the I/O layer: an errno value and one line of text that says what failed and,
// where it helps, what to do about it. Tools print the message as is.
#pragma once

#include <expected>
#include <string>

namespace utcp::io {

struct IoError {
  int code = 0;  // errno, or 0 when the failure is not a system call's
  std::string message;
};

template <class T>
using IoResult = std::expected<T, IoError>;

// "what: strerror(code)" from the current errno.
IoError errno_error(const std::string& what);
IoError errno_error(const std::string& what, int code);

}  // namespace utcp::io
