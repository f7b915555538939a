#include "http_server.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <iostream>
#include <memory>
#include <span>
#include <vector>

#include "http_message.hpp"

namespace utcp::apps {

namespace {

constexpr std::size_t max_head = 16 * 1024;
constexpr std::size_t file_chunk = 124 * 1024;

std::string_view content_type(std::string_view path) {
  auto dot = path.rfind('.');
  auto ext = dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);
  if (ext == "html" || ext == "htm") return "text/html; charset=utf-8";
  if (ext == "txt") return "text/plain; charset=utf-8";
  if (ext == "css") return "text/css";
  if (ext == "js") return "text/javascript";
  if (ext == "json") return "application/json";
  if (ext == "png") return "image/png";
  if (ext == "jpg" || ext == "jpeg") return "image/jpeg";
  return "application/octet-stream";
}

// One connection's buffered reader of request heads and bodies.
class RequestReader {
 public:
  explicit RequestReader(Conn& c) : c_(c) {}

  enum class Status { ok, closed, too_large };
  // The next head (without its CRLF CRLF) into `out`.
  Status next_head(std::string& out) {
    for (;;) {
      auto end = buf_.find("\r\n\r\n");
      if (end != std::string::npos) {
        out = buf_.substr(0, end);
        buf_.erase(0, end + 4);
        return Status::ok;
      }
      if (buf_.size() > max_head) return Status::too_large;
      if (!fill()) return Status::closed;
    }
  }
  // Reads and drops a request body.
  bool skip(std::uint64_t n) {
    while (n > 0) {
      if (buf_.empty() && !fill()) return false;
      auto take = std::min<std::uint64_t>(n, buf_.size());
      buf_.erase(0, take);
      n -= take;
    }
    return true;
  }

 private:
  bool fill() {
    std::array<char, 16384> tmp;
    ssize_t n = c_.read_some(tmp.data(), tmp.size());
    if (n <= 0) return false;
    buf_.append(tmp.data(), static_cast<std::size_t>(n));
    return true;
  }
  Conn& c_;
  std::string buf_;
};

bool respond_error(Conn& c, int code, bool keep_alive) {
  std::string body = std::to_string(code) + " " + std::string(status_text(code)) + "\n";
  std::string head = "HTTP/1.1 " + std::to_string(code) + " " + std::string(status_text(code)) +
                     "\r\nServer: utcp\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
                     std::to_string(body.size()) + (code == 405 ? "\r\nAllow: GET, HEAD" : "") +
                     "\r\nConnection: " + (keep_alive ? "keep-alive" : "close") + "\r\n\r\n";
  return c.write_all(head + body) && keep_alive;
}

// The chunks a file is read into, each shared with the send queue until its bytes are
// acknowledged, then read into again: allocating and freeing one per chunk measured slower
// than copying (glibc returns the freed memory to the kernel, the next chunk faults it in).
class ChunkPool {
 public:
  // A chunk nobody else holds any more (the host let all of its bytes go), or a new one.
  std::shared_ptr<std::byte[]> take() {
    for (auto& c : chunks_) {
      if (c.use_count() == 1) {
        std::atomic_thread_fence(std::memory_order_acquire);  // the host's last reads happened before
        return c;
      }
    }
    chunks_.push_back(std::make_shared_for_overwrite<std::byte[]>(file_chunk));
    return chunks_.back();
  }

 private:
  std::vector<std::shared_ptr<std::byte[]>> chunks_;
};

bool send_file(Conn& c, const std::string& path, bool head_only, bool keep_alive) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (fd < 0 || fstat(fd, &st) < 0) {
    if (fd >= 0) ::close(fd);
    return respond_error(c, 404, keep_alive);
  }
  std::string head = "HTTP/1.1 200 OK\r\nServer: utcp\r\nContent-Type: " + std::string(content_type(path)) +
                     "\r\nContent-Length: " + std::to_string(st.st_size) +
                     "\r\nConnection: " + (keep_alive ? "keep-alive" : "close") + "\r\n\r\n";
  bool ok = c.write_all(head);
  if (ok && !head_only) {
    // Each chunk is read into storage that the send queue then shares (no copy into its
    // blocks), below glibc's mmap threshold (128 KiB): mapped memory measured costlier than
    // the copy (docs/PERFORMANCE.md).
    ChunkPool pool;
    off_t at = 0;
    while (ok && at < st.st_size) {
      std::shared_ptr<std::byte[]> chunk = pool.take();
      ssize_t n = pread(fd, chunk.get(), file_chunk, at);
      if (n <= 0) {
        ok = false;  // the file shrank or failed: the length is already promised, so close
        break;
      }
      const std::span<const std::byte> bytes(chunk.get(), static_cast<std::size_t>(n));
      ok = c.write_all(Payload(std::shared_ptr<const void>(std::move(chunk)), bytes));
      at += n;
    }
  }
  ::close(fd);
  return ok && keep_alive;
}

// Answers one request; false when the connection is to be closed afterwards.
bool handle(Conn& c, RequestReader& reader, const std::string& block, const HttpServerConfig& config) {
  auto head = parse_head(block);
  if (!head) return respond_error(c, 400, false);
  // request-line = method SP request-target SP HTTP-version (RFC 9112 §3)
  std::string_view line = head->start_line;
  auto sp1 = line.find(' ');
  auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return respond_error(c, 400, false);
  }
  auto method = line.substr(0, sp1);
  auto target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  auto version = line.substr(sp2 + 1);
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    return respond_error(c, version.starts_with("HTTP/") ? 505 : 400, false);
  }
  bool http11 = version == "HTTP/1.1";
  bool keep_alive =
      http11 ? !head->has_token("Connection", "close") : head->has_token("Connection", "keep-alive");
  if (http11 && !head->field("Host")) return respond_error(c, 400, false);  // RFC 9112 §3.2
  if (head->field("Transfer-Encoding")) return respond_error(c, 501, false);
  if (auto cl = head->field("Content-Length")) {
    auto n = parse_length(*cl);
    if (!n) return respond_error(c, 400, false);
    if (!reader.skip(*n)) return false;
  }
  if (method != "GET" && method != "HEAD") return respond_error(c, 405, keep_alive);
  if (target.empty() || target.front() != '/') return respond_error(c, 400, false);
  auto path = target.substr(0, target.find_first_of("?#"));
  auto decoded = percent_decode(path);
  if (!decoded) return respond_error(c, 400, false);
  PathError why{};
  auto file = resolve_under_root(config.root_real, *decoded, why);
  if (config.verbose) {
    // One write per line: connections' threads log at once (std::cerr writes each << apart).
    std::cerr << "http: " + std::string(method) + " " + std::string(target) + " -> " +
                     (file ? *file : std::string("(refused)")) + "\n";
  }
  if (!file) return respond_error(c, why == PathError::forbidden ? 403 : 404, keep_alive);
  return send_file(c, *file, method == "HEAD", keep_alive);
}

}  // namespace

void serve_http(Conn& c, const HttpServerConfig& config) {
  RequestReader reader(c);
  std::string block;
  for (;;) {
    auto status = reader.next_head(block);
    if (status == RequestReader::Status::closed) break;
    if (status == RequestReader::Status::too_large) {
      respond_error(c, 431, false);
      break;
    }
    if (!handle(c, reader, block, config)) break;
  }
  c.shutdown_write();
}

}  // namespace utcp::apps
