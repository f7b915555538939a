// The executor's state while one script runs (internal to script/). Time, packets and the
// blocking-call emulation live in session.cpp; the system calls in session_syscalls.cpp.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "ast.hpp"
#include "executor.hpp"
#include "run_config.hpp"
#include "tcp_view.hpp"
#include "utcp/posix.h"
#include "utcp/segment.hpp"

namespace utcp::script {

// Thrown inside a Session only, caught by Session::run: the script failed at `line`.
struct Failed {
  int line = 0;
  std::string reason;
};

// A system call's outcome: a value, or -1 and an errno; `mismatch` when an output argument
// (getsockopt's value, poll's revents) differs from what the script expects.
struct CallResult {
  std::int64_t value = 0;
  int error = 0;
  std::string mismatch;
};

class Session {
 public:
  Session(const Script& script, const RunConfig& config, std::ostream* trace);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  Outcome run();

 private:
  // A segment the stack sent, not yet consumed by a `>` line.
  struct Emitted {
    std::uint64_t at_ns = 0;
    IpAddr src, dst;
    Segment segment;
    TcpView view;
  };
  // A call that would block: retried whenever time moves or a packet goes in.
  struct Pending {
    int line = 0;
    std::string origin;  // the event's origin in an included file, if any
    const Syscall* call = nullptr;
    std::function<std::optional<CallResult>(bool timed_out)> attempt;
    Micros expected_end = 0, tolerance = 0;
    std::optional<std::uint64_t> timeout_ns;  // poll's own timeout
    bool sync = false;                        // no `...`: no later event runs while it waits
  };

  // ---- time (session.cpp) ----
  Micros script_time(const Time& t, Micros value) const;
  std::optional<std::uint64_t> next_wake();
  void step_to(std::uint64_t ns);
  void advance_to(std::uint64_t ns);
  void drain();
  void poll_pending();
  void finish_pending(CallResult r);
  void complete_pending();
  void check_unconsumed(int line, const char* before);

  // ---- packets (session.cpp) ----
  void inbound(const Event& e, const Packet& p);
  void outbound(const Event& e, const Packet& p);
  std::optional<std::size_t> emitted_at(std::size_t index, std::uint64_t limit_ns);
  std::string compare(const Packet& want, const std::vector<const Emitted*>& got);
  Packet describe(const Emitted& e) const;
  std::string show(const Emitted& e) const;

  // ---- system calls (session_syscalls.cpp) ----
  void syscall(const Event& e, const Syscall& c);
  using Attempt = std::function<std::optional<CallResult>(bool timed_out)>;
  Attempt prepare(const Event& e, const Syscall& c, std::optional<std::uint64_t>& timeout_ns);
  void check_result(int line, const Syscall& c, const CallResult& r, Micros expected_end, Micros tolerance);
  int host_fd(const Expr& e, int line) const;
  bool user_blocking(int host_fd) const;

  // Fails the script at `line`; for an included event, the reason names its origin.
  [[noreturn]] void fail(int line, std::string reason) const;
  [[noreturn]] void fail_pending(std::string reason) const;
  std::string at(std::uint64_t ns) const;  // "1.000200"
  void trace(const std::string& text) const;

  const Script& script_;
  RunConfig cfg_;
  std::ostream* trace_;
  utcp_host* host_ = nullptr;
  std::uint64_t now_ns_ = 0;
  std::deque<Emitted> queue_;
  std::optional<Pending> pending_;

  // Sequence number mapping (SCRIPTS.md): the stack's ISN, learned from its first SYN.
  std::optional<std::uint32_t> local_isn_;
  // Timestamp mapping, in the same way: the stack's TSvals (and inbound TSecrs) are relative
  // to its first TSval a `>` line names; learned from that line.
  std::optional<std::uint32_t> local_ts_;
  std::uint32_t ts_slack_ = 0;      // ticks (ms) an outbound TSval may be off: the timing tolerance
  const Event* current_ = nullptr;  // the event being run
  // The flow: the stack's side and the script's side.
  std::uint16_t local_port_ = 0, remote_port_ = 0;
  bool local_port_known_ = true;

  Micros anchor_ = 0;    // what `+T` is relative to
  Micros previous_ = 0;  // the previous event's script time, for the tolerance
  int last_line_ = 0;    // the line of the last event run

  std::map<int, int> fds_;        // script fd -> host fd
  std::map<int, bool> nonblock_;  // host fd -> O_NONBLOCK as the script set it
};

}  // namespace utcp::script
