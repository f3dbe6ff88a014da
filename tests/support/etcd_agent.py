"""A ledger client in a client namespace: one JSON request per stdin line, one reply per line.

Started by tests/support/etcdlib.Agent with ``ip netns exec``. Requests:
``{"op": "claim", "url", "opts", "task", "slot" | ("every"/"schedule", "now"), "node",
"pid", "start", "at"}``, ``{"op": "finish", "key", "end", "status"}``,
``{"op": "holder", "url", "opts", "task", "slot"}``, ``{"op": "release", "url", "task",
"slot", "revision"}``, ``{"op": "ping"}``. ``at``: an
absolute Unix time to wait for before claiming (racers start together).
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from ifmaster import ledger, slot

claims: dict[str, tuple[ledger.Ledger, ledger.Claim]] = {}


def make(req: dict[str, Any]) -> ledger.Ledger:
    opts = dict(req.get("opts") or {})
    password_file = opts.pop("password_file", None)
    env = opts.pop("env", {})
    made = ledger.Ledger.from_options(req["url"], password_file=password_file, environ=env, **opts)
    assert made is not None
    return made


def slot_of(req: dict[str, Any]) -> str:
    if "slot" in req:
        return str(req["slot"])
    if "every" in req:
        sched: slot.Schedule = slot.Every(req["every"])
    else:
        sched = slot.Cron(req["schedule"], slot.local_zone({"TZ": "UTC"}))
    return slot.slot_for(sched, req["now"], skew=req.get("skew", slot.DEFAULT_SKEW)).iso


def handle(req: dict[str, Any]) -> dict[str, Any]:
    op = req["op"]
    if op == "ping":
        return {"ok": True}
    t0 = time.monotonic()
    try:
        if op == "claim":
            led, s = make(req), slot_of(req)
            if "at" in req:
                time.sleep(max(0.0, req["at"] - time.time()))
            t0 = time.monotonic()
            c = led.claim(req["task"], s, node=req["node"], pid=req["pid"], start=req["start"])
            claims[c.key] = (led, c)
            h = c.holder
            return {
                "ok": True,
                "won": c.won,
                "key": c.key,
                "slot": s,
                "holder": {"node": h.node, "pid": h.pid, "start": h.start},
                "text": str(c),
                "offset": c.clock_offset,
                "revision": c.revision,
                "elapsed": time.monotonic() - t0,
            }
        if op == "finish":
            led, c = claims[req["key"]]
            done = led.finish(c, end=req["end"], status=req["status"])
            return {"ok": True, "done": done, "elapsed": time.monotonic() - t0}
        if op == "clock":
            st = make(req).clock()
            low, high = st.bounds(time.monotonic())
            return {"ok": True, "low": low, "high": high, "now": time.time(), "source": st.source}
        if op == "holder":
            r = make(req).holder(req["task"], req["slot"])
            return {"ok": True, "record": None if r is None else json.loads(r.to_json())}
        if op == "release":
            done = make(req).release(req["task"], req["slot"], revision=req["revision"])
            return {"ok": True, "released": done}
        raise ValueError(f"unknown op {op!r}")
    except ledger.LedgerError as e:
        return {"ok": False, "kind": e.kind, "error": str(e), "elapsed": time.monotonic() - t0}


def main() -> None:
    for line in sys.stdin:
        reply = handle(json.loads(line))
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
