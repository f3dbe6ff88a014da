"""--keep and the one range a claim prunes, without etcd: the values, the range's bounds, the
alarm's message, and the claim's transaction as it goes on the wire."""

from __future__ import annotations

import string
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ifmaster.ledger import Ledger, LedgerError, parse_url
from ifmaster.ledger.etcd import alarmed
from ifmaster.ledger.retention import (
    DEFAULT_KEEP,
    MAX_KEEP,
    MIN_KEEP,
    check_against_lateness,
    oldest_kept,
    parse_keep,
    prune_range,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("35d", 35 * 86400), ("12h", 43200), ("1h30m", 5400), ("90", 90), ("1m", MIN_KEEP),
     ("366d", MAX_KEEP), ("0", None), ("forever", None), (" Forever ", None)],
)  # fmt: skip
def test_keep_values(text: str, seconds: int | None) -> None:
    assert parse_keep(text) == seconds


@pytest.mark.parametrize(
    ("text", "why"),
    [("", "empty"), ("59s", "outside 60 s..366 days"), ("367d", "longer than 366 days"),
     ("-1d", "not like"), ("1w", "not like"), ("never", "not like"), ("00", "zero")],
)  # fmt: skip
def test_bad_keep_values_are_named(text: str, why: str) -> None:
    with pytest.raises(ValueError, match="--keep") as e:
        parse_keep(text)
    assert why in str(e.value)
    assert "forever" in str(e.value)  # the way to keep everything is in the message


def test_default_is_about_a_month() -> None:
    assert 28 * 86400 <= DEFAULT_KEEP <= 40 * 86400


def test_a_retention_must_outlast_a_late_claim() -> None:
    check_against_lateness(DEFAULT_KEEP, 60.0, 2.0)
    check_against_lateness(None, 366 * 86400.0, 29.0)  # keep all: nothing to outlast
    with pytest.raises(ValueError, match="a late run could claim a slot already pruned"):
        check_against_lateness(3600, 3600.0, 0.0)
    with pytest.raises(ValueError, match="--max-late 3590 s plus --skew 10 s"):
        check_against_lateness(3600, 3590.0, 10.0)


def test_the_range_is_the_tasks_older_slots() -> None:
    assert oldest_kept("2026-03-01T00:00:00Z", 86400) == "2026-02-28T00:00:00Z"
    assert prune_range("/p/backup/", "2026-03-01T00:00:00Z", 60) == (
        "/p/backup/",
        "/p/backup/2026-02-28T23:59:00Z",
    )
    with pytest.raises(ValueError, match="must end in '/'"):
        prune_range("/p/backup", "2026-03-01T00:00:00Z", 60)


_TASK = st.text(string.ascii_letters + string.digits + "_-.", min_size=1, max_size=12)
_SEG = st.text(string.ascii_letters + string.digits + "_-.", min_size=1, max_size=6)
_WHEN = st.integers(min_value=0, max_value=8000 * 365 * 86400)  # 1970..9970


def _iso(t: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@given(
    prefix=st.lists(_SEG, min_size=1, max_size=3),
    other_prefix=st.lists(_SEG, min_size=1, max_size=3),
    task=_TASK,
    other_task=_TASK,
    slot=_WHEN,
    other_slot=_WHEN,
    keep=st.integers(min_value=MIN_KEEP, max_value=MAX_KEEP),
    sub=st.sampled_from(["", "/alive", "/x/y"]),
)
def test_only_the_tasks_own_old_slots_fall_in_the_range(
    prefix: list[str],
    other_prefix: list[str],
    task: str,
    other_task: str,
    slot: int,
    other_slot: int,
    keep: int,
    sub: str,
) -> None:
    """Any key under any prefix and task (sharing string prefixes or not, sub-keys under a
    slot or not) is in the range exactly when it is this task's, under this prefix, for a
    slot older than the oldest kept: etcd's range is [start, end) in byte order."""
    p, q = "/" + "/".join(prefix), "/" + "/".join(other_prefix)
    start, end = prune_range(f"{p}/{task}/", _iso(max(slot, keep)), keep)
    candidate = f"{q}/{other_task}/{_iso(other_slot)}{sub}"
    inside = start.encode() <= candidate.encode() < end.encode()
    ours = (q, other_task) == (p, task)
    assert inside == (ours and other_slot < max(slot, keep) - keep)


def test_neighbours_that_share_a_string_prefix_stay_out() -> None:
    start, end = prune_range("/p/backup/", "2026-12-01T00:00:00Z", DEFAULT_KEEP)
    assert end == "/p/backup/2026-10-27T00:00:00Z"  # 35 days before the claimed slot
    outside = [
        "/p/backup2/2020-01-01T00:00:00Z",
        "/p2/backup/2020-01-01T00:00:00Z",
        "/p/backup-x/2020-01-01T00:00:00Z",
        "/p/backup",
        "/p/backu",
        "/p/backup/2026-10-27T00:00:00Z",
        "/p/backup/2026-10-27T00:00:00Z/alive",
    ]
    for key in outside:
        assert not start <= key < end, key
    assert start <= "/p/backup/2026-10-26T23:59:59Z/alive" < end  # an old slot's sub-key goes


class _Wire:
    """What the claim sends, and an etcd-like answer: the ledger's seam to one endpoint,
    _post_one (so the reply goes through _ask's strict parse, as etcd's would)."""

    def __init__(self, reply: dict[str, Any] | LedgerError) -> None:
        self.reply = reply
        self.bodies: list[dict[str, Any]] = []

    def __call__(
        self,
        host: str,
        port: int,
        path: str,
        body: dict[str, Any],
        end: float,
        *,
        signed: bool = True,
    ) -> dict[str, Any]:
        self.bodies.append(body)
        if isinstance(self.reply, LedgerError):
            raise self.reply
        return self.reply


_WON = {
    "succeeded": True,
    "header": {"revision": "77"},
    "responses": [{"response_put": {}}, {"response_delete_range": {"deleted": "3"}}],
}


def _b64d(s: str) -> str:
    import base64

    return base64.b64decode(s).decode()


def test_a_claim_prunes_in_its_own_transaction(monkeypatch: pytest.MonkeyPatch) -> None:
    led = Ledger(parse_url("etcd://h:1/p"), keep=86400)
    wire = _Wire(_WON)
    monkeypatch.setattr(led, "_post_one", wire)
    c = led.claim("backup", "2026-12-01T00:00:00Z", node="n", pid=1, start=0)
    assert c.won and c.revision == 77
    (body,) = wire.bodies
    put, delete = body["success"]
    assert _b64d(put["request_put"]["key"]) == "/p/backup/2026-12-01T00:00:00Z"
    rng = delete["request_delete_range"]
    assert (_b64d(rng["key"]), _b64d(rng["range_end"])) == (
        "/p/backup/",
        "/p/backup/2026-11-30T00:00:00Z",
    )
    assert body["failure"] == [{"request_range": {"key": put["request_put"]["key"]}}]


def test_the_end_deletes_the_liveness_record_in_its_own_transaction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """finish(): the end record and the delete of ``.../alive`` in one transaction, only
    on success (a slot claimed anew has the new run's liveness record under that key)."""
    led = Ledger(parse_url("etcd://h:1/p"), keep=None)
    wire = _Wire(_WON)
    monkeypatch.setattr(led, "_post_one", wire)
    c = led.claim("backup", "2026-12-01T00:00:00Z", node="n", pid=1, start=0)
    assert led.finish(c, end=1.0, status=0)
    put, delete = wire.bodies[-1]["success"]
    assert _b64d(put["request_put"]["key"]) == "/p/backup/2026-12-01T00:00:00Z"
    assert list(delete) == ["request_delete_range"]
    assert _b64d(delete["request_delete_range"]["key"]) == "/p/backup/2026-12-01T00:00:00Z/alive"
    assert "range_end" not in delete["request_delete_range"]  # that one key, nothing under it
    assert wire.bodies[-1]["failure"] == [{"request_range": {"key": put["request_put"]["key"]}}]


def test_keep_none_prunes_nothing_and_bad_keep_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    led = Ledger(parse_url("etcd://h:1/p"), keep=None)
    wire = _Wire(_WON)
    monkeypatch.setattr(led, "_post_one", wire)
    led.claim("backup", "2026-12-01T00:00:00Z", node="n", pid=1, start=0)
    assert len(wire.bodies[0]["success"]) == 1
    assert Ledger(parse_url("etcd://h:1/p")).keep == DEFAULT_KEEP
    with pytest.raises(ValueError, match="--keep 0 s is outside"):
        Ledger(parse_url("etcd://h:1/p"), keep=0)


_NOSPACE = "ledger: 10.0.0.1:2379 answered /v3/kv/txn: etcdserver: mvcc: database space exceeded"


@pytest.mark.parametrize(
    ("said", "alarm", "fix"),
    [(_NOSPACE, "NOSPACE", "etcdctl alarm disarm"),
     ("ledger: no etcd endpoint could be used (deadline 2 s): " + _NOSPACE + "; " + _NOSPACE,
      "NOSPACE", "etcdctl defrag"),
     ("ledger: h:1 answered /v3/kv/txn: etcdserver: corrupt cluster", "CORRUPT", "snapshot")],
)  # fmt: skip
def test_an_alarm_is_named_with_its_fix(
    monkeypatch: pytest.MonkeyPatch, said: str, alarm: str, fix: str
) -> None:
    led = Ledger(parse_url("etcd://h:1/p"))
    monkeypatch.setattr(led, "_post_one", _Wire(LedgerError("unreachable", said)))
    with pytest.raises(LedgerError) as e:
        led.claim("backup", "2026-12-01T00:00:00Z", node="n", pid=1, start=0)
    assert e.value.kind == "alarm"
    text = str(e.value)
    assert f"etcd's {alarm} alarm is raised" in text and fix in text
    assert "\n" not in text


def test_other_failures_are_left_as_they_are() -> None:
    assert alarmed(LedgerError("unreachable", "ledger: h:1: timed out")) is None


def test_the_jobs_four_variables_and_nothing_else() -> None:
    from ifmaster.ledger import Claim, Record
    from ifmaster.ledger.job import VARIABLES, export

    c = Claim(won=True, key="/p/backup/2026-12-01T00:00:00Z",
              holder=Record(node="n", start="s", pid=1), revision=981)  # fmt: skip
    env = {"PATH": "/bin", "IF_MASTER_SLOT": "the caller's", "LC_CTYPE": "C"}
    export("backup", "2026-12-01T00:00:00Z", c, env)
    assert env == {
        "PATH": "/bin",
        "LC_CTYPE": "C",
        "IF_MASTER_TASK": "backup",
        "IF_MASTER_SLOT": "2026-12-01T00:00:00Z",
        "IF_MASTER_LEDGER_KEY": "/p/backup/2026-12-01T00:00:00Z",
        "IF_MASTER_FENCING_TOKEN": "981",
    }
    assert set(VARIABLES) == {k for k in env if k.startswith("IF_MASTER_")}


def test_history_beyond_the_retention_reports_no_pruned_slot_as_missed() -> None:
    """--history --since longer than --keep: the slots the claims pruned are not "missed"
    (nothing before the window is held, so due slots count from the oldest one kept)."""
    from ifmaster.ledger import history
    from ifmaster.ledger.records import Record, iso_ms
    from tests.support.fakes import FakeLedger

    t0 = 1_800_000_000.0
    store = FakeLedger()
    for i in range(20):  # the kept window: every 10 s slot from t0 ran; older ones pruned
        t = t0 + 10 * i
        rec = Record(node="n1", start=iso_ms(t + 0.2), pid=42, schedule="every 10s")
        rec.end, rec.status = iso_ms(t + 1.7), 0
        store.put("job", history.since_iso(t), rec.to_json().encode())
    got = history.task_history(store, "job", now=t0 + 200, since=t0 - 86400, max_late=30)
    assert [r.result for r in got] == ["ok"] * 20
