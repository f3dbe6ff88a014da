"""wire.Http, the ledger's HTTP/1.1 client, on raw bytes: framing, reuse, and every refusal.

A fake socket hands out the server's bytes in the pieces a test chooses (a reply split
anywhere must read the same); tests/etcd/test_ledger_hostile.py runs the same faults
against real sockets and a real etcd.
"""

from __future__ import annotations

import pytest

from ifmaster.ledger import wire
from ifmaster.ledger.wire import BadHttp, CutShort, Framing, Http

BODY = b'{"header":{"revision":"7"}}'
BAD_LENGTH = "HTTP 200 reply with a bad Content-Length"


class FakeSocket:
    """Answers with ``pieces`` in order, then end of stream; records what was sent."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = list(pieces)
        self.sent: list[bytes] = []
        self.closed = False

    def sendall(self, data: bytes) -> None:
        self.sent.append(data)

    def close(self) -> None:
        self.closed = True

    def recv(self, size: int) -> bytes:
        if not self.pieces:
            return b""
        piece = self.pieces.pop(0)
        assert len(piece) <= size
        return piece


class Opener:
    def __init__(self, *answers: list[bytes]) -> None:
        self.answers = list(answers)
        self.sockets: list[FakeSocket] = []

    def __call__(self) -> FakeSocket:
        sock = FakeSocket(self.answers.pop(0))
        self.sockets.append(sock)
        return sock


def reply(body: bytes = BODY, head: str | None = None, status: str = "200 OK") -> bytes:
    framing = f"Content-Length: {len(body)}\r\n" if head is None else head
    return (
        f"HTTP/1.1 {status}\r\nDate: Thu, 03 Dec 2026 16:21:00 GMT\r\n{framing}\r\n".encode() + body
    )


def post(*answers: list[bytes], limit: int = 1 << 20) -> wire.Reply:
    return Http(Opener(*answers), limit=limit).post("h:1", "/p", b"{}", {})


def one_byte_at_a_time(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


@pytest.mark.parametrize("split", ["whole", "bytes"])
def test_a_reply_reads_the_same_however_it_is_split(split: str) -> None:
    raw = reply()
    r = post([raw] if split == "whole" else one_byte_at_a_time(raw))
    assert (r.status, r.body) == (200, BODY)
    assert r.header("date") == "Thu, 03 Dec 2026 16:21:00 GMT" and r.header("x-none") is None


def test_the_request_is_one_write_with_its_framing() -> None:
    opener = Opener([reply()])
    Http(opener, limit=100).post("10.0.0.1:2379", "/v3/kv/txn", b'{"a":1}', {"Authorization": "t"})
    (sent,) = opener.sockets[0].sent
    head, _, body = sent.partition(b"\r\n\r\n")
    assert body == b'{"a":1}'
    assert head.split(b"\r\n") == [
        b"POST /v3/kv/txn HTTP/1.1",
        b"Host: 10.0.0.1:2379",
        b"Accept-Encoding: identity",
        b"Content-Length: 7",
        b"Authorization: t",
    ]


def test_a_header_value_that_would_break_the_request_is_never_sent() -> None:
    opener = Opener([reply()])
    with pytest.raises(ValueError, match="Authorization"):
        Http(opener, limit=100).post("h:1", "/p", b"", {"Authorization": "a\r\nX-Evil: 1"})
    assert not opener.sockets  # nothing was even connected


def test_chunks_with_extensions_and_trailers() -> None:
    chunked = b"5;ext=1\r\n" + BODY[:5] + b"\r\n" + b"%x\r\n" % (len(BODY) - 5) + BODY[5:]
    chunked += b"\r\n0\r\nX-Trailer: yes\r\n\r\n"
    r = post(one_byte_at_a_time(reply(chunked, head="Transfer-Encoding: chunked\r\n")))
    assert r.body == BODY


def test_a_hundred_continue_is_skipped_and_204_has_no_body() -> None:
    r = post([b"HTTP/1.1 100 Continue\r\n\r\n" + reply()])
    assert (r.status, r.body) == (200, BODY)
    assert post([b"HTTP/1.1 204 No Content\r\n\r\n"]).body == b""


def test_the_connection_is_kept_while_the_server_keeps_it() -> None:
    opener = Opener([reply(), reply()])
    http = Http(opener, limit=100)
    http.post("h:1", "/a", b"", {})
    http.post("h:1", "/b", b"", {})
    assert len(opener.sockets) == 1 and len(opener.sockets[0].sent) == 2


@pytest.mark.parametrize(
    "first",
    [
        reply(head=f"Content-Length: {len(BODY)}\r\nConnection: close\r\n"),
        reply(head=f"Content-Length: {len(BODY)}\r\nConnection: keep-alive, Close\r\n"),
        reply().replace(b"HTTP/1.1", b"HTTP/1.0"),
        reply() + b"HTTP/1.1 200 OK\r\n",  # bytes past the reply: no telling where one starts
    ],
    ids=["close", "close in a list", "HTTP/1.0", "extra bytes"],
)
def test_a_connection_the_server_ends_is_opened_anew(first: bytes) -> None:
    opener = Opener([first], [reply()])
    http = Http(opener, limit=100)
    http.post("h:1", "/a", b"", {})
    assert http.post("h:1", "/b", b"", {}).body == BODY
    assert len(opener.sockets) == 2


@pytest.mark.parametrize(
    ("raw", "error", "message"),
    [
        (reply(head="Content-Length: 400\r\n"), CutShort,
         f"reply cut short ({len(BODY)} bytes read, {400 - len(BODY)} more expected)"),
        (reply(b"5\r\nabcde\r\n", head="Transfer-Encoding: chunked\r\n"), CutShort,
         "reply cut short (5 bytes read)"),
        (reply(b"9\r\nabc", head="Transfer-Encoding: chunked\r\n"), CutShort,
         "reply cut short (3 bytes read)"),
        (reply(head="Connection: close\r\n"), Framing,
         "HTTP 200 reply with neither Content-Length nor chunks: a cut reply would look whole"),
        (reply(head="Content-Length: 5000\r\n"), Framing, "reply over 1000 bytes"),
        (reply(b"3e9\r\n", head="Transfer-Encoding: chunked\r\n"), Framing,
         "reply over 1000 bytes"),
        (reply(head="Content-Length: 3\r\nContent-Length: 4\r\n"), Framing,
         "HTTP 200 reply with a bad Content-Length"),
        (reply(head="Content-Length: -1\r\n"), Framing, BAD_LENGTH),
        (reply(head="Content-Length: 1e3\r\n"), Framing, BAD_LENGTH),
        (reply(head="Transfer-Encoding: gzip, chunked\r\n"), Framing,
         "HTTP 200 reply in Transfer-Encoding 'gzip, chunked'"),
        (reply(b"0x5\r\nabcde\r\n0\r\n\r\n", head="Transfer-Encoding: chunked\r\n"), Framing,
         "a bad chunk size after 0 bytes"),
        (reply(b"zz\r\n", head="Transfer-Encoding: chunked\r\n"), Framing,
         "a bad chunk size after 0 bytes"),
        (reply(b"3\r\nabcXY0\r\n\r\n", head="Transfer-Encoding: chunked\r\n"), Framing,
         "a chunk not ended by CRLF after 0 bytes"),
        (b"", BadHttp, "closed without a reply"),
        (b"HTTP/1.1 200 OK\r\nDate: x", BadHttp, "reply head cut short"),
        (b"garbage\r\n\r\n", BadHttp, "not an HTTP/1 status line: 'garbage'"),
        (b"HTTP/2 200 OK\r\n\r\n", BadHttp, "not an HTTP/1 status line: 'HTTP/2 200 OK'"),
        (b"HTTP/1.1 20 OK\r\n\r\n", BadHttp, "not an HTTP/1 status line: 'HTTP/1.1 20 OK'"),
        (b"HTTP/1.1 2000\r\n\r\n", BadHttp, "not an HTTP/1 status line: 'HTTP/1.1 2000'"),
        (b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", BadHttp, "not a header line: 'no colon'"),
        (b"HTTP/1.1 200 OK\r\nName : v\r\n\r\n", BadHttp, "not a header line: 'Name : v'"),
        (b"HTTP/1.1 200 OK\r\n" + b"A: b\r\n" * 101 + b"\r\n", BadHttp, "more than 100 headers"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70000, BadHttp, "reply head over 65536 bytes"),
        (b"HTTP/1.1 100 Continue\r\n\r\n" * 9, BadHttp, "more than 8 interim replies"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 60 else None,
)  # fmt: skip
def test_every_framing_fault_is_an_exception_that_names_it(
    raw: bytes, error: type[Exception], message: str
) -> None:
    pieces = [raw[i : i + 65536] for i in range(0, len(raw), 65536)] or [b""]
    with pytest.raises(error) as e:
        post(pieces, limit=1000)
    assert str(e.value) == message
    if error is BadHttp:
        assert not isinstance(e.value, Framing)


def test_a_fault_closes_the_connection() -> None:
    opener = Opener([reply(head="Content-Length: 400\r\n")], [reply()])
    http = Http(opener, limit=1000)
    with pytest.raises(CutShort):
        http.post("h:1", "/a", b"", {})
    assert http.post("h:1", "/b", b"", {}).body == BODY and len(opener.sockets) == 2


PW = "pw-Zk4q9-ledger-secret"  # one of tests/support/passwords.py's, held to no output


class EchoingSocket:
    """A server that answers with ``head``: its own bytes, our password echoed in them."""

    def __init__(self, head: bytes) -> None:
        self.head = [head]

    def settimeout(self, seconds: float) -> None:
        pass

    def sendall(self, data: bytes) -> None:
        pass

    def recv(self, size: int) -> bytes:
        return self.head.pop(0) if self.head else b""

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    "head",
    [
        f"HTTP/1.1 4xx rejected request body, password={PW}\r\n\r\n",
        f"HTTP/1.1 400 Bad Request\r\nrejected request body, password={PW}\r\n\r\n",
        f"HTTP/1.1 400 Bad\r\nno colon {'x' * 40} {PW}\r\n\r\n",
        f"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip {PW}\r\n\r\n",
    ],
    ids=["status line", "header line", "long header line", "transfer-encoding"],
)
def test_a_head_that_echoes_the_password_shows_none_of_it(
    monkeypatch: pytest.MonkeyPatch, head: str
) -> None:
    """The line the message quotes is scrubbed whole, then cut: cut first (as at first),
    28 of the password's characters survived the scrub."""
    from ifmaster.ledger import etcd

    monkeypatch.setattr(etcd, "resolve", lambda host, port, end: [None])
    monkeypatch.setattr(etcd, "dial", lambda infos, end: EchoingSocket(head.encode()))
    led = etcd.EtcdLedger.from_options(
        "etcd://10.0.0.1:2379/p", user="ifm", environ={"IF_MASTER_LEDGER_PASSWORD": PW}
    )
    assert led is not None
    with pytest.raises(etcd.LedgerError) as e:
        led.claim("t", "2026-11-28T01:45:00Z", node="n", pid=1, start=0.0)
    said = str(e.value)
    assert "bad HTTP" in said or "Transfer-Encoding" in said, said
    assert not any(PW[i : i + 8] in said for i in range(len(PW) - 7)), said
