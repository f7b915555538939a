// The benchmarks' two stacks: the simulator's in-memory pair (sim/two_stacks.hpp) driven as a
// pump, with b listening on port 80 for the numbered flows a opens.
#pragma once

#include "two_stacks.hpp"

namespace utcp::bench {

using Notify = sim::TwoStacks::Notify;
using St = State<Notify>;
using Packet = sim::TwoStacks::Packet;
using sim::client_flow;
using sim::client_ip;
using sim::client_port;
using sim::die;
using sim::server_flow;

struct Pair : sim::TwoStacks {
  explicit Pair(Config ca = {}, Config cb = {}) : TwoStacks(ca, cb) { listen_b(); }
};

}  // namespace utcp::bench
