"""Strict reading of what a server sent: JSON as RFC 8259 allows it, then etcd's schema.

A reply becomes a claim, and its revision the job's fencing token: anything etcd would
never send (NaN, a key given twice, a BOM, UTF-16, 10,000 nested brackets, a negative or
30-digit revision, ``"revision": true``) is a ValueError here, so a protocol error, never a
claim. Pure functions, no I/O; every error names what was wrong, never the whole value.
"""

from __future__ import annotations

import binascii

from . import jsontext

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: The largest body read from a member: etcd's largest value (1.5 MiB), in base64, and its
#: envelope. Beyond it the reply is refused, never cut.
MAX_REPLY = 4 << 20
#: Nesting etcd's replies never come near (a txn reply is 6 deep).
MAX_DEPTH = 32
#: etcd's revisions and terms are int64 (its gateway writes them as decimal strings).
MAX_INT64 = (1 << 63) - 1
MAX_UINT64 = (1 << 64) - 1
_BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _one_value_per_key(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d: dict[str, Any] = {}
    for k, v in pairs:
        if k in d:
            raise ValueError(f"key {k[:40]!r} given twice")
        d[k] = v
    return d


def _depth(text: str) -> int:
    """The deepest nesting of ``[``/``{`` outside strings (only asked when there are many)."""
    depth = deepest = 0
    in_string = escaped = False
    for c in text:
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth -= 1
    return deepest


def loads(data: bytes, *, limit: int = MAX_REPLY) -> Any:
    """``data`` as strict JSON: UTF-8 without a BOM, no NaN/Infinity, one value per key,
    at most MAX_DEPTH deep and ``limit`` bytes. ValueError otherwise."""
    if len(data) > limit:
        raise ValueError(f"over {limit} bytes")
    text = data.decode("utf-8")  # UnicodeDecodeError is a ValueError; no UTF-16 guessing
    if text.startswith("\ufeff"):
        raise ValueError("starts with a byte order mark")
    # Counting is cheap; the exact walk runs only when a reply has many brackets at all.
    if text.count("[") + text.count("{") > MAX_DEPTH and _depth(text) > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH}")
    try:
        return jsontext.loads(text, pairs=_one_value_per_key, constant=_no_constant)
    except RecursionError:  # the walk above should have caught it; never an internal error
        raise ValueError(f"nested deeper than {MAX_DEPTH}") from None


def obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{what} is {kind(value)}, not an object")
    return value


def lst(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{what} is {kind(value)}, not a list")
    return value


def kind(value: Any) -> str:
    """A value's JSON type for an error: never the value itself (it may be huge)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a bool"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


def integer(value: Any, what: str, *, lo: int = 1, hi: int = MAX_INT64) -> int:
    """An int64/uint64 as etcd's gateway writes it: a decimal string (or a JSON integer),
    no sign, no leading zero, within ``lo..hi``."""
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit() and len(value) <= 20):
            raise ValueError(f"{what} {value[:30]!r} is not a decimal integer")
        if len(value) > 1 and value[0] == "0":
            raise ValueError(f"{what} {value[:30]!r} has a leading zero")
        n = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        n = value
    else:
        raise ValueError(f"{what} is {kind(value)}, not an integer")
    if not lo <= n <= hi:
        raise ValueError(f"{what} {str(n)[:30]} is outside {lo}..{hi}")
    return n


def b64(value: Any, what: str) -> bytes:
    """A bytes field (base64, standard alphabet, padded), strictly.

    Python 3.11's ``base64.b64decode(validate=True)``, on every version and without its
    module (it imports re and struct): the alphabet, whole quanta, at most two ``=`` and
    only at the end, checked before binascii decodes.
    """
    if not isinstance(value, str):
        raise ValueError(f"{what} is {kind(value)}, not base64")
    data = value.rstrip("=")
    if len(value) % 4 or len(value) - len(data) > 2 or data.strip(_BASE64):
        raise ValueError(f"{what} is not base64")
    try:
        return binascii.a2b_base64(value)
    except binascii.Error:
        raise ValueError(f"{what} is not base64") from None


def header(reply: dict[str, Any]) -> int:
    """Check etcd's response header and return its revision (required, positive)."""
    h = obj(reply.get("header"), "header")
    for name in ("cluster_id", "member_id"):
        if name in h:
            integer(h[name], f"header.{name}", lo=0, hi=MAX_UINT64)
    if "raft_term" in h:
        integer(h["raft_term"], "header.raft_term")
    return integer(h.get("revision"), "header.revision")


def succeeded(reply: dict[str, Any]) -> bool:
    value = reply.get("succeeded", False)  # proto3 JSON leaves out false
    if not isinstance(value, bool):
        raise ValueError(f"succeeded is {kind(value)}, not a bool")
    return value


def kv(value: Any, key: bytes) -> tuple[bytes, int]:
    """One ``mvccpb.KeyValue`` for ``key``: its value (bytes) and create_revision."""
    d = obj(value, "kv")
    # etcd names the key; a kv for another one answers some other request.
    if "key" in d and b64(d["key"], "kv.key") != key:
        raise ValueError("kv is for another key than the one asked")
    created = integer(d.get("create_revision"), "kv.create_revision")
    if "mod_revision" in d:
        integer(d["mod_revision"], "kv.mod_revision")
    for name in ("version", "lease"):
        if name in d:
            integer(d[name], f"kv.{name}", lo=0)
    return b64(d.get("value", ""), "kv.value"), created


def range_kvs(value: Any, key: bytes) -> tuple[bytes, int] | None:
    """A ``RangeResponse`` for one key: that key's value and create_revision, or None."""
    d = obj(value, "range response")
    if "count" in d:
        integer(d["count"], "count", lo=0)
    kvs = lst(d.get("kvs", []), "kvs")
    if len(kvs) > 1:
        raise ValueError(f"{len(kvs)} kvs for one key")
    return kv(kvs[0], key) if kvs else None


def txn(reply: dict[str, Any], key: bytes) -> tuple[bool, int, tuple[bytes, int] | None]:
    """Our txn's reply (put on success, range on failure): (succeeded, the header's
    revision, the key's value and create_revision when the compare failed)."""
    revision = header(reply)
    won = succeeded(reply)
    # One response per operation of the branch taken; ours starts with the put (success)
    # or the range (failure), whatever operations follow it.
    responses = lst(reply.get("responses"), "responses")
    if not responses:
        raise ValueError("responses is empty")
    for i, response in enumerate(responses):
        obj(response, f"responses[{i}]")
    first = responses[0]
    if won:
        # etcd's own reply names the put it did; a won claim needs exactly that.
        obj(first.get("response_put"), "responses[0].response_put")
        return True, revision, None
    return False, revision, range_kvs(first.get("response_range"), key)


def status(reply: dict[str, Any]) -> int:
    """A member's status reply (``/v3/maintenance/status``): etcd's header, and its
    version a string when given; the header's revision."""
    revision = header(reply)
    if "version" in reply and not isinstance(reply["version"], str):
        raise ValueError(f"version is {kind(reply['version'])}, not a string")
    return revision


def token(reply: dict[str, Any]) -> str:
    """The authenticate reply's token: printable ASCII, as an HTTP header can carry it."""
    t = reply.get("token")
    if not isinstance(t, str) or not t:
        raise ValueError(f"the token is {kind(t)}, not a non-empty string")
    if len(t) > 4096 or any(not " " < c <= "~" for c in t):
        raise ValueError("the token has characters a header cannot carry, or is over 4 KiB")
    return t
