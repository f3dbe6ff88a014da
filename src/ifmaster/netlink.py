"""Linux rtnetlink, just enough for if-master: dump addresses, age them, watch for changes.

Only the C modules ``_socket`` and ``struct`` are used: ``socket`` builds its enums at import
time and pyroute2 takes hundreds of milliseconds to import, for what is a few ``struct`` calls.
Constants come from linux/netlink.h, linux/rtnetlink.h and linux/if_addr.h (stable kernel ABI).
"""

from __future__ import annotations

import _socket
import errno
import time
from _struct import Struct  # not `struct`: its wrapper module is import time for nothing

# Socket: AF_NETLINK (linux/socket.h), SOCK_RAW, and the routing family NETLINK_ROUTE.
AF_NETLINK = 16
NETLINK_ROUTE = 0
_SOCK_RAW = 3
_SOCK_CLOEXEC = 0o2000000  # O_CLOEXEC: no leak of the socket into the command we run
_SOCK_NONBLOCK = 0o4000  # O_NONBLOCK, for the event socket drained without waiting
_MSG_TRUNC = 0x20  # recv returns the datagram's real length, so truncation is detectable
AF_UNSPEC = 0
AF_INET = 2
AF_INET6 = 10

# struct nlmsghdr { u32 nlmsg_len; u16 nlmsg_type; u16 nlmsg_flags; u32 nlmsg_seq; u32 nlmsg_pid; }
_NLMSGHDR = Struct("=IHHII")
# struct ifaddrmsg { u8 ifa_family, ifa_prefixlen, ifa_flags, ifa_scope; u32 ifa_index; }
_IFADDRMSG = Struct("=BBBBI")
# struct rtattr { u16 rta_len; u16 rta_type; }, payload follows, padded to 4 bytes
_RTATTR = Struct("=HH")
# struct ifa_cacheinfo { u32 ifa_prefered, ifa_valid, cstamp, tstamp; }
_CACHEINFO = Struct("=IIII")
# struct ifinfomsg { u8 ifi_family, pad; u16 ifi_type; i32 ifi_index; u32 ifi_flags, ifi_change; }
_IFINFOMSG = Struct("=BxHiII")
_U32 = Struct("=I")
# What every message of a dump reply repeats at byte 8 of its header: our request's
# nlmsg_seq and our socket's port id (nlmsg_put_answer(), inet_fill_ifaddr()).
_ECHO = Struct("=II")
_S32 = Struct("=i")  # the errno in NLMSG_ERROR / NLMSG_DONE payloads is a signed int

# Control message types (linux/netlink.h).
NLMSG_NOOP = 1
NLMSG_ERROR = 2  # payload: int error (negative errno, 0 = ACK) + the request's header
NLMSG_DONE = 3  # ends a multi-part dump; payload: int error (0 unless the dump failed)
NLMSG_OVERRUN = 4

# nlmsg_flags (linux/netlink.h).
NLM_F_REQUEST = 0x1
NLM_F_MULTI = 0x2  # part of a multi-part reply, ended by NLMSG_DONE
NLM_F_DUMP_INTR = 0x10  # the dump raced with a change: its content may be inconsistent
NLM_F_ROOT = 0x100
NLM_F_MATCH = 0x200
NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH

# Message types (linux/rtnetlink.h).
RTM_NEWLINK = 16
RTM_DELLINK = 17
RTM_NEWADDR = 20
RTM_DELADDR = 21
RTM_GETADDR = 22
RTM_GETLINK = 18

# Multicast groups, as the legacy bit mask given to bind() (linux/rtnetlink.h).
RTMGRP_LINK = 0x1
RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV6_IFADDR = 0x100

# Address attributes (linux/if_addr.h).
IFA_ADDRESS = 1  # the address; but the peer's on point-to-point ("peer") addresses
IFA_LOCAL = 2  # the local address: always for IPv4, for IPv6 only when a peer is set
IFA_LABEL = 3  # IPv4 label, "eth0:vip", NUL-terminated
IFA_CACHEINFO = 6  # struct ifa_cacheinfo
IFA_FLAGS = 8  # u32 flags; ifaddrmsg.ifa_flags only holds the low 8 bits

# Link attributes (linux/if_link.h) and the filter that leaves the statistics out of replies.
IFLA_IFNAME = 3
IFLA_OPERSTATE = 16  # u8: IF_OPER_* (linux/if.h)
IFLA_EXT_MASK = 29
RTEXT_FILTER_SKIP_STATS = 1 << 3
#: RFC 2863 operational states, as IFLA_OPERSTATE numbers them (linux/if.h).
OPERSTATES = ("unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up")
# Interface flags (linux/if.h). IFF_LOWER_UP is the carrier, set at once by the driver, where
# operstate follows through linkwatch up to a second later.
IFF_UP = 0x1
IFF_LOOPBACK = 0x8
IFF_LOWER_UP = 0x10000

# Address flags (linux/if_addr.h); TENTATIVE and DADFAILED, which decide() uses, live in
# model.py.
IFA_F_SECONDARY = 0x01
IFA_F_NODAD = 0x02
IFA_F_DEPRECATED = 0x20
IFA_F_PERMANENT = 0x80

_RECV_SIZE = 65536  # the kernel caps dump datagrams at 32 KiB; MSG_TRUNC catches the rest
_DUMP_TRIES = 5
_WRAP = 1 << 32
# A cstamp up to this far "in the future" is clock skew, not a 497-day-old address (see below).
_FUTURE_SLACK_CS = 6000


class NetlinkError(OSError):
    """The kernel answered with an error, or sent something we cannot parse."""


class DumpInterrupted(NetlinkError):
    """A dump raced with an address change (NLM_F_DUMP_INTR): dump again."""


class Overflow(NetlinkError):
    """Events were lost (ENOBUFS): the stream cannot be trusted, dump the state again."""


class AddrInfo:
    """One interface address, as RTM_NEWADDR describes it."""

    __slots__ = (
        "ifindex",
        "family",
        "prefixlen",
        "flags",
        "scope",
        "address",
        "label",
        "cstamp",
        "tstamp",
    )

    def __init__(
        self,
        ifindex: int,
        family: int,
        prefixlen: int,
        flags: int,
        scope: int,
        address: bytes,
        label: str | None = None,
        cstamp: int | None = None,
        tstamp: int | None = None,
    ) -> None:
        self.ifindex = ifindex
        self.family = family  # AF_INET (2) or AF_INET6 (10)
        self.prefixlen = prefixlen
        self.flags = flags  # IFA_F_* bits, all 32 of them
        self.scope = scope  # RT_SCOPE_*: 0 universe, 200 site, 253 link, 254 host
        self.address = address  # packed: 4 or 16 bytes
        self.label = label
        self.cstamp = cstamp  # creation, hundredths of a second since boot (u32, wraps)
        self.tstamp = tstamp  # last update, same unit

    @property
    def text(self) -> str:
        """The address in its usual text form (``10.0.0.100``, ``fd00::1``)."""
        return _socket.inet_ntop(self.family, self.address)

    def _key(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AddrInfo):
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"AddrInfo({fields})"


def _messages(data: bytes | bytearray | memoryview) -> list[tuple[int, int, int, int]]:
    """Split into (type, flags, payload start, payload end); raise on a malformed buffer."""
    out = []
    pos = 0
    size = len(data)
    while pos < size:
        if size - pos < _NLMSGHDR.size:
            raise NetlinkError(errno.EBADMSG, f"truncated netlink header at byte {pos}")
        length, mtype, flags, _seq, _pid = _NLMSGHDR.unpack_from(data, pos)
        if length < _NLMSGHDR.size or length > size - pos:
            raise NetlinkError(errno.EBADMSG, f"bad netlink message length {length} at byte {pos}")
        out.append((mtype, flags, pos + _NLMSGHDR.size, pos + length))
        pos += (length + 3) & ~3  # NLMSG_ALIGN
    return out


def _parse_addr(data: bytes | bytearray | memoryview, start: int, end: int) -> AddrInfo:
    """Decode one RTM_NEWADDR/RTM_DELADDR payload (ifaddrmsg + attributes)."""
    if end - start < _IFADDRMSG.size:
        raise NetlinkError(errno.EBADMSG, "truncated ifaddrmsg")
    family, prefixlen, flags, scope, ifindex = _IFADDRMSG.unpack_from(data, start)
    address = local = label = cstamp = tstamp = None
    pos = start + _IFADDRMSG.size
    unpack = _RTATTR.unpack_from
    # Only the attributes used are copied out: --explain decodes every address of the host.
    while end - pos >= 4:
        rta_len, rta_type = unpack(data, pos)
        if rta_len < 4 or rta_len > end - pos:
            raise NetlinkError(errno.EBADMSG, f"bad attribute length {rta_len}")
        if rta_type == IFA_ADDRESS:
            address = bytes(data[pos + 4 : pos + rta_len])
        elif rta_type == IFA_LOCAL:
            local = bytes(data[pos + 4 : pos + rta_len])
        elif rta_type == IFA_LABEL:
            value = bytes(data[pos + 4 : pos + rta_len])
            label = value.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        elif rta_type == IFA_FLAGS and rta_len >= 8:
            flags |= _U32.unpack_from(data, pos + 4)[0]
        elif rta_type == IFA_CACHEINFO and rta_len >= 4 + _CACHEINFO.size:
            _prefered, _valid, cstamp, tstamp = _CACHEINFO.unpack_from(data, pos + 4)
        pos += (rta_len + 3) & ~3  # RTA_ALIGN
    # With a peer, IFA_ADDRESS is the peer and IFA_LOCAL ours: for IPv4 and (checked on Linux
    # 6.x, net/ipv6/addrconf.c inet6_fill_ifaddr) for IPv6 alike. Without one IPv6 sends no LOCAL.
    if local is not None:
        address = local
    if address is None:
        raise NetlinkError(errno.EBADMSG, "address message without IFA_ADDRESS/IFA_LOCAL")
    return AddrInfo(ifindex, family, prefixlen, flags, scope, address, label, cstamp, tstamp)


def _check_error(data: bytes | bytearray | memoryview, start: int, end: int, what: str) -> None:
    """Raise NetlinkError when an NLMSG_ERROR/NLMSG_DONE payload carries a negative errno."""
    if end - start < _S32.size:
        if what == "NLMSG_DONE":  # old kernels may send an empty DONE
            return
        raise NetlinkError(errno.EBADMSG, f"truncated {what}")
    code = -_S32.unpack_from(data, start)[0]
    if code:
        raise NetlinkError(code, f"rtnetlink address dump failed ({what}): {_strerror(code)}")


def _strerror(code: int) -> str:
    import os  # only on the error path; os is loaded at start-up anyway

    return os.strerror(code)


def parse_messages(
    data: bytes | bytearray | memoryview,
    wanted: frozenset[bytes] | None = None,
    echo: bytes | None = None,
    first_only: bool = False,
) -> tuple[list[AddrInfo], bool]:
    """Parse one datagram of a RTM_GETADDR dump: (addresses, whether NLMSG_DONE was seen).

    With ``wanted`` (packed addresses), only those addresses are decoded: the datagram is
    searched for their bytes first, and messages without a hit are only stepped over, so a
    host with 50,000 addresses costs a header walk, not 50,000 decodes. With ``echo`` too
    (the seq and port id the dump's headers repeat, see ``_plain``), a datagram without a
    hit that holds only plain address messages is not walked at all; ``first_only``: the
    kernel flags an interrupted dump only where ``_plain`` looks then (``flags_first_only``).

    Raises NetlinkError on NLMSG_ERROR with a non-zero error or on malformed input, and
    DumpInterrupted when the kernel flags the dump as inconsistent.
    """
    raw = bytes(data)
    if wanted is None:
        return _parse_all(raw)
    hits: list[int] = []
    for w in wanted:
        at = raw.find(w)
        while at != -1:
            hits.append(at)
            at = raw.find(w, at + 1)
    if not hits and echo is not None and _plain(raw, echo, first_only):
        return [], False
    hits.sort()
    # The header walk, inlined: only datagrams with a hit (or not plain) get here.
    addrs: list[AddrInfo] = []
    unpack = _NLMSGHDR.unpack_from
    size = len(raw)
    pos = 0
    while pos < size:
        if size - pos < _NLMSGHDR.size:
            raise NetlinkError(errno.EBADMSG, f"truncated netlink header at byte {pos}")
        length, mtype, flags, _seq, _pid = unpack(raw, pos)
        if length < _NLMSGHDR.size or length > size - pos:
            raise NetlinkError(errno.EBADMSG, f"bad netlink message length {length} at byte {pos}")
        end = pos + length
        if flags & NLM_F_DUMP_INTR:
            raise DumpInterrupted(errno.EAGAIN, "address dump interrupted by a change")
        if mtype == RTM_NEWADDR:
            while hits and hits[0] < pos:
                del hits[0]
            if hits and hits[0] < end:  # a candidate: decode it, keep it if it really is one
                a = _parse_addr(raw, pos + _NLMSGHDR.size, end)
                if a.address in wanted:
                    addrs.append(a)
        elif mtype in _CONTROL:
            done = _control(raw, mtype, pos + _NLMSGHDR.size, end)
            if done:
                return addrs, True
        pos += (length + 3) & ~3  # NLMSG_ALIGN
    return addrs, False


_CONTROL = frozenset((NLMSG_DONE, NLMSG_ERROR, NLMSG_OVERRUN))
# The type and flags of a plain message in the middle of an address dump: an address, part
# of a multi-part reply, nothing else (no NLM_F_DUMP_INTR, not a control message).
_PLAIN_ADDR = Struct("=HH").pack(RTM_NEWADDR, NLM_F_MULTI)


def _plain(raw: bytes, echo: bytes, first_only: bool = False) -> bool:
    """True only if every message in ``raw`` is an RTM_NEWADDR flagged NLM_F_MULTI alone.

    Such a datagram without the VIP's bytes tells a plain run nothing: it holds no copy of
    the VIP, does not end the dump, reports no error and no interruption, so it need not be
    walked. Found at the speed of a byte search, not of a loop over 400 headers.

    Why NLMSG_DONE alone is not enough: nl_dump_check_consistent() (include/net/netlink.h)
    sets NLM_F_DUMP_INTR on the message being added when the dump's generation (cb->seq,
    which the dump callback reads) differs from the one seen at the previous message, then
    records it as seen. A change noticed mid-dump flags the first message after it, and not
    the later ones nor the NLMSG_DONE that netlink_dump_done() checks the same way; that
    message is often in a datagram without the VIP, precisely when the change made the dump
    skip it. So every datagram is checked, in one of two ways:

    ``first_only`` (Linux 6.9 and later, see ``flags_first_only``): netlink_dump() calls the
    dump callback once per datagram, and inet_dump_ifaddr() and inet6_dump_addr() read
    cb->seq once per call, so only the first message of a datagram, or the NLMSG_DONE, can
    carry the flag. The first header is checked, and a datagram ending in what could be an
    NLMSG_DONE (always 20 bytes: the socket never asks for NETLINK_EXT_ACK) is walked.

    Otherwise (older kernels read cb->seq again at each bucket of the device hash, so any
    message can be flagged), by counting: every message of our dump carries ``echo`` (seq,
    port id) at byte 8 of its header, and ``echo`` cannot overlap itself (``_no_border``),
    so ``raw.count(echo)`` counts every header once, plus any chance copies in payloads. A
    plain header is preceded by ``_PLAIN_ADDR``, any other one (an address flagged
    NLM_F_DUMP_INTR, NLMSG_DONE, an error) is not, so ``count(echo) >= count(_PLAIN_ADDR +
    echo) + (headers that are not plain)``, and equality proves there are none. A chance
    copy can only make the counts differ: a walk, never a wrong answer.

    Either way the first header must be a plain one of ours: a kernel that answered with
    other values in the headers gets the full walk, always.
    """
    if raw[4:16] != _PLAIN_ADDR + echo:
        return False
    if first_only:
        tail = len(raw) - _DONE_SIZE
        return tail < 0 or raw[tail : tail + len(_DONE_START)] != _DONE_START
    return raw.count(_PLAIN_ADDR + echo) == raw.count(echo)


_DONE_SIZE = 20  # NLMSG_DONE: the header and its int error
_DONE_START = Struct("=IH").pack(_DONE_SIZE, NLMSG_DONE)  # its nlmsg_len and nlmsg_type


def flags_first_only(release: str) -> bool:
    """Whether a kernel of this ``uname -r`` flags NLM_F_DUMP_INTR in an address dump only
    on the first message of a datagram or on NLMSG_DONE: 6.9 and later.

    Since "inet: use xa_array iterator to implement inet_dump_ifaddr()" (cdb2f80f1c10,
    6.9), inet_dump_ifaddr() reads cb->seq once per call, as inet6_dump_addr() already did;
    before, it read it again at each of the device hash's buckets. Anything unparsable: no.
    """
    try:
        major, minor = (int(part) for part in release.split("-")[0].split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (6, 9)


def _no_border(echo: bytes) -> bool:
    """True when no proper prefix of ``echo`` is also its suffix: copies cannot overlap."""
    return all(echo[:k] != echo[-k:] for k in range(1, len(echo)))


def _control(raw: bytes, mtype: int, start: int, end: int) -> bool:
    """Handle a control message of a dump; True when it ends the dump."""
    if mtype == NLMSG_DONE:
        _check_error(raw, start, end, "NLMSG_DONE")
        return True
    if mtype == NLMSG_ERROR:
        _check_error(raw, start, end, "NLMSG_ERROR")
        return False
    raise NetlinkError(errno.ENOBUFS, "netlink overrun")


def _parse_all(raw: bytes) -> tuple[list[AddrInfo], bool]:
    addrs: list[AddrInfo] = []
    for mtype, flags, start, end in _messages(raw):
        if flags & NLM_F_DUMP_INTR:
            raise DumpInterrupted(errno.EAGAIN, "address dump interrupted by a change")
        if mtype == RTM_NEWADDR:
            addrs.append(_parse_addr(raw, start, end))
        elif mtype in _CONTROL and _control(raw, mtype, start, end):
            return addrs, True
    return addrs, False


class LinkInfo:
    """One network device, as RTM_NEWLINK describes it."""

    __slots__ = ("flags", "index", "name", "operstate")

    def __init__(self, *, index: int, name: str, flags: int, operstate: int) -> None:
        self.index = index
        self.name = name
        self.flags = flags  # IFF_* bits, IFF_LOWER_UP (carrier) included
        self.operstate = operstate  # IF_OPER_*: see OPERSTATES

    def __repr__(self) -> str:
        return f"LinkInfo({self.index}, {self.name!r}, flags={self.flags:#x}, {self.operstate})"


def _parse_link(data: bytes, start: int, end: int) -> LinkInfo:
    """Decode the parts of one RTM_NEWLINK payload that decide() uses."""
    if end - start < _IFINFOMSG.size:
        raise NetlinkError(errno.EBADMSG, "truncated ifinfomsg")
    _family, _type, index, flags, _change = _IFINFOMSG.unpack_from(data, start)
    name = None
    operstate = 0  # IF_OPER_UNKNOWN, what a driver that never reports one gets
    pos = start + _IFINFOMSG.size
    while end - pos >= _RTATTR.size:
        rta_len, rta_type = _RTATTR.unpack_from(data, pos)
        if rta_len < _RTATTR.size or rta_len > end - pos:
            raise NetlinkError(errno.EBADMSG, f"bad attribute length {rta_len}")
        if rta_type == IFLA_IFNAME:
            value = data[pos + _RTATTR.size : pos + rta_len].split(b"\0", 1)[0]
            name = value.decode("utf-8", "surrogateescape")
        elif rta_type == IFLA_OPERSTATE and rta_len > _RTATTR.size:
            operstate = data[pos + _RTATTR.size]
        pos += (rta_len + 3) & ~3
    if name is None:
        raise NetlinkError(errno.EBADMSG, f"link {index} without IFLA_IFNAME")
    return LinkInfo(index=index, name=name, flags=flags, operstate=operstate)


def parse_links(data: bytes | bytearray | memoryview) -> tuple[list[LinkInfo], bool]:
    """Parse one datagram of RTM_GETLINK replies: (links, whether the exchange is over).

    A dump ends with NLMSG_DONE; a request for one link with its RTM_NEWLINK. ENODEV (no
    such link) ends it with no link; any other error raises NetlinkError.
    """
    raw = bytes(data)
    links: list[LinkInfo] = []
    for mtype, flags, start, end in _messages(raw):
        if flags & NLM_F_DUMP_INTR:
            raise DumpInterrupted(errno.EAGAIN, "link dump interrupted by a change")
        if mtype == RTM_NEWLINK:
            links.append(_parse_link(raw, start, end))
            if not flags & NLM_F_MULTI:
                return links, True
        elif mtype == NLMSG_DONE:
            _check_error(raw, start, end, "NLMSG_DONE")
            return links, True
        elif mtype == NLMSG_ERROR:
            try:
                _check_error(raw, start, end, "NLMSG_ERROR")
            except NetlinkError as e:
                if e.errno != errno.ENODEV:
                    raise
            return links, True
        elif mtype == NLMSG_OVERRUN:
            raise NetlinkError(errno.ENOBUFS, "netlink overrun")
    return links, False


def _open(groups: int = 0, flags: int = 0) -> _socket.socket:
    sock = _socket.socket(AF_NETLINK, _SOCK_RAW | _SOCK_CLOEXEC | flags, NETLINK_ROUTE)
    try:
        sock.bind((0, groups))  # port id 0: the kernel picks a unique one
    except BaseException:
        sock.close()
        raise
    return sock


def _recv(sock: _socket.socket, buf: bytearray) -> memoryview:
    n = sock.recv_into(buf, len(buf), _MSG_TRUNC)
    if n > len(buf):
        raise NetlinkError(errno.EMSGSIZE, f"netlink datagram of {n} bytes truncated")
    return memoryview(buf)[:n]


def _attr(rta_type: int, payload: bytes) -> bytes:
    size = _RTATTR.size + len(payload)
    return _RTATTR.pack(size, rta_type) + payload + bytes(-size % 4)


class Session:
    """One netlink socket for the few requests of one snapshot (fewer syscalls than one each).

    Use as a context manager.
    """

    def __init__(self) -> None:
        self._sock = _open()
        self._buf = bytearray(_RECV_SIZE)
        self._seq = 0
        try:
            self._port: int = self._sock.getsockname()[0]  # the kernel's pick at bind()
        except BaseException:
            self._sock.close()
            raise
        import os  # loaded at start-up anyway

        self._first_only = flags_first_only(os.uname().release)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._sock.close()

    def _send(self, mtype: int, flags: int, body: bytes) -> bytes:
        """Send one request; return the (seq, port id) its replies repeat (``_ECHO``).

        The seq is the next one whose echo cannot overlap itself, which ``_plain`` needs.
        """
        self._seq += 1
        while not _no_border(_ECHO.pack(self._seq, self._port)):
            self._seq += 1
        header = _NLMSGHDR.pack(
            _NLMSGHDR.size + len(body), mtype, NLM_F_REQUEST | flags, self._seq, 0
        )
        self._sock.sendto(header + body, (0, 0))  # to the kernel: port 0, no group
        return _ECHO.pack(self._seq, self._port)

    def addresses(
        self, family: int = AF_UNSPEC, wanted: frozenset[bytes] | None = None
    ) -> list[AddrInfo]:
        """Every address of ``family`` (AF_UNSPEC: both), or only those in ``wanted``.

        Raises DumpInterrupted if the dump raced with a change: the caller dumps again.
        """
        echo = self._send(RTM_GETADDR, NLM_F_DUMP, _IFADDRMSG.pack(family, 0, 0, 0, 0))
        out: list[AddrInfo] = []
        # Each recv() returns one whole datagram (MSG_TRUNC would tell), and the kernel
        # only ever puts whole messages into one: netlink_dump() fills an skb by calling
        # the dump callback, which cancels (nlmsg_cancel) a message that does not fit and
        # starts the next skb with it. So an address, VIP or not, never spans two
        # datagrams: one without the VIP's bytes holds no copy of it.
        while True:
            data = _recv(self._sock, self._buf)
            part, done = parse_messages(data, wanted, echo, self._first_only)
            out.extend(part)
            if done:
                return out

    def links(self, index: int | None = None, name: str | None = None) -> list[LinkInfo]:
        """Every link (no argument), or the one with this index or name ([] if none)."""
        skip_stats = _attr(IFLA_EXT_MASK, _U32.pack(RTEXT_FILTER_SKIP_STATS))
        if index is None and name is None:
            self._send(RTM_GETLINK, NLM_F_DUMP, _IFINFOMSG.pack(AF_UNSPEC, 0, 0, 0, 0) + skip_stats)
        else:
            body = _IFINFOMSG.pack(AF_UNSPEC, 0, index or 0, 0, 0) + skip_stats
            if name is not None:
                body += _attr(IFLA_IFNAME, name.encode("utf-8", "surrogateescape") + b"\0")
            self._send(RTM_GETLINK, 0, body)
        out: list[LinkInfo] = []
        while True:
            part, done = parse_links(_recv(self._sock, self._buf))
            out.extend(part)
            if done:
                return out


def dump_addresses() -> list[AddrInfo]:
    """Every IPv4 and IPv6 address of every interface in this network namespace."""
    for _ in range(_DUMP_TRIES - 1):
        try:
            with Session() as s:
                return s.addresses()
        except DumpInterrupted:
            continue  # addresses changed mid-dump: a fresh dump is consistent again
    with Session() as s:
        return s.addresses()


def now_centiseconds() -> int:
    """The host's CLOCK_MONOTONIC in hundredths of a second: the clock cstamp follows.

    cstamp is the kernel's own uptime; inside a time namespace CLOCK_MONOTONIC is shifted by
    the namespace's offset, which would make every address look older (or younger) by it.
    """
    return int((time.clock_gettime(time.CLOCK_MONOTONIC) - _timens_offset()) * 100)


def _timens_offset(proc: str = "/proc") -> float:
    """This process's time-namespace offset of CLOCK_MONOTONIC, in seconds (0 outside one)."""
    try:
        with open(f"{proc}/self/timens_offsets", "rb") as f:
            lines = f.read().decode().splitlines()
    except FileNotFoundError:  # kernels before 5.6 have no time namespaces
        return 0.0
    for line in lines:
        fields = line.split()
        if fields and fields[0] in ("monotonic", "1"):  # CLOCK_MONOTONIC is clock id 1
            return int(fields[1]) + int(fields[2]) / 1e9
    return 0.0


def age_seconds(cstamp: int, now_cs: int) -> float | None:
    """Seconds since ``cstamp`` (centiseconds since boot, u32) at ``now_cs``; None if unknowable.

    Modulo 2**32 because cstamp wraps after ~497 days. The kernel's jiffies-based stamp and
    CLOCK_MONOTONIC can disagree slightly; a stamp just "ahead" of now would otherwise read as
    497 days old, so up to a minute ahead counts as age 0 (errs towards "just added"). Before
    the first wrap a stamp further ahead cannot be right: None, so the VIP does not count.
    """
    if now_cs < _WRAP and cstamp > now_cs + _FUTURE_SLACK_CS:
        return None
    delta = (now_cs - cstamp) % _WRAP
    if delta > _WRAP - _FUTURE_SLACK_CS:
        return 0.0
    return delta / 100


# struct ifinfomsg { u8 ifi_family, pad; u16 ifi_type; s32 ifi_index; u32 ifi_flags, ifi_change; }
_IFINDEX_AT = 4  # offset of ifi_index in ifinfomsg; ifaddrmsg's ifa_index is also at 4
_SOL_SOCKET = 1
_SO_RCVBUF = 8
_SO_RCVBUFFORCE = 33  # root (CAP_NET_ADMIN) may exceed net.core.rmem_max
_EVENT_RCVBUF = 4 << 20  # room for bursts (a few thousand events) between two drains

#: One event: (message type RTM_*, ifindex, our packed address or None for links).
Event = tuple[int, int, "bytes | None"]


def parse_events(data: bytes | bytearray | memoryview) -> list[Event]:
    """The link and address events in one datagram, decoded no further than watching needs.

    An address event carries IFA_LOCAL, else IFA_ADDRESS (as ``_parse_addr``); a link
    event only its ifindex. Other message types are skipped.
    """
    out: list[Event] = []
    for mtype, _flags, start, end in _messages(data):
        if mtype == RTM_NEWADDR or mtype == RTM_DELADDR:
            if end - start < _IFADDRMSG.size:
                raise NetlinkError(errno.EBADMSG, "truncated ifaddrmsg")
            index = _U32.unpack_from(data, start + _IFINDEX_AT)[0]
            address = local = None
            pos = start + _IFADDRMSG.size
            while end - pos >= _RTATTR.size:
                rta_len, rta_type = _RTATTR.unpack_from(data, pos)
                if rta_len < _RTATTR.size or rta_len > end - pos:
                    raise NetlinkError(errno.EBADMSG, f"bad attribute length {rta_len}")
                if rta_type == IFA_LOCAL:
                    local = bytes(data[pos + _RTATTR.size : pos + rta_len])
                    break
                if rta_type == IFA_ADDRESS:
                    address = bytes(data[pos + _RTATTR.size : pos + rta_len])
                pos += (rta_len + 3) & ~3
            out.append((mtype, index, local if local is not None else address))
        elif mtype == RTM_NEWLINK or mtype == RTM_DELLINK:
            if end - start < _IFINDEX_AT + 4:
                raise NetlinkError(errno.EBADMSG, "truncated ifinfomsg")
            out.append((mtype, _S32.unpack_from(data, start + _IFINDEX_AT)[0], None))
    return out


def none_assigned(packed: frozenset[bytes]) -> bool:
    """True only if no interface has any of these addresses: the cheap proof of a VIP loss.

    One address dump, searched as raw bytes: an address no datagram contains anywhere is on
    no interface. (A chance match elsewhere in the bytes only means "cannot tell": False.)
    Costs the kernel's dump and a byte search, not a parse of every address. Any error or
    an interrupted dump: False, so the caller re-reads the state the full way.
    """
    if not packed:
        return False
    request = _NLMSGHDR.pack(
        _NLMSGHDR.size + _IFADDRMSG.size, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 1, 0
    ) + _IFADDRMSG.pack(AF_UNSPEC, 0, 0, 0, 0)
    buf = bytearray(_RECV_SIZE)
    try:
        sock = _open()
    except OSError:
        return False
    try:
        sock.sendto(request, (0, 0))
        while True:
            data = _recv(sock, buf)
            if any(buf.find(p, 0, len(data)) >= 0 for p in packed):
                return False
            for mtype, flags, start, end in _messages(data):
                if flags & NLM_F_DUMP_INTR or mtype in (NLMSG_ERROR, NLMSG_OVERRUN):
                    return False
                if mtype == NLMSG_DONE:
                    return end - start < _S32.size or _S32.unpack_from(data, start)[0] == 0
    except OSError:
        return False
    finally:
        sock.close()


class AddressEvents:
    """Notifications of link and address changes (no privileges needed to listen).

    Open it before reading the state it watches, so that no change in between goes unseen.
    Use ``fileno()`` in poll/select, then ``drain()`` when readable. Close it, or use it as a
    context manager.
    """

    def __init__(self) -> None:
        self._sock = _open(RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR, _SOCK_NONBLOCK)
        self._buf = bytearray(_RECV_SIZE)
        # A bigger queue makes an overrun (and the full re-read it costs) rarer on a busy host.
        try:
            self._sock.setsockopt(_SOL_SOCKET, _SO_RCVBUFFORCE, _EVENT_RCVBUF)
        except OSError:  # not root: as much as net.core.rmem_max allows
            try:
                self._sock.setsockopt(_SOL_SOCKET, _SO_RCVBUF, _EVENT_RCVBUF)
            except OSError:
                pass

    def fileno(self) -> int:
        return self._sock.fileno()

    def drain(self) -> list[Event]:
        """Read every pending message without blocking; return the link/address events.

        Raises Overflow (after emptying the queue) when the kernel dropped events: the caller
        must then re-read the whole state instead of trusting the stream.
        """
        events: list[Event] = []
        overflow = False
        while True:
            try:
                data = _recv(self._sock, self._buf)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno != errno.ENOBUFS:
                    raise
                overflow = True  # reported once; later datagrams are fine but incomplete
                continue
            events += parse_events(data)
        if overflow:
            raise Overflow(errno.ENOBUFS, "netlink events lost (receive buffer overflow)")
        return events

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> AddressEvents:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
