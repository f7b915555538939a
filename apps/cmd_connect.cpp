// `utcp connect`: netcat over utcp. Sends a file or stdin, writes what arrives to a file or
// stdout, half-closes when its input ends and exits when the peer closes.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

#include "command.hpp"
#include "options.hpp"
#include "tun_common.hpp"

namespace utcp::apps {
namespace {

struct ConnectOptions {
  CommonOptions common;
  std::string to;
  std::string send;  // empty: send nothing, only half-close
  std::string out = "-";
  int timeout_s = 10;
  bool abort = false;
  bool no_send = false;
  ReportOptions report;
};

int open_input(const std::string& path) {
  if (path == "-") return STDIN_FILENO;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw CommandError("--send " + path + ": " + std::strerror(errno));
  return fd;
}

int open_output(const std::string& path) {
  if (path == "-") return STDOUT_FILENO;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw CommandError("--out " + path + ": " + std::strerror(errno));
  return fd;
}

int run_connect(const ConnectOptions& o) {
  install_signal_handlers();
  auto to = parse_endpoint(o.to);
  if (!to) throw UsageError("bad address for --to: '" + o.to + "' (expected HOST:PORT or [V6]:PORT)");
  if (o.report.json && o.out == "-")
    throw UsageError("--json prints on stdout, where the received data goes: give --out FILE (or /dev/null)");
  const std::string input = o.send.empty() ? "-" : o.send;
  int in_fd = o.no_send ? -1 : open_input(input);

  auto session = Session::open(o.common);
  if (!session) throw CommandError(session.error());
  Session& s = **session;
  if (auto r = s.bring_up(); !r) throw CommandError(r.error());
  s.start_monitor(o.report);
  auto dialed = dial(s, *to, o.timeout_s * 1000);
  if (!dialed) throw CommandError(dialed.error());
  Conn c = std::move(*dialed);
  if (o.common.verbose) std::cerr << "utcp connect: connected to " << *to << "\n";
  // Only now: a refused connection leaves an existing --out file as it was.
  int out_fd = open_output(o.out);

  std::atomic<bool> sender_done{false};
  std::atomic<int> send_error{0}, read_error{0};
  std::thread sender;
  if (in_fd >= 0) {
    sender = std::thread([&] {
      std::vector<char> buf(256 * 1024);
      for (;;) {
        ssize_t n = ::read(in_fd, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) {
          if (stop_requested()) break;
          continue;
        }
        if (n < 0) {
          // The input failed mid-way: what was sent is not all there is, so the peer must
          // not take it for the whole stream. Reset the connection instead of a FIN.
          read_error.store(errno);
          c.abort();
          break;
        }
        if (n == 0) break;
        if (!c.write_all(buf.data(), static_cast<std::size_t>(n))) {
          send_error.store(errno);
          break;
        }
      }
      if (send_error.load() == 0 && read_error.load() == 0 && !stop_requested()) {
        if (o.abort) {
          c.abort();
        } else {
          c.shutdown_write();
        }
      }
      sender_done.store(true);
    });
  } else {
    c.shutdown_write();
    sender_done.store(true);
  }

  int recv_error = 0;
  std::vector<char> buf(256 * 1024);
  for (;;) {
    ssize_t n = c.read_some(buf.data(), buf.size());
    if (n == 0) break;
    if (n < 0) {
      // After our own abort (--abort, or a failed input) the socket is gone: that is the end.
      if (!((o.abort || read_error.load() != 0) && errno == EBADF)) recv_error = errno;
      break;
    }
    if (!write_fd(out_fd, buf.data(), static_cast<std::size_t>(n))) {
      recv_error = errno;
      break;
    }
  }
  // The peer closed: done, whether or not our input has ended.
  bool input_pending = !sender_done.load();
  if (recv_error != 0 || stop_requested()) {
    if (!o.abort) c.close();
  }
  if (!input_pending && sender.joinable()) sender.join();
  s.monitor()->finish(stop_requested() ? "interrupted" : "");
  if (out_fd != STDOUT_FILENO) ::close(out_fd);
  int code = 0;
  if (read_error.load() != 0) {
    std::cerr << "utcp connect: reading " << (input == "-" ? std::string("stdin") : input) << ": "
              << std::strerror(read_error.load()) << " (connection reset)\n";
    code = 1;
  } else if (recv_error != 0 && !(stop_requested() && recv_error == EINTR)) {
    std::cerr << "utcp connect: " << describe_errno(recv_error) << "\n";
    code = 1;
  } else if (send_error.load() != 0 && send_error.load() != EINTR) {
    std::cerr << "utcp connect: sending: " << describe_errno(send_error.load()) << "\n";
    code = 1;
  }
  if (!input_pending) c.close();
  if (o.common.verbose) s.print_counters(std::cerr);
  s.shutdown();
  if (auto e = s.capture_error()) {
    std::cerr << "utcp connect: " << *e << "\n";
    code = 1;
  }
  if (o.report.json) {
    Json start = session_start_json("connect", s);
    start.set("remote", o.to);
    Json end = Json::object();
    end.set("ok", code == 0);
    std::cout << s.monitor()->document(std::move(start), std::move(end)).dump(2) << "\n";
  }
  if (input_pending) {
    // The sender thread is still blocked reading the input and holds the socket: leave
    // without freeing the host under it (the device goes with the process).
    std::cout.flush();
    std::_Exit(code);
  }
  return code;
}

const Registration reg{
    {"connect", "Netcat over utcp: send a file or stdin, print what arrives", [](CLI::App& cmd) -> Run {
       auto o = std::make_shared<ConnectOptions>();
       add_common_options(cmd, o->common);
       cmd.add_option("--to", o->to, "peer as HOST:PORT or [V6]:PORT")->required();
       cmd.add_option("--send", o->send, "file to send, - for stdin (the default)");
       cmd.add_flag("--no-send", o->no_send, "send nothing: half-close at once and only receive");
       cmd.add_option("--out", o->out, "where received data goes, - for stdout")->capture_default_str();
       cmd.add_option("--timeout", o->timeout_s, "seconds to wait for the handshake")->capture_default_str();
       cmd.add_flag("--abort", o->abort, "when the input ends, close abortively (RST) instead of with FIN");
       add_report_options(cmd, o->report);
       return [o] { return run_connect(*o); };
     }}};

}  // namespace
}  // namespace utcp::apps
