#!/usr/bin/env python3
"""Checks a capture of one TCP connection between Linux and utcp (tcpdump on utcp's TUN
device) for SACK (RFC 2018) and timestamps (RFC 7323) in use by both sides.

Usage: tcp_options_check.py PCAP LINUX_IP UTCP_IP RECEIVER
RECEIVER is the side that received the data, "linux" or "utcp": its ACKs must carry SACK
blocks (the data sender's losses made holes). Checked:
  - the SYN and the SYN-ACK both carry SACK-permitted (option 4) and timestamps (option 8);
  - every later segment from either side (resets aside) carries a timestamp, and its TSecr is
    a TSval the other side sent in this capture (each side echoes the other's clock; 1 % may
    echo a segment tcpdump missed);
  - the receiver's ACKs carry SACK blocks (option 5): at least MIN_SACKED (default 3) of them.
Prints the counts; exits 1 with the reasons when a check fails, 2 on a usage or tshark error.
"""
import os
import subprocess
import sys

SACK_PERMITTED, SACK, TIMESTAMPS = 4, 5, 8


def packets(pcap):
    fields = ["ip.src", "ipv6.src", "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.reset", "tcp.len",
              "tcp.option_kind", "tcp.options.timestamp.tsval", "tcp.options.timestamp.tsecr"]
    cmd = ["tshark", "-r", pcap, "-Y", "tcp", "-T", "fields", "-E", "separator=\t"]
    for f in fields:
        cmd += ["-e", f]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        print(f"tshark failed: {res.stderr.strip()}", file=sys.stderr)
        sys.exit(2)
    for line in res.stdout.splitlines():
        v = line.split("\t")
        v += [""] * (len(fields) - len(v))
        kinds = {int(k) for k in v[6].split(",") if k}
        yield {
            "src": v[0] or v[1],
            "syn": v[2] in ("1", "True"),
            "ack": v[3] in ("1", "True"),
            "rst": v[4] in ("1", "True"),
            "len": int(v[5] or 0),
            "kinds": kinds,
            "tsval": int(v[7]) if v[7] else None,
            "tsecr": int(v[8]) if v[8] else None,
        }


def main():
    if len(sys.argv) != 5 or sys.argv[4] not in ("linux", "utcp"):
        print(__doc__, file=sys.stderr)
        return 2
    pcap, linux, utcp, receiver = sys.argv[1:]
    min_sacked = int(os.environ.get("MIN_SACKED", "3"))
    pkts = list(packets(pcap))
    fails = []
    names = {linux: "linux", utcp: "utcp"}
    tsvals = {linux: set(), utcp: set()}
    for p in pkts:
        if p["src"] in tsvals and p["tsval"] is not None:
            tsvals[p["src"]].add(p["tsval"])
    syn = [p for p in pkts if p["syn"] and not p["ack"]]
    synack = [p for p in pkts if p["syn"] and p["ack"]]
    if not syn or not synack:
        fails.append(f"no handshake in the capture ({len(syn)} SYN, {len(synack)} SYN-ACK)")
    for what, group in (("SYN", syn), ("SYN-ACK", synack)):
        for p in group:
            for kind, name in ((SACK_PERMITTED, "SACK-permitted"), (TIMESTAMPS, "timestamps")):
                if kind not in p["kinds"]:
                    fails.append(f"the {what} from {names.get(p['src'], p['src'])} has no {name} option")
    counts = {}
    for ip in (linux, utcp):
        other = utcp if ip == linux else linux
        later = [p for p in pkts if p["src"] == ip and not p["syn"] and not p["rst"]]
        no_ts = [p for p in later if p["tsval"] is None]
        echoed = [p for p in later if p["tsecr"] is not None and p["tsecr"] in tsvals[other]]
        sacked = [p for p in later if SACK in p["kinds"]]
        counts[names[ip]] = (len(later), len(no_ts), len(echoed), len(sacked))
        if not later:
            fails.append(f"no segment from {names[ip]} after the handshake")
        if no_ts:
            fails.append(f"{len(no_ts)} of {len(later)} segments from {names[ip]} carry no timestamp")
        # A segment tcpdump missed under load may be the only one with a TSval the other side
        # echoes: 1 % of the echoes may name a TSval not in the capture.
        stray = len(later) - len(no_ts) - len(echoed)
        if not echoed or stray > len(later) // 100:
            fails.append(f"{stray} of {len(later) - len(no_ts)} segments from {names[ip]} echo a TSecr "
                         f"that {names[other]} did not send")
    recv_ip = linux if receiver == "linux" else utcp
    n_sacked = counts[names[recv_ip]][3]
    if n_sacked < min_sacked:
        fails.append(f"{n_sacked} ACKs from {receiver} carry SACK blocks (want at least {min_sacked})")
    for who, (n, no_ts, echoed, sacked) in counts.items():
        print(f"{who}: {n} segments after the handshake, {n - no_ts} with timestamps, {echoed} echoing the "
              f"other side's TSval, {sacked} with SACK blocks")
    for f in fails:
        print(f"FAIL: {f}")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
