// `serve --app iperf3`: the server side of the iperf3 protocol over TCP, so that Linux's own
// `iperf3 -c` measures utcp. One test at a time, as iperf3's server runs them:
//
//   client -> server  control connection, then the 37-byte cookie (36 characters and a NUL)
//   server -> client  state PARAM_EXCHANGE (9): every state is one signed byte
//   client -> server  its parameters: a 4-byte big-endian length and a JSON object
//                     (parallel, reverse, len, num, blockcount, time ...)
//   server -> client  CREATE_STREAMS (10); the client opens `parallel` data connections to the
//                     same port, each starting with the same cookie
//   server -> client  TEST_START (1), TEST_RUNNING (2): data flows, client -> server, or
//                     server -> client with -R (until -n bytes when given)
//   client -> server  TEST_END (4) when its -t or -n is reached: the data connections close
//   server -> client  EXCHANGE_RESULTS (13); the client sends its results (length + JSON),
//                     the server its own (per stream: id, bytes, ...); DISPLAY_RESULTS (14)
//   client -> server  IPERF_DONE (16), and the control connection closes.
//
// A connection with another cookie while a test runs gets ACCESS_DENIED (-1). Stream ids
// are iperf3's: 1, 3, 4, 5 ... in the order the data connections arrive.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>

#include "tun_common.hpp"

namespace utcp::apps {

class Iperf3Server {
 public:
  explicit Iperf3Server(bool verbose) : verbose_(verbose) {}
  // Runs one accepted connection to its end, in the caller's thread: a test's control
  // connection, or one of its data connections.
  void handle(Conn& c);

  struct Test;

 private:
  void control(Conn& c, const std::shared_ptr<Test>& t);
  void stream(Conn& c, const std::shared_ptr<Test>& t);

  bool verbose_;
  std::mutex mu_;
  std::shared_ptr<Test> current_;  // the test running, if any
};

}  // namespace utcp::apps
