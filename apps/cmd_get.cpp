// `utcp get URL`: an HTTP/1.1 client over utcp. Sends one GET with a Host header, reads the
// body by Content-Length (or to the end of the connection) and writes it to --out or stdout.
#ifdef UTCP_HAVE_IO
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <vector>

#include "command.hpp"
#include "http_message.hpp"
#include "options.hpp"
#include "tun_common.hpp"

namespace utcp::apps {
namespace {

struct GetOptions {
  CommonOptions common;
  std::string url;
  std::string out = "-";
  int timeout_s = 10;
};

struct Url {
  Endpoint to;
  std::string host;  // as written, for the Host header
  std::string path;
};

// http://HOST[:PORT][/PATH]; HOST an IPv4 literal or [IPv6] (utcp has no resolver).
std::optional<Url> parse_url(std::string_view text) {
  constexpr std::string_view scheme = "http://";
  if (!text.starts_with(scheme)) return std::nullopt;
  text.remove_prefix(scheme.size());
  auto slash = text.find_first_of("/?#");
  std::string_view authority = text.substr(0, slash);
  Url u;
  u.path = slash == std::string_view::npos ? "/" : std::string(text.substr(slash));
  if (u.path.front() != '/') u.path.insert(0, "/");
  if (auto hash = u.path.find('#'); hash != std::string::npos) u.path.resize(hash);
  u.host = authority;
  std::string with_port(authority);
  bool has_port = authority.starts_with('[') ? authority.find("]:") != std::string_view::npos
                                             : authority.find(':') != std::string_view::npos;
  if (!has_port) with_port += ":80";
  auto ep = parse_endpoint(with_port);
  if (!ep) return std::nullopt;
  u.to = *ep;
  return u;
}

int run_get(const GetOptions& o) {
  install_signal_handlers();
  auto url = parse_url(o.url);
  if (!url)
    throw UsageError("bad URL '" + o.url + "' (expected http://ADDRESS[:PORT]/PATH with a numeric address)");
  int out_fd = STDOUT_FILENO;
  if (o.out != "-") {
    out_fd = ::open(o.out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out_fd < 0) throw CommandError("--out " + o.out + ": " + std::strerror(errno));
  }

  auto session = Session::open(o.common);
  if (!session) throw CommandError(session.error());
  Session& s = **session;
  if (auto r = s.bring_up(); !r) throw CommandError(r.error());
  auto dialed = dial(s, url->to, o.timeout_s * 1000);
  if (!dialed) throw CommandError(dialed.error());
  Conn c = std::move(*dialed);

  Progress progress(s);
  std::string request = "GET " + url->path + " HTTP/1.1\r\nHost: " + url->host +
                        "\r\nUser-Agent: utcp\r\nAccept: */*\r\nConnection: close\r\n\r\n";
  if (!c.write_all(request)) throw CommandError("sending the request: " + describe_errno(errno));
  progress.sent(request.size());

  // The response head.
  std::string buf;
  std::vector<char> chunk(256 * 1024);
  std::size_t head_end;
  while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
    if (buf.size() > 64 * 1024) throw CommandError("response head too large");
    ssize_t n = c.read_some(chunk.data(), chunk.size());
    if (n < 0) throw CommandError("reading the response: " + describe_errno(errno));
    if (n == 0) throw CommandError("the server closed the connection before answering");
    buf.append(chunk.data(), static_cast<std::size_t>(n));
    progress.received(static_cast<std::size_t>(n));
  }
  auto head = parse_head(std::string_view(buf).substr(0, head_end));
  std::string_view status_line = head ? std::string_view(head->start_line) : std::string_view{};
  if (!head || !status_line.starts_with("HTTP/1.") || status_line.size() < 12) {
    throw CommandError("malformed response from " + url->host);
  }
  std::string_view code = status_line.substr(9, 3);
  if (code != "200") throw CommandError("HTTP " + std::string(status_line.substr(9)));
  std::optional<std::uint64_t> length;
  if (auto cl = head->field("Content-Length")) {
    length = parse_length(*cl);
    if (!length) throw CommandError("malformed Content-Length in the response");
  } else if (head->field("Transfer-Encoding")) {
    throw CommandError("the server sent a Transfer-Encoding this client does not support");
  }

  // The body: what came with the head, then the rest.
  std::uint64_t got = 0;
  auto take = [&](const char* p, std::size_t n) {
    if (length) n = static_cast<std::size_t>(std::min<std::uint64_t>(n, *length - got));
    if (!write_fd(out_fd, p, n)) throw CommandError(std::string("writing the body: ") + std::strerror(errno));
    got += n;
  };
  take(buf.data() + head_end + 4, buf.size() - head_end - 4);
  while (!length || got < *length) {
    ssize_t n = c.read_some(chunk.data(), chunk.size());
    if (n < 0) throw CommandError("reading the body: " + describe_errno(errno));
    if (n == 0) break;
    progress.received(static_cast<std::size_t>(n));
    take(chunk.data(), static_cast<std::size_t>(n));
  }
  progress.finish();
  c.close();
  if (out_fd != STDOUT_FILENO) ::close(out_fd);
  if (o.common.verbose) s.print_counters(std::cerr);
  s.shutdown();
  if (length && got < *length) {
    std::cerr << "utcp get: the connection closed after " << got << " of " << *length << " bytes\n";
    return 1;
  }
  return 0;
}

const Registration reg{
    {"get", "Fetch a URL with HTTP/1.1 over utcp", [](CLI::App& cmd) -> Run {
       auto o = std::make_shared<GetOptions>();
       cmd.add_option("url", o->url, "http://ADDRESS[:PORT]/PATH")->required();
       add_common_options(cmd, o->common);
       cmd.add_option("--out", o->out, "file for the body, - for stdout")->capture_default_str();
       cmd.add_option("--timeout", o->timeout_s, "seconds to wait for the handshake")->capture_default_str();
       return [o] { return run_get(*o); };
     }}};

}  // namespace
}  // namespace utcp::apps
#endif  // UTCP_HAVE_IO
