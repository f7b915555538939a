#include "error.hpp"

#include <cerrno>
#include <cstring>

namespace utcp::io {

IoError errno_error(const std::string& what) {
  return errno_error(what, errno);
}

IoError errno_error(const std::string& what, int code) {
  return IoError{code, what + ": " + std::strerror(code)};
}

}  // namespace utcp::io
