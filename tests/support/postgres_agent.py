"""A ledger client in a client namespace: one JSON request per stdin line, one reply per line.

Started by tests/support/postgres.Agent with ``ip netns exec``. Requests: ``{"op": "claim", "url",
"opts", "task", "slot", "node", "pid", "start", "at"}``, ``{"op": "finish", "key", "node",
"end", "status"}``, ``{"op": "read", "url", "opts", "task"}``, ``{"op": "tasks", ...}``,
``{"op": "release", "url", "opts", "task", "slot", "revision"}``,
``{"op": "clock", "url", "opts"}``, ``{"op": "ping"}``.
``opts`` are LedgerOptions for open_ledger (``env``: its environ; ``osenv``: set in this
process, for libpq's own variables such as PGPASSFILE; ``keep``: PostgresLedger's own).
``at``: a Unix time to wait for (racers).
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

from ifmaster import ledger

claims: dict[str, tuple[Any, ledger.Claim]] = {}


def make(req: dict[str, Any]) -> Any:
    opts = dict(req.get("opts") or {})
    opts.setdefault("deadline", 2.0)
    env = opts.pop("env", {})
    for k, v in opts.pop("osenv", {}).items():
        os.environ[k] = v
    keep = opts.pop("keep", None)
    made = ledger.open_ledger(ledger.LedgerOptions(url=req["url"], **opts), environ=env)
    if keep is not None:  # not a CLI option: set on the store open_ledger made
        made.keep = keep
    return made


def handle(req: dict[str, Any]) -> dict[str, Any]:
    op = req["op"]
    if op == "ping":
        return {"ok": True}
    t0 = time.monotonic()
    try:
        if op == "claim":
            led = make(req)
            if "at" in req:
                time.sleep(max(0.0, req["at"] - time.time()))
            t0 = time.monotonic()
            c = led.claim(req["task"], req["slot"], node=req["node"], pid=req.get("pid", 1),
                          start=req.get("start", time.time()))  # fmt: skip
            if c.won:  # the run that may record its end
                claims[f"{c.key}#{c.holder.node}"] = (led, c)
            h = c.holder
            return {"ok": True, "won": c.won, "key": c.key, "revision": c.revision,
                    "holder": {"node": h.node, "pid": h.pid, "start": h.start},
                    "text": str(c), "offset": c.clock_offset,
                    "elapsed": time.monotonic() - t0}  # fmt: skip
        if op == "finish":
            led, c = claims[f"{req['key']}#{req['node']}"]
            done = led.finish(c, end=req["end"], status=req["status"])
            return {"ok": True, "done": done, "elapsed": time.monotonic() - t0}
        if op == "read":
            rows = make(req).read(req["task"], since=req.get("since"), until=req.get("until"))
            return {"ok": True, "rows": [
                {"slot": r.slot, "revision": r.revision, "record": json.loads(r.raw)}
                for r in rows]}  # fmt: skip
        if op == "tasks":
            return {"ok": True, "tasks": make(req).tasks()}
        if op == "clock":
            t = make(req).clock()
            lo, hi = t.bounds(time.monotonic())
            return {"ok": True, "low": lo, "high": hi, "wall": time.time(), "source": t.source,
                    "resolution": t.resolution}  # fmt: skip
        if op == "release":
            led = make(req)
            return {"ok": True, "done": led.release(req["task"], req["slot"],
                                                    revision=req["revision"])}  # fmt: skip
        raise ValueError(f"unknown op {op!r}")
    except ledger.LedgerError as e:
        return {"ok": False, "kind": e.kind, "error": str(e), "elapsed": time.monotonic() - t0}
    except ValueError as e:
        return {"ok": False, "kind": "value", "error": str(e), "elapsed": time.monotonic() - t0}


def main() -> None:
    for line in sys.stdin:
        reply = handle(json.loads(line))
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
