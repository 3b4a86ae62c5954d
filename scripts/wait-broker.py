#!/usr/bin/env python3
"""Waits until a Kafka-protocol broker answers a Metadata request (stdlib only, no client).

Usage: wait-broker.py HOST:PORT [TIMEOUT_SECONDS]
Exit 0 once the broker returned metadata with at least one broker, 1 on timeout.
"""
import socket
import struct
import sys
import time


def metadata_request(correlation_id: int) -> bytes:
    client_id = b"dsync-wait"
    # Metadata v1: topics = null (-1) means all topics.
    body = struct.pack(">hhih", 3, 1, correlation_id, len(client_id)) + client_id
    body += struct.pack(">i", -1)
    return struct.pack(">i", len(body)) + body


def recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return buf


def probe(host: str, port: int) -> int:
    with socket.create_connection((host, port), timeout=3) as s:
        s.settimeout(3)
        s.sendall(metadata_request(7))
        (size,) = struct.unpack(">i", recv_exact(s, 4))
        payload = recv_exact(s, size)
        (corr,) = struct.unpack(">i", payload[:4])
        if corr != 7:
            raise ValueError("unexpected correlation id")
        (brokers,) = struct.unpack(">i", payload[4:8])
        return brokers


def main() -> int:
    target = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:9092"
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 60
    host, port = target.rsplit(":", 1)
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            if probe(host, int(port)) >= 1:
                return 0
            last = "no brokers in metadata"
        except Exception as e:  # noqa: BLE001 - any failure means "not yet"
            last = e
        time.sleep(0.2)
    print(f"broker at {target} did not answer metadata within {timeout}s: {last}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
