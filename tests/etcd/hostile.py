"""A server written to misbehave, run in a test's namespace: hostile HTTP and a mute resolver.

Started by tests/etcd/test_ledger_hostile.py with ``ip netns exec NS python3 hostile.py
IP SCENARIOS [DNS_IP]``. It listens on IP, ports 20001..20004, and for each connection reads
the SCENARIOS file (JSON: ``{"PORT": [raw response, ...]}`` with each response base64, or
``"silent"``): one raw response per request on that connection, sent byte for byte (broken
framing included), then it hangs up. With DNS_IP it also binds UDP DNS_IP:53 and reads
every query without ever answering. Prints ``ready`` once everything is bound.
"""

from __future__ import annotations

import base64
import json
import socket
import sys
import threading
import time

PORTS = (20001, 20002, 20003, 20004)


def read_request(conn: socket.socket) -> bool:
    """Read one HTTP request (headers and Content-Length body); False at end of stream."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        body += chunk
    return True


def serve(conn: socket.socket, scenarios: str, port: int) -> None:
    with conn:
        with open(scenarios) as f:
            plan = json.load(f).get(str(port), [])
        if plan == "silent":
            time.sleep(30)  # read nothing, answer nothing: the client's deadline ends it
            return
        for raw in plan:
            if not read_request(conn):
                return
            conn.sendall(base64.b64decode(raw))
        try:
            conn.shutdown(socket.SHUT_WR)
            conn.recv(65536)
        except OSError:
            pass


def listen(ip: str, port: int, scenarios: str) -> socket.socket:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip, port))
    s.listen(64)

    def accept() -> None:
        while True:
            conn, _ = s.accept()
            threading.Thread(target=serve, args=(conn, scenarios, port), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return s


def mute_resolver(ip: str) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((ip, 53))

    def swallow() -> None:
        while True:
            s.recvfrom(4096)  # and never a word back

    threading.Thread(target=swallow, daemon=True).start()
    return s


def main() -> None:
    ip, scenarios = sys.argv[1], sys.argv[2]
    keep = [listen(ip, port, scenarios) for port in PORTS]
    if len(sys.argv) > 3:
        keep.append(mute_resolver(sys.argv[3]))
    print("ready", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
