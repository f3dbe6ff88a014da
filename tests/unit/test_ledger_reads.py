"""EtcdLedger's reads, release and leases on canned gateway replies (no etcd): paging,
liveness records, values not ours, and replies we cannot read."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from ifmaster.ledger import Ledger, LedgerError, parse_url

B = "/if-master/job/"


def b64(s: str | bytes) -> str:
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def kv(key: str, value: str | bytes = b"", rev: int = 5) -> dict[str, Any]:
    return {"key": b64(key), "value": b64(value), "create_revision": str(rev)}


def record(node: str = "n1") -> str:
    return json.dumps({"node": node, "start": "2026-01-01T00:00:00.100Z", "pid": 1})


class Canned(Ledger):
    def __init__(self, replies: list[dict[str, Any]]) -> None:
        super().__init__(parse_url("etcd://10.0.0.1:2379/if-master"))
        self.replies = replies
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self.sent.append((path, body))
        return self.replies.pop(0)


def test_read_pages_newest_first_and_returns_oldest_first() -> None:
    s1, s2, s3 = (f"2026-01-01T00:00:0{i}Z" for i in (1, 2, 3))
    store = Canned([
        {"kvs": [kv(B + s3 + "/alive", "7"), kv(B + s3, record(), 7), kv(B + s2, record(), 6)],
         "more": True},
        {"kvs": [kv(B + s1 + "/alive", "99"), kv(B + s1, b"\xffnot ours", 5)]},
    ])  # fmt: skip
    got = store.read("job")
    assert [s.slot for s in got] == [s1, s2, s3]
    assert [s.alive for s in got] == [False, False, True]  # s1's record names another claim
    assert got[0].record is None and got[0].raw.endswith("not ours")
    assert got[2].record is not None and got[2].revision == 7
    first, second = store.sent[0][1], store.sent[1][1]
    assert first["sort_order"] == "DESCEND" and first["limit"] == 500
    assert base64.b64decode(first["range_end"]).decode() == "/if-master/job0"
    assert base64.b64decode(second["range_end"]).decode() == B + s2  # where page 1 ended


def test_read_stops_at_its_limit_and_takes_a_window() -> None:
    slots = [f"2026-01-01T00:00:{i:02d}Z" for i in range(10)]
    store = Canned([{"kvs": [kv(B + s, record()) for s in reversed(slots)], "more": True}])
    got = store.read("job", since=slots[0], until="2026-01-02T00:00:00Z", limit=3)
    assert [s.slot for s in got] == slots[-3:] and len(store.sent) == 1
    body = store.sent[0][1]
    assert base64.b64decode(body["key"]).decode() == B + slots[0]
    with pytest.raises(ValueError):
        store.read("job", since="yesterday")


def test_tasks_skip_past_each_task_with_one_key_read() -> None:
    store = Canned([
        {"kvs": [kv("/if-master/a/2026-01-01T00:00:00Z")]},
        {"kvs": [kv("/if-master/stray")]},
        {"kvs": [kv("/if-master/b/x/alive")]},
        {},
    ])  # fmt: skip
    assert store.tasks() == ["a", "b"]
    bodies = [b for _, b in store.sent]
    assert all(b["keys_only"] and b["limit"] == 1 for b in bodies)
    assert base64.b64decode(bodies[1]["key"]).decode() == "/if-master/a0"  # past a/
    assert base64.b64decode(bodies[2]["key"]).decode() == "/if-master/stray\0"


def test_release_compares_the_revision_and_deletes_one_key() -> None:
    store = Canned([
        {"succeeded": True, "responses": [{"response_delete_range": {"deleted": "1"}}]},
        {"header": {}},  # proto3 leaves out false: the compare failed
    ])  # fmt: skip
    assert store.release("job", "2026-01-01T00:00:00Z", revision=42) is True
    body = store.sent[0][1]
    assert body["compare"][0]["create_revision"] == "42"
    assert list(body["success"][0]) == ["request_delete_range"]
    assert "range_end" not in body["success"][0]["request_delete_range"]
    assert store.release("job", "2026-01-01T00:00:00Z", revision=42) is False


@pytest.mark.parametrize(
    ("method", "reply"),
    [
        ("read", {"kvs": [{"key": "!!"}]}),
        ("read", {"kvs": "nope"}),
        ("tasks", {"kvs": [{}]}),
        ("release", {"succeeded": "yes"}),
        ("release", {"succeeded": True, "responses": []}),
        ("grant", {"TTL": "10"}),
    ],
)
def test_replies_we_cannot_read_are_ledger_errors(method: str, reply: dict[str, Any]) -> None:
    store = Canned([reply])
    call = {
        "read": lambda: store.read("job"),
        "tasks": store.tasks,
        "release": lambda: store.release("job", "2026-01-01T00:00:00Z", revision=1),
        "grant": lambda: store.grant(10),
    }[method]
    with pytest.raises(LedgerError) as e:
        call()
    assert e.value.kind == "protocol" and "\n" not in str(e.value)


def test_leases() -> None:
    store = Canned([{"ID": "123", "TTL": "10"}, {"result": {"ID": "123", "TTL": "10"}}, {}])
    assert store.grant(10) == 123
    assert store.keep_alive(123) == 10
    assert store.keep_alive(123) == 0  # expired: no TTL in the reply
    paths = [p for p, _ in store.sent]
    assert paths == ["/v3/lease/grant", "/v3/lease/keepalive", "/v3/lease/keepalive"]


@pytest.mark.parametrize(
    ("bad", "what"),
    [
        ({"kvs": [{"key": "!!not base64", "value": "", "create_revision": "5"}]}, "kv.key"),
        ({"kvs": [{"key": b64(B + "2026-01-01T00:00:00Z"), "create_revision": True}]}, "kv.create"),
        ({"kvs": [{"key": b64(B + "2026-01-01T00:00:00Z"), "create_revision": "-5"}]}, "kv.create"),
        ({"kvs": [{"key": b64(B + "2026-01-01T00:00:00Z"), "create_revision": "0" * 30}]}, "kv.cr"),
        ({"kvs": "not a list"}, "kvs"),
        ({"kvs": ["not an object"]}, "kv"),
    ],
)
def test_a_read_reply_etcd_would_never_send_is_a_protocol_error(
    bad: dict[str, Any], what: str
) -> None:
    """The history's reads parse as strictly as a claim does (reply.py): base64 validated,
    revisions as int64 decimal strings; never a slot with a made-up revision."""
    with pytest.raises(LedgerError) as e:
        Canned([bad]).read("job")
    assert e.value.kind == "protocol" and what in str(e.value)
    assert "\n" not in str(e.value)


def test_a_lease_id_that_is_not_an_int64_is_a_protocol_error() -> None:
    for bad in ({"ID": True}, {"ID": "1e3"}, {"ID": str(1 << 64)}, {}):
        with pytest.raises(LedgerError, match="ID"):
            Canned([bad]).grant(10)


def test_a_stored_record_keeps_its_schedule_only_when_it_is_text() -> None:
    ok = json.dumps({"node": "n1", "start": "2026-01-01T00:00:00.100Z", "pid": 1,
                     "schedule": "every 60s"})  # fmt: skip
    odd = json.dumps({"node": "n1", "start": "2026-01-01T00:00:00.100Z", "pid": 1,
                      "schedule": ["every", 60]})  # fmt: skip
    slot = "2026-01-01T00:00:00Z"
    got = Canned([{"kvs": [kv(B + slot, ok, 7)]}]).read("job")
    assert got[0].record is not None and got[0].record.schedule == "every 60s"
    got = Canned([{"kvs": [kv(B + slot, odd, 7)]}]).read("job")
    assert got[0].record is not None and got[0].record.schedule is None
