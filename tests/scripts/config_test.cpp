// Header options and the TCP header view, without the engine.
#include <gtest/gtest.h>

#include <cstddef>
#include <vector>

#include "run_config.hpp"
#include "tcp_view.hpp"

namespace utcp::script {
namespace {

std::vector<HeaderOption> opts(std::initializer_list<std::pair<const char*, const char*>> list) {
  std::vector<HeaderOption> v;
  int line = 1;
  for (const auto& [n, val] : list) v.push_back({line++, n, val});
  return v;
}

TEST(Config, Defaults) {
  const auto c = make_config({});
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->ipv6);
  EXPECT_EQ(c->local_ip, IpAddr::v4(192, 168, 0, 1));
  EXPECT_EQ(c->remote_ip, IpAddr::v4(192, 0, 2, 1));
  EXPECT_EQ(c->tolerance_usecs, 4000);
  EXPECT_EQ(c->tolerance_percent, 12.5);
  EXPECT_EQ(c->mtu, 1500u);
  EXPECT_EQ(c->bind_port, 8080);
}

TEST(Config, Ipv6SwitchesDefaultAddresses) {
  const auto c = make_config(opts({{"ip_version", "ipv6"}}));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->local_ip, *IpAddr::parse("fd3d:fa7b:d17d::1"));
  EXPECT_EQ(c->remote_ip, *IpAddr::parse("2001:db8::1"));
}

TEST(Config, ExplicitAddressesWinWhereverGiven) {
  const auto c = make_config(opts({{"local_ip", "fd00::5"}, {"ip_version", "ipv6"}}));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->local_ip, *IpAddr::parse("fd00::5"));
}

TEST(Config, MssSetsTheMtu) {
  EXPECT_EQ(make_config(opts({{"mss", "1000"}}))->mtu, 1040u);
  EXPECT_EQ(make_config(opts({{"ip_version", "ipv6"}, {"mss", "1000"}}))->mtu, 1060u);
}

TEST(Config, TestFaultsAreOffUnlessNamed) {
  EXPECT_EQ(make_config({})->test_faults, Config::TestFaults{});
  const auto c =
      make_config(opts({{"test_fault", "partial_ack_stops_rto"}, {"test_fault", "accept_fin_out_of_order"}}));
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->test_faults.partial_ack_stops_rto);
  EXPECT_TRUE(c->test_faults.accept_fin_out_of_order);
  EXPECT_FALSE(make_config(opts({{"test_fault", "no_such_fault"}})));
}

TEST(Config, ErrorsNameTheLine) {
  const auto e = make_config(opts({{"mtu", "1500"}, {"tolerance_usecs", "x"}}));
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().line, 2);
  EXPECT_FALSE(make_config(opts({{"bogus", "1"}})));
  EXPECT_FALSE(make_config(opts({{"ip_version", "ipv5"}})));
  EXPECT_FALSE(make_config(opts({{"local_ip", "1.2.3"}})));
  EXPECT_FALSE(make_config(opts({{"ip_version", "ipv6"}, {"local_ip", "1.2.3.4"}})));
  EXPECT_FALSE(make_config(opts({{"mtu", "70000"}})));
  EXPECT_FALSE(make_config(opts({{"tolerance_percent", "-1"}})));
}

TEST(Config, Tolerance) {
  RunConfig c;
  EXPECT_EQ(c.tolerance(100'000, 0), 12'500);  // 12.5 % of the gap
  EXPECT_EQ(c.tolerance(10'000, 0), 4'000);    // the floor
  EXPECT_EQ(c.tolerance(0, 100'000), 4'000);   // no negative gaps
}

std::vector<std::byte> header(std::vector<unsigned> options, unsigned flags) {
  std::vector<std::byte> h(20);
  h[8] = std::byte{0}, h[9] = std::byte{0}, h[10] = std::byte{1}, h[11] = std::byte{2};  // ack field 258
  h[12] = static_cast<std::byte>(((20 + options.size()) / 4) << 4);
  h[13] = static_cast<std::byte>(flags);
  for (unsigned o : options) h.push_back(static_cast<std::byte>(o));
  return h;
}

TEST(TcpView, ListsOptionsWithPadding) {
  const auto v = view_tcp(header({2, 4, 5, 180, 1, 3, 3, 7, 4, 2, 1, 1}, kSyn | kAck));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->flags, kSyn | kAck);
  EXPECT_EQ(v->ack_field, 258u);
  EXPECT_EQ(to_string(v->options), "<mss 1460,nop,wscale 7,sackOK,nop,nop>");
}

TEST(TcpView, SackTimestampsEolAndUnknown) {
  const auto v = view_tcp(header(
      {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 5, 10, 0, 0, 0, 5, 0, 0, 0, 9, 30, 2, 0, 0, 0, 0}, kAck | kCwr));
  ASSERT_TRUE(v);
  EXPECT_EQ(to_string(v->options), "<nop,nop,TS val 1 ecr 2,sack 5:9,opt 30 len 2,eol>");
}

TEST(TcpView, RefusesCutHeaders) {
  EXPECT_FALSE(view_tcp(std::vector<std::byte>(19)));
  auto cut = header({2, 4, 5, 180}, 0);
  cut.pop_back();  // the header says 24 bytes, 23 are there
  EXPECT_FALSE(view_tcp(cut));
  auto h = header({2, 8, 0, 0}, 0);  // an option running past the header
  EXPECT_FALSE(view_tcp(h));
  auto h2 = header({1, 1, 1, 2}, 0);  // a kind with no length byte
  EXPECT_FALSE(view_tcp(h2));
  auto h3 = header({}, 0);
  h3[12] = std::byte{0x60};  // data offset past the end
  EXPECT_FALSE(view_tcp(h3));
}

TEST(TcpView, FlagBits) {
  Packet p;
  p.syn = p.ack_flag = true;
  EXPECT_EQ(flag_bits(p), kSyn | kAck);
  p = Packet{};
  p.fin = p.psh = p.urg = p.ece = p.cwr = p.rst = true;
  EXPECT_EQ(flag_bits(p), kFin | kPsh | kUrg | kEce | kCwr | kRst);
}

}  // namespace
}  // namespace utcp::script
