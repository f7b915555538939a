#include "iperf3_server.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "clock.hpp"
#include "json.hpp"
#include "utcp/detail/byte_order.hpp"

namespace utcp::apps {

namespace {

// iperf3's states (one signed byte on the control connection).
enum : signed char {
  test_start = 1,
  test_running = 2,
  test_end = 4,
  param_exchange = 9,
  create_streams = 10,
  client_terminate = 12,
  exchange_results = 13,
  display_results = 14,
  iperf_done = 16,
  access_denied = -1,
};
constexpr std::size_t cookie_size = 37;
constexpr std::size_t max_json = 1 << 20;
constexpr auto streams_deadline = std::chrono::seconds(10);

bool read_exact(Conn& c, void* buf, std::size_t n) {
  auto* p = static_cast<char*>(buf);
  while (n > 0) {
    const ssize_t r = c.read_some(p, n);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

bool send_state(Conn& c, signed char state) {
  return c.write_all(&state, 1);
}

std::optional<Json> read_json(Conn& c) {
  std::byte len[4];
  if (!read_exact(c, len, 4)) return std::nullopt;
  const std::uint32_t n = detail::load_be32(len);
  if (n == 0 || n > max_json) return std::nullopt;
  std::string text(n, '\0');
  if (!read_exact(c, text.data(), n)) return std::nullopt;
  return Json::parse(text);
}

bool write_json(Conn& c, const Json& j) {
  const std::string text = j.dump();
  const auto n = static_cast<std::uint32_t>(text.size());
  std::byte len[4];
  detail::store_be32(len, n);
  return c.write_all(len, 4) && c.write_all(text);
}

double number(const Json& params, const char* key, double fallback) {
  const Json* v = params.find(key);
  return v != nullptr && v->number() != nullptr ? *v->number() : fallback;
}

bool flag(const Json& params, const char* key) {
  const Json* v = params.find(key);
  return v != nullptr &&
         ((v->boolean() != nullptr && *v->boolean()) || (v->number() != nullptr && *v->number() != 0));
}

double cpu_seconds(int who) {
  rusage ru{};
  getrusage(who, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec) + static_cast<double>(ru.ru_utime.tv_usec) / 1e6 +
         static_cast<double>(ru.ru_stime.tv_sec) + static_cast<double>(ru.ru_stime.tv_usec) / 1e6;
}

}  // namespace

struct Iperf3Server::Test {
  std::string cookie;
  // The parameters.
  int parallel = 1;
  bool reverse = false;
  std::size_t block = 128 * 1024;
  std::uint64_t bytes_limit = 0;   // -n (reverse: the server stops sending there)
  std::uint64_t blocks_limit = 0;  // -k
  // The run.
  std::mutex mu;
  std::condition_variable cv;
  bool accepting = false, running = false, ended = false, aborted = false;
  struct Stream {
    int id;
    Conn* conn;
    std::uint64_t bytes = 0;
    double seconds = 0;
    bool finished = false;
  };
  std::vector<Stream> streams;
  std::atomic<std::uint64_t> sent{0}, blocks{0};
  std::uint64_t start_ns = 0;

  // Stops every stream (TEST_END, or the control connection gone) and waits for them.
  void stop_streams() {
    std::unique_lock lk(mu);
    ended = true;
    // A finished stream's Conn may be gone; an unfinished one lives until it marks itself
    // finished, which needs this lock.
    for (Stream& s : streams)
      if (!s.finished) s.conn->cancel();
    cv.notify_all();
    cv.wait_for(lk, std::chrono::seconds(5), [&] {
      for (const Stream& s : streams)
        if (!s.finished) return false;
      return true;
    });
  }
};

void Iperf3Server::handle(Conn& c) {
  char cookie[cookie_size];
  if (!read_exact(c, cookie, cookie_size)) return;
  const std::string key(cookie, strnlen(cookie, cookie_size));
  std::shared_ptr<Test> t;
  bool fresh = false;
  {
    std::lock_guard lk(mu_);
    if (current_ && current_->cookie == key) {
      t = current_;
    } else if (!current_) {
      current_ = t = std::make_shared<Test>();
      t->cookie = key;
      fresh = true;
    }
  }
  if (!t) {
    send_state(c, access_denied);  // another test is running
    return;
  }
  if (fresh) {
    control(c, t);
    std::lock_guard lk(mu_);
    if (current_ == t) current_.reset();
  } else {
    stream(c, t);
  }
}

void Iperf3Server::stream(Conn& c, const std::shared_ptr<Test>& t) {
  std::size_t index = 0;
  {
    std::unique_lock lk(t->mu);
    if (!t->accepting || static_cast<int>(t->streams.size()) >= t->parallel) return;  // not expected: close
    index = t->streams.size();
    // iperf3's numbering: the first stream is 1, the n-th (n >= 2) is n + 1.
    t->streams.push_back(Test::Stream{index == 0 ? 1 : static_cast<int>(index) + 2, &c});
    t->cv.notify_all();
    t->cv.wait(lk, [&] { return t->running || t->ended || t->aborted; });
  }
  std::uint64_t bytes = 0;
  if (t->running && !t->ended && !t->aborted) {
    std::vector<char> buf(t->block);
    if (t->reverse) {
      for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<char>('0' + i % 64);
      for (;;) {
        // -n and -k bound the whole test: claim a block before sending it.
        if (t->bytes_limit > 0 && t->sent.fetch_add(buf.size()) >= t->bytes_limit) break;
        if (t->blocks_limit > 0 && t->blocks.fetch_add(1) >= t->blocks_limit) break;
        if (!c.write_all(buf.data(), buf.size())) break;
        bytes += buf.size();
      }
    } else {
      for (;;) {
        const ssize_t n = c.read_some(buf.data(), buf.size());
        if (n <= 0) break;
        bytes += static_cast<std::uint64_t>(n);
      }
    }
  }
  {
    // Wait for the end of the test (a sender that reached -n waits here), then close.
    std::unique_lock lk(t->mu);
    t->cv.wait(lk, [&] { return t->ended || t->aborted; });
  }
  // iperf3's server closes its data sockets at TEST_END: a FIN after what was sent (an RST
  // would reach a client still reading the last bytes of -R as "connection reset").
  c.close();
  std::lock_guard lk(t->mu);
  Test::Stream& s = t->streams[index];
  s.bytes = bytes;
  s.seconds = static_cast<double>(io::monotonic_ns() - t->start_ns) / 1e9;
  s.finished = true;
  t->cv.notify_all();
}

void Iperf3Server::control(Conn& c, const std::shared_ptr<Test>& t) {
  const auto log = [&](const std::string& line) {
    if (verbose_) std::cerr << "utcp serve: iperf3: " << line << "\n";
  };
  const auto abort_test = [&](const std::string& why) {
    std::cerr << "utcp serve: iperf3: " << why << "\n";
    {
      std::lock_guard lk(t->mu);
      t->aborted = true;
    }
    t->stop_streams();
  };
  if (!send_state(c, param_exchange)) return abort_test("the control connection closed");
  const std::optional<Json> params = read_json(c);
  if (!params || !params->is_object()) return abort_test("no parameters from the client");
  if (flag(*params, "udp") || flag(*params, "sctp"))
    return abort_test("only TCP tests are served (the client asked for UDP or SCTP)");
  if (flag(*params, "bidirectional")) return abort_test("--bidir is not served (only forward and -R)");
  t->parallel = static_cast<int>(number(*params, "parallel", 1));
  t->reverse = flag(*params, "reverse");
  t->block = static_cast<std::size_t>(number(*params, "len", 128 * 1024));
  t->bytes_limit = static_cast<std::uint64_t>(number(*params, "num", 0));
  t->blocks_limit = static_cast<std::uint64_t>(number(*params, "blockcount", 0));
  if (t->parallel < 1 || t->parallel > 128 || t->block < 1 || t->block > (16u << 20))
    return abort_test("parameters out of range: " + params->dump());
  log("test " + t->cookie + ": " + params->dump());

  {
    std::lock_guard lk(t->mu);
    t->accepting = true;
  }
  if (!send_state(c, create_streams)) return abort_test("the control connection closed");
  {
    std::unique_lock lk(t->mu);
    if (!t->cv.wait_for(lk, streams_deadline,
                        [&] { return static_cast<int>(t->streams.size()) == t->parallel; })) {
      lk.unlock();
      return abort_test("the client opened " + std::to_string(t->streams.size()) + " of " +
                        std::to_string(t->parallel) + " streams");
    }
    t->accepting = false;
  }
  const double cpu0 = cpu_seconds(RUSAGE_SELF);
  t->start_ns = io::monotonic_ns();
  if (!send_state(c, test_start) || !send_state(c, test_running))
    return abort_test("the control connection closed");
  {
    std::lock_guard lk(t->mu);
    t->running = true;
  }
  t->cv.notify_all();

  // The client says when the test ends.
  signed char state = 0;
  for (;;) {
    if (!read_exact(c, &state, 1)) return abort_test("the control connection closed during the test");
    if (state == test_end) break;
    if (state == client_terminate) return abort_test("the client ended the test (CLIENT_TERMINATE)");
  }
  t->stop_streams();
  const double elapsed = static_cast<double>(io::monotonic_ns() - t->start_ns) / 1e9;
  const double cpu = elapsed > 0 ? (cpu_seconds(RUSAGE_SELF) - cpu0) / elapsed * 100 : 0;

  if (!send_state(c, exchange_results)) return abort_test("the control connection closed");
  const std::optional<Json> theirs = read_json(c);
  if (!theirs || !theirs->is_object()) return abort_test("no results from the client");
  Json ours = Json::object();
  ours.set("cpu_util_total", cpu);
  ours.set("cpu_util_user", cpu);
  ours.set("cpu_util_system", 0.0);
  // utcp counts retransmissions per stack, not per connection: none to give per stream.
  ours.set("sender_has_retransmits", 0);
  Json& streams = ours.set("streams", Json::array());
  std::uint64_t total = 0;
  {
    std::lock_guard lk(t->mu);
    for (const Test::Stream& s : t->streams) {
      Json j = Json::object();
      j.set("id", s.id);
      j.set("bytes", s.bytes);
      j.set("retransmits", -1);
      j.set("jitter", 0);
      j.set("errors", 0);
      j.set("packets", 0);
      j.set("start_time", 0);
      j.set("end_time", std::min(s.seconds, elapsed));
      streams.push(std::move(j));
      total += s.bytes;
    }
  }
  if (!write_json(c, ours) || !send_state(c, display_results))
    return abort_test("the control connection closed");
  // IPERF_DONE, or the client just closes.
  (void)read_exact(c, &state, 1);
  char rate[64];
  std::snprintf(rate, sizeof rate, "%.1f Mbit/s",
                elapsed > 0 ? static_cast<double>(total) * 8 / elapsed / 1e6 : 0.0);
  std::cerr << "utcp serve: iperf3: " << t->parallel << " stream(s), " << (t->reverse ? "sent " : "received ")
            << format_bytes(static_cast<double>(total)) << " in " << elapsed << " s, " << rate << "\n";
  c.close();
}

}  // namespace utcp::apps
