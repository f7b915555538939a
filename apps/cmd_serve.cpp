// `utcp serve`: a server on a TUN device (echo, discard or http), one thread per
// connection over the host's socket calls while the I/O loop thread drives the host.
#include <poll.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "command.hpp"
#include "http_server.hpp"
#include "iperf3_server.hpp"
#include "options.hpp"
#include "tun_common.hpp"

namespace utcp::apps {
namespace {

struct ServeOptions {
  CommonOptions common;
  std::uint16_t port = 0;
  std::string app = "echo";
  std::string root = ".";
  bool root_given = false;
  int backlog = 1024;
  ReportOptions report;
};

// Counts the connection threads so that the server can wait for them at exit.
class Active {
 public:
  void enter() {
    std::lock_guard lk(mu_);
    ++n_;
  }
  void leave() {
    std::lock_guard lk(mu_);
    if (--n_ == 0) cv_.notify_all();
  }
  bool wait_idle(std::chrono::milliseconds limit) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, limit, [this] { return n_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int n_ = 0;
};

void echo(Conn& c) {
  std::array<char, 65536> buf;
  for (;;) {
    ssize_t n = c.read_some(buf.data(), buf.size());
    if (n <= 0 || !c.write_all(buf.data(), static_cast<std::size_t>(n))) break;
  }
  c.shutdown_write();
}

void discard(Conn& c) {
  std::array<char, 65536> buf;
  while (c.read_some(buf.data(), buf.size()) > 0) {
  }
  c.shutdown_write();
}

// A listening socket on shard k's host; throws CommandError.
int listen_on(Session& s, std::size_t k, std::uint16_t port, int backlog) {
  utcp_host* h = s.host(k);
  int lfd = utcp_socket(h, s.family(), SOCK_STREAM, 0);
  if (lfd < 0) throw CommandError(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  utcp_setsockopt(h, lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  s.configure(lfd, k);  // accepted connections inherit the listener's options
  auto addr = host::to_sockaddr(s.ip(), port);
  if (utcp_bind(h, lfd, addr.get(), addr.len) < 0) {
    if (errno == EADDRINUSE) throw CommandError("port " + std::to_string(port) + " is already in use");
    throw CommandError("binding port " + std::to_string(port) + ": " + std::strerror(errno));
  }
  if (utcp_listen(h, lfd, backlog) < 0) throw CommandError(std::string("listen: ") + std::strerror(errno));
  utcp_fcntl(h, lfd, F_SETFL, O_NONBLOCK);
  return lfd;
}

// The port a listener of shard 0 is bound to: --port 0 lets the stack choose one, and the
// user must learn it.
std::uint16_t bound_port(Session& s, int lfd) {
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  if (utcp_getsockname(s.host(), lfd, reinterpret_cast<sockaddr*>(&bound), &len) != 0) return 0;
  return ntohs(reinterpret_cast<const sockaddr_in&>(bound).sin_port);  // same offset in sockaddr_in6
}

int run_serve(const ServeOptions& o) {
  install_signal_handlers();
  HttpServerConfig http;
  http.verbose = o.common.verbose;
  if (o.app == "http") {
    char buf[PATH_MAX];
    if (realpath(o.root.c_str(), buf) == nullptr)
      throw UsageError("--root " + o.root + ": " + std::strerror(errno));
    struct stat st {};
    if (::stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
      throw UsageError("--root " + o.root + " is not a directory");
    http.root_real = buf;
  } else if (o.root_given) {
    throw UsageError("--root is for --app http, not --app " + o.app);
  }
  auto session = Session::open(o.common);
  if (!session) throw CommandError(session.error());
  Session& s = **session;

  // A listener on every shard (--port 0: the first shard's choice for all of them): the
  // kernel steers each connection to one queue, and that queue's host accepts it.
  std::vector<int> lfds;
  std::uint16_t port = o.port;
  for (std::size_t k = 0; k < s.shards(); ++k) {
    lfds.push_back(listen_on(s, k, port, o.backlog));
    if (k == 0) port = bound_port(s, lfds[0]);
  }
  if (auto r = s.bring_up(); !r) throw CommandError(r.error());
  s.start_monitor(o.report);
  std::cerr << "utcp serve: " << o.app << " on " << Endpoint{s.ip(), port} << " (device " << s.device();
  if (s.shards() > 1) {
    std::cerr << ", " << s.shards() << " queues and threads"
              << (s.steered() ? ", new connections dealt in turn" : ", queues by the kernel's flow hash");
  }
  std::cerr << "), Ctrl-C to stop" << std::endl;

  Iperf3Server iperf3(o.common.verbose);
  Active active;
  std::atomic<std::uint64_t> accepted{0};
  std::vector<std::atomic<std::uint64_t>> accepted_by(s.shards());
  auto accept_loop = [&](std::size_t k) {
    utcp_host* h = s.host(k);
    while (!stop_requested()) {
      pollfd p{lfds[k], POLLIN, 0};
      if (utcp_poll(h, &p, 1, 100) <= 0) continue;
      sockaddr_storage peer{};
      socklen_t len = sizeof peer;
      int fd = utcp_accept(h, lfds[k], reinterpret_cast<sockaddr*>(&peer), &len);
      s.kick(k);
      if (fd < 0) continue;  // EAGAIN, or the handshake's connection already gone
      accepted.fetch_add(1);
      accepted_by[k].fetch_add(1);
      if (o.common.verbose) {
        // One write per line: shards' threads log at once, and std::cerr writes each << apart.
        std::string line = "accepted " + sockaddr_text(peer) + " (fd " + std::to_string(fd);
        if (s.shards() > 1) line += ", shard " + std::to_string(k);
        std::cerr << line + ")\n";
      }
      active.enter();
      std::thread([&s, &active, &o, &http, &iperf3, fd, k] {
        pthread_setname_np(pthread_self(), "utcp-conn");
        {
          Conn c(s, fd, k);
          if (o.app == "echo") {
            echo(c);
          } else if (o.app == "discard") {
            discard(c);
          } else if (o.app == "iperf3") {
            iperf3.handle(c);
          } else {
            serve_http(c, http);
          }
          if (o.common.verbose) {
            std::string line = "connection thread (fd " + std::to_string(fd) +
                               "): " + std::to_string(c.waits()) + " waits for the socket";
            if (auto t = thread_sched(static_cast<int>(gettid()))) line += ", " + to_string(*t);
            std::cerr << line + "\n";
          }
        }
        active.leave();
      }).detach();
    }
  };
  std::vector<std::thread> acceptors;
  for (std::size_t k = 1; k < s.shards(); ++k) acceptors.emplace_back(accept_loop, k);
  accept_loop(0);
  for (std::thread& t : acceptors) t.join();

  for (std::size_t k = 0; k < s.shards(); ++k) {
    utcp_close(s.host(k), lfds[k]);
    s.kick(k);
  }
  // Connection threads see the stop in their next wait and close their sockets.
  bool idle = active.wait_idle(std::chrono::seconds(3));
  s.monitor()->finish(std::to_string(accepted.load()) + " connection(s)");
  if (o.common.verbose) {
    std::cerr << "utcp serve: " << accepted.load() << " connections accepted";
    for (std::size_t k = 0; s.shards() > 1 && k < s.shards(); ++k)
      std::cerr << (k == 0 ? " (shard 0: " : ", shard " + std::to_string(k) + ": ") << accepted_by[k].load()
                << (k + 1 == s.shards() ? ")" : "");
    std::cerr << "\n";
    s.print_counters(std::cerr);
  }
  s.shutdown();
  int code = 0;
  if (auto e = s.capture_error()) {
    std::cerr << "utcp serve: " << *e << "\n";
    code = 1;
  }
  if (o.report.json) {
    Json start = session_start_json("serve", s);
    start.set("app", o.app);
    start.set("port", port);
    Json end = Json::object();
    end.set("connections_accepted", accepted.load());
    std::cout << s.monitor()->document(std::move(start), std::move(end)).dump(2) << std::endl;
  }
  if (!idle) {
    std::cerr << "utcp serve: connections still busy at exit\n";
    std::cout.flush();
    std::_Exit(1);  // their threads still use the host: do not free it under them
  }
  return code;
}

const Registration reg{
    {"serve", "Serve echo, discard, http or iperf3 (for Linux's iperf3 -c) on a TUN device",
     [](CLI::App& cmd) -> Run {
       auto o = std::make_shared<ServeOptions>();
       add_common_options(cmd, o->common);
       cmd.add_option("--port", o->port, "TCP port to listen on (0: any free port, printed at start)")
           ->required();
       cmd.add_option("--app", o->app, "what to serve")
           ->check(CLI::IsMember({"echo", "discard", "http", "iperf3"}))
           ->capture_default_str();
       cmd.add_option("--root", o->root, "directory served by --app http")
           ->capture_default_str()
           ->each([o](const std::string&) { o->root_given = true; });
       cmd.add_option("--backlog", o->backlog, "listen backlog")->capture_default_str();
       o->common.threads = std::max(1u, std::thread::hardware_concurrency());
       cmd.add_option("--threads", o->common.threads,
                      "shards: queues of a multi-queue TUN device, each with its own stack and I/O thread "
                      "(default: the number of cores)")
           ->check(CLI::Range(1u, 256u))
           ->capture_default_str();
       cmd.add_flag(
           "!--no-steer", o->common.steer,
           "with several threads, let the kernel's flow hash pick each connection's queue instead of "
           "dealing new connections to them in turn (a BPF steering program)");
       add_report_options(cmd, o->report);
       return [o] { return run_serve(*o); };
     }}};

}  // namespace
}  // namespace utcp::apps
