// SYN cookies (RFC 4987 §3.6; src/core/syncookie.*, src/input/listen.cpp). Once a listening
// port's backlog is full a SYN is answered with a cookie SYN-ACK (MSS, no window scale, no
// state kept); an ACK that returns a valid cookie opens the flow, reported as any accept is;
// an ACK that does not is answered with RST (§3.10.7.2) and counted.
//
// Most tests use a backlog of 0, so that every SYN is answered with a cookie and the harness's
// single flow is the cookie flow; SynCookie.TakeOverOnceTheBacklogIsFull fills a real one.
#include "core/syncookie.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "harness.hpp"

namespace utcp::test {
namespace {

Config cookie_config(std::uint32_t backlog = 0) {
  Config cfg;
  cfg.listen_backlog = backlog;
  return cfg;
}

// The peer's SYN: MSS 1460 and window scale 7 (which a cookie SYN-ACK must not take up).
const TcpOptions kPeerSynOptions = {Mss{1460}, WindowScale{7}};

// Listens, the peer sends its SYN, the cookie SYN-ACK is checked and taken (it teaches the
// harness the stack's ISN).
void to_cookie_sent(Harness& h, TcpOptions opts = kPeerSynOptions, Loc loc = Loc::current()) {
  h.to_listen();
  const Stats s0 = stats(h.s);
  h.peer_sends(syn(0, std::move(opts)), loc);
  auto e = h.take(loc);
  ASSERT_TRUE(e.has_value());
  const Segment& sa = e->out.segment;
  EXPECT_EQ(sa.flag, Flag::syn) << h.describe_out(sa);
  EXPECT_EQ(sa.ack, std::optional<Seq>(h.peer_seq(1))) << h.describe_out(sa);
  EXPECT_EQ(stats(h.s).syn_cookies_sent, s0.syn_cookies_sent + 1);
  EXPECT_TRUE(h.gone()) << "no state is kept for a cookie SYN-ACK";
  EXPECT_EQ(num_connections(h.s), 0u);
  EXPECT_EQ(next_deadline(h.s), std::nullopt) << "nothing to retransmit";
}

TEST(SynCookie, CookieSynAckCarriesMssAndNoWindowScale) {
  Harness h(cookie_config());
  to_cookie_sent(h);
  // Ask for it again to see it whole: a retransmitted SYN gets the same cookie (stateless).
  h.peer_sends(syn(0, kPeerSynOptions));
  h.expect({.flag = Flag::syn, .seq = 0, .ack = 1, .window = 65535, .options = {Mss{1460}}});
  EXPECT_EQ(stats(h.s).syn_cookies_sent, 2u);
  EXPECT_EQ(stats(h.s).drop(DropReason::backlog_full), 0u) << "a cookie is an answer, not a drop";
  h.expect_nothing(h.now() + 10min);
}

TEST(SynCookie, ValidAckCompletesAndDataFlowsBothWays) {
  Harness h(cookie_config());
  to_cookie_sent(h);
  // The final ACK carries data, with a small window: it is taken unscaled.
  h.peer_sends(data(1, 1, "hello", true, 1000), h.now() + 10ms);
  auto ev = h.take_event<Established<int>>();
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->flow, h.flow);
  EXPECT_FALSE(ev->notify.has_value()) << "reported as a passive open, the same as from the backlog";
  h.expect_no_event();
  const ConnInfo c = h.conn();
  EXPECT_EQ(c.state, TcpState::established);
  EXPECT_EQ(c.snd_una, h.local_seq(1));
  EXPECT_EQ(c.snd_wscale, 0);
  EXPECT_EQ(c.rcv_wscale, 0);
  EXPECT_EQ(c.snd_wnd, 1000u) << "the ACK's window, not shifted by the SYN's wscale 7";
  EXPECT_EQ(c.mss, 1460u);
  EXPECT_EQ(stats(h.s).syn_cookies_accepted, 1u);
  EXPECT_EQ(stats(h.s).connections_established, 1u);
  EXPECT_EQ(h.read_all(), "hello");
  // Stack -> peer: the data and the owed ACK, unscaled window.
  ASSERT_TRUE(h.send("world").has_value());
  h.expect(data(1, 6, "world", true, 65535));
  // Peer -> stack again, and the peer's ACK of "world".
  h.peer_sends(data(6, 6, "again", true, 1000), h.now() + 10ms);
  EXPECT_EQ(h.read_all(), "again");
  EXPECT_EQ(h.snd_una(), 6u);
  h.expect_by(ack(6, 11), h.now() + 1s);
  EXPECT_EQ(h.state(), TcpState::established);
}

TEST(SynCookie, FinOnTheCookieAckIsTaken) {
  Harness h(cookie_config());
  to_cookie_sent(h);
  h.peer_sends(fin(1, 1, kPeerWindow), h.now() + 10ms);
  ASSERT_TRUE(h.take_event<Established<int>>().has_value());
  EXPECT_EQ(h.state(), TcpState::close_wait);
  h.expect(ack(1, 2));
}

TEST(SynCookie, CookieIsAcceptedUnderThePreviousCounterStep) {
  // The harness clock starts at 1000 h, a multiple of the 64 s step: a SYN at +63.9 s and
  // its ACK at +64.1 s straddle a step boundary, and the previous step is accepted.
  Harness h(cookie_config());
  h.advance(63900ms);
  to_cookie_sent(h);
  h.peer_sends(ack(1, 1, kPeerWindow), h.now() + 200ms);
  EXPECT_TRUE(h.take_event<Established<int>>().has_value());
  EXPECT_EQ(h.state(), TcpState::established);
  h.expect_nothing();
}

TEST(SynCookie, CookieIsAcceptedWithin64Seconds) {
  Harness h(cookie_config());
  to_cookie_sent(h);
  h.peer_sends(ack(1, 1, kPeerWindow), h.now() + 63s);
  EXPECT_TRUE(h.take_event<Established<int>>().has_value());
  EXPECT_EQ(h.state(), TcpState::established);
}

// An ACK at the listener that does not validate: RST <SEQ=SEG.ACK>, no flow, counted.
void expect_rejected(Harness& h, std::uint32_t rst_seq, std::uint64_t rejected_before,
                     Loc loc = Loc::current()) {
  h.expect_rst(rst_seq, loc);
  h.expect_nothing(loc);
  h.expect_no_event(loc);
  EXPECT_TRUE(h.gone()) << "at line " << loc.line();
  EXPECT_EQ(num_connections(h.s), 0u) << "at line " << loc.line();
  EXPECT_EQ(stats(h.s).syn_cookies_rejected, rejected_before + 1) << "at line " << loc.line();
  EXPECT_EQ(stats(h.s).syn_cookies_accepted, 0u) << "at line " << loc.line();
}

TEST(SynCookie, ForgedAckWithAWrongHashIsResetAndCounted) {
  Harness h(cookie_config());
  to_cookie_sent(h);
  const Stats s0 = stats(h.s);
  std::uint64_t rejected = s0.syn_cookies_rejected;
  for (std::uint32_t bit : {3u, 10u, 31u}) {  // a hash bit (the MSS index is bits 0-2)
    const std::uint32_t a = 1 + (1u << bit);
    h.peer_sends(ack(1, a, kPeerWindow));
    expect_rejected(h, a, rejected++);
  }
  // The same hash bits with another MSS index do not validate either.
  const std::uint32_t other_index = (Seq(h.local_isn.value() ^ 1u) + 1) - h.local_isn;
  h.peer_sends(ack(1, other_index, kPeerWindow));
  expect_rejected(h, other_index, rejected++);
  EXPECT_EQ(stats(h.s).drop(DropReason::listen_bad_segment), s0.drop(DropReason::listen_bad_segment) + 4);
  // The real cookie still works afterwards.
  h.peer_sends(ack(1, 1, kPeerWindow));
  EXPECT_TRUE(h.take_event<Established<int>>().has_value());
  EXPECT_EQ(h.state(), TcpState::established);
}

TEST(SynCookie, CookieOlderThanTwoCounterStepsIsReset) {
  Harness h(cookie_config());
  to_cookie_sent(h);
  const Stats s0 = stats(h.s);
  h.peer_sends(ack(1, 1, kPeerWindow), h.now() + 129s);
  expect_rejected(h, 1, s0.syn_cookies_rejected);
}

TEST(SynCookie, CookieForAnotherPeerIsnIsReset) {
  Harness h(cookie_config());
  to_cookie_sent(h);
  const Stats s0 = stats(h.s);
  h.peer_sends(ack(2, 1, kPeerWindow));  // SEQ - 1 is not the ISN the SYN carried
  expect_rejected(h, 1, s0.syn_cookies_rejected);
}

TEST(SynCookie, CookieForAnotherFourTupleIsReset) {
  Harness h(cookie_config());
  to_cookie_sent(h);
  const Stats s0 = stats(h.s);
  // The same numbers from another remote port and from another remote address.
  Segment a = h.to_segment(ack(1, 1, kPeerWindow));
  a.src_port = kRemotePort + 1;
  h.peer_sends_raw(a);
  auto rst = h.take();
  ASSERT_TRUE(rst.has_value());
  EXPECT_EQ(rst->out.segment.flag, Flag::rst);
  EXPECT_EQ(rst->out.segment.seq, h.local_seq(1));
  EXPECT_EQ(rst->out.segment.dst_port, kRemotePort + 1);
  EXPECT_EQ(num_connections(h.s), 0u);

  const IpAddr other = IpAddr::v4(10, 0, 0, 3);
  const Segment b = h.to_segment(ack(1, 1, kPeerWindow));
  auto r = handle_buf(std::move(h.s), h.now(), other, h.local_ip, b.encode(other, h.local_ip));
  h.s = std::move(r.state);
  ASSERT_EQ(r.out.size(), 1u);
  EXPECT_EQ(r.out[0].segment.flag, Flag::rst);
  EXPECT_EQ(r.out[0].dst, other);
  EXPECT_FALSE(r.event.has_value());
  EXPECT_EQ(num_connections(h.s), 0u);
  EXPECT_EQ(stats(h.s).syn_cookies_rejected, s0.syn_cookies_rejected + 2);
  EXPECT_EQ(stats(h.s).syn_cookies_accepted, 0u);
}

struct MssCase {
  std::optional<std::uint16_t> peer;  // nullopt: no MSS option
  std::uint16_t want;                 // the send MSS the cookie flow ends up with (ours is 1460)
};

TEST(SynCookie, MssIndexRoundTrips) {
  const MssCase cases[] = {{std::nullopt, 536}, {0, 64},      {63, 64},     {100, 64},    {535, 64},
                           {536, 536},          {1000, 536},  {1220, 1220}, {1399, 1220}, {1400, 1400},
                           {1439, 1400},        {1440, 1440}, {1452, 1452}, {1459, 1452}, {1460, 1460},
                           {1500, 1460},        {8960, 1460}, {65535, 1460}};
  for (const MssCase& m : cases) {
    SCOPED_TRACE(m.peer ? std::to_string(*m.peer) : std::string("none"));
    Harness h(cookie_config());
    TcpOptions opts;
    if (m.peer) opts.emplace_back(Mss{*m.peer});
    to_cookie_sent(h, opts);
    h.peer_sends(ack(1, 1, kPeerWindow), h.now() + 10ms);
    ASSERT_EQ(h.state(), TcpState::established);
    EXPECT_EQ(h.conn().mss, m.want);
  }
}

TEST(SynCookie, JumboMssRoundTripsWithAJumboMtu) {
  Config cfg = cookie_config();
  cfg.mtu = 9000;
  Harness h(cfg);
  to_cookie_sent(h, {Mss{8960}});
  h.peer_sends(ack(1, 1, kPeerWindow), h.now() + 10ms);
  EXPECT_EQ(h.conn().mss, 8960u);
}

TEST(SynCookie, Ipv6CookieUsesTheIpv6DefaultMss) {
  Harness h(HarnessOptions{.config = cookie_config(), .ipv6 = true});
  to_cookie_sent(h, {});
  h.peer_sends(ack(1, 1, kPeerWindow), h.now() + 10ms);
  ASSERT_EQ(h.state(), TcpState::established);
  EXPECT_EQ(h.conn().mss, 1220u);
}

TEST(SynCookie, EncodingRoundTripsAndDependsOnEveryInput) {
  using detail::check_cookie;
  using detail::cookie_key;
  using detail::kCookieMss;
  using detail::make_cookie;
  const Config cfg;
  const auto key = cookie_key(cfg.isn_secret);
  EXPECT_NE(key, cfg.isn_secret) << "the cookie key is not the ISN key";
  const Flow f({IpAddr::v4(10, 0, 0, 1), 80}, {IpAddr::v4(10, 0, 0, 2), 40000});
  const Flow g({IpAddr::v4(10, 0, 0, 1), 80}, {IpAddr::v4(10, 0, 0, 2), 40001});
  const Instant t = Instant{} + std::chrono::hours(7);
  std::array<std::uint8_t, 16> other_secret = cfg.isn_secret;
  other_secret[0] ^= 1;
  const auto other_key = cookie_key(other_secret);
  for (std::uint16_t mss : {0, 64, 536, 1220, 1400, 1440, 1452, 1460, 8960, 9000}) {
    const Seq c = make_cookie(key, f, Seq(12345), mss, t);
    const auto i = detail::cookie_mss_index(mss);
    EXPECT_EQ(check_cookie(key, f, Seq(12345), c, t), std::optional<std::uint16_t>(kCookieMss[i])) << mss;
    EXPECT_LE(kCookieMss[i], std::max<std::uint16_t>(mss, 64)) << mss;
    EXPECT_EQ(check_cookie(key, g, Seq(12345), c, t), std::nullopt) << mss;
    EXPECT_EQ(check_cookie(key, f, Seq(12346), c, t), std::nullopt) << mss;
    EXPECT_EQ(check_cookie(key, f, Seq(12345), c, t + detail::kCookiePeriod * 2), std::nullopt) << mss;
    EXPECT_EQ(check_cookie(key, f, Seq(12345), c, t - detail::kCookiePeriod), std::nullopt)
        << "from the future";
    EXPECT_EQ(check_cookie(other_key, f, Seq(12345), c, t), std::nullopt) << "another secret";
  }
}

// A listener with a real backlog of 2 in front of many sources.
TEST(SynCookie, TakeOverOnceTheBacklogIsFull) {
  const IpAddr us = IpAddr::v4(10, 0, 0, 1);
  int notifies = 0;
  State<int> s = start_listen(empty<int>([&] { return notifies++; }, "cookies", cookie_config(2)), 80);
  const Instant now = Instant{} + std::chrono::hours(1);
  auto syn_from = [&](std::uint8_t host) {
    const IpAddr src = IpAddr::v4(10, 0, 1, host);
    Segment sy;
    sy.src_port = 5000;
    sy.dst_port = 80;
    sy.seq = Seq(1000u * host);
    sy.flag = Flag::syn;
    sy.window = 65535;
    sy.options = {Mss{1460}, WindowScale{7}};
    auto r = handle_buf(std::move(s), now, src, us, sy.encode(src, us));
    s = std::move(r.state);
    EXPECT_FALSE(r.event.has_value());
    EXPECT_EQ(r.out.size(), 1u);
    return r.out.empty() ? Segment{} : r.out[0].segment;
  };
  auto has_wscale = [](const Segment& sa) {
    for (const auto& o : sa.options)
      if (std::holds_alternative<WindowScale>(o)) return true;
    return false;
  };
  EXPECT_TRUE(has_wscale(syn_from(1))) << "a backlog flow negotiates window scaling";
  EXPECT_TRUE(has_wscale(syn_from(2)));
  EXPECT_EQ(stats(s).syn_cookies_sent, 0u);
  const Segment cookie = syn_from(3);
  EXPECT_FALSE(has_wscale(cookie)) << "a cookie SYN-ACK offers none";
  EXPECT_EQ(cookie.options, TcpOptions{Mss{1460}});
  EXPECT_EQ(stats(s).syn_cookies_sent, 1u);
  EXPECT_EQ(num_connections(s), 2u) << "the cookie kept nothing";
  // Its ACK opens a third flow beside the two embryonic ones.
  const IpAddr src = IpAddr::v4(10, 0, 1, 3);
  Segment a;
  a.src_port = 5000;
  a.dst_port = 80;
  a.seq = Seq(3001);
  a.ack = cookie.seq + 1;
  a.window = 2000;
  auto r = handle_buf(std::move(s), now, src, us, a.encode(src, us));
  s = std::move(r.state);
  ASSERT_TRUE(r.event.has_value());
  EXPECT_TRUE(std::holds_alternative<Established<int>>(*r.event));
  const Flow f({us, 80}, {src, 5000});
  EXPECT_EQ(info(s, f)->state, TcpState::established);
  EXPECT_EQ(num_connections(s), 3u);
  EXPECT_EQ(stats(s).connections_by_state[static_cast<std::size_t>(TcpState::syn_received)], 2u);
  // The backlog is still full: the next SYN gets a cookie too.
  EXPECT_FALSE(has_wscale(syn_from(4)));
  EXPECT_EQ(stats(s).syn_cookies_sent, 2u);
  EXPECT_EQ(check_invariants(s), std::nullopt);
}

TEST(SynCookie, DisabledDropsAndCountsAsBefore) {
  Config cfg = cookie_config();
  cfg.syn_cookies = false;
  Harness h(cfg);
  h.to_listen();
  h.peer_sends(syn(0, kPeerSynOptions));
  h.expect_nothing();
  EXPECT_TRUE(h.gone());
  EXPECT_EQ(stats(h.s).drop(DropReason::backlog_full), 1u);
  EXPECT_EQ(stats(h.s).syn_cookies_sent, 0u);
  // An ACK at the listener is answered with RST, and no cookie is checked or counted.
  h.peer_sends(ack(1, 1, kPeerWindow));
  h.expect_rst(1);
  EXPECT_TRUE(h.gone());
  EXPECT_EQ(stats(h.s).syn_cookies_rejected, 0u);
  EXPECT_EQ(stats(h.s).drop(DropReason::listen_bad_segment), 1u);
}

// With the peer's TSopt (and timestamps configured) the cookie SYN-ACK answers every offer
// (SACK-permitted, timestamps, window scale) and the options ride in its TSval, which the
// final ACK echoes: the connection runs with the peer's shift, SACK and timestamps.
TEST(SynCookie, TimestampCookieKeepsWindowScaleSackAndMss) {
  Config cfg = cookie_config();
  cfg.timestamps = true;
  cfg.sack = true;
  Harness h(cfg);
  to_cookie_sent(h, {Mss{1460}, SackPermitted{}, Timestamps{5000, 0}, WindowScale{7}});
  h.peer_sends(syn(0, {Mss{1460}, SackPermitted{}, Timestamps{5000, 0}, WindowScale{7}}));
  auto e = h.take();
  ASSERT_TRUE(e.has_value());
  const auto& o = e->out.segment.options;
  ASSERT_EQ(o.size(), 4u) << h.describe_out(e->out.segment);
  EXPECT_EQ(o[0], TcpOption(Mss{1460}));
  EXPECT_EQ(o[1], TcpOption(SackPermitted{}));
  ASSERT_TRUE(std::holds_alternative<Timestamps>(o[2]));
  const Timestamps ts = std::get<Timestamps>(o[2]);
  EXPECT_EQ(ts.echo, 5000u);
  EXPECT_EQ(o[3], TcpOption(WindowScale{3}));
  // The final ACK echoes the TSval: the options come back.
  h.peer_sends({.seq = 1, .ack = 1, .window = 1000, .options = {Timestamps{5010, ts.value}}}, h.now() + 10ms);
  ASSERT_TRUE(h.take_event<Established<int>>().has_value());
  const ConnInfo c = h.conn();
  EXPECT_EQ(c.state, TcpState::established);
  EXPECT_EQ(c.snd_wscale, 7);
  EXPECT_EQ(c.rcv_wscale, 3);
  EXPECT_EQ(c.snd_wnd, 1000u << 7);
  EXPECT_EQ(c.mss, 1460u - 12) << "a full segment carries the timestamps beside its data";
  // Data out carries TSopt echoing the ACK's TSval.
  ASSERT_TRUE(h.send("x").has_value());
  auto d = h.take();
  ASSERT_TRUE(d.has_value());
  ASSERT_EQ(d->out.segment.options.size(), 1u);
  EXPECT_EQ(std::get<Timestamps>(d->out.segment.options[0]).echo, 5010u);
  EXPECT_EQ(stats(h.s).syn_cookies_accepted, 1u);
}

// A forged TSecr (the options changed) fails the cookie: RST, counted.
TEST(SynCookie, TimestampCookieWithAnotherEchoIsReset) {
  Config cfg = cookie_config();
  cfg.timestamps = true;
  Harness h(cfg);
  to_cookie_sent(h, {Mss{1460}, Timestamps{5000, 0}, WindowScale{7}});
  h.peer_sends(syn(0, {Mss{1460}, Timestamps{5000, 0}, WindowScale{7}}));
  auto e = h.take();
  ASSERT_TRUE(e.has_value());
  const std::uint32_t tsval = std::get<Timestamps>(e->out.segment.options[1]).value;
  h.peer_sends({.seq = 1, .ack = 1, .window = 1000, .options = {Timestamps{5010, tsval ^ 0x10}}},
               h.now() + 10ms);
  h.expect_rst(1);
  EXPECT_TRUE(h.gone());
  EXPECT_EQ(stats(h.s).syn_cookies_rejected, 1u);
}

}  // namespace
}  // namespace utcp::test
