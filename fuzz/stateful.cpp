// libFuzzer target: one stack driven through a fuzzer-chosen sequence of operations. The
// stack starts with a listener on port 80, a passive and an active flow, both ESTABLISHED by
// real handshakes (built once; State is a value, so every run starts from a copy). Each step
// reads an operation: inject a segment (sequence and acknowledgment numbers mostly relative
// to the target flow's real RCV.NXT / SND.UNA / SND.NXT, so they land in or near the window;
// arbitrary flags, window, option bytes and payload), advance time, or call send, recv,
// close, shutdown, abort, connect, force_enqueue, path_mtu, set_options, start/stop_listen.
// After every step: check_invariants() must be empty, next_deadline() must be later than
// the time just run, and every emitted segment must be valid and fit the MTU. Every fourth
// step also keeps a copy of the state from before it, which must come out unchanged (value
// semantics: no call changes a state the caller still holds, failed calls included).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "fuzz/fuzz_util.hpp"
#include "utcp/utcp.hpp"

namespace {

using namespace std::chrono_literals;
using utcp::fuzz::check;
using utcp::fuzz::RawTcp;
using utcp::fuzz::Reader;

const utcp::IpAddr kUs = utcp::IpAddr::v4(10, 0, 0, 2);
const utcp::IpAddr kPeer = utcp::IpAddr::v4(10, 0, 0, 1);
constexpr std::uint32_t kMtu = 1500;

utcp::Config config() {
  utcp::Config c;
  c.mtu = kMtu;
  c.send_buffer = 16 * 1024;
  c.recv_buffer = 8 * 1024;  // small, so the fuzzer reaches the window's right edge
  c.max_ooo_ranges = 8;
  c.listen_backlog = 4;
  c.max_connections = 16;
  return c;
}

struct World {
  utcp::State<int> s;
  utcp::Instant now;
};

// STATEFUL_TRACE=1 in the environment prints each operation and every segment in and out,
// for reading a reproducer.
const bool kTrace = std::getenv("STATEFUL_TRACE") != nullptr;

template <class T>
void trace(const char* what, const T& x) {
  if (!kTrace) return;
  std::ostringstream os;
  os << what << ' ' << x;
  std::fprintf(stderr, "%s\n", os.str().c_str());
}

void check_out(const std::vector<utcp::Output>& out) {
  for (const auto& o : out) {
    trace("  out", o.segment);
    check(o.segment.valid());
    check(o.segment.encoded_size() + 20 <= kMtu);
    check(o.src == kUs);
  }
}

utcp::Segment make_seg(std::uint16_t sport, std::uint16_t dport, std::uint32_t seq,
                       std::optional<std::uint32_t> ack, utcp::Segment::Flag flag) {
  utcp::Segment seg;
  seg.src_port = sport;
  seg.dst_port = dport;
  seg.seq = utcp::Seq(seq);
  if (ack) seg.ack = utcp::Seq(*ack);
  seg.flag = flag;
  seg.window = 65535;
  return seg;
}

const utcp::Segment* first_syn(const std::vector<utcp::Output>& out) {
  for (const auto& o : out)
    if (o.segment.flag == utcp::Segment::Flag::syn) return &o.segment;
  return nullptr;
}

World build() {
  int n = 0;
  World w{utcp::empty<int>([n]() mutable { return n++; }, "fuzz", config()), utcp::Instant{} + 1h};
  w.s = utcp::start_listen(std::move(w.s), 80);
  // Passive: the peer's SYN with the usual options, our SYN-ACK, the peer's ACK.
  utcp::Segment syn = make_seg(40000, 80, 1000, std::nullopt, utcp::Segment::Flag::syn);
  syn.options = {utcp::Mss{1460}, utcp::SackPermitted{}, utcp::Timestamps{1, 0}, utcp::WindowScale{7}};
  auto r = utcp::handle_buf(std::move(w.s), w.now, kPeer, kUs, syn.encode(kPeer, kUs));
  w.s = std::move(r.state);
  const utcp::Segment* synack = first_syn(r.out);
  check(synack != nullptr);
  auto ack = make_seg(40000, 80, 1001, synack->seq.value() + 1, utcp::Segment::Flag::none);
  ack.window = 512;  // scaled by 7: 64 KiB
  r = utcp::handle_buf(std::move(w.s), w.now, kPeer, kUs, ack.encode(kPeer, kUs));
  w.s = std::move(r.state);
  // Active: our SYN, the peer's SYN-ACK (no options), our ACK.
  auto c = utcp::connect(std::move(w.s), w.now, kUs, kPeer, 9000, std::uint16_t{50000});
  check(c.has_value());
  w.s = std::move(c->state);
  auto sa = make_seg(9000, 50000, 77777, c->syn.segment.seq.value() + 1, utcp::Segment::Flag::syn);
  r = utcp::handle_buf(std::move(w.s), w.now, kPeer, kUs, sa.encode(kPeer, kUs));
  w.s = std::move(r.state);
  check(utcp::num_connections(w.s) == 2);
  return w;
}

class Run {
 public:
  Run(World w, Reader& in) : s_(std::move(w.s)), now_(w.now), in_(in) {}

  void step() {
    if (++steps_ % 4 == 0) {
      const Snapshot before(s_);
      step_once();
      check(Snapshot(before.state) == before);
    } else {
      step_once();
    }
  }

 private:
  // What a state says about itself, to tell whether it changed.
  struct Snapshot {
    explicit Snapshot(const utcp::State<int>& st) : state(st) {
      for (const auto& f : utcp::flows(st)) {
        const auto i = utcp::info(st, f);
        check(i.has_value());
        conns.push_back({f, i->state, i->snd_una, i->snd_nxt, i->snd_max, i->rcv_nxt, i->snd_wnd, i->rcv_wnd,
                         i->send_queued, i->recv_queued, i->ooo_bytes, i->ooo_ranges, i->deadline});
      }
      segments = utcp::stats(st).segments_in + utcp::stats(st).segments_out;
      deadline = utcp::next_deadline(st);
    }
    bool operator==(const Snapshot& o) const {
      return conns == o.conns && segments == o.segments && deadline == o.deadline;
    }
    using Conn = std::tuple<utcp::Flow, utcp::TcpState, utcp::Seq, utcp::Seq, utcp::Seq, utcp::Seq,
                            std::uint32_t, std::uint32_t, std::size_t, std::size_t, std::size_t, std::size_t,
                            std::optional<utcp::Instant>>;
    utcp::State<int> state;
    std::vector<Conn> conns;
    std::uint64_t segments = 0;
    std::optional<utcp::Instant> deadline;
  };

  void step_once() {
    const std::uint8_t op = in_.u8();
    trace("op", static_cast<int>(op % 16));
    switch (op % 16) {
      case 0:
      case 1:
      case 2:
      case 3:
      case 4:
      case 5:
        inject();
        break;
      case 6:
        advance();
        break;
      case 7: {
        const std::string data(in_.u16() % 20000, 'd');
        if (auto r = utcp::send(std::move(s_), now_, pick_flow(), data)) keep(std::move(*r));
        break;
      }
      case 8:
        if (auto r = utcp::recv(std::move(s_), now_, pick_flow())) keep(std::move(*r));
        break;
      case 9:
        if (auto r = utcp::close(std::move(s_), now_, pick_flow())) keep(std::move(*r));
        break;
      case 10: {
        const auto d = static_cast<utcp::Direction>(in_.u8() % 3);
        if (auto r = utcp::shutdown(std::move(s_), now_, pick_flow(), d)) keep(std::move(*r));
        break;
      }
      case 11:
        if (auto r = utcp::abort(std::move(s_), now_, pick_flow())) keep(std::move(*r));
        break;
      case 12: {
        const std::uint8_t b = in_.u8();
        std::optional<std::uint16_t> sport;
        if (b & 1) sport = in_.u16();
        auto r = utcp::connect(std::move(s_), now_, kUs, kPeer, b & 2 ? 9000 : in_.u16(), sport);
        if (r) {
          s_ = std::move(r->state);
          check_out({r->syn});
        }
        break;
      }
      case 13: {
        const std::string data(in_.u8() * 16u, 'f');
        if (auto r = utcp::force_enqueue(std::move(s_), now_, pick_flow(), data)) s_ = std::move(*r);
        break;
      }
      case 14: {
        const utcp::Flow f = pick_flow();
        const auto i = utcp::info(s_, f);
        const utcp::Seq q = i ? i->snd_una + in_.u8() : utcp::Seq(in_.u32());
        if (auto r = utcp::path_mtu(std::move(s_), now_, f, in_.u16(), q)) keep(std::move(*r));
        break;
      }
      default:
        misc();
        break;
    }
    after();
  }

  utcp::Flow pick_flow() {
    const auto fs = utcp::flows(s_);
    const std::uint8_t k = in_.u8();
    if (fs.empty() || k == 255) return utcp::Flow({kUs, 80}, {kPeer, 1});  // unknown flow
    trace("  flow", fs[k % fs.size()]);
    return fs[k % fs.size()];
  }

  void inject() {
    const std::uint8_t mode = in_.u8();
    RawTcp t;
    const auto fs = utcp::flows(s_);
    const std::size_t k = in_.u8();
    std::optional<utcp::ConnInfo> i;
    if (!fs.empty() && k < 200) {
      const utcp::Flow& f = fs[k % fs.size()];
      t.src_port = f.remote().port;
      t.dst_port = f.local().port;
      i = utcp::info(s_, f);
    } else {
      t.src_port = in_.u16();
      t.dst_port = k & 1 ? 80 : in_.u16();
    }
    const auto off8 = [&] {
      return static_cast<std::uint32_t>(static_cast<std::int32_t>(static_cast<std::int8_t>(in_.u8())));
    };
    const std::uint32_t rcv = i ? i->rcv_nxt.value() : in_.u32();
    switch (mode & 3) {
      case 0:
        t.seq = rcv + off8();
        break;
      case 1:
        t.seq = rcv + in_.u16();
        break;
      case 2:
        t.seq = in_.u32();
        break;
      default:
        t.seq = rcv - in_.u16();
        break;
    }
    const std::uint32_t una = i ? i->snd_una.value() : in_.u32();
    switch ((mode >> 2) & 3) {
      case 0:
        t.ack = una + off8();
        break;
      case 1:
        t.ack = i ? i->snd_nxt.value() : una;
        break;
      case 2:
        t.ack = (i ? i->snd_max.value() : una) + off8();
        break;
      default:
        t.ack = in_.u32();
        break;
    }
    t.flags = in_.u8();
    if (mode & 0x10) t.flags = static_cast<std::uint8_t>((t.flags & 0x0f) | utcp::fuzz::kAck);
    t.window = in_.u16();
    const std::uint8_t opt = in_.u8();
    switch (opt & 3) {
      case 0:
        break;
      case 1: {
        const auto raw = in_.bytes(opt >> 2);
        t.options.assign(raw.begin(), raw.end());
        break;
      }
      case 2: {  // SACK blocks near SND.UNA
        const std::size_t nb = 1 + (opt >> 2) % 4;
        t.options = {1, 1, 5, static_cast<std::uint8_t>(2 + 8 * nb)};
        for (std::size_t b = 0; b < nb; ++b) {
          const std::uint32_t l = una + in_.u16(), r = l + in_.u16();
          for (std::uint32_t v : {l, r})
            for (int s = 24; s >= 0; s -= 8) t.options.push_back(static_cast<std::uint8_t>(v >> s));
        }
        break;
      }
      default:  // timestamps, then window scale or MSS
        t.options = {1, 1, 8, 10};
        for (int b = 0; b < 8; ++b) t.options.push_back(in_.u8());
        t.options.insert(t.options.end(), {3, 3, in_.u8(), 2, 4, in_.u8(), in_.u8(), 1});
        break;
    }
    const std::uint8_t plen = in_.u8();
    std::size_t len = plen < 192 ? plen : (plen - 191u) * 100u;
    const auto body = in_.bytes(len < 32 ? len : 32);
    t.payload.assign(body.begin(), body.end());
    t.payload.resize(len, 'p');
    t.corrupt = (mode & 0xe0) == 0xe0;
    const auto bytes = t.build(kPeer, kUs);
    if (kTrace) {
      if (auto d = utcp::Segment::decode(kPeer, kUs, bytes))
        trace("  in", d->first);
      else
        trace("  in (does not decode)", d.error());
    }
    auto r = utcp::handle_buf(std::move(s_), now_, kPeer, kUs, bytes);
    s_ = std::move(r.state);
    check_out(r.out);
  }

  void advance() {
    const std::uint8_t d = in_.u8();
    utcp::Duration dt;
    if (d < 100)
      dt = std::chrono::milliseconds(d);
    else if (d < 200)
      dt = std::chrono::seconds(d - 99);
    else
      dt = std::chrono::nanoseconds(std::uint64_t{1} << (d - 200) % 45);
    if (d == 255) {  // straight to the next deadline
      if (auto nd = utcp::next_deadline(s_); nd && *nd > now_) dt = *nd - now_;
    }
    now_ += dt;
    trace("  time +ns", dt.count());
    auto r = utcp::timer(std::move(s_), now_);
    s_ = std::move(r.state);
    check_out(r.out);
    const auto nd = utcp::next_deadline(s_);
    check(!nd || *nd > now_);
  }

  void misc() {
    const std::uint8_t b = in_.u8();
    switch (b % 4) {
      case 0:
        s_ = utcp::start_listen(std::move(s_), b & 0x80 ? 80 : in_.u16());
        break;
      case 1:
        s_ = utcp::stop_listen(std::move(s_), b & 0x80 ? 80 : in_.u16());
        break;
      default: {
        utcp::FlowOptions o;
        if (b & 0x04) o.send_buffer = in_.u16() * 4u;
        if (b & 0x08) o.recv_buffer = in_.u16() * 4u;
        if (b & 0x10) o.nodelay = (b & 0x20) != 0;
        if (b & 0x40) o.max_segment = in_.u16();
        if (b & 0x80) o.keepalive = true, o.keepalive_idle = std::chrono::seconds(in_.u8());
        if (auto r = utcp::set_options(std::move(s_), pick_flow(), o)) s_ = std::move(*r);
        break;
      }
    }
  }

  template <class R>
  void keep(R&& r) {
    s_ = std::move(r.state);
    check_out(r.out);
  }

  void after() {
    if (auto v = utcp::check_invariants(s_)) {
      std::fprintf(stderr, "invariant broken: %s\n", v->c_str());
      std::abort();
    }
    check(utcp::num_connections(s_) <= config().max_connections);
  }

  utcp::State<int> s_;
  utcp::Instant now_;
  Reader& in_;
  std::uint64_t steps_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const World initial = build();
  Reader in(data, size);
  Run run(initial, in);
  for (int steps = 0; !in.empty() && steps < 2000; ++steps) run.step();
  return 0;
}
