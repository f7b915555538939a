// The small part of HTTP/1.1 (RFC 9112) that `serve --app http` and `get` need: a message
// head (start line and header fields), percent-decoding, and mapping a request path to a
// file that is guaranteed to lie under the served root.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace utcp::apps {

struct HttpHead {
  std::string start_line;
  std::vector<std::pair<std::string, std::string>> fields;  // names as sent, values trimmed
  // The first field of that name, compared case-insensitively.
  std::optional<std::string_view> field(std::string_view name) const;
  // Whether a comma-separated field (Connection) holds the token, case-insensitively.
  bool has_token(std::string_view name, std::string_view token) const;
};

// The head without its final CRLF CRLF; empty when a line is malformed.
std::optional<HttpHead> parse_head(std::string_view block);

// A decimal Content-Length; empty when it is not one.
std::optional<std::uint64_t> parse_length(std::string_view text);

// %XX decoding; empty on a bad escape or a decoded NUL.
std::optional<std::string> percent_decode(std::string_view text);

enum class PathError { not_found, forbidden };
// The real path of `decoded` (a request path starting with '/') under `root_real` (the
// root after realpath): resolved with realpath, so "..", encoded dots and symlinks that
// lead out are all caught by the prefix check. A directory maps to its index.html.
std::optional<std::string> resolve_under_root(const std::string& root_real, const std::string& decoded,
                                              PathError& error);

std::string_view status_text(int code);

}  // namespace utcp::apps
