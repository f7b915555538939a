// SACK loss recovery in the core (issue 16): the scoreboard fed from the peer's blocks (RFC
// 2018 §3-4), RFC 6675 recovery with NextSeg at PRR's pace (RFC 6937), RACK (RFC 8985) and
// the timeout's treatment of SACKed data (RFC 2018 §8). Scripts cover the wire-level rules
// (tests/scripts/sack_*.pkt, rack_*.pkt).
#include <algorithm>

#include "harness.hpp"

namespace utcp::test {
namespace {

constexpr std::uint32_t S = 1460;

Config sack_reno() {
  Config c;
  c.sack = true;
  c.congestion_control = CongestionControl::newreno;
  return c;
}

constexpr std::uint32_t seg_seq(std::uint32_t i) {
  return 1 + (i - 1) * S;
}

void bulk(Harness& h, std::size_t bytes) {
  h.to_established({Mss{1460}, WindowScale{7}, SackPermitted{}});
  ASSERT_TRUE(h.send(std::string(bytes, 's')));
}

std::vector<std::uint32_t> sent_segments(Harness& h) {
  std::vector<std::uint32_t> v;
  while (h.queued() > 0) v.push_back((h.rel_local(h.take()->out.segment.seq) - 1) / S + 1);
  return v;
}

// The peer's ACK of `cum` (relative) with SACK blocks of segments [first, last] each.
Tcp sack_ack(const Harness& h, std::uint32_t cum, std::vector<std::pair<std::uint32_t, std::uint32_t>> segs) {
  Tcp a = ack(1, cum, 65535);
  Sack s;
  for (auto [f, l] : segs) s.blocks.emplace_back(h.local_seq(seg_seq(f)), h.local_seq(seg_seq(l + 1)));
  a.options = {s};
  return a;
}

// RFC 6675 §5, RFC 6937: of ten segments, 1 and 4 are lost. The peer SACKs the eight others
// as they arrive; both holes are retransmitted during the same round trip (NewReno would
// repair the second only after the ACK of the first), before any timeout.
TEST(SackRecovery, TwoHolesAreRepairedInOneRoundTrip) {
  Harness h(sack_reno());
  bulk(h, 10 * S);
  ASSERT_EQ(sent_segments(h).size(), 10u);
  std::vector<std::uint32_t> resent;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> blocks;
  for (std::uint32_t i : {2u, 3u, 5u, 6u, 7u, 8u, 9u, 10u}) {
    blocks = i <= 3 ? std::vector<std::pair<std::uint32_t, std::uint32_t>>{{2, i}}
                    : std::vector<std::pair<std::uint32_t, std::uint32_t>>{{5, i}, {2, 3}};
    h.peer_sends(sack_ack(h, 1, blocks), h.now() + 1ms);
    for (auto s : sent_segments(h)) resent.push_back(s);
  }
  EXPECT_EQ(resent, (std::vector<std::uint32_t>{1, 4}));
  EXPECT_EQ(stats(h.s).retransmits_fast, 2u);
  EXPECT_EQ(stats(h.s).retransmits_rto, 0u);
  EXPECT_EQ(h.conn().ssthresh, 5 * S) << "RFC 5681 half the flight, set once";
  h.peer_sends(ack(1, seg_seq(11), 65535), h.now() + 10ms);
  EXPECT_EQ(h.snd_una(), seg_seq(11));
}

// RFC 6675 §5 / RFC 6582 §3.2: an episode ends when the cumulative ACK reaches its
// RecoveryPoint (SND.MAX at its start), and that same ACK may start the next one. Segment 1 is
// lost; its episode's RecoveryPoint is segment 11, the first new segment PRR sends during it,
// which is lost too. The peer ACKs 1-10 (the episode ends at exactly its RecoveryPoint) and
// SACKs what follows 11: segment 11 is retransmitted on those ACKs, without a timeout. (With
// the entry test off by one, SEG.ACK > RecoveryPoint, it waited for the RTO: 200 ms on a path
// of 1 ms, the largest cost in `utcp sim` at 3 % loss on such a path.)
TEST(SackRecovery, EpisodeStartsAtTheLastRecoveryPoint) {
  Harness h(sack_reno());
  bulk(h, 30 * S);
  ASSERT_EQ(sent_segments(h).size(), 10u);
  std::vector<std::uint32_t> during;
  for (std::uint32_t i = 4; i <= 10; ++i) {
    h.peer_sends(sack_ack(h, 1, {{2, i}}), h.now() + 1ms);
    for (auto s : sent_segments(h)) during.push_back(s);
  }
  ASSERT_FALSE(during.empty());
  EXPECT_EQ(during.front(), 1u);
  ASSERT_GE(during.size(), 2u);
  EXPECT_EQ(during[1], 11u) << "the first new segment of the episode is at its RecoveryPoint";
  // Segment 11 is lost; the retransmission of 1 arrives: the ACK of 1-10 ends the episode.
  h.peer_sends(ack(1, seg_seq(11), 65535), h.now() + 1ms);
  std::vector<std::uint32_t> after = sent_segments(h);
  std::uint32_t last = std::max(during.back(), after.empty() ? 0u : after.back());
  ASSERT_GE(last, 14u) << "at least three segments beyond 11 to SACK";
  std::vector<std::uint32_t> resent;
  for (std::uint32_t i = 12; i <= last; ++i) {
    h.peer_sends(sack_ack(h, seg_seq(11), {{12, i}}), h.now() + 1ms);
    for (auto s : sent_segments(h))
      if (s <= 11) resent.push_back(s);
  }
  EXPECT_EQ(resent, (std::vector<std::uint32_t>{11}));
  EXPECT_EQ(stats(h.s).retransmits_rto, 0u);
  EXPECT_EQ(stats(h.s).rto_events, 0u);
  h.check();
}

// RFC 8985 §6.2: a retransmission is "sent after" every original that went out before it, even
// when the caller's clock gave both the same reading (a host that handles a batch of packets
// at one time stamp: over TUN, utcp's writes and Linux's ACKs of them in one batch). Ten
// segments, their ACKs and the SACKs all at one instant; segment 2 is lost. RACK marks it lost
// and it goes once; the SACKs of 4, 5, ... (originals sent at the same instant as the
// retransmission but before it) must not mark it lost again. With the RFC's tie-break by
// sequence number (equal times: the higher end sequence is later) every such SACK resent it:
// 334 of 548 retransmissions in a 4 MiB download from `utcp serve --no-offload` at 5 % loss
// came back as DSACKs.
TEST(SackRecovery, RetransmissionAtTheSameInstantIsLaterThanTheOriginals) {
  Harness h(sack_reno());
  bulk(h, 30 * S);
  ASSERT_EQ(sent_segments(h).size(), 10u);
  const Instant t = h.now();
  h.peer_sends(ack(1, seg_seq(2), 65535), t);  // segment 1 at once: an RTT sample of 0
  std::vector<std::uint32_t> resent;
  for (auto s : sent_segments(h))
    if (s <= 10) resent.push_back(s);
  for (std::uint32_t i = 3; i <= 10; ++i) {
    h.peer_sends(sack_ack(h, seg_seq(2), {{3, i}}), t);
    for (auto s : sent_segments(h))
      if (s <= 10) resent.push_back(s);
  }
  EXPECT_EQ(h.now(), t);
  EXPECT_EQ(resent, (std::vector<std::uint32_t>{2})) << "segment 2 once, nothing else";
  EXPECT_EQ(stats(h.s).retransmits_rto, 0u);
  h.check();
}

// RFC 2018 §3-4: blocks beyond SND.MAX or reversed are not the peer's view of our data: ignored
// (no loss inferred, nothing sent) and counted.
TEST(SackRecovery, BlocksOutsideTheFlightAreIgnoredAndCounted) {
  Harness h(sack_reno());
  bulk(h, 10 * S);
  ASSERT_EQ(sent_segments(h).size(), 10u);
  for (int i = 0; i < 3; ++i) {
    Tcp a = ack(1, 1, 65535);
    a.options = {Sack{{{h.local_seq(seg_seq(20)), h.local_seq(seg_seq(30))},
                       {h.local_seq(seg_seq(5)), h.local_seq(seg_seq(3))}}}};
    h.peer_sends(a, h.now() + 1ms);
  }
  EXPECT_EQ(stats(h.s).sack_blocks_ignored, 6u);
  // Three duplicate ACKs alone: DupThresh (RFC 6675 IsLost) retransmits the first segment.
  EXPECT_EQ(sent_segments(h), (std::vector<std::uint32_t>{1}));
}

// RFC 2018 §8: after a timeout the SACKed marks are forgotten (the receiver may have reneged)
// and the go-back resends from SND.UNA; what the peer SACKs again is skipped.
TEST(SackRecovery, TimeoutForgetsSacksAndTheGoBackSkipsResackedData) {
  Harness h(sack_reno());
  bulk(h, 10 * S);
  ASSERT_EQ(sent_segments(h).size(), 10u);
  h.peer_sends(sack_ack(h, 1, {{3, 4}}), h.now() + 1ms);  // 2 SACKed segments: below DupThresh
  EXPECT_TRUE(sent_segments(h).empty());
  // Nothing more arrives. TLP and RACK's timer may send first; then the RTO goes back.
  h.advance(2s);
  const std::vector<std::uint32_t> before_ack = sent_segments(h);
  ASSERT_FALSE(before_ack.empty());
  EXPECT_GE(stats(h.s).rto_events, 1u);
  // The peer reneged on 3-4, now holds 5-10 and gets 1: 2, 3 and 4 go again, 5-10 do not.
  h.peer_sends(sack_ack(h, seg_seq(2), {{5, 10}}), h.now() + 1ms);
  std::vector<std::uint32_t> after;
  for (int i = 0; i < 10 && h.snd_una() != seg_seq(11); ++i) {
    for (auto s : sent_segments(h)) after.push_back(s);
    if (after.empty()) break;
    h.peer_sends(sack_ack(h, seg_seq(after.back() + 1), {{5, 10}}), h.now() + 1ms);
  }
  for (auto s : after) EXPECT_LT(s, 5u) << "segment " << s << " was SACKed again and resent";
  EXPECT_NE(std::find(after.begin(), after.end(), 3u), after.end()) << "3 was reneged and must go again";
}

// RFC 8985 §7.3: after a probe of new data the RTO runs, not a second probe timeout (which
// would find the probe out and do nothing). Ten full segments and a short tail that Nagle
// holds; the ACK of the first leaves room for the tail, then the ACKs stop: the probe sends
// the tail, and the next timer to fire is the retransmission timeout, which resends segment 2.
TEST(SackTlp, ANewDataProbeIsFollowedByTheRto) {
  Harness h(sack_reno());
  bulk(h, 10 * S + 100);
  ASSERT_EQ(sent_segments(h).size(), 10u);
  h.peer_sends(ack(1, seg_seq(2), 65535), h.now() + 10ms);
  EXPECT_TRUE(sent_segments(h).empty()) << "Nagle holds the tail";
  ASSERT_TRUE(h.conn().deadline);
  h.advance_to(*h.conn().deadline);
  EXPECT_EQ(stats(h.s).tail_loss_probes, 1u);
  EXPECT_EQ(sent_segments(h), (std::vector<std::uint32_t>{11}));
  ASSERT_TRUE(h.conn().deadline);
  h.advance_to(*h.conn().deadline);  // the harness fails a deadline whose timer does nothing
  EXPECT_EQ(stats(h.s).rto_events, 1u);
  EXPECT_EQ(sent_segments(h), (std::vector<std::uint32_t>{2}));
  EXPECT_EQ(stats(h.s).tail_loss_probes, 1u);
  h.check();
}

// Pacing (FlowOptions::pacing) holds in SACK recovery too: of five lost segments that PRR
// lets go on one ACK, a paced flow sends what its send quantum allows at once and the rest as
// Timer::pacing releases them, at the pacing rate's gaps (not one burst).
TEST(SackRecovery, PacedFlowSpreadsItsRecoverySends) {
  Config cfg = sack_reno();
  cfg.congestion_control = CongestionControl::cubic;
  Harness h(cfg);
  FlowOptions o;
  o.pacing = true;
  h.to_established({Mss{1460}, WindowScale{7}, SackPermitted{}}, o);
  ASSERT_TRUE(h.send(std::string(10 * S, 's')));
  std::vector<std::uint32_t> first;
  for (int guard = 0; guard < 100 && first.size() < 10; ++guard) {
    for (auto s : sent_segments(h)) first.push_back(s);
    if (first.size() < 10) {
      ASSERT_TRUE(h.conn().deadline);
      h.advance_to(*h.conn().deadline);
    }
  }
  ASSERT_EQ(first.size(), 10u);
  h.peer_sends(sack_ack(h, 1, {{6, 10}}), h.now() + 10ms);
  std::vector<std::uint32_t> resent = sent_segments(h);
  EXPECT_LT(resent.size(), 5u) << "the five holes in one burst";
  std::vector<Instant> times;
  for (int guard = 0; guard < 100 && resent.size() < 5; ++guard) {
    ASSERT_TRUE(h.conn().deadline);
    const Instant d = *h.conn().deadline;
    EXPECT_GT(d, h.now());
    h.advance_to(d);
    times.push_back(d);
    for (auto s : sent_segments(h)) resent.push_back(s);
  }
  EXPECT_EQ(resent, (std::vector<std::uint32_t>{1, 2, 3, 4, 5}));
  EXPECT_FALSE(times.empty());
  EXPECT_EQ(stats(h.s).retransmits_fast, 5u);
  EXPECT_EQ(stats(h.s).retransmits_rto, 0u);
  h.check();
}

// RFC 3708 §3 detection, RFC 4015 §3 response: the first of ten segments is only late. Three
// SACKed segments above it declare it lost (RACK before any reordering was seen: DupThresh):
// retransmitted, ssthresh and cwnd cut. The original then fills the hole (recovery ends), and
// the retransmission comes back as a DSACK: every octet the episode resent was a duplicate,
// so the episode is undone: ssthresh and cwnd as before it.
TEST(SackUndo, EpisodeWhoseRetransmissionsAreAllDsackedIsUndone) {
  Harness h(sack_reno());
  bulk(h, 10 * S);
  ASSERT_EQ(sent_segments(h).size(), 10u);
  const std::uint32_t cwnd_before = h.conn().cwnd, ssthresh_before = h.conn().ssthresh;
  h.peer_sends(sack_ack(h, 1, {{2, 4}}), h.now() + 1ms);
  EXPECT_EQ(sent_segments(h), (std::vector<std::uint32_t>{1}));
  EXPECT_EQ(h.conn().ssthresh, 5 * S);
  h.peer_sends(ack(1, seg_seq(11), 65535), h.now() + 1ms);  // the original arrived
  EXPECT_EQ(stats(h.s).recoveries_undone, 0u) << "no proof yet";
  EXPECT_LT(h.conn().cwnd, cwnd_before);
  Tcp dsack = ack(1, seg_seq(11), 65535);
  dsack.options = {Sack{{{h.local_seq(seg_seq(1)), h.local_seq(seg_seq(2))}}}};
  h.peer_sends(dsack, h.now() + 1ms);
  EXPECT_EQ(stats(h.s).dsacks_received, 1u);
  EXPECT_EQ(stats(h.s).recoveries_undone, 1u);
  EXPECT_EQ(h.conn().ssthresh, ssthresh_before);
  EXPECT_GE(h.conn().cwnd, cwnd_before);
  h.check();
}

// RFC 3708 §3: two segments resent, only one reported duplicate: segment 4 was really lost,
// the cut stays.
TEST(SackUndo, EpisodeWithARetransmissionNotDsackedStands) {
  Harness h(sack_reno());
  bulk(h, 10 * S);
  ASSERT_EQ(sent_segments(h).size(), 10u);
  std::vector<std::uint32_t> resent;
  for (std::uint32_t i : {2u, 3u, 5u, 6u, 7u, 8u, 9u, 10u}) {
    const auto blocks = i <= 3 ? std::vector<std::pair<std::uint32_t, std::uint32_t>>{{2, i}}
                               : std::vector<std::pair<std::uint32_t, std::uint32_t>>{{5, i}, {2, 3}};
    h.peer_sends(sack_ack(h, 1, blocks), h.now() + 1ms);
    for (auto s : sent_segments(h)) resent.push_back(s);
  }
  ASSERT_EQ(resent, (std::vector<std::uint32_t>{1, 4}));
  h.peer_sends(sack_ack(h, seg_seq(4), {{5, 10}}), h.now() + 1ms);  // 1's original arrived
  h.peer_sends(ack(1, seg_seq(11), 65535), h.now() + 1ms);         // 4's retransmission
  Tcp dsack = ack(1, seg_seq(11), 65535);
  dsack.options = {Sack{{{h.local_seq(seg_seq(1)), h.local_seq(seg_seq(2))}}}};
  h.peer_sends(dsack, h.now() + 1ms);
  EXPECT_EQ(stats(h.s).dsacks_received, 1u);
  EXPECT_EQ(stats(h.s).recoveries_undone, 0u);
  EXPECT_EQ(h.conn().ssthresh, 5 * S);
  h.check();
}

// RFC 3522 §3.2 detection with timestamps: the ACK that ends the episode echoes the TSval of
// the original (sent before the retransmission): an original filled the last hole, the
// episode is undone without waiting for a DSACK.
TEST(SackUndo, EchoOlderThanTheRetransmissionUndoesAtRecoveryEnd) {
  Config cfg = sack_reno();
  cfg.timestamps = true;
  Harness h(cfg);
  h.to_established({Mss{1460}, WindowScale{7}, SackPermitted{}, Timestamps{100, 0}});
  constexpr std::uint32_t T = S - 12;  // the timestamps option takes 12 octets of each segment
  const auto seq = [&](std::uint32_t i) { return h.local_seq(1 + (i - 1) * T); };
  ASSERT_TRUE(h.send(std::string(10 * T, 's')));
  std::optional<std::uint32_t> first_tsval;
  for (int i = 0; h.queued() > 0; ++i) {
    const Segment seg = h.take()->out.segment;
    for (const auto& o : seg.options)
      if (const auto* ts = std::get_if<Timestamps>(&o); ts && i == 0) first_tsval = ts->value;
  }
  ASSERT_TRUE(first_tsval);
  const std::uint32_t ssthresh_before = h.conn().ssthresh;
  Tcp a = ack(1, 1, 65535);
  a.options = {Sack{{{seq(2), seq(5)}}}, Timestamps{200, *first_tsval}};
  h.peer_sends(a, h.now() + 3ms);  // the retransmission gets a later TSval (1 ms ticks)
  ASSERT_EQ(h.queued(), 1u);
  EXPECT_EQ(h.take()->out.segment.seq, seq(1));
  EXPECT_EQ(h.conn().ssthresh, 5 * T);
  Tcp full = ack(1, 1 + 10 * T, 65535);
  full.options = {Timestamps{201, *first_tsval}};  // the original's echo
  h.peer_sends(full, h.now() + 1ms);
  EXPECT_EQ(stats(h.s).recoveries_undone, 1u);
  EXPECT_EQ(h.conn().ssthresh, ssthresh_before);
  h.check();
}

// RFC 3522: the same, but the retransmission filled the hole (its own TSval echoed): the loss
// was real, the cut stays.
TEST(SackUndo, EchoOfTheRetransmissionKeepsTheCut) {
  Config cfg = sack_reno();
  cfg.timestamps = true;
  Harness h(cfg);
  h.to_established({Mss{1460}, WindowScale{7}, SackPermitted{}, Timestamps{100, 0}});
  constexpr std::uint32_t T = S - 12;
  const auto seq = [&](std::uint32_t i) { return h.local_seq(1 + (i - 1) * T); };
  ASSERT_TRUE(h.send(std::string(10 * T, 's')));
  std::optional<std::uint32_t> first_tsval;
  for (int i = 0; h.queued() > 0; ++i) {
    const Segment seg = h.take()->out.segment;
    for (const auto& o : seg.options)
      if (const auto* ts = std::get_if<Timestamps>(&o); ts && i == 0) first_tsval = ts->value;
  }
  ASSERT_TRUE(first_tsval);
  Tcp a = ack(1, 1, 65535);
  a.options = {Sack{{{seq(2), seq(5)}}}, Timestamps{200, *first_tsval}};
  h.peer_sends(a, h.now() + 3ms);
  ASSERT_EQ(h.queued(), 1u);
  std::optional<std::uint32_t> rtx_tsval;
  const Segment rtx = h.take()->out.segment;
  for (const auto& o : rtx.options)
    if (const auto* ts = std::get_if<Timestamps>(&o)) rtx_tsval = ts->value;
  ASSERT_TRUE(rtx_tsval);
  ASSERT_NE(*rtx_tsval, *first_tsval);
  Tcp full = ack(1, 1 + 10 * T, 65535);
  full.options = {Timestamps{201, *rtx_tsval}};
  h.peer_sends(full, h.now() + 1ms);
  EXPECT_EQ(stats(h.s).recoveries_undone, 0u);
  EXPECT_EQ(h.conn().ssthresh, 5 * T);
  h.check();
}

}  // namespace
}  // namespace utcp::test

