// Reductions of engine bugs the property tests found, each to a few segments with every
// loss chosen by hand (Network::drop_if). Each test is what the fix must make pass; while a
// bug is open its test is DISABLED_ and marked `// engine bug:` (docs/SIMULATION.md lists them).
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>

#include "property_util.hpp"
#include "sim.hpp"

namespace utcp::sim {
namespace {

using std::chrono::milliseconds;

bool pure_ack(const Output& o) {
  return o.segment.payload.empty() && o.segment.flag == Segment::Flag::none;
}

TransferSpec two_way(std::uint64_t bytes) {
  TransferSpec spec;
  spec.client_bytes = bytes;
  spec.server_bytes = bytes;
  Config c;
  c.nodelay = true;
  c.msl = std::chrono::seconds(1);  // a short TIME-WAIT: a stuck run shows within the time limit
  set_both(spec, c);
  LinkConfig link;
  link.delay = milliseconds(5);
  set_both(spec, link);
  spec.time_limit = std::chrono::seconds(30);
  return spec;
}

// Fixed (engine d04441b: pure ACKs carry SEQ = SND.MAX). It was: after a retransmission timeout both sides rewind SND.NXT to SND.UNA and send
// their ACKs with SEQ = SND.NXT, below the peer's RCV.NXT (the peer had the data before the
// timeout). The peer finds each such ACK unacceptable (§3.10.7.4 first check), answers with
// an ACK of its own (equally old) and ignores the ACK field, so neither SND.UNA ever moves:
// an endless ACK exchange until retransmission_exceeded. Found by SimProperty seeds 66, 115, 259.
// Both sides send 3 segments at once; every pure ACK between 12 ms and 500 ms is lost.
TEST(SimEngineBugs, AckWarAfterBothSidesTimeOut) {
  TransferSpec spec = two_way(3000);
  if (test::env_number("UTCP_SIM_TRACE").value_or(0) != 0) spec.trace = &std::cout;
  spec.prepare = [](Network& net) {
    net.drop_if = [&net](NodeId, const Output& o) {
      return pure_ack(o) && net.elapsed() >= milliseconds(12) && net.elapsed() < milliseconds(500);
    };
  };
  const TransferReport r = run_transfer(spec);
  EXPECT_TRUE(r.ok()) << *r.failure;
  EXPECT_LT(r.end_time, std::chrono::seconds(70))
      << "TIME-WAIT is 60 s; the rest should take well under 10 s";
}

}  // namespace
}  // namespace utcp::sim
