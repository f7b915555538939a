#!/usr/bin/env python3
"""Linux-side peers for the interop tests (run inside the test's namespace)."""
import hashlib
import os
import socket
import struct
import sys
import threading
import time


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def connect(host, port, timeout=120):
    s = socket.socket(family(host), socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, port))
    return s


def cmd_wait(host, port, seconds):
    """Waits until host:port accepts a connection."""
    end = time.time() + float(seconds)
    while time.time() < end:
        try:
            s = connect(host, int(port), timeout=1)
            s.close()
            return 0
        except OSError:
            time.sleep(0.1)
    return 1


def pattern(n, seed):
    """n deterministic pseudo-random bytes."""
    out = bytearray()
    h = hashlib.sha256(str(seed).encode()).digest()
    block = hashlib.sha256(h).digest() * 2048  # 64 KiB
    while len(out) < n:
        out += block
        block = block[1:] + block[:1]
    return bytes(out[:n])


def cmd_discard(host, port, nbytes):
    """Sends n bytes to a discard server, half-closes, waits for its close."""
    n = int(nbytes)
    data = pattern(min(n, 1 << 20), 1)
    s = connect(host, int(port))
    t0 = time.time()
    sent = 0
    while sent < n:
        k = min(len(data), n - sent)
        s.sendall(data[:k])
        sent += k
    s.shutdown(socket.SHUT_WR)
    if s.recv(1) != b"":
        print("discard server sent data", file=sys.stderr)
        return 1
    dt = time.time() - t0
    s.close()
    print(f"discard: {n} bytes in {dt:.2f} s, {n / dt / 1048576:.1f} MiB/s")
    return 0


def cmd_echo(host, port, nbytes):
    """Sends n bytes to an echo server while reading them back; compares digests."""
    n = int(nbytes)
    data = pattern(min(n, 1 << 20), 2)
    s = connect(host, int(port))
    sent_hash = hashlib.sha256()
    err = []

    def sender():
        try:
            sent = 0
            while sent < n:
                k = min(len(data), n - sent)
                s.sendall(data[:k])
                sent_hash.update(data[:k])
                sent += k
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            err.append(e)

    t0 = time.time()
    th = threading.Thread(target=sender)
    th.start()
    got = hashlib.sha256()
    total = 0
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        got.update(b)
        total += len(b)
    th.join()
    dt = time.time() - t0
    s.close()
    if err:
        print(f"echo: send failed: {err[0]}", file=sys.stderr)
        return 1
    if total != n or got.digest() != sent_hash.digest():
        print(f"echo: got {total} of {n} bytes, digest match {got.digest() == sent_hash.digest()}",
              file=sys.stderr)
        return 1
    print(f"echo: {n} bytes each way in {dt:.2f} s, {n / dt / 1048576:.1f} MiB/s")
    return 0


def serve_one(bind_host, port, handler):
    ls = socket.socket(family(bind_host), socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((bind_host, int(port)))
    ls.listen(16)
    print("listening", flush=True)
    c, _ = ls.accept()
    ls.close()
    c.settimeout(120)
    return handler(c)


def cmd_sink(bind_host, port, out_path):
    """Accepts one connection, stores everything it receives, closes at its end."""
    def handler(c):
        with open(out_path, "wb") as f:
            while True:
                b = c.recv(1 << 20)
                if not b:
                    break
                f.write(b)
        c.close()
        return 0
    return serve_one(bind_host, port, handler)


def cmd_source(bind_host, port, in_path):
    """Accepts one connection, sends a file, closes."""
    def handler(c):
        with open(in_path, "rb") as f:
            while True:
                b = f.read(1 << 20)
                if not b:
                    break
                c.sendall(b)
        c.shutdown(socket.SHUT_WR)
        while c.recv(1 << 16):
            pass
        c.close()
        return 0
    return serve_one(bind_host, port, handler)


def cmd_rst_server(bind_host, port):
    """Accepts one connection, reads a little, then closes abortively (RST)."""
    def handler(c):
        c.recv(1)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
        return 0
    return serve_one(bind_host, port, handler)


def cmd_expect_rst_server(bind_host, port):
    """Accepts one connection and reads until it is reset; fails on a clean close."""
    def handler(c):
        try:
            while c.recv(1 << 16):
                pass
        except ConnectionResetError:
            print("reset seen")
            return 0
        print("connection closed cleanly, expected a reset", file=sys.stderr)
        return 1
    return serve_one(bind_host, port, handler)


def cmd_expect_rst_client(host, port):
    """Connects to an echo server, sends data, expects the server to reset it."""
    s = connect(host, int(port))
    try:
        s.sendall(b"x" * 1000)
        while s.recv(1 << 16):
            pass
    except ConnectionResetError:
        print("reset seen")
        return 0
    print("connection closed cleanly, expected a reset", file=sys.stderr)
    return 1


def cmd_abort_client(host, port):
    """Connects, sends, then resets the connection (SO_LINGER 0)."""
    s = connect(host, int(port))
    s.sendall(b"hello")
    time.sleep(0.2)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    return 0


def cmd_refused(host, port):
    """A connection to a closed port must be refused at once."""
    t0 = time.time()
    try:
        s = connect(host, int(port), timeout=5)
        s.close()
        print("connected to a port nobody listens on", file=sys.stderr)
        return 1
    except ConnectionRefusedError:
        dt = time.time() - t0
        print(f"refused in {dt * 1000:.1f} ms")
        return 0 if dt < 1.0 else 1
    except OSError as e:
        print(f"expected ECONNREFUSED, got {e}", file=sys.stderr)
        return 1


def cmd_concurrent(host, port, count, nbytes):
    """count simultaneous echo connections of n bytes each; all must come back intact."""
    count, n = int(count), int(nbytes)
    socks = []
    for _ in range(count):
        socks.append(connect(host, int(port), timeout=60))
    errors = []

    def run(i, s):
        data = pattern(n, 100 + i)
        try:
            th = threading.Thread(target=lambda: (s.sendall(data), s.shutdown(socket.SHUT_WR)))
            th.start()
            got = bytearray()
            while True:
                b = s.recv(1 << 16)
                if not b:
                    break
                got += b
            th.join()
            if bytes(got) != data:
                errors.append(f"connection {i}: got {len(got)} of {n} bytes or wrong data")
        except OSError as e:
            errors.append(f"connection {i}: {e}")
        finally:
            s.close()

    t0 = time.time()
    threads = [threading.Thread(target=run, args=(i, s)) for i, s in enumerate(socks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt = time.time() - t0
    for e in errors[:10]:
        print(e, file=sys.stderr)
    print(f"concurrent: {count} connections x {n} bytes echoed, {len(errors)} failed, {dt:.2f} s")
    return 1 if errors else 0


COMMANDS = {
    "wait": cmd_wait, "discard": cmd_discard, "echo": cmd_echo, "sink": cmd_sink,
    "source": cmd_source, "rst-server": cmd_rst_server, "expect-rst-server": cmd_expect_rst_server,
    "expect-rst-client": cmd_expect_rst_client, "abort-client": cmd_abort_client,
    "refused": cmd_refused, "concurrent": cmd_concurrent,
}

if __name__ == "__main__":
    sys.exit(COMMANDS[sys.argv[1]](*sys.argv[2:]))
