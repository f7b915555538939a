// Reproducers of explored violations (docs/EXPLORE.md, "Reproducers"): a packetdrill-syntax
// script from one stack's point of view, for `utcp script`, and the run's segments for a pcap.
//
// The replayed path gives the stack under test its inputs: the segments the other side sent
// that reached it (`<` lines, at their times) and its application's calls. Two copies of that
// stack take them the way the script runner's host will (every timer runs when time passes
// its deadline): one as configured, one with the test faults off. What the correct copy sends
// and returns becomes the script's `>` lines and call results; the script stops at the first
// line where the faulty copy does otherwise, so a correct stack passes it and the faulty one
// fails there. Past the path, both copies run their timers a while: a retransmission the
// faulty stack never sends shows there.
#include <algorithm>
#include <cstdio>
#include <sstream>

#include "explore.hpp"

namespace utcp::sim {
namespace {

using ExpStack = State<std::uint64_t>;

std::uint32_t u32(Seq s) {
  return s.value();
}

// One segment in packetdrill syntax, from the point of view of the stack whose ISN is `iss`:
// its own numbers relative to it (outbound SEQ, inbound ACK and SACK blocks), the peer's as
// they are on the wire. Options from the wire bytes, so NOPs and their order are exact.
std::string format_segment(const Output& o, bool outbound, Seq iss) {
  const Segment& s = o.segment;
  const auto mine = [&](Seq x) { return static_cast<std::uint32_t>(u32(x) - u32(iss)); };
  std::ostringstream os;
  os << (outbound ? "> " : "< ");
  std::string flags;
  if (s.flag == Segment::Flag::syn) flags += 'S';
  if (s.flag == Segment::Flag::fin) flags += 'F';
  if (s.flag == Segment::Flag::rst) flags += 'R';
  if (s.push) flags += 'P';
  if (s.ack) flags += '.';
  os << (flags.empty() ? "-" : flags) << ' ';
  const std::uint32_t seq = outbound ? mine(s.seq) : u32(s.seq);
  const std::uint32_t len = static_cast<std::uint32_t>(s.payload.size());
  os << seq << ':' << static_cast<std::uint32_t>(seq + len) << '(' << len << ')';
  if (s.ack) os << " ack " << (outbound ? u32(*s.ack) : mine(*s.ack));
  os << " win " << s.window;
  const std::vector<std::byte> wire = s.encode(o.src, o.dst);
  const std::size_t header = wire.size() >= 13 ? (static_cast<std::size_t>(wire[12]) >> 4) * 4 : 20;
  std::vector<std::string> opts;
  const auto be32 = [&](std::size_t at) {
    return std::uint32_t(wire[at]) << 24 | std::uint32_t(wire[at + 1]) << 16 |
           std::uint32_t(wire[at + 2]) << 8 | std::uint32_t(wire[at + 3]);
  };
  for (std::size_t i = 20; i < header && i < wire.size();) {
    const auto kind = static_cast<std::uint8_t>(wire[i]);
    if (kind == 0) {
      opts.push_back("eol");
      ++i;
      continue;
    }
    if (kind == 1) {
      opts.push_back("nop");
      ++i;
      continue;
    }
    if (i + 1 >= header) break;
    const std::size_t n = static_cast<std::uint8_t>(wire[i + 1]);
    if (n < 2 || i + n > header) break;
    std::ostringstream one;
    if (kind == 2 && n == 4) {
      one << "mss " << (std::uint32_t(wire[i + 2]) << 8 | std::uint32_t(wire[i + 3]));
    } else if (kind == 3 && n == 3) {
      one << "wscale " << static_cast<unsigned>(wire[i + 2]);
    } else if (kind == 4 && n == 2) {
      one << "sackOK";
    } else if (kind == 5 && n >= 10 && (n - 2) % 8 == 0) {
      one << "sack";
      for (std::size_t b = i + 2; b + 8 <= i + n; b += 8) {
        const Seq l(be32(b)), r(be32(b + 4));
        // SACK blocks name the receiver's view of the sender's numbers: inbound they are ours.
        one << ' ' << (outbound ? u32(l) : mine(l)) << ':' << (outbound ? u32(r) : mine(r));
      }
    } else if (kind == 8 && n == 10) {
      one << "TS val " << be32(i + 2) << " ecr " << be32(i + 6);
    } else {
      one << "unknown option " << static_cast<unsigned>(kind);  // the script parser refuses it: visible
    }
    opts.push_back(one.str());
    i += n;
  }
  if (!opts.empty()) {
    os << " <";
    for (std::size_t i = 0; i < opts.size(); ++i) os << (i ? "," : "") << opts[i];
    os << '>';
  }
  return os.str();
}

std::string time_text(Instant t) {
  char b[32];
  std::snprintf(b, sizeof b, "%.6f", std::chrono::duration<double>(t - Instant{}).count());
  return b;
}

struct Line {
  Instant at{};
  std::string text;
  friend bool operator==(const Line&, const Line&) = default;
};

// The stack under test as the script runner's host runs it: timers fire when time passes
// their deadlines; the application's calls are the socket calls of the script.
class Mirror {
 public:
  Mirror(std::size_t side, const Config& cfg, Seq iss) : side_(side), iss_(iss) {
    const auto notify = [] { return std::uint64_t{0}; };
    st_ = empty<std::uint64_t>(notify, side == 0 ? "client" : "server", cfg);
    if (side == 1) st_ = start_listen(std::move(st_), explore_port);
  }

  std::vector<Line> take() { return std::exchange(lines_, {}); }
  Instant now() const { return now_; }
  std::optional<Instant> deadline() const { return next_deadline(st_); }
  bool broken() const { return broken_; }

  void advance(Instant t) {
    for (int guard = 0; guard < 1000; ++guard) {
      const auto d = next_deadline(st_);
      if (!d || *d > t) break;
      now_ = std::max(now_, *d);
      auto r = timer(std::move(st_), now_);
      st_ = std::move(r.state);
      out(r.out);
    }
    now_ = std::max(now_, t);
  }

  void deliver(Instant t, const Output& o) {
    advance(t);
    const std::vector<std::byte> bytes = o.segment.encode(o.src, o.dst);
    auto r = handle_buf(std::move(st_), now_, o.src, o.dst, bytes);
    st_ = std::move(r.state);
    out(r.out);
    if (r.event)
      if (const auto* est = std::get_if<Established<std::uint64_t>>(&*r.event))
        if (side_ == 1 && !pending_) pending_ = est->flow;
  }

  void connect_call(Instant t) {
    advance(t);
    auto c = connect(std::move(st_), now_, explore_client_ip, explore_server_ip, explore_port,
                     std::uint16_t{40000});
    if (!c) {
      broken_ = true;
      return;
    }
    st_ = std::move(c->state);
    flow_ = c->flow;
    out({c->syn});
  }

  // One call of the explored application: its script line (with this stack's result) and what
  // it sent. `fd` is the connection's script fd.
  void call(Instant t, const std::string& what, int fd, std::uint32_t read_size, bool nodelay) {
    advance(t);
    const std::string f = std::to_string(fd);
    if (what == "accept") {
      if (!pending_) {
        // A correct script cannot be written past a handshake this stack did not complete.
        broken_ = true;
        return;
      }
      flow_ = pending_;
      line("accept(3, ..., ...) = " + f);
      line("fcntl(" + f + ", F_SETFL, O_RDWR|O_NONBLOCK) = 0");
      if (nodelay) line("setsockopt(" + f + ", IPPROTO_TCP, TCP_NODELAY, [1], 4) = 0");
      return;
    }
    if (!flow_) {
      broken_ = true;
      return;
    }
    if (what.starts_with("send ")) {
      const std::uint32_t n = static_cast<std::uint32_t>(std::stoul(what.substr(5)));
      auto r = send(std::move(st_), now_, *flow_, std::string(n, '\0'));
      if (!r) {
        broken_ = true;
        return;
      }
      st_ = std::move(r->state);
      line("write(" + f + ", ..., " + std::to_string(n) + ") = " + std::to_string(r->enqueued));
      out(r->out);
    } else if (what.starts_with("read")) {
      auto r = recv(std::move(st_), now_, *flow_);
      const std::string call = "read(" + f + ", ..., " + std::to_string(read_size) + ") = ";
      if (!r) {
        if (r.error().kind != Error::Kind::eof) {
          broken_ = true;
          return;
        }
        line(call + "0");
        return;
      }
      st_ = std::move(r->state);
      std::size_t n = 0;
      for (const Payload& p : r->data) n += p.size();
      line(n ? call + std::to_string(n) : call + "-1 EAGAIN (Resource temporarily unavailable)");
      out(r->out);
    } else if (what == "shutdown" || what == "close") {
      // shutdown(SHUT_WR) is the core's shutdown of the write side; close(2) its close.
      auto r = what == "close" ? close(std::move(st_), now_, *flow_)
                               : shutdown(std::move(st_), now_, *flow_, Direction::write);
      if (!r) {
        broken_ = true;
        return;
      }
      st_ = std::move(r->state);
      line(what == "close" ? "close(" + f + ") = 0" : "shutdown(" + f + ", SHUT_WR) = 0");
      out(r->out);
    } else if (what == "abort") {
      auto r = utcp::abort(std::move(st_), now_, *flow_);
      if (!r) {
        broken_ = true;
        return;
      }
      st_ = std::move(r->state);
      line("setsockopt(" + f + ", SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0");
      line("close(" + f + ") = 0");
      out(r->out);
    } else {
      broken_ = true;
    }
  }

 private:
  void out(const std::vector<Output>& os) {
    for (const Output& o : os) lines_.push_back({now_, format_segment(o, true, iss_)});
  }
  void line(std::string s) { lines_.push_back({now_, std::move(s)}); }

  std::size_t side_;
  Seq iss_;
  ExpStack st_ = empty<std::uint64_t>([] { return std::uint64_t{0}; }, "", Config{});
  std::optional<Flow> flow_, pending_;
  Instant now_{};
  std::vector<Line> lines_;
  bool broken_ = false;
};

bool has_faults(const Config& c) {
  return c.test_faults != Config::TestFaults{};
}

std::size_t side_of(const ExploreSpec& spec, const std::optional<std::string>& failure) {
  if (has_faults(spec.client_config) != has_faults(spec.server_config))
    return has_faults(spec.server_config) ? 1 : 0;
  if (failure && failure->find(": server:") != std::string::npos) return 1;
  return 0;
}

}  // namespace

ExploreRepro make_repro(const ExploreSpec& spec, std::span<const Choice> choices,
                        std::optional<std::uint8_t> side_opt) {
  ExploreRepro rep;
  const ExploreReplay run = replay(spec, choices);
  for (const TraceEntry& e : run.trace)
    if (e.kind == TraceEntry::Kind::send) rep.segments.push_back({e.at, *e.segment});
  const std::size_t side = side_opt ? *side_opt : side_of(spec, run.failure);
  rep.side = static_cast<std::uint8_t>(side);
  const Config& cfg = side == 0 ? spec.client_config : spec.server_config;
  Config correct_cfg = cfg;
  correct_cfg.test_faults = {};
  const bool faulty = has_faults(cfg);

  // The stack's ISN, from its first SYN in the run (both copies choose the same: same config,
  // addresses and time).
  Seq iss(0);
  for (const TraceEntry& e : run.trace)
    if (e.kind == TraceEntry::Kind::send && e.side == side && e.segment->segment.flag == Segment::Flag::syn) {
      iss = e.segment->segment.seq;
      break;
    }

  const std::uint32_t read_size = std::max<std::uint32_t>(65536, spec.client_bytes + spec.server_bytes);
  const int fd = side == 0 ? 3 : 4;
  Mirror good(side, correct_cfg, iss), bad(side, cfg, iss);

  std::ostringstream body;
  int line_no = 0;
  std::vector<std::string> header;
  const auto head = [&](std::string s) { header.push_back(std::move(s)); };
  head("// A reproducer written by `utcp explore` (docs/EXPLORE.md): scenario " +
       std::string(to_string(spec.scenario)) + ", from the " + (side == 0 ? "client" : "server") +
       "'s point of view.");
  head("// Violation: " + (run.failure ? *run.failure : std::string("none reached")));
  {
    std::string cs = "// Choices:";
    for (const Choice& c : choices) cs += " [" + to_string(c) + "]";
    head(cs);
  }
  if (faulty) {
    head("// The --test_fault lines plant the bug (test only): with them the script fails where");
    head("// the bug shows; without them a correct stack passes it.");
    if (cfg.test_faults.partial_ack_stops_rto) head("--test_fault=partial_ack_stops_rto");
    if (cfg.test_faults.accept_fin_out_of_order) head("--test_fault=accept_fin_out_of_order");
  } else {
    head("// No test fault: the script is the run as the stack made it (it passes on this stack);");
    head("// the violation is in the comment at its end.");
  }
  head(std::string("--local_ip=") + (side == 0 ? explore_client_ip : explore_server_ip).to_string());
  head(std::string("--remote_ip=") + (side == 0 ? explore_server_ip : explore_client_ip).to_string());
  if (cfg.mtu != 1500) head("--mtu=" + std::to_string(cfg.mtu));
  if (cfg.timestamps) head("--tcp_timestamps=1");
  if (cfg.sack) head("--tcp_sack=1");
  line_no = static_cast<int>(header.size());

  const auto emit = [&](Instant at, const std::string& text) {
    body << time_text(at) << ' ' << text << '\n';
    ++line_no;
  };
  // Compares what both copies did on one step; writes the correct one's lines up to the first
  // difference. True when they differed (the script ends there).
  bool diverged = false;
  const auto step = [&]() {
    const std::vector<Line> g = good.take(), b = bad.take();
    std::size_t i = 0;
    for (; i < g.size(); ++i) {
      emit(g[i].at, g[i].text);
      if (faulty && (i >= b.size() || !(g[i] == b[i]))) {
        rep.failing_line = line_no;
        diverged = true;
        return;
      }
    }
    if (faulty && b.size() > g.size()) {
      // The faulty stack sent more: a call at that time makes the runner see the extra segment.
      emit(b[i].at, "getsockopt(" + std::to_string(fd) + ", SOL_SOCKET, SO_ERROR, [0], [4]) = 0");
      rep.failing_line = line_no;
      diverged = true;
    }
    if (good.broken() != bad.broken()) diverged = true;
  };

  // The opening calls.
  if (side == 0) {
    emit(Instant{}, "socket(..., SOCK_STREAM, IPPROTO_TCP) = 3");
    emit(Instant{}, "fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0");
    if (cfg.nodelay) emit(Instant{}, "setsockopt(3, IPPROTO_TCP, TCP_NODELAY, [1], 4) = 0");
    emit(Instant{}, "connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)");
    good.connect_call(Instant{});
    bad.connect_call(Instant{});
    step();
  } else {
    emit(Instant{}, "socket(..., SOCK_STREAM, IPPROTO_TCP) = 3");
    emit(Instant{}, "bind(3, ..., ...) = 0");
    emit(Instant{}, "listen(3, 128) = 0");
  }

  Instant last{};
  for (const TraceEntry& e : run.trace) {
    if (diverged || good.broken()) break;
    if (e.side != side) continue;
    last = e.at;
    switch (e.kind) {
      case TraceEntry::Kind::deliver:
        // The timers due before the segment arrives run first (the runner moves time, then injects).
        good.advance(e.at);
        bad.advance(e.at);
        step();
        if (diverged) break;
        emit(e.at, format_segment(*e.segment, false, iss));
        good.deliver(e.at, *e.segment);
        bad.deliver(e.at, *e.segment);
        step();
        break;
      case TraceEntry::Kind::timer:
        good.advance(e.at);
        bad.advance(e.at);
        step();
        break;
      case TraceEntry::Kind::call:
        if (e.call == "connect") break;  // the opening calls
        good.call(e.at, e.call, fd, read_size, cfg.nodelay);
        bad.call(e.at, e.call, fd, read_size, cfg.nodelay);
        step();
        break;
      default:
        break;
    }
  }
  // Past the path: both copies run their timers (no more input) until they differ, for a few
  // firings or two minutes.
  for (int i = 0; i < 8 && faulty && !diverged && !good.broken(); ++i) {
    const auto dg = good.deadline(), db = bad.deadline();
    if (!dg && !db) break;
    const Instant t = dg && db ? std::min(*dg, *db) : dg ? *dg : *db;
    if (t > last + std::chrono::seconds(120)) break;
    good.advance(t);
    bad.advance(t);
    step();
  }
  if (good.broken())
    rep.note = "the correct stack refused a call of the explored application; the script ends there";
  rep.diverges = diverged && rep.failing_line > 0;
  if (faulty && !rep.diverges && rep.note.empty())
    rep.note =
        "the faulty stack sends and returns what a correct one does on this path: the script cannot tell "
        "them apart";
  if (!faulty) body << "// the explored run's violation: " << (run.failure ? *run.failure : "none") << '\n';

  std::ostringstream all;
  for (const std::string& h : header) all << h << '\n';
  all << body.str();
  rep.script = all.str();
  return rep;
}

}  // namespace utcp::sim
