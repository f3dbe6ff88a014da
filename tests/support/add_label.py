"""Add an IPv4 address with a label as keepalived does (run inside a test's namespace).

The kernel accepts any label; iproute2's `ip addr add ... label X` insists that X begin
with the device's name, so the test needs its own RTM_NEWADDR. Usage: add_label.py ADDR LABEL
"""

from __future__ import annotations

import os
import socket
import struct
import sys


def _add_labelled_address(address: str, label: str) -> None:
    """RTM_NEWADDR as keepalived sends it: the kernel takes any label; iproute2 would not."""
    index = socket.if_nametoindex("eth0")
    packed = socket.inet_aton(address)

    def attr(kind: int, value: bytes) -> bytes:
        raw = struct.pack("=HH", 4 + len(value), kind) + value
        return raw + b"\0" * (-len(raw) % 4)

    body = struct.pack("=BBBBI", socket.AF_INET, 32, 0, 0, index)
    body += attr(1, packed) + attr(2, packed) + attr(3, label.encode() + b"\0")
    # RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE
    msg = struct.pack("=IHHII", 16 + len(body), 20, 0x1 | 0x4 | 0x200 | 0x400, 1, 0) + body
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    sock.sendto(msg, (0, 0))
    reply = sock.recv(65536)
    sock.close()
    error = struct.unpack_from("=i", reply, 16)[0]
    if error:
        raise OSError(-error, os.strerror(-error))


if __name__ == "__main__":
    _add_labelled_address(sys.argv[1], sys.argv[2])
