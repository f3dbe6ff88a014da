"""The ledger's edges without etcd: URLs, records, options, and failures that need no cluster."""

from __future__ import annotations

import json
import math
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ifmaster import ledger
from ifmaster.ledger import Ledger, LedgerError, Record, parse_url, wire


def test_url_parts() -> None:
    u = parse_url("etcd://10.0.0.1:2379,db2.example.:2379,[fd00::1]:12379/if-master/prod")
    assert u.endpoints == (("10.0.0.1", 2379), ("db2.example", 2379), ("fd00::1", 12379))
    assert u.prefix == "/if-master/prod"
    assert not u.tls
    assert str(u) == "etcd://10.0.0.1:2379,db2.example:2379,[fd00::1]:12379/if-master/prod"
    assert parse_url(b"etcds://h:1/p").tls


@pytest.mark.parametrize(
    ("text", "why"),
    [("", "empty"), ("http://h:2379/p", "etcd://"), ("etcd:/h:2379/p", "etcd://"),
     ("etcd://h:2379", "prefix"), ("etcd://h:2379/", "prefix"), ("etcd://h:2379/p/", "prefix"),
     ("etcd://h:2379/a//b", "segment ''"), ("etcd://h:2379/a/../b", "segment '..'"),
     ("etcd://h:2379/a b", "spaces"), ("etcd://h:2379/a\nb", "control"),
     ("etcd://u:pw@h:2379/p", "password"), ("etcd://h:2379/p?x=1", "query"),
     ("etcd://h/p", "HOST:PORT"), ("etcd://h:/p", "HOST:PORT"), ("etcd://h:0/p", "1..65535"),
     ("etcd://h:65536/p", "1..65535"), ("etcd://h:+1/p", "not a number"),
     ("etcd://h:123456/p", "not a number"), ("etcd://:2379/p", "HOST:PORT"),
     ("etcd://h_1:2379/p", "not a host"), ("etcd://-h:2379/p", "not a host"),
     ("etcd://[fd00::zz]:2379/p", "IPv6"), ("etcd://[fd00::1]2379/p", "not [IPV6]:PORT"),
     ("etcd://[::1]/p", "not [IPV6]:PORT"), ("etcd://[::1:9/p", "not [IPV6]:PORT"),
     ("etcd://h:1,h:1/p", "twice"), ("etcd://h:1/p%2e", "segment"),
     ("etcd://" + ",".join(f"h:{i}" for i in range(1, 18)) + "/p", "more than 16"),
     ("etcd://h:1/" + "p" * 1001, "longer"), (b"etcd://h:1/\xff", "not UTF-8"),
     ("etcd://h:1/pé", "non-ASCII"), ("etcd://a..b:1/p", "not a host"),
     ("etcd://999.1.1.1:1/p", "not an IPv4"), ("etcd://10.1:1/p", "not an IPv4"),
     ("etcd://.:1/p", "not a host")],
)  # fmt: skip
def test_bad_urls_named(text: str | bytes, why: str) -> None:
    with pytest.raises(ValueError, match="ledger URL") as e:
        parse_url(text)
    assert why in str(e.value)


def test_record_round_trip_and_foreign_values() -> None:
    r = Record(node="db1", start="2026-11-28T01:45:00.123Z", pid=42)
    assert r.to_json() == '{"node":"db1","start":"2026-11-28T01:45:00.123Z","pid":42}'
    back = Record.from_json(r.to_json().encode())
    assert (back.node, back.start, back.pid, back.end) == ("db1", r.start, 42, None)
    done = Record(node="n", start="s", pid=1, end="e", status=3)
    assert Record.from_json(done.to_json().encode()).status == 3
    foreign = Record.from_json(b"\xffsomebody else")
    assert (foreign.pid, foreign.start) == (0, "?")
    assert "somebody else" in str(foreign)
    hostile = Record.from_json(b'{"node":"x\\u001b[2Jy\\n","start":"s","pid":1}')
    assert str(hostile) == "x?[2Jy? (pid 1, started s)"


def test_key_validates_task_and_slot(tmp_path: Path) -> None:
    led = Ledger(parse_url("etcd://h:1/if-master"))
    assert led.key("backup", "2026-11-28T01:45:00Z") == "/if-master/backup/2026-11-28T01:45:00Z"
    with pytest.raises(ValueError, match="task name"):
        led.key("../x", "2026-11-28T01:45:00Z")
    with pytest.raises(ValueError, match="slot"):
        led.key("backup", "2026-11-28T01:45:00")
    with pytest.raises(ValueError, match="node name"):
        led.claim("backup", "2026-11-28T01:45:00Z", node="a\nb", pid=1, start=0)


def test_options_and_secrets(tmp_path: Path) -> None:
    assert Ledger.from_options(None, environ={}) is None
    led = Ledger.from_options(None, environ={"IF_MASTER_LEDGER": "etcd://h:1/p"})
    assert led is not None and led.user is None
    pw = tmp_path / "pw"
    pw.write_text("s3cret\n")
    pw.chmod(0o600)  # readable by others is refused (docs/ledger-security.md)
    led = Ledger.from_options("etcd://h:1/p", user="ifm", password_file=str(pw), environ={})
    assert led is not None and led._password == "s3cret"
    env = {"IF_MASTER_LEDGER_USER": "ifm", "IF_MASTER_LEDGER_PASSWORD": "x"}
    led = Ledger.from_options("etcd://h:1/p", environ=env)
    assert led is not None and (led.user, led._password) == ("ifm", "x")
    (tmp_path / "empty").write_text("\n")
    (tmp_path / "empty").chmod(0o600)
    cases = [
        ({"user": "ifm"}, "no password"),
        ({"password_file": str(pw)}, "no user"),
        ({"user": "ifm", "password_file": str(tmp_path / "nope")}, "No such file"),
        ({"user": "ifm", "password_file": str(tmp_path / "empty")}, "empty"),
        ({"ca": str(tmp_path / "nope.pem")}, "--ledger-ca .*No such file"),
    ]
    for kw, why in cases:
        with pytest.raises(LedgerError, match=why) as e:
            Ledger.from_options("etcd://h:1/p", environ={}, **kw)  # type: ignore[arg-type]
        assert e.value.kind == "config"
    with pytest.raises(ValueError, match="--ledger-cert and --ledger-key"):
        Ledger(parse_url("etcd://h:1/p"), cert=str(pw))
    for bad in (math.nan, math.inf, 0.0, -1.0, 61.0):
        with pytest.raises(ValueError, match="--ledger-timeout"):
            Ledger(parse_url("etcd://h:1/p"), deadline=bad)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_refused_everywhere_fails_closed_in_one_line() -> None:
    a, b = _free_port(), _free_port()
    led = Ledger(parse_url(f"etcd://127.0.0.1:{a},127.0.0.1:{b}/p"), deadline=1.0)
    with pytest.raises(LedgerError) as e:
        led.claim("t", "2026-11-28T01:45:00Z", node="n", pid=1, start=0)
    assert e.value.kind == "unreachable"
    msg = str(e.value)
    assert "\n" not in msg
    assert f"127.0.0.1:{a}: Connection refused; 127.0.0.1:{b}: Connection refused" in msg


#: etcd's reply to a member's status (the clock read), as 3.5 gives it.
STATUS = (
    b'{"header":{"cluster_id":"14841639068965178418","member_id":"10276657743932975437",'
    b'"revision":"3","raft_term":"2"},"version":"3.5.9","dbSize":"20480","raftIndex":"8"}'
)
#: etcd's reply to a txn whose compare held: it names the put it did.
WON = b'{"header":{"revision":"%s"},"succeeded":true,"responses":[{"response_put":{}}]}'


class _Odd(BaseHTTPRequestHandler):
    """Answers like something that is not etcd (a misdirected port, a proxy)."""

    replies: dict[str, tuple[int, bytes]] = {}
    silent: set[int] = set()
    clock_ahead = 0.0

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers["Content-Length"]))
        if self.server.server_address[1] in _Odd.silent:
            time.sleep(3)  # then hang up unanswered: the client has long given up
            self.close_connection = True
            return
        status, body = _Odd.replies.get(str(self.server.server_address[1]), (200, b"{}"))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header, as far off our clock as a test asks."""
        return super().date_time_string(time.time() + _Odd.clock_ahead)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def odd_servers() -> Iterator[list[int]]:
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _Odd) for _ in range(2)]
    for s in servers:
        s.daemon_threads = True
    _Odd.silent = set()
    threads = [threading.Thread(target=s.serve_forever, args=(0.02,), daemon=True) for s in servers]
    for t in threads:
        t.start()
    try:
        yield [s.server_port for s in servers]
    finally:
        for s in servers:
            s.shutdown()
            s.server_close()


def test_replies_that_are_not_etcd(odd_servers: list[int]) -> None:
    p, q = odd_servers
    url = parse_url(f"etcd://127.0.0.1:{p},127.0.0.1:{q}/p")
    _Odd.replies = {str(p): (200, b"<html>hi</html>"), str(q): (400, b"Client sent HTTP")}
    with pytest.raises(LedgerError, match="HTTP 200, not JSON: '<html>hi</html>'; ") as e:
        Ledger(url).claim("t", "2026-11-28T01:45:00Z", node="n", pid=1, start=0)
    assert e.value.kind == "unreachable"  # every endpoint failed; the reasons are listed
    assert str(e.value).endswith("HTTP 400, not JSON: 'Client sent HTTP'")
    # A member that answers but cannot serve (no leader): the next one is asked.
    _Odd.replies = {
        str(p): (503, b'{"error":"etcdserver: no leader","code":14}'),
        str(q): (200, WON % b"7"),
    }
    c = Ledger(url).claim("t", "2026-11-28T01:45:00Z", node="n", pid=1, start=0)
    assert (c.won, c.revision) == (True, 7)
    # A reply with the right shape for nothing we asked.
    _Odd.replies = {str(p): (200, b'{"header":{}}'), str(q): (200, b'{"header":{}}')}
    with pytest.raises(LedgerError, match="unexpected txn reply") as e:
        Ledger(url).claim("t", "2026-11-28T01:45:00Z", node="n", pid=1, start=0)
    assert e.value.kind == "protocol"
    _Odd.replies = {str(p): (401, b'{"error":"etcdserver: invalid auth token","code":16}')}
    with pytest.raises(LedgerError, match="refused no user: etcdserver: invalid auth token") as e:
        Ledger(url).claim("t", "2026-11-28T01:45:00Z", node="n", pid=1, start=0)
    assert e.value.kind == "auth"


def test_a_silent_endpoint_leaves_time_for_the_next(odd_servers: list[int]) -> None:
    p, q = odd_servers
    _Odd.silent = {p}
    _Odd.replies = {str(q): (200, WON % b"9")}
    led = Ledger(parse_url(f"etcd://127.0.0.1:{p},127.0.0.1:{q}/p"), deadline=1.0)
    t0 = time.monotonic()
    c = led.claim("t", "2026-11-28T01:45:00Z", node="n", pid=1, start=0)
    assert c.won and c.revision == 9
    assert time.monotonic() - t0 < 2.5  # far below the silent server's 3 s


def test_import_is_light() -> None:
    """The ledger package itself pulls in no HTTP client until a call is made."""
    import subprocess
    import sys

    code = "import sys, ifmaster.ledger; print('http.client' in sys.modules, 'ssl' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
    assert ledger.DEFAULT_DEADLINE == 2.0


def test_a_retried_claim_that_finds_its_own_record_is_won(odd_servers: list[int]) -> None:
    """The txn was applied but its reply lost; the retry on another member sees our record."""
    import base64

    p, q = odd_servers
    ours = Record(node="n", start="1970-01-01T00:00:00.000Z", pid=1).to_json()
    theirs = Record(node="other", start="1970-01-01T00:00:00.000Z", pid=1).to_json()
    for value, won in ((ours, True), (theirs, False)):
        kv = {"value": base64.b64encode(value.encode()).decode(), "create_revision": "5"}
        body = {"header": {"revision": "6"}, "responses": [{"response_range": {"kvs": [kv]}}]}
        _Odd.silent = {p}
        _Odd.replies = {str(q): (200, json.dumps(body).encode())}
        led = Ledger(parse_url(f"etcd://127.0.0.1:{p},127.0.0.1:{q}/p"), deadline=0.4)
        c = led.claim("t", "2026-11-28T01:45:00Z", node="n", pid=1, start=0.0)
        assert (c.won, c.revision, c.holder.node) == (won, 5, json.loads(value)["node"])


def test_the_members_clock_is_compared_with_ours(odd_servers: list[int]) -> None:
    p, _ = odd_servers
    _Odd.silent = set()
    _Odd.replies = {str(p): (200, WON % b"9")}
    led = Ledger(parse_url(f"etcd://127.0.0.1:{p}/p"))
    for ahead in (0.0, 30.0, -30.0):
        _Odd.clock_ahead = ahead
        try:
            c = led.claim("t", "2026-11-28T01:45:00Z", node="n", pid=1, start=0.0)
        finally:
            _Odd.clock_ahead = 0.0
        assert c.clock_offset is not None
        assert abs(c.clock_offset + ahead) <= 1.0, (ahead, c.clock_offset)
    assert wire.offset(None, 0.0) is None
    assert wire.offset("yesterday", 0.0) is None
    assert wire.offset("Thu, 01 Jan 1970 00:00:10 GMT", 20.0) == 9.5


def test_the_members_clock_is_read_with_its_bounds(odd_servers: list[int]) -> None:
    """clock(): the Date's whole second, widened by the round trip, holds the true time."""
    p, _ = odd_servers
    _Odd.silent = set()
    _Odd.replies = {str(p): (200, STATUS)}
    led = Ledger(parse_url(f"etcd://127.0.0.1:{p}/p"))
    for ahead in (0.0, 47.0, -33.0):
        _Odd.clock_ahead = ahead
        try:
            st = led.clock()
        finally:
            _Odd.clock_ahead = 0.0
        now = time.time() + ahead  # the server's clock, a moment after its reply
        low, high = st.bounds(time.monotonic())
        assert low <= now <= high + 0.05, (ahead, low, now, high)
        assert high - low < 1.2 and st.resolution == 1.0
        assert abs(st.offset + ahead) <= 0.6 and st.source == f"127.0.0.1:{p}'s Date"
    # A reply without a Date is a clock we cannot read: fail closed.
    assert wire.server_time(None, sent=0.0, received=0.1, wall=0.0, source="x") is None
    st0 = wire.server_time("Thu, 01 Jan 1970 00:00:10 GMT", sent=5.0, received=5.25, wall=12.0,
                           source="x")  # fmt: skip
    assert st0 is not None and (st0.low, st0.high, st0.at) == (10.0, 11.25, 5.25)
    assert st0.bounds(7.25) == (12.0, 13.25) and st0.bounds(1.0) == (10.0, 11.25)


def test_a_reply_without_a_date_reads_no_clock(
    odd_servers: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    p, _ = odd_servers
    _Odd.silent = set()
    _Odd.replies = {str(p): (200, STATUS)}
    monkeypatch.setattr(_Odd, "date_time_string", lambda self, timestamp=None: "")
    led = Ledger(parse_url(f"etcd://127.0.0.1:{p}/p"))
    with pytest.raises(LedgerError, match=r"unexpected status reply \(no Date header") as e:
        led.clock()
    assert e.value.kind == "protocol"


@pytest.mark.parametrize(
    "body",
    [b"{}",  # no header: not etcd's status
     b'{"header":{"revision":"0"}}',
     b'{"header":{"revision":"3"},"version":3.5}',
     b'{"header":{"revision":"3"},"header":{"revision":"4"}}',
     b"[]"],
)  # fmt: skip
def test_a_clock_read_goes_past_a_reply_that_is_not_etcds_status(
    odd_servers: list[int], body: bytes
) -> None:
    """The status reply is read as strictly as a claim's: a first member's bad one is a
    failure named in one line, and the next member's clock is the one read."""
    p, q = odd_servers
    _Odd.silent = set()
    _Odd.replies = {str(p): (200, body), str(q): (200, STATUS)}
    st = Ledger(parse_url(f"etcd://127.0.0.1:{p},127.0.0.1:{q}/p")).clock()
    assert st.source == f"127.0.0.1:{q}'s Date"
    with pytest.raises(LedgerError) as e:
        Ledger(parse_url(f"etcd://127.0.0.1:{p}/p")).clock()
    assert e.value.kind in ("protocol", "unreachable") and "\n" not in str(e.value), str(e.value)


@pytest.mark.parametrize(
    "body",
    [b'{"header":{"revision":"7"},"succeeded":"false"}',  # truthy, and not etcd's
     b'{"header":{"revision":"7"},"succeeded":1,"responses":[{"response_put":{}}]}',
     b'{"header":{"revision":"7"},"succeeded":true}',  # a win that names no put
     b'{"header":{"revision":"7"},"succeeded":true,"responses":["response_put"]}',
     b'{"header":{"revision":"7"},"succeeded":true,"responses":[{"response_range":{}}]}'],
)  # fmt: skip
def test_a_reply_that_is_not_etcds_never_wins_a_claim(odd_servers: list[int], body: bytes) -> None:
    p, _ = odd_servers
    _Odd.silent = set()
    _Odd.replies = {str(p): (200, body)}
    with pytest.raises(LedgerError, match="unexpected txn reply") as e:
        Ledger(parse_url(f"etcd://127.0.0.1:{p}/p")).claim("t", "2026-11-28T01:45:00Z", node="n",
                                                          pid=1, start=0)  # fmt: skip
    assert e.value.kind == "protocol"


def test_a_servers_words_reach_stderr_as_one_clean_line(odd_servers: list[int]) -> None:
    p, _ = odd_servers
    _Odd.silent = set()
    evil = json.dumps({"code": 14, "message": "line one\nline two \x1b[31mRED" + "x" * 500})
    _Odd.replies = {str(p): (503, evil.encode())}
    with pytest.raises(LedgerError) as e:
        Ledger(parse_url(f"etcd://127.0.0.1:{p}/p"), deadline=0.5).claim(
            "t", "2026-11-28T01:45:00Z", node="n", pid=1, start=0
        )
    msg = str(e.value)
    assert msg.isprintable() and "line one\\nline two \\x1b[31mRED" in msg and len(msg) < 400


def test_a_trickling_server_cannot_outlast_the_deadline() -> None:
    """One header byte every 0.2 s: each read is quick, the whole reply never ends."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000:
                if stop.wait(0.2):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        port = listener.getsockname()[1]
        led = Ledger(parse_url(f"etcd://127.0.0.1:{port}/p"), deadline=1.0)
        t0 = time.monotonic()
        with pytest.raises(LedgerError, match="timed out") as e:
            led.claim("t", "2026-11-28T01:45:00Z", node="n", pid=1, start=0)
        assert time.monotonic() - t0 < 1.5
        assert e.value.kind == "unreachable"
    finally:
        stop.set()
        listener.close()
        t.join(5)


def test_files_that_would_block_are_refused(tmp_path: Path) -> None:
    """A FIFO (or a device) as a password, CA, certificate or key file: refused at once."""
    import os

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    cases = [
        ({"user": "u", "password_file": str(fifo)}, "ledger password file"),
        ({"ca": str(fifo)}, "--ledger-ca"),
        ({"cert": str(fifo), "key": str(fifo)}, "--ledger-cert"),
        ({"ca": "/dev/zero"}, "--ledger-ca"),
    ]
    for kw, what in cases:
        t0 = time.monotonic()
        with pytest.raises(LedgerError, match="is not a regular file") as e:
            Ledger.from_options("etcd://h:1/p", environ={}, **kw)  # type: ignore[arg-type]
        assert what in str(e.value) and e.value.kind == "config"
        assert time.monotonic() - t0 < 1.0


def test_password_limits_and_environment(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.touch(0o600)
    pw.write_bytes(b"x" * 4096 + b"\r\n")  # 4 KiB and the one line's end: accepted
    led = Ledger.from_options("etcd://h:1/p", user="u", password_file=str(pw), environ={})
    assert led is not None and led._password == "x" * 4096
    pw.write_bytes(b"a\0b\n")
    with pytest.raises(LedgerError, match="NUL"):
        Ledger.from_options("etcd://h:1/p", user="u", password_file=str(pw), environ={})
    for value, why in (("x" * 4097, "over 4 KiB"), ("\udcff", "not UTF-8")):
        env = {"IF_MASTER_LEDGER_USER": "u", "IF_MASTER_LEDGER_PASSWORD": value}
        with pytest.raises(LedgerError, match=f"IF_MASTER_LEDGER_PASSWORD is {why}"):
            Ledger.from_options("etcd://h:1/p", environ=env)


def test_an_encrypted_key_is_refused_without_asking(tmp_path: Path) -> None:
    """OpenSSL would prompt on the terminal, or read the passphrase from the job's stdin."""
    import shutil
    import subprocess

    from tests.support.netnslib import require

    require(shutil.which("openssl") is not None, "openssl is not installed")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-days", "1", "-subj", "/CN=t",
         "-passout", "pass:abc", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    assert b"ENCRYPTED" in key.read_bytes()
    with pytest.raises(LedgerError, match="is encrypted") as e:
        Ledger(parse_url("etcds://h:1/p"), cert=str(cert), key=str(key))
    assert e.value.kind == "config"


# -- issue 27: trusts too much, says too much ---------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["etcd://ifm:pw-Zk4q9-ledger-secret@h:1/p", "etcd://u:pw-Zk4q9-ledger-secret/x@h:1/p",
     "etcd://u:pw-Zk4q9-ledger-secret?@h:1/p", "etcd://u:pw-Zk4q9-ledger-secret @h:1/p",
     "u:pw-Zk4q9-ledger-secret@h:1/p", "etcd://u:pw-Zk4q9-ledger-secret\n@h:1/p",
     "etcd://u:pw-Zk4q9-ledger-secret@h:1/p" + "x" * 1000,
     b"etcd://u:pw-Zk4q9-ledger-secret\xff@h:1/p"],
)  # fmt: skip
def test_a_url_with_a_password_is_refused_without_repeating_it(url: str | bytes) -> None:
    with pytest.raises(ValueError, match="ledger URL") as e:
        parse_url(url)
    assert "Zk4q9" not in str(e.value) and "***@" in str(e.value), e.value


def test_a_url_not_utf8_is_shown_escaped_once() -> None:
    with pytest.raises(ValueError, match="not UTF-8") as e:
        parse_url(b"etcd://h:1/\xff")
    assert "'etcd://h:1/\\udcff'" in str(e.value)


def test_server_text_is_scrubbed_of_every_form_of_a_secret() -> None:
    from ifmaster.ledger.secret import scrub

    pw = 'p"w\\é-9Qz'
    for text in (f"x {pw} y", json.dumps({"password": pw}), repr(pw), f"cut {pw[:5]}",
                 json.dumps(pw, ensure_ascii=False)):  # fmt: skip
        out = scrub(text, (pw, "tok-123"))
        assert "9Qz" not in out and pw[:5] not in out and "***" in out, (text, out)
    assert scrub("a tok-123 b", (pw, "tok-123")) == "a *** b"
    assert scrub("nothing here", (pw,)) == "nothing here"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o606])
def test_a_password_file_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    pw = tmp_path / "pw"
    pw.write_text("pw-Zk4q9-ledger-secret\n")
    pw.chmod(mode)
    with pytest.raises(LedgerError, match=f"by others \\(mode {mode:04o}\\): chmod 600") as e:
        Ledger.from_options("etcd://h:1/p", user="u", password_file=str(pw), environ={})
    assert e.value.kind == "config" and "Zk4q9" not in str(e.value)
    pw.chmod(0o400)
    assert Ledger.from_options("etcd://h:1/p", user="u", password_file=str(pw), environ={})


@pytest.mark.parametrize(
    "data",
    [b"{\"a\":NaN}", b"[Infinity]", b"[-Infinity]", b'{"a":1,"a":2}', b"\xef\xbb\xbf{}",
     '{"a":1}'.encode("utf-16"), b"\xff{}", b"[" * 100_000, b"[" * 33 + b"]" * 33, b"{"],
)  # fmt: skip
def test_strict_json_refuses_what_etcd_never_sends(data: bytes) -> None:
    from ifmaster.ledger import reply

    with pytest.raises(ValueError):
        reply.loads(data)


def test_strict_json_takes_what_etcd_sends() -> None:
    from ifmaster.ledger import reply

    assert reply.loads(b'{"a":["[[[[", {"b": "]]]"}], "c": -1.5}') == {
        "a": ["[[[[", {"b": "]]]"}],
        "c": -1.5,
    }
    assert reply.loads(b"[" * 32 + b"]" * 32) is not None
    with pytest.raises(ValueError, match="over 10 bytes"):
        reply.loads(b"[" + b" " * 10 + b"]", limit=10)


@pytest.mark.parametrize(
    ("value", "ok"),
    [("7", 7), (7, 7), (str((1 << 63) - 1), (1 << 63) - 1), ("0", None), (0, None), ("-7", None),
     (-7, None), ("007", None), ("9" * 30, None), (str(1 << 63), None), (True, None),
     (7.0, None), (None, None), ("7 ", None), ("\u0667", None), ("+7", None)],
)  # fmt: skip
def test_a_revision_is_a_positive_int64_as_etcd_writes_it(value: object, ok: int | None) -> None:
    from ifmaster.ledger import reply

    if ok is None:
        with pytest.raises(ValueError, match="revision"):
            reply.integer(value, "header.revision")
    else:
        assert reply.integer(value, "header.revision") == ok


@pytest.mark.parametrize(
    "value",
    [b'{"node":"x","start":"s","pid":1e400}', b'{"node":"x","start":"s","pid":1,"status":1e400}',
     b"[" * 100_000, b'{"node":"x","start":"s","pid":' + b"9" * 5000 + b"}",
     b'{"node":' + b'"x' * 100_000 + b'","start":"s","pid":1}', b'{"node":1,"start":"s","pid":1}',
     b'{"node":"x","start":"s","pid":true}', b'{"node":"x","start":"s","pid":1.5}',
     b'\x1b]0;title\x07{"node":"x"}', b'{"node":"x","node":"y","start":"s","pid":1}'],
)  # fmt: skip
def test_garbage_in_a_value_names_its_holder_escaped_and_bounded(value: bytes) -> None:
    r = Record.from_json(value)
    assert (r.pid, r.start) == (0, "?")
    text = str(r)
    assert text.isprintable() and len(text) < 150, text
    assert "\x1b" not in text and "\\\\" not in text


def test_a_token_a_header_cannot_carry_is_refused() -> None:
    from ifmaster.ledger import reply

    assert reply.token({"token": "abc.12"}) == "abc.12"
    for bad in ("a\r\nb", "caf\u00e9", "", "x" * 5000, 7, None, "a b"):
        with pytest.raises(ValueError, match="token"):
            reply.token({"token": bad})


def test_a_lookup_that_never_returns_is_abandoned_and_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """libc's resolver stuck (the seam faked): each lookup gives up by the deadline, and
    no more than MAX_STALLED threads are ever left waiting."""
    release = threading.Event()
    real = socket.getaddrinfo
    calls: list[str] = []

    def stuck(host: str, *args: object, **kw: object) -> object:
        if kw.get("flags") == socket.AI_NUMERICHOST:
            return real(host, *args, **kw)  # type: ignore[arg-type]
        calls.append(host)
        release.wait(10)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", stuck)
    try:
        for i in range(wire.MAX_STALLED):
            t0 = time.monotonic()
            with pytest.raises(wire.Unresolved, match="^name resolution timed out$"):
                wire.resolve(f"n{i}.test", 1, time.monotonic() + 0.05)
            assert time.monotonic() - t0 < 0.5
        with pytest.raises(wire.Unresolved, match=f"{wire.MAX_STALLED} lookups still stuck"):
            wire.resolve("one-more.test", 1, time.monotonic() + 0.05)
        assert len(calls) == wire.MAX_STALLED  # the one refused started no thread
        assert wire.resolve("10.0.0.1", 1, time.monotonic() + 0.05)[0][4] == ("10.0.0.1", 1)
    finally:
        release.set()
    deadline = time.monotonic() + 5
    while wire._stalled and time.monotonic() < deadline:  # the threads end once libc does
        time.sleep(0.01)
    assert not wire._stalled
