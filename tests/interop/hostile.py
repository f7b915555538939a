#!/usr/bin/env python3
"""Hostile Linux-side peers for the hostile_*.sh interop tests (run inside the test's namespace).

Hand-built IPv4/TCP packets (struct, our own checksums, no scapy) are injected toward utcp
while a real Linux TCP connection to `utcp serve` is running; an AF_PACKET capture on the TUN
device sees what utcp answers. Packets we build carry TTL 33 so the capture can tell them from
the kernel's (TTL 64).

  blind      in-window RSTs and SYNs with guessed sequence numbers, out-of-window RSTs and
             SYNs, data with an unacceptable ACK, at a running HTTP download; challenge ACKs
             counted against the per-flow rate limit
  malformed  every malformed TCP header/option shape and malformed IPv4 headers, each around
             an RST at exactly RCV.NXT (which would reset the connection if it got through)
  synflood   SYNs from thousands of spoofed sources while a legitimate client connects
  counters   compares the counters `utcp serve --verbose` printed at exit with what the
             attack expects (an expectations file written by the commands above)
"""
import ctypes
import hashlib
import os
import random
import re
import select
import socket
import struct
import sys
import threading
import time

import helpers

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
SOL_PACKET = 263
PACKET_STATISTICS = 6
SO_ATTACH_FILTER = 26
SO_RCVBUFFORCE = 33
INJECT_TTL = 33

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

# RFC 5961 challenge ACK limit per flow and second (utcp's Config default).
CHALLENGE_PER_FLOW = 10
# utcp's Config::listen_backlog: embryonic connections per listening port.
BACKLOG = 128


def log(*a):
    print("[hostile]", *a, file=sys.stderr, flush=True)


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


# ---- packets ----

def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def a4(ip):
    return socket.inet_aton(ip)


def tcp(src, dst, sport, dport, seq, ack, flags, window=65535, options=b"", payload=b"", doff=None,
        bad_csum=False, cut=None):
    """A TCP segment with its checksum over the pseudo-header. doff overrides the data offset;
    cut keeps only the first `cut` bytes (a truncated header), checksummed as sent."""
    if doff is None:
        assert len(options) % 4 == 0
        doff = (20 + len(options)) // 4
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, (doff & 0xF) << 4,
                      flags, window, 0, 0) + options + payload
    if cut is not None:
        seg = seg[:cut]
    pseudo = a4(src) + a4(dst) + struct.pack("!BBH", 0, 6, len(seg))
    c = csum(pseudo + (seg[:16] + b"\0\0" + seg[18:] if len(seg) >= 18 else seg))
    if bad_csum:
        c ^= 0x5555
    if len(seg) >= 18:
        seg = seg[:16] + struct.pack("!H", c) + seg[18:]
    return seg


def ipv4(src, dst, payload, proto=6, ttl=INJECT_TTL, frag=0x4000, ihl=5, total=None, version=4,
         bad_csum=False):
    """An IPv4 datagram; every field can be made wrong (for the AF_PACKET path, which the
    kernel does not touch)."""
    total = 20 + len(payload) if total is None else total
    hdr = struct.pack("!BBHHHBBH4s4s", (version << 4) | ihl, 0, total, random.getrandbits(16), frag, ttl,
                      proto, 0, a4(src), a4(dst))
    c = csum(hdr)
    if bad_csum:
        c ^= 0x00FF
    return hdr[:10] + struct.pack("!H", c) + hdr[12:] + payload


class Injector:
    """Sends through the kernel's IP layer (AF_INET raw, IP_HDRINCL: it fills in the IP
    checksum and length) or straight onto the device (AF_PACKET: bytes as they are)."""

    def __init__(self, dev):
        self.raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        self.link = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
        self.link.bind((dev, ETH_P_IP))
        self.sent = 0
        self.retried = 0

    def _retry(self, fn):
        for _ in range(2000):
            try:
                fn()
                self.sent += 1
                return
            except OSError as e:  # ENOBUFS: the device queue is full; wait for utcp to drain it
                if e.errno not in (105, 11):
                    raise
                self.retried += 1
                time.sleep(0.001)
        raise Failure("the TUN device queue stayed full for 2 s")

    def ip(self, src, dst, seg):
        self._retry(lambda: self.raw.sendto(ipv4(src, dst, seg), (dst, 0)))

    def wire(self, datagram):
        self._retry(lambda: self.link.send(datagram))


def dev_dropped(dev):
    """Packets the device dropped on their way to utcp (its queue was full): they never reached
    utcp, so they are taken off what its counters must show."""
    with open(f"/sys/class/net/{dev}/statistics/tx_dropped") as f:
        return int(f.read())


def paced(n, seconds, fn, burst=1):
    """Calls fn(i) n times spread evenly over `seconds`, `burst` calls at a time; returns the
    time taken."""
    t0 = time.monotonic()
    for i in range(n):
        due = t0 + seconds * (i - i % burst) / n
        d = due - time.monotonic()
        if d > 0:
            time.sleep(d)
        fn(i)
    return time.monotonic() - t0


# ---- capture ----

class Pkt:
    __slots__ = ("t", "src", "dst", "ttl", "sport", "dport", "seq", "ack", "flags", "window", "plen", "wscale")


def bpf_program(uip):
    """Classic BPF on the raw-IP device: drops utcp's data segments (the bulk of the transfer)
    and our own injected packets (TTL 33); keeps everything else, 256 bytes of it."""
    u = struct.unpack("!I", a4(uip))[0]
    prog = [
        (0x30, 0, 0, 0),           # 0  ldb [0]
        (0x54, 0, 0, 0xF0),        # 1  and #0xf0
        (0x15, 0, 17, 0x40),       # 2  jeq #0x40 ? 3 : accept
        (0x30, 0, 0, 8),           # 3  ldb [8]         TTL
        (0x15, 14, 0, INJECT_TTL),  # 4  jeq #33 ? drop : 5
        (0x30, 0, 0, 9),           # 5  ldb [9]
        (0x15, 0, 13, 6),          # 6  jeq #6 ? 7 : accept
        (0x20, 0, 0, 12),          # 7  ld [12]         source
        (0x15, 0, 11, u),          # 8  jeq utcp ? 9 : accept
        (0x28, 0, 0, 2),           # 9  ldh [2]         total length
        (0x02, 0, 0, 0),           # 10 st M[0]
        (0xB1, 0, 0, 0),           # 11 ldxb 4*([0]&0xf)
        (0x50, 0, 0, 12),          # 12 ldb [x+12]      data offset
        (0x74, 0, 0, 4),           # 13 rsh #4
        (0x64, 0, 0, 2),           # 14 lsh #2
        (0x0C, 0, 0, 0),           # 15 add x           headers
        (0x07, 0, 0, 0),           # 16 tax
        (0x60, 0, 0, 0),           # 17 ld M[0]
        (0x1D, 1, 0, 0),           # 18 jeq x ? accept : drop
        (0x06, 0, 0, 0),           # 19 drop
        (0x06, 0, 0, 256),         # 20 accept
    ]
    return prog


class Sniffer(threading.Thread):
    """AF_PACKET capture of TCP/IPv4 on the device (both directions), parsed headers only."""

    def __init__(self, dev, uip):
        super().__init__(daemon=True)
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 64 << 20)
        prog = bpf_program(uip)
        self._filter = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *i) for i in prog))
        fprog = struct.pack("HL", len(prog), ctypes.addressof(self._filter))
        s.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
        s.bind((dev, ETH_P_ALL))
        s.settimeout(0.1)
        self.sock = s
        self.packets = []
        self.lock = threading.Lock()
        self.running = True

    def run(self):
        buf = bytearray(2048)
        while self.running:
            try:
                n = self.sock.recv_into(buf)
            except socket.timeout:
                continue
            t = time.monotonic()
            if n < 40 or buf[0] >> 4 != 4 or buf[9] != 6:
                continue
            ihl = (buf[0] & 0xF) * 4
            if n < ihl + 20:
                continue
            p = Pkt()
            p.t = t
            total = (buf[2] << 8) | buf[3]
            p.ttl = buf[8]
            p.src = socket.inet_ntoa(bytes(buf[12:16]))
            p.dst = socket.inet_ntoa(bytes(buf[16:20]))
            p.sport, p.dport, p.seq, p.ack, off, p.flags, p.window = struct.unpack_from("!HHIIBBH", buf, ihl)
            doff = (off >> 4) * 4
            p.plen = total - ihl - doff
            p.wscale = None
            if p.flags & SYN:
                i, end = ihl + 20, min(ihl + doff, n)
                while i < end:
                    kind = buf[i]
                    if kind == 0:
                        break
                    if kind == 1:
                        i += 1
                        continue
                    if i + 1 >= end or buf[i + 1] < 2:
                        break
                    if kind == 3 and buf[i + 1] == 3 and i + 2 < end:
                        p.wscale = buf[i + 2]
                    i += buf[i + 1]
            with self.lock:
                self.packets.append(p)

    def stop(self):
        self.running = False
        self.join(2)

    def snapshot(self):
        with self.lock:
            return list(self.packets)

    def drops(self):
        raw = self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
        return struct.unpack("II", raw)[1]


# ---- the legitimate connection: an HTTP download, throttled so that it outlasts the attack ----

class Download(threading.Thread):
    """GET /big (keep-alive) read at most `rate` bytes/s, then GET /small with Connection:
    close; checks both bodies against the files and that nothing else arrives."""

    def __init__(self, uip, port, root, rate):
        super().__init__(daemon=True)
        self.uip, self.port, self.root, self.rate = uip, port, root, rate
        self.local_port = None
        self.body_bytes = 0
        self.big_done_at = None
        self.error = None
        self.ok = False
        self.connected = threading.Event()

    def _read_response(self, s, buf):
        while b"\r\n\r\n" not in buf:
            b = s.recv(65536)
            check(b, "the connection closed inside a response head")
            buf += b
        head, rest = buf.split(b"\r\n\r\n", 1)
        status = head.split(b"\r\n", 1)[0]
        check(status.startswith(b"HTTP/1.1 200"), f"unexpected response {status!r}")
        m = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
        check(m, "no Content-Length")
        return int(m.group(1)), rest

    def run(self):
        try:
            big = open(os.path.join(self.root, "big"), "rb").read()
            small = open(os.path.join(self.root, "small"), "rb").read()
            s = helpers.connect(self.uip, self.port, timeout=60)
            self.local_port = s.getsockname()[1]
            self.connected.set()
            s.sendall(b"GET /big HTTP/1.1\r\nHost: utcp\r\n\r\n")
            length, rest = self._read_response(s, b"")
            check(length == len(big), f"Content-Length {length}, file {len(big)}")
            h = hashlib.sha256(rest[:length])
            got = len(rest)
            self.body_bytes = got
            t0 = time.monotonic()
            while got < length:
                b = s.recv(min(65536, length - got))
                check(b, f"the connection closed after {got} of {length} bytes")
                h.update(b)
                got += len(b)
                self.body_bytes = got
                ahead = got / self.rate - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)
            self.big_done_at = time.monotonic()
            check(h.digest() == hashlib.sha256(big).digest(), "the body of /big differs from the file")
            s.sendall(b"GET /small HTTP/1.1\r\nHost: utcp\r\nConnection: close\r\n\r\n")
            length, rest = self._read_response(s, b"")
            while len(rest) < length + 1:
                b = s.recv(65536)
                if not b:
                    break
                rest += b
            check(rest[:length] == small, "the body of /small differs (a stray response or bytes in the stream)")
            check(len(rest) == length, f"{len(rest) - length} bytes after the last response: an injected request?")
            s.close()
            self.ok = True
        except (OSError, Failure) as e:
            self.error = f"{type(e).__name__}: {e}"
        finally:
            self.connected.set()


class Flow:
    """What the capture tells about the download: the 4-tuple and utcp's RCV.NXT (frozen while
    the client only reads), the client's ACK (utcp's SND.UNA) and utcp's window scale."""

    def __init__(self, sniffer, kip, uip, cport, sport):
        self.kip, self.uip, self.cport, self.sport = kip, uip, cport, sport
        pk = sniffer.snapshot()
        mine = [p for p in pk if p.src == kip and p.sport == cport and p.dport == sport and p.ttl != INJECT_TTL]
        check(mine, "the capture saw nothing of the client's connection")
        last = mine[-1]  # a pure ACK of the download: SEQ = the client's SND.NXT
        self.rcv_nxt = (last.seq + last.plen + (1 if last.flags & (SYN | FIN) else 0)) & 0xFFFFFFFF
        self.ack = last.ack
        synack = [p for p in pk if p.src == uip and p.sport == sport and p.dport == cport and p.flags & SYN]
        check(synack, "the capture missed utcp's SYN-ACK")
        self.synack_window = synack[0].window

    def from_utcp(self, packets, t0, t1):
        """utcp's segments on the flow captured in [t0, t1) (data segments are filtered out)."""
        return [p for p in packets if p.src == self.uip and p.sport == self.sport and p.dport == self.cport
                and t0 <= p.t < t1]


def pure_acks(pkts):
    return [p for p in pkts if p.flags & (SYN | FIN | RST) == 0 and p.flags & ACK and p.plen == 0]


def start_download(args, sniffer):
    uip, port, root, rate = args.uip, args.port, args.root, args.rate
    dl = Download(uip, port, root, rate)
    dl.start()
    dl.connected.wait(70)
    check(dl.local_port is not None, f"the client did not connect: {dl.error}")
    # Wait until the response streams: utcp has taken the whole request, RCV.NXT stays put.
    end = time.monotonic() + 30
    while dl.body_bytes < 256 * 1024:
        check(dl.error is None, f"download: {dl.error}")
        check(time.monotonic() < end, "the download did not start within 30 s")
        time.sleep(0.05)
    time.sleep(0.2)
    flow = Flow(sniffer, args.kip, uip, dl.local_port, port)
    return dl, flow


def finish_download(dl, attack_end):
    dl.join(120)
    check(not dl.is_alive(), "the download did not finish within 120 s of the attack")
    check(dl.ok, f"the legitimate connection failed: {dl.error}")
    check(dl.big_done_at is not None and dl.big_done_at > attack_end,
          "the download ended before the attack did (make the file larger or the rate lower)")


def write_expectations(path, lines):
    with open(path, "w") as f:
        for k, v in lines:
            f.write(f"{k} {v}\n")


# ---- blind injection (RFC 5961) ----

def cmd_blind(args):
    inj = Injector(args.dev)
    sn = Sniffer(args.dev, args.uip)
    sn.start()
    dl, flow = start_download(args, sn)
    K, U = args.kip, args.uip
    cport, sport = flow.cport, flow.sport
    wnd = min(flow.synack_window, 32768)
    check(wnd > 1000, f"utcp's window {wnd} is too small to aim inside")
    rng = random.Random(args.seed)
    log(f"flow {K}:{cport} -> {U}:{sport}, RCV.NXT {flow.rcv_nxt}, SND.UNA~{flow.ack}, aiming within {wnd}")

    def in_window():  # never RCV.NXT itself: the client sends nothing more while /big streams
        return flow.rcv_nxt + rng.randint(1, wnd - 1)

    def out_of_window():
        return flow.rcv_nxt + rng.randint(1 << 20, (1 << 31) - (1 << 20))

    bad_ack = flow.ack + (1 << 31)
    evil = b"GET /evil HTTP/1.1\r\nHost: utcp\r\n\r\n"
    phases = [
        # name, count, seconds, segment(i)
        ("baseline", 0, 1.0, None),
        ("rst_in_window", 2000, 2.0, lambda i: tcp(K, U, cport, sport, in_window(), 0, RST)),
        ("rst_ack_in_window", 500, 0.5, lambda i: tcp(K, U, cport, sport, in_window(), flow.ack, RST | ACK)),
        ("syn_in_window", 2000, 2.0, lambda i: tcp(K, U, cport, sport, in_window(), 0, SYN)),
        ("rst_out_of_window", 1000, 1.0, lambda i: tcp(K, U, cport, sport, out_of_window(), 0, RST)),
        ("syn_out_of_window", 200, 0.5, lambda i: tcp(K, U, cport, sport, out_of_window(), 0, SYN)),
        ("data_bad_ack", 500, 1.0,
         lambda i: tcp(K, U, cport, sport, flow.rcv_nxt + (0 if i % 5 == 0 else rng.randint(1, wnd - 200)),
                       bad_ack, ACK | PSH, payload=evil)),
    ]
    spans = {}
    dropped0 = dev_dropped(args.dev)
    for name, n, secs, make in phases:
        t0 = time.monotonic()
        b0 = dl.body_bytes
        if n:
            paced(n, secs, lambda i: inj.ip(K, U, make(i)))
        else:
            time.sleep(secs)
        dt = time.monotonic() - t0
        time.sleep(0.3)  # answers still on their way belong to this phase
        spans[name] = (t0, time.monotonic(), dt, n)
        check(dl.error is None, f"during {name}: the legitimate connection failed: {dl.error}")
        check(dl.body_bytes > b0, f"during {name}: the download made no progress")
    attack_end = time.monotonic()
    time.sleep(0.2)
    pk = sn.snapshot()
    drops = sn.drops()
    results = {}
    for name, (t0, t1, dt, n) in spans.items():
        seen = flow.from_utcp(pk, t0, t1)
        acks = pure_acks(seen)
        resets = [p for p in seen if p.flags & RST]
        results[name] = (acks, resets, dt, n)
        log(f"{name}: {n} sent in {dt:.2f} s, utcp answered {len(acks)} ACKs, {len(resets)} RSTs")
    check(drops == 0, f"the capture dropped {drops} packets: the counts below would be unreliable")
    for name, (acks, resets, dt, n) in results.items():
        check(not resets, f"{name}: utcp sent an RST on the connection")
        for p in acks:
            check(p.ack == flow.rcv_nxt, f"{name}: an ACK from utcp acknowledges {p.ack}, not RCV.NXT {flow.rcv_nxt}")
    check(not results["baseline"][0], f"baseline: utcp sent {len(results['baseline'][0])} pure ACKs without an attack")
    # RFC 5961 §7 limits every challenge ACK: in-window RSTs (§3.2), SYNs anywhere (§4.2) and
    # segments whose ACK fails §5.2 validation.
    limited = ["rst_in_window", "rst_ack_in_window", "syn_in_window", "syn_out_of_window", "data_bad_ack"]
    for name in limited:
        acks, _, dt, n = results[name]
        bound = CHALLENGE_PER_FLOW * (int(dt) + 2)
        check(len(acks) >= 1, f"{name}: no challenge ACK at all: the guesses did not land in the window")
        check(len(acks) <= bound, f"{name}: {len(acks)} challenge ACKs for {n} triggers in {dt:.2f} s, limit {bound}")
    t_first = spans[limited[0]][0]
    t_last = spans[limited[-1]][1]
    total = sum(len(results[n][0]) for n in limited)
    bound = CHALLENGE_PER_FLOW * (int(t_last - t_first) + 2)
    check(total <= bound, f"{total} challenge ACKs in {t_last - t_first:.1f} s over the RST and SYN phases, limit {bound}")
    check(not results["rst_out_of_window"][0], "utcp answered RSTs outside the window")
    sn.stop()
    finish_download(dl, attack_end)
    injected = sum(n for (_, _, _, n) in spans.values())
    lost = dev_dropped(args.dev) - dropped0
    check(lost * 2 < injected, f"the device dropped {lost} of {injected} packets: too many to count")
    log(f"the download survived {injected} injected segments and came back intact "
        f"({total} challenge ACKs over {t_last - t_first:.1f} s; the device dropped {lost} packets)")
    # Every injected segment is dropped by the core: rst_challenged, syn_challenged,
    # rst_out_of_window, not_acceptable, bad_ack. None resets.
    write_expectations(args.expect, [("tcp_dropped_min", injected - lost), ("resets_received", 0),
                                     ("http_requests", 2)])
    return 0


# ---- malformed segments ----

def malformed_segments(K, U, cport, sport, seq, ack):
    """(name, TCP bytes): each an RST at exactly RCV.NXT that decode must refuse."""
    def rst(**kw):
        return tcp(K, U, cport, sport, seq, ack, RST | ACK, **kw)
    nop = b"\x01"
    return [
        ("bad_checksum", rst(bad_csum=True)),
        ("data_offset_0", rst(doff=0)),
        ("data_offset_4", rst(doff=4)),
        ("data_offset_past_end", rst(doff=15)),
        ("data_offset_past_end_opts", rst(doff=8, options=nop * 4)),
        ("truncated_header_12", rst(cut=12)),
        ("truncated_header_19", rst(cut=19)),
        ("option_length_0", rst(options=b"\x02\x00" + nop * 2)),
        ("option_length_1", rst(options=b"\x03\x01" + nop * 2)),
        ("unknown_option_length_0", rst(options=b"\xfe\x00" + nop * 2)),
        ("option_past_header", rst(options=b"\x08\x28" + nop * 2)),
        ("option_length_missing", rst(options=nop * 3 + b"\x02")),
        ("mss_truncated", rst(options=nop * 2 + b"\x02\x04")),
        ("wscale_truncated", rst(options=nop * 2 + b"\x03\x03")),
        ("sack_truncated", rst(options=nop * 2 + b"\x05\x0a")),
        ("timestamps_truncated", rst(options=b"\x08\x0a\x00\x00" + b"\x00\x00\x00\x00")),
        ("syn_fin", tcp(K, U, cport, sport, seq, 0, SYN | FIN)),
        ("syn_rst", tcp(K, U, cport, sport, seq, 0, SYN | RST)),
    ]


def malformed_ip(K, U, seg, other):
    """(name, reason in utcp's ip drops, datagram) around a valid RST segment."""
    good = ipv4(K, U, seg)
    return [
        ("ip_bad_checksum", "bad_header_checksum", ipv4(K, U, seg, bad_csum=True)),
        ("ip_ihl_4", "bad_header_length", ipv4(K, U, seg, ihl=4)),
        ("ip_ihl_past_end", "bad_header_length", ipv4(K, U, seg[:10], ihl=15)),
        ("ip_total_past_end", "bad_total_length", ipv4(K, U, seg, total=20 + len(seg) + 100)),
        ("ip_total_below_header", "bad_total_length", ipv4(K, U, seg, total=12)),
        ("ip_more_fragments", "fragment", ipv4(K, U, seg, frag=0x2000)),
        ("ip_fragment_offset", "fragment", ipv4(K, U, seg, frag=0x0010)),
        ("ip_version_5", "bad_version", ipv4(K, U, seg, version=5)),
        ("ip_too_short", "too_short", good[:12]),
        ("ip_udp", "not_tcp", ipv4(K, U, seg, proto=17)),
        ("ip_wrong_destination", "wrong_destination", ipv4(K, other, seg)),
        ("ip_multicast_source", "bad_source", ipv4("224.0.0.1", U, seg)),
        ("ip_zero_source", "bad_source", ipv4("0.0.0.0", U, seg)),
    ]


def cmd_malformed(args):
    inj = Injector(args.dev)
    sn = Sniffer(args.dev, args.uip)
    sn.start()
    dl, flow = start_download(args, sn)
    K, U = args.kip, args.uip
    seq, ack = flow.rcv_nxt, flow.ack
    tcp_shapes = malformed_segments(K, U, flow.cport, flow.sport, seq, ack)
    valid_rst = tcp(K, U, flow.cport, flow.sport, seq, ack, RST | ACK)
    other = U.rsplit(".", 1)[0] + ".99"
    ip_shapes = malformed_ip(K, U, valid_rst, other)
    rounds = args.rounds
    log(f"flow {K}:{flow.cport} -> {U}:{flow.sport}, RCV.NXT {seq}: {len(tcp_shapes)} TCP and "
        f"{len(ip_shapes)} IP shapes x {rounds}, each an RST at RCV.NXT")
    dropped0 = dev_dropped(args.dev)
    b0 = dl.body_bytes
    t0 = time.monotonic()
    for r in range(rounds):
        for _, seg in tcp_shapes:
            inj.ip(K, U, seg)
        for _, _, d in ip_shapes:
            inj.wire(d)
        time.sleep(0.002)  # ~10,000 packets/s: a burst, but one the device queue holds
        if r % 10 == 9:
            check(dl.error is None, f"the legitimate connection failed during the burst: {dl.error}")
    dt = time.monotonic() - t0
    time.sleep(1.0)
    t1 = time.monotonic()
    sent = rounds * (len(tcp_shapes) + len(ip_shapes))
    lost = dev_dropped(args.dev) - dropped0
    check(lost * 2 < sent, f"the device dropped {lost} of {sent} packets: too many to count")
    pk = sn.snapshot()
    seen = flow.from_utcp(pk, t0, t1)
    log(f"burst of {sent} in {dt:.2f} s (the device dropped {lost}); utcp answered "
        f"{len(pure_acks(seen))} ACKs, {sum(1 for p in seen if p.flags & RST)} RSTs")
    check(sn.drops() == 0, f"the capture dropped {sn.drops()} packets")
    check(not seen, f"utcp answered {len(seen)} of the malformed segments (decode must drop them silently)")
    check(dl.error is None and dl.is_alive(), f"the legitimate connection did not outlive the burst: {dl.error}")
    check(dl.body_bytes > b0, "the download made no progress during the burst")
    finish_download(dl, t1)
    log("the download outlived the burst and came back intact")

    # Control: the same RST, well-formed, at another connection's RCV.NXT resets it. So the
    # malformed ones above were dropped for their shape, not for their numbers.
    c = helpers.connect(U, args.port, timeout=30)
    cport = c.getsockname()[1]
    c.sendall(b"GET /small HTTP/1.1\r\nHost: utcp\r\n\r\n")
    small = open(os.path.join(args.root, "small"), "rb").read()
    got = b""
    while not got.endswith(small):
        b = c.recv(65536)
        check(b, "control connection: closed early")
        got += b
    time.sleep(0.3)
    ctl = Flow(sn, K, U, cport, args.port)
    inj.ip(K, U, tcp(K, U, cport, args.port, ctl.rcv_nxt, ctl.ack, RST | ACK))
    time.sleep(0.3)
    reset = False
    try:
        c.sendall(b"GET /small HTTP/1.1\r\nHost: utcp\r\n\r\n")
        c.settimeout(5)
        c.recv(65536)  # utcp no longer knows the flow: it answers with an RST
    except ConnectionResetError:
        reset = True
    except OSError as e:
        raise Failure(f"control connection: {e}")
    c.close()
    sn.stop()
    check(reset, "control: a well-formed RST at RCV.NXT did not reset the connection (are the numbers right?)")
    log("control: the same RST, well-formed, resets a connection")
    # Each packet the device dropped may have been any shape: take it off every count.
    exp = [("tcp_dropped_min", rounds * len(tcp_shapes) - lost), ("resets_received", 1), ("http_requests", 3)]
    by_reason = {}
    for _, reason, _ in ip_shapes:
        by_reason[reason] = by_reason.get(reason, 0) + rounds
    by_reason = {k: v - lost for k, v in by_reason.items()}
    exp += [(f"ip_drop:{k}", v) for k, v in by_reason.items()]
    write_expectations(args.expect, exp)
    return 0


# ---- SYN flood ----

def start_connect(uip, port):
    """A non-blocking connect: the SYN is out when this returns."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    s.connect_ex((uip, port))
    return s, time.monotonic()


def echo_once(uip, port, nbytes, timeout, started=None):
    """Connects (or waits for the connect `started`; Linux retries its SYN after 1, 3, 7 ... s)
    and echoes n bytes; (ok, seconds to connect, local port or None, error)."""
    data = helpers.pattern(nbytes, 7)
    s, t0 = started or start_connect(uip, port)
    _, writable, _ = select.select([], [s], [], timeout)
    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) if writable else 0
    if not writable or err:
        s.close()
        why = os.strerror(err) if err else f"no connection within {timeout} s"
        return False, time.monotonic() - t0, None, f"connect: {why}"
    s.setblocking(True)
    tc = time.monotonic() - t0
    lport = s.getsockname()[1]
    try:
        s.settimeout(60)
        th = threading.Thread(target=lambda: (s.sendall(data), s.shutdown(socket.SHUT_WR)))
        th.start()
        got = bytearray()
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
        th.join()
        s.close()
        if bytes(got) != data:
            return False, tc, lport, f"echo: got {len(got)} of {nbytes} bytes or different ones"
        return True, tc, lport, None
    except OSError as e:
        s.close()
        return False, tc, lport, f"echo: {e}"


def flood(inj, U, port, prefix, n, seconds, rng, burst=1, at=None, call=None):
    """n SYNs from random hosts of prefix (a.b) and random ports, paced over `seconds` in
    bursts of `burst`; call() before SYN number `at`."""
    a, b = (int(x) for x in prefix.split("."))

    def one(i):
        if i == at:
            call()
        src = f"{a}.{b}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        seg = tcp(src, U, rng.randint(1024, 65535), port, rng.getrandbits(32), 0, SYN,
                  options=b"\x02\x04\x05\xb4\x01\x03\x03\x07")
        inj.ip(src, U, seg)
    return paced(n, seconds, one, burst)


def in_prefix(ip, prefix):
    return ip.startswith(prefix + ".")


def cmd_synflood(args):
    inj = Injector(args.dev)
    sn = Sniffer(args.dev, args.uip)
    sn.start()
    U, port = args.uip, args.port
    rng = random.Random(args.seed)

    # A: spoofed sources that exist (the kernel owns the prefix: it answers utcp's SYN-ACKs
    # with RSTs, as real hosts do). The legitimate client connects during the flood.
    res = {}
    started = []
    th = threading.Thread(target=lambda: res.update(a=echo_once(U, port, args.bytes, 25, started[0])))

    def legit():
        started.append(start_connect(U, port))
        th.start()
    t0 = time.monotonic()
    # The client's SYN goes out in the middle of the second burst, behind 2/3 of it.
    dt = flood(inj, U, port, args.answered, args.syns, args.seconds, rng, args.burst,
               at=args.burst + 2 * args.burst // 3, call=legit)
    th.join(90)
    time.sleep(0.5)
    t1 = time.monotonic()
    ok, tc, lport, err = res.get("a", (False, 0, None, "no result"))
    pk = sn.snapshot()
    synacks = [p for p in pk if p.src == U and p.flags & (SYN | ACK) == SYN | ACK and in_prefix(p.dst, args.answered)
               and t0 <= p.t < t1]
    rsts = [p for p in pk if in_prefix(p.src, args.answered) and p.flags & RST and t0 <= p.t < t1]
    log(f"answered flood: {args.syns} SYNs in {dt:.2f} s, bursts of {args.burst}; utcp sent {len(synacks)} SYN-ACKs "
        f"({max(0, args.syns - len(synacks))} SYNs unanswered: full backlog), the spoofed hosts {len(rsts)} RSTs; legitimate client: {'connected after %.2f s%s and echoed %d bytes' % (tc, ' (its first SYN met a full backlog)' if tc > 0.9 else '', args.bytes) if ok else err}")
    check(ok, f"answered flood: the legitimate client failed: {err}")
    check(synacks, "answered flood: utcp sent no SYN-ACK at all (did the flood arrive?)")

    # B: spoofed sources nobody answers for (routed to the device, no such hosts): the
    # embryonic connections stay until they time out. With SYN cookies utcp answers every SYN
    # statelessly once the backlog is full and the legitimate client gets in during the flood;
    # without them the backlog bounds what it keeps and further SYNs are dropped.
    res = {}
    th = threading.Thread(target=lambda: res.update(b=echo_once(U, port, args.bytes, args.blind_timeout)))
    dropped0 = dev_dropped(args.dev)
    t0 = time.monotonic()
    tb = threading.Timer(0.5, th.start)
    tb.start()
    dt = flood(inj, U, port, args.blind, args.syns, args.seconds, rng)
    tb.join()
    th.join(90)
    time.sleep(0.3)
    t1 = time.monotonic()
    ok, tc, lport, err = res.get("b", (False, 0, None, "no result"))
    lost = dev_dropped(args.dev) - dropped0
    check(lost * 2 < args.syns, f"the device dropped {lost} of {args.syns} SYNs: too many to count")
    pk = sn.snapshot()
    synacks = [p for p in pk if p.src == U and p.flags & (SYN | ACK) == SYN | ACK and in_prefix(p.dst, args.blind)
               and t0 <= p.t < t1]
    distinct = len({(p.dst, p.dport) for p in synacks})
    cookies = distinct > BACKLOG
    log(f"blind flood: {args.syns} SYNs in {dt:.2f} s; utcp answered {distinct} distinct sources "
        f"({len(synacks)} SYN-ACKs with retransmissions; the device dropped {lost} SYNs): "
        f"{'SYN cookies' if cookies else 'no SYN cookies'}; "
        f"legitimate client: {'connected after %.2f s and echoed' % tc if ok else err}")
    check(sn.drops() == 0, f"the capture dropped {sn.drops()} packets")
    sn.stop()
    if cookies:
        check(ok, f"blind flood with SYN cookies: the legitimate client failed: {err}")
    else:
        check(distinct >= BACKLOG // 2, f"blind flood: only {distinct} sources answered: did the flood arrive?")
        check(not ok, "blind flood without SYN cookies: the legitimate client got in although the backlog "
                      "should be full (is the flood reaching utcp?)")
        log("without SYN cookies the legitimate SYNs meet a full backlog and are dropped (docs/SECURITY.md, gaps)")
    exp = [("connections_max", BACKLOG + 2)]
    if not cookies:
        exp.append(("tcp_dropped_min", args.syns - BACKLOG - lost))
    write_expectations(args.expect, exp)
    return 0


# ---- the counters utcp serve --verbose printed at exit ----

def cmd_counters(args):
    # With serve --threads N the counters come once per shard: the sums are what counts.
    text = open(args.log).read()
    rows = re.findall(r"tcp: segments in (\d+), out (\d+), retransmitted (\d+), resets sent (\d+), received (\d+), "
                      r"dropped (\d+), connections open (\d+)", text)
    check(rows, "utcp serve printed no tcp counters (is --verbose on and did it exit cleanly?)")
    tcp_c = {"resets_received": sum(int(r[4]) for r in rows), "dropped": sum(int(r[5]) for r in rows),
             "connections": sum(int(r[6]) for r in rows)}
    ip_drops = {}
    for line in re.findall(r"ip drops: (.*)", text):
        for k, v in re.findall(r"(\w+) (\d+)", line):
            ip_drops[k] = ip_drops.get(k, 0) + int(v)
    requests = len(re.findall(r"^http: GET ", text, re.M))
    log(f"utcp counters: tcp {tcp_c}, ip drops {ip_drops}, http requests {requests}")
    for line in open(args.expect):
        key, val = line.split()
        val = int(val)
        if key == "tcp_dropped_min":
            check(tcp_c["dropped"] >= val, f"tcp dropped {tcp_c['dropped']}, expected at least {val}")
        elif key == "resets_received":
            check(tcp_c["resets_received"] == val, f"resets received {tcp_c['resets_received']}, expected {val}")
        elif key == "connections_max":  # a bound per listener: one on each shard
            bound = val * len(rows)
            check(tcp_c["connections"] <= bound, f"{tcp_c['connections']} connections open at exit, bound {bound}")
        elif key == "http_requests":
            check(requests == val, f"utcp served {requests} requests, the client sent {val}")
        elif key.startswith("ip_drop:"):
            reason = key.split(":", 1)[1]
            check(ip_drops.get(reason, 0) >= val, f"ip drops {reason} {ip_drops.get(reason, 0)}, expected at least {val}")
        else:
            raise Failure(f"unknown expectation {key}")
    return 0


def main():
    import argparse
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("blind", "malformed"):
        p = sub.add_parser(name)
        p.add_argument("--dev", required=True)
        p.add_argument("--uip", required=True)
        p.add_argument("--kip", required=True)
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--root", required=True)
        p.add_argument("--rate", type=float, default=3 << 20, help="download rate cap, bytes/s")
        p.add_argument("--seed", type=int, default=1)
        p.add_argument("--rounds", type=int, default=100)
        p.add_argument("--expect", required=True)
    p = sub.add_parser("synflood")
    p.add_argument("--dev", required=True)
    p.add_argument("--uip", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--answered", required=True, help="a.b: a /16 the kernel owns (answers SYN-ACKs with RST)")
    p.add_argument("--blind", required=True, help="a.b: a /16 routed to the device, nobody there")
    p.add_argument("--syns", type=int, default=3000)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--burst", type=int, default=300, help="SYNs back to back in the answered flood")
    p.add_argument("--bytes", type=int, default=262144)
    p.add_argument("--blind-timeout", type=float, default=4.5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--expect", required=True)
    p = sub.add_parser("counters")
    p.add_argument("--log", required=True)
    p.add_argument("--expect", required=True)
    args = ap.parse_args()
    fn = {"blind": cmd_blind, "malformed": cmd_malformed, "synflood": cmd_synflood, "counters": cmd_counters}
    try:
        return fn[args.cmd](args)
    except Failure as e:
        log(f"FAIL: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
