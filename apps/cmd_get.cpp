// `utcp get URL`: an HTTP/1.1 client over utcp. Sends one GET with a Host header, reads the
// body by Content-Length (or to the end of the connection) and writes it to --out or stdout.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <utility>
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
  ReportOptions report;
};

// --out FILE: the body goes to a temporary file beside it, renamed over FILE only once the
// whole body has arrived, so that a refused connection, a 404 or a cut transfer leaves an
// existing FILE as it was. A FILE that exists but is not a regular file (/dev/null, a pipe)
// is written directly.
class OutputFile {
 public:
  explicit OutputFile(const std::string& path) : path_(path) {
    if (path == "-") {
      fd_ = STDOUT_FILENO;
      return;
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
      fd_ = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd_ < 0) throw CommandError("--out " + path + ": " + std::strerror(errno));
      return;
    }
    const auto slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
    const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    temp_ = dir + "." + base + ".utcp-XXXXXX";
    fd_ = ::mkostemp(temp_.data(), O_CLOEXEC);
    if (fd_ < 0) throw CommandError("--out " + path + ": " + std::strerror(errno));
    // The mode a new file would get (0666 less the umask), or the existing file's.
    const mode_t mask = ::umask(0);
    ::umask(mask);
    ::fchmod(fd_, ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : (0666 & ~mask));
  }
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  ~OutputFile() {
    if (fd_ >= 0 && fd_ != STDOUT_FILENO) ::close(fd_);
    if (!temp_.empty()) ::unlink(temp_.c_str());  // not committed: the body is incomplete
  }
  int fd() const { return fd_; }
  // The body is complete: it replaces FILE.
  void commit() {
    if (fd_ == STDOUT_FILENO) return;
    const int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0) throw CommandError("--out " + path_ + ": " + std::strerror(errno));
    if (temp_.empty()) return;
    if (::rename(temp_.c_str(), path_.c_str()) != 0)
      throw CommandError("--out " + path_ + ": " + std::strerror(errno));
    temp_.clear();
  }

 private:
  std::string path_, temp_;
  int fd_ = -1;
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
  if (o.report.json && o.out == "-")
    throw UsageError("--json prints on stdout, where the body goes: give --out FILE (or /dev/null)");
  OutputFile out(o.out);
  const int out_fd = out.fd();

  auto session = Session::open(o.common);
  if (!session) throw CommandError(session.error());
  Session& s = **session;
  if (auto r = s.bring_up(); !r) throw CommandError(r.error());
  s.start_monitor(o.report);
  auto dialed = dial(s, url->to, o.timeout_s * 1000);
  if (!dialed) throw CommandError(dialed.error());
  Conn c = std::move(*dialed);

  std::string request = "GET " + url->path + " HTTP/1.1\r\nHost: " + url->host +
                        "\r\nUser-Agent: utcp\r\nAccept: */*\r\nConnection: close\r\n\r\n";
  if (!c.write_all(request)) throw CommandError("sending the request: " + describe_errno(errno));

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
  }
  auto head = parse_head(std::string_view(buf).substr(0, head_end));
  std::string_view status_line = head ? std::string_view(head->start_line) : std::string_view{};
  if (!head || !status_line.starts_with("HTTP/1.") || status_line.size() < 12) {
    throw CommandError("malformed response from " + url->host);
  }
  std::string_view status = status_line.substr(9, 3);
  if (status != "200") throw CommandError("HTTP " + std::string(status_line.substr(9)));
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
    take(chunk.data(), static_cast<std::size_t>(n));
  }
  s.monitor()->finish(stop_requested() ? "interrupted" : "");
  c.close();
  int code = 0;
  if (length && got < *length) {
    std::cerr << "utcp get: the connection closed after " << got << " of " << *length << " bytes\n";
    code = 1;
  } else {
    out.commit();
  }
  if (o.common.verbose) s.print_counters(std::cerr);
  s.shutdown();
  if (auto e = s.capture_error()) {
    std::cerr << "utcp get: " << *e << "\n";
    code = 1;
  }
  if (o.report.json) {
    Json start = session_start_json("get", s);
    start.set("url", o.url);
    Json end = Json::object();
    end.set("ok", code == 0);
    end.set("body_bytes", got);
    std::cout << s.monitor()->document(std::move(start), std::move(end)).dump(2) << "\n";
  }
  return code;
}

const Registration reg{
    {"get", "Fetch a URL with HTTP/1.1 over utcp", [](CLI::App& cmd) -> Run {
       auto o = std::make_shared<GetOptions>();
       cmd.add_option("url", o->url, "http://ADDRESS[:PORT]/PATH")->required();
       add_common_options(cmd, o->common);
       cmd.add_option("--out", o->out, "file for the body, - for stdout")->capture_default_str();
       cmd.add_option("--timeout", o->timeout_s, "seconds to wait for the handshake")->capture_default_str();
       add_report_options(cmd, o->report);
       return [o] { return run_get(*o); };
     }}};

}  // namespace
}  // namespace utcp::apps
