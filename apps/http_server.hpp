// `serve --app http`: HTTP/1.1 GET and HEAD for the files under a root directory, with
// Content-Length and keep-alive (pipelined requests are answered in order).
#pragma once

#include <string>

#include "tun_common.hpp"

namespace utcp::apps {

struct HttpServerConfig {
  std::string root_real;  // the root after realpath
  bool verbose = false;
};

// Serves requests on `c` until the client closes, asks to close, or sends a malformed
// request (answered 400, then closed).
void serve_http(Conn& c, const HttpServerConfig& config);

}  // namespace utcp::apps
