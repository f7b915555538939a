// A simulated transfer written to a pcap file and read back with utcp's reader: every record
// is an IP datagram whose TCP segment decodes with a valid checksum, and the counts match
// what the simulator and the stacks say they sent.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>

#include "ip_packet.hpp"
#include "pcap.hpp"
#include "pcapng.hpp"
#include "sim.hpp"

namespace utcp::sim {
namespace {

std::string temp_path(const char* name) {
  return ::testing::TempDir() + "utcp_sim_" + std::to_string(::getpid()) + "_" + name;
}

struct Captured {
  TransferReport report;
  std::uint64_t written = 0;
};

Captured capture(TransferSpec spec, const std::string& path) {
  auto writer = io::PcapWriter::open(path);
  EXPECT_TRUE(writer) << writer.error().message;
  Captured c;
  spec.prepare = [&](Network& net) {
    net.on_transmit = [&](Instant at, NodeId, const Output& o, std::span<const std::byte>) {
      const auto r = writer->write(at - Instant{}, o);
      EXPECT_TRUE(r) << r.error().message;
    };
  };
  c.report = run_transfer(spec);
  c.written = writer->records();
  EXPECT_TRUE(writer->close());
  return c;
}

void check_capture(bool ipv6) {
  TransferSpec spec;
  spec.client_bytes = 100'000;
  spec.server_bytes = 20'000;
  spec.ipv6 = ipv6;
  LinkConfig link;
  link.impair.loss = 0.05;
  link.impair.duplicate = 0.05;
  link.impair.corrupt = 0.05;  // captured at the sender, before the link corrupts
  set_both(spec, link);
  const std::string path = temp_path(ipv6 ? "v6.pcap" : "v4.pcap");
  const Captured c = capture(spec, path);
  ASSERT_TRUE(c.report.ok()) << *c.report.failure;

  auto reader = io::PcapReader::open(path);
  ASSERT_TRUE(reader) << reader.error().message;
  EXPECT_TRUE(reader->raw_ip()) << "datalink " << reader->datalink();
  {
    // On disk: the classic header (magic a1b2c3d4, version 2.4) and LINKTYPE_RAW.
    std::ifstream f(path, std::ios::binary);
    unsigned char h[24] = {};
    f.read(reinterpret_cast<char*>(h), sizeof h);
    const auto le32 = [&](int at) {
      return h[at] | h[at + 1] << 8 | h[at + 2] << 16 | std::uint32_t{h[at + 3]} << 24;
    };
    EXPECT_EQ(le32(0), 0xa1b2c3d4u);
    EXPECT_EQ(h[4] | h[5] << 8, 2);
    EXPECT_EQ(le32(20), static_cast<std::uint32_t>(io::pcap_linktype_raw));
  }
  std::uint64_t records = 0, payload = 0, syns = 0, fins = 0;
  Duration last{};
  for (;;) {
    auto rec = reader->next();
    ASSERT_TRUE(rec) << rec.error().message;
    if (!*rec) break;
    ++records;
    EXPECT_GE((*rec)->at, last) << "timestamps go forward";
    last = (*rec)->at;
    EXPECT_EQ((*rec)->original_length, (*rec)->data.size());
    const auto ip = host::parse_ip((*rec)->data);
    ASSERT_TRUE(ip) << "record " << records << ": " << host::to_string(ip.error());
    EXPECT_EQ(ip->protocol, host::ip_proto_tcp);
    EXPECT_EQ(ip->src.is_v6(), ipv6);
    const auto seg = Segment::decode(ip->src, ip->dst, ip->payload);
    ASSERT_TRUE(seg) << "record " << records << ": " << seg.error();
    payload += seg->first.payload.size();
    syns += seg->first.flag == Segment::Flag::syn;
    fins += seg->first.flag == Segment::Flag::fin;
  }
  const TransferReport& r = c.report;
  EXPECT_EQ(records, c.written);
  EXPECT_EQ(records, r.network.transmitted);
  EXPECT_EQ(records, r.client_stats.segments_out + r.server_stats.segments_out);
  EXPECT_EQ(payload, r.client_stats.bytes_out + r.server_stats.bytes_out);
  EXPECT_GE(syns, 2u);
  EXPECT_GE(fins, 2u);
  EXPECT_GE(payload, 120'000u);
  EXPECT_LE(last, r.end_time) << "the last record is at or before the end";

  // tshark, where installed, must read it without complaint.
  if (std::system("command -v tshark >/dev/null 2>&1") == 0) {
    const std::string cmd = "tshark -r '" + path + "' -q >/dev/null 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  std::remove(path.c_str());
}

TEST(SimPcap, IPv4CaptureReadsBackAndDecodes) {
  check_capture(false);
}
TEST(SimPcap, IPv6CaptureReadsBackAndDecodes) {
  check_capture(true);
}

TEST(SimPcap, ReaderRefusesAMissingFile) {
  const auto r = io::PcapReader::open("/nonexistent/utcp.pcap");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("/nonexistent/utcp.pcap"), std::string::npos);
}

TEST(SimPcap, WriterRefusesAnUnwritablePath) {
  const auto w = io::PcapWriter::open("/nonexistent/dir/utcp.pcap");
  ASSERT_FALSE(w);
  EXPECT_NE(w.error().message.find("/nonexistent/dir/utcp.pcap"), std::string::npos);
}

// pcapng, one file per endpoint (what `utcp sim --pcap` writes): each side's capture holds
// what it sent, marked with a comment when the link dropped it, and what reached it; libpcap
// reads the file too.
TEST(SimPcapng, PerEndpointCapturesMarkTheLinksDrops) {
  TransferSpec spec;
  spec.client_bytes = 200'000;
  spec.server_bytes = 10'000;
  LinkConfig link;
  link.impair.loss = 0.05;
  link.impair.corrupt = 0.02;
  set_both(spec, link);
  const std::string path[2] = {temp_path("client.pcapng"), temp_path("server.pcapng")};
  std::optional<io::PcapngWriter> w[2];
  for (int i = 0; i < 2; ++i) {
    auto opened = io::PcapngWriter::open(path[i], "utcp test");
    ASSERT_TRUE(opened) << opened.error().message;
    w[i].emplace(std::move(*opened));
    ASSERT_TRUE(w[i]->add_interface(i == 0 ? "client" : "server"));
  }
  std::uint64_t sent[2] = {}, dropped[2] = {}, arrived[2] = {};
  spec.prepare = [&](Network& net) {
    net.on_offer = [&](Instant at, NodeId from, const Output& o, std::span<const std::byte> tcp,
                       const Fate& f) {
      ++sent[from];
      dropped[from] += !f.dropped.empty();
      const std::string note = f.dropped.empty() ? "" : "dropped by the link: " + std::string(f.dropped);
      EXPECT_TRUE(w[from]->write(0, at - Instant{}, host::frame_tcp(o.src, o.dst, tcp),
                                 io::PacketDirection::outbound, note));
    };
    net.on_arrival = [&](Instant at, NodeId to, const IpAddr& src, const IpAddr& dst,
                         std::span<const std::byte> tcp, bool) {
      ++arrived[to];
      EXPECT_TRUE(
          w[to]->write(0, at - Instant{}, host::frame_tcp(src, dst, tcp), io::PacketDirection::inbound));
    };
  };
  const TransferReport r = run_transfer(spec);
  ASSERT_TRUE(r.ok()) << *r.failure;
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(w[i]->close());
  EXPECT_EQ(dropped[0], r.forward.lost);
  EXPECT_EQ(dropped[1], r.backward.lost);
  EXPECT_GT(dropped[0], 0u);
  for (int i = 0; i < 2; ++i) {
    auto file = io::read_pcapng(path[i]);
    ASSERT_TRUE(file) << file.error().message;
    EXPECT_EQ(file->application, "utcp test");
    ASSERT_EQ(file->interfaces.size(), 1u);
    EXPECT_EQ(file->interfaces[0].linktype, io::pcap_linktype_raw);
    std::uint64_t out = 0, in = 0, marked = 0;
    Duration last{};
    for (const io::PcapngPacket& p : file->packets) {
      out += p.direction == io::PacketDirection::outbound;
      in += p.direction == io::PacketDirection::inbound;
      marked += p.comment.starts_with("dropped by the link: ");
      EXPECT_GE(p.at, last);
      last = p.at;
      ASSERT_TRUE(host::parse_ip(p.data));
    }
    EXPECT_EQ(out, sent[i]);
    EXPECT_EQ(in, arrived[i]);
    EXPECT_EQ(marked, dropped[i]);
    // libpcap reads pcapng: the same packets, the same times (ns).
    auto records = io::read_pcap(path[i]);
    ASSERT_TRUE(records) << records.error().message;
    ASSERT_EQ(records->size(), file->packets.size());
    for (std::size_t k = 0; k < records->size(); ++k) {
      EXPECT_EQ((*records)[k].at, file->packets[k].at);
      EXPECT_EQ((*records)[k].data, file->packets[k].data);
    }
    std::remove(path[i].c_str());
  }
}

TEST(SimPcapng, WriteErrorsAreReportedNotDropped) {
  // /dev/full takes the open and refuses every write: the error comes back from the write
  // that flushes, from every later call, and from close.
  const std::string path = temp_path("full.pcapng");
  ASSERT_EQ(::symlink("/dev/full", path.c_str()), 0);
  auto w = io::PcapngWriter::open(path, "utcp test");
  std::remove(path.c_str());
  ASSERT_TRUE(w) << w.error().message;
  ASSERT_TRUE(w->add_interface("x"));
  const std::vector<std::byte> datagram(1500, std::byte{0x45});
  std::optional<io::IoError> first;
  for (int i = 0; i < 100 && !first; ++i) {
    if (auto r = w->write(0, std::chrono::milliseconds(i), datagram); !r) first = r.error();
  }
  ASSERT_TRUE(first) << "100 packets written to /dev/full without an error";
  EXPECT_NE(first->message.find("No space left on device"), std::string::npos) << first->message;
  EXPECT_FALSE(w->write(0, std::chrono::seconds(1), datagram));
  const auto c = w->close();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message, first->message);
}

TEST(SimPcapng, ReaderRefusesWhatIsNotPcapng) {
  const std::string path = temp_path("not.pcapng");
  std::ofstream(path) << "this is not a capture at all";
  const auto r = io::read_pcapng(path);
  std::remove(path.c_str());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("not a pcapng file"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace utcp::sim
