#include "http_message.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdlib>

namespace utcp::apps {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::string_view> HttpHead::field(std::string_view name) const {
  for (const auto& [n, v] : fields) {
    if (iequals(n, name)) return std::string_view(v);
  }
  return std::nullopt;
}

bool HttpHead::has_token(std::string_view name, std::string_view token) const {
  for (const auto& [n, v] : fields) {
    if (!iequals(n, name)) continue;
    std::string_view rest = v;
    while (!rest.empty()) {
      auto comma = rest.find(',');
      if (iequals(trim(rest.substr(0, comma)), token)) return true;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return false;
}

std::optional<HttpHead> parse_head(std::string_view block) {
  HttpHead head;
  bool first = true;
  while (!block.empty() || first) {
    auto eol = block.find("\r\n");
    std::string_view line = block.substr(0, eol);
    block = eol == std::string_view::npos ? std::string_view{} : block.substr(eol + 2);
    if (first) {
      if (line.empty()) return std::nullopt;
      head.start_line = line;
      first = false;
      continue;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    auto name = line.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), is_token_char)) return std::nullopt;  // no space before ':'
    head.fields.emplace_back(std::string(name), std::string(trim(line.substr(colon + 1))));
  }
  return head;
}

std::optional<std::uint64_t> parse_length(std::string_view text) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return v;
}

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      int hi = hex(text[i + 1]), lo = hex(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    if (c == '\0') return std::nullopt;
    out.push_back(c);
  }
  return out;
}

std::optional<std::string> resolve_under_root(const std::string& root_real, const std::string& decoded,
                                              PathError& error) {
  error = PathError::not_found;
  if (decoded.empty() || decoded.front() != '/') return std::nullopt;
  std::string candidate = root_real + decoded;
  char buf[PATH_MAX];
  if (realpath(candidate.c_str(), buf) == nullptr) {
    if (errno == EACCES) error = PathError::forbidden;
    return std::nullopt;
  }
  std::string real(buf);
  auto inside = [&](const std::string& p) {
    return p == root_real || (p.size() > root_real.size() && p.compare(0, root_real.size(), root_real) == 0 &&
                              (root_real.back() == '/' || p[root_real.size()] == '/'));
  };
  if (!inside(real)) {
    error = PathError::forbidden;
    return std::nullopt;
  }
  struct stat st {};
  if (stat(real.c_str(), &st) < 0) return std::nullopt;
  if (S_ISDIR(st.st_mode)) {
    std::string index = real + (real.back() == '/' ? "" : "/") + "index.html";
    if (realpath(index.c_str(), buf) == nullptr) return std::nullopt;
    real = buf;
    if (!inside(real) || stat(real.c_str(), &st) < 0) {
      error = PathError::forbidden;
      return std::nullopt;
    }
  }
  if (!S_ISREG(st.st_mode)) return std::nullopt;
  return real;
}

std::string_view status_text(int code) {
  switch (code) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Content Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

}  // namespace utcp::apps
