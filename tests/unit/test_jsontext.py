"""jsontext against the json package: the same text out, the same values in, the same refusals."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ifmaster.ledger import jsontext

values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(1 << 70), max_value=1 << 70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return dict(pairs)


def _constant(name: str) -> Any:
    raise ValueError(f"{name} refused")


def both(text: str) -> tuple[object, object]:
    """What json.loads and jsontext.loads make of ``text``: a value or the error's class."""
    try:
        want: object = json.loads(text, object_pairs_hook=_pairs, parse_constant=_constant)
    except json.JSONDecodeError:
        want = jsontext.NotJson
    except ValueError:
        want = ValueError
    try:
        got: object = jsontext.loads(text, pairs=_pairs, constant=_constant)
    except jsontext.NotJson:
        got = jsontext.NotJson
    except ValueError:
        got = ValueError
    return want, got


def same(a: object, b: object) -> bool:
    """The same value of the same type, or the same refusal (NaN never gets here: the
    constant hook refuses it, and 1e400 is inf, which equals itself)."""
    return type(a) is type(b) and a == b


@settings(max_examples=400)
@given(values)
def test_dumps_writes_what_json_writes(value: object) -> None:
    assert jsontext.dumps(value) == json.dumps(value)
    assert jsontext.dumps(value, compact=True) == json.dumps(value, separators=(",", ":"))


@settings(max_examples=400)
@given(values, st.sampled_from(["", " ", "\n\t", "\r\n  "]))
def test_loads_reads_what_json_reads(value: object, pad: str) -> None:
    text = pad + json.dumps(value) + pad
    want, got = both(text)
    assert same(want, got), (text, want, got)


@settings(max_examples=600)
@given(st.text(alphabet='{}[]",:0123456789.eE+-truefalsnNIity \\\x00\n\u00e9', max_size=30))
def test_any_text_is_read_or_refused_as_json_would(text: str) -> None:
    want, got = both(text)
    assert same(want, got), (text, want, got)


@pytest.mark.parametrize(
    "text",
    ["", " ", "{", "[1,]", '{"a":1}x', '"\x01"', "01", "1 2", '{"a" 1}', '"\\ud800x', "\ufeff{}"],
)
def test_syntax_errors_are_not_json(text: str) -> None:
    with pytest.raises(jsontext.NotJson):
        jsontext.loads(text, pairs=_pairs, constant=_constant)


def test_the_hooks_own_errors_pass_through() -> None:
    def twice(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        raise ValueError("key given twice")

    with pytest.raises(ValueError, match="key given twice") as e:
        jsontext.loads('{"a":1,"a":2}', pairs=twice, constant=_constant)
    assert not isinstance(e.value, jsontext.NotJson)
    with pytest.raises(ValueError, match="NaN refused"):
        jsontext.loads("[NaN]", pairs=_pairs, constant=_constant)


def test_only_json_types_are_written() -> None:
    for bad in ({1: "x"}, {"a": object()}, b"bytes"):
        with pytest.raises(TypeError):
            jsontext.dumps(bad)


def test_without_the_accelerator_the_json_package_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """An interpreter without ``_json``: the same values and refusals through json."""
    monkeypatch.setitem(sys.modules, "_json", None)  # import _json now raises ImportError
    assert jsontext.loads(' {"a":[1,2.5,"\\u00e9"]} ', pairs=_pairs, constant=_constant) == {
        "a": [1, 2.5, "\u00e9"]
    }
    with pytest.raises(jsontext.NotJson):
        jsontext.loads("[1,]", pairs=_pairs, constant=_constant)
    assert jsontext.dumps({"k": "\u00e9\n"}, compact=True) == '{"k":"\\u00e9\\n"}'


def test_a_ledger_run_needs_no_json_package() -> None:
    """The point of the module: reading and writing a reply loads neither json nor re."""
    import subprocess

    code = (
        "import sys\n"
        "from ifmaster.ledger import jsontext, reply\n"
        'reply.loads(b\'{"header":{"revision":"7"},"succeeded":true}\')\n'
        "jsontext.dumps({'compare': [{'key': 'a', 'create_revision': '0'}]})\n"
        "print(sorted(m for m in ('json', 're', 'enum') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_a_syntax_error_is_not_json_without_the_json_package_loaded() -> None:
    """On Python 3.10 and 3.11, _json's scanner looks JSONDecodeError up in sys.modules
    only: with json never imported (a ledger run) it returned NULL without an exception,
    a SystemError, and a cut reply became an internal error instead of the next endpoint."""
    import subprocess

    code = (
        "import sys\n"
        "from ifmaster.ledger import jsontext, reply\n"
        "from ifmaster.ledger.records import Record\n"
        "out = []\n"
        "for t in ['{\"a\":\"x', '[1,]', '{\"a\" 1}', '\"\\x01\"', '{', 'x', '{\"a\":tru}']:\n"
        "    try:\n"
        "        reply.loads(t.encode())\n"
        "        out.append('read')\n"
        "    except jsontext.NotJson:\n"
        "        out.append('NotJson')\n"
        "    except Exception as e:\n"
        "        out.append(type(e).__name__)\n"
        "print(' '.join(out), Record.from_json(b'{\"node\":\"x').pid)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.split() == ["NotJson"] * 7 + ["0"], (out.stdout, out.stderr[-2000:])
