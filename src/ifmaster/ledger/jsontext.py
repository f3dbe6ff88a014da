"""JSON text in and out through CPython's own accelerator, ``_json``, without the json package.

The json package imports re and enum (~4.5 ms, a quarter of a ledger-guarded run's
budget) for its pure-Python fallbacks and the whitespace regex json.loads uses; its C
scanner and string encoder need neither. Where ``_json`` is missing (not CPython) the json
package does the work, with the same results.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Pairs = Callable[[list[tuple[str, Any]]], Any]

#: RFC 8259's whitespace, the only characters allowed around a value.
_WS = " \t\n\r"
_INF = float("inf")


class NotJson(ValueError):
    """The text is not JSON at all (a syntax error, not a rule of ours)."""


class _Knobs:
    """The attributes ``_json.make_scanner`` reads from a json.JSONDecoder."""

    def __init__(self, pairs: Pairs, constant: Callable[[str], Any]) -> None:
        self.strict = True  # no control characters inside strings, as json.loads
        self.object_hook = None
        self.object_pairs_hook = pairs
        self.parse_float = float
        self.parse_int = int
        self.parse_constant = constant
        self.memo: dict[str, str] = {}


def loads(text: str, *, pairs: Pairs, constant: Callable[[str], Any]) -> Any:
    """``json.loads(text, object_pairs_hook=pairs, parse_constant=constant)``; NotJson for
    a syntax error, and what the hooks raise passes through."""
    try:
        from _json import make_scanner
    except ImportError:
        return _loads_by_json(text, pairs, constant)
    scan = make_scanner(_Knobs(pairs, constant))  # type: ignore[arg-type]  # duck-typed
    start = len(text) - len(text.lstrip(_WS))
    try:
        value, end = scan(text, start)
    except StopIteration as e:
        raise NotJson(f"Expecting value at char {e.value}") from None
    except ValueError as e:  # a bad string: json.decoder's JSONDecodeError, by name
        if type(e).__name__ == "JSONDecodeError":
            raise NotJson(str(e)) from None
        raise
    except SystemError:
        # Python 3.10 and 3.11: the scanner looks JSONDecodeError up in sys.modules only,
        # and with json never imported reports a syntax error as NULL without an exception.
        # The error path only: json then says what is wrong.
        return _loads_by_json(text, pairs, constant)
    if text[end:].strip(_WS):
        raise NotJson(f"Extra data at char {end}")
    return value


def _loads_by_json(text: str, pairs: Pairs, constant: Callable[[str], Any]) -> Any:
    import json

    try:
        return json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except json.JSONDecodeError as e:
        raise NotJson(str(e)) from None


def dumps(value: Any, *, compact: bool = False) -> str:
    """``json.dumps(value)``, ASCII only, keys in their order; ``compact``: the separators
    ``(",", ":")``. Only what JSON holds: dicts with str keys, lists, str, int, float, bool,
    None (TypeError otherwise)."""
    try:
        from _json import encode_basestring_ascii as quote
    except ImportError:
        from json.encoder import py_encode_basestring_ascii as quote
    comma, colon = (",", ":") if compact else (", ", ": ")

    def text(v: Any) -> str:
        if isinstance(v, str):
            return str(quote(v))
        if v is True:
            return "true"
        if v is False:
            return "false"
        if v is None:
            return "null"
        if isinstance(v, int):
            return int.__repr__(v)
        if isinstance(v, float):  # a server's, echoed in a message (1e400 is inf)
            if v != v:
                return "NaN"
            return "Infinity" if v == _INF else "-Infinity" if v == -_INF else float.__repr__(v)
        if isinstance(v, dict):
            items = []
            for k, item in v.items():
                if not isinstance(k, str):
                    raise TypeError(f"keys must be str, not {type(k).__name__}")
                items.append(f"{quote(k)}{colon}{text(item)}")
            return "{" + comma.join(items) + "}"
        if isinstance(v, (list, tuple)):
            return "[" + comma.join(text(item) for item in v) + "]"
        raise TypeError(f"{type(v).__name__} is not one of ours to write as JSON")

    return text(value)
