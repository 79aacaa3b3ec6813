"""JSON helpers for the cases orjson refuses: any nesting depth, NaN/Infinity, huge integers.

orjson stays the parser and encoder on the hot path; these run only after it has failed, so
they favour being iterative (no recursion, whatever the depth) over being fast.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

_SORTED = orjson.OPT_SORT_KEYS

# One JSON token after optional whitespace. The string pattern is the unrolled loop form, which
# the regex engine runs without backtracking; orjson then decodes the escapes and checks UTF-8.
_TOKEN = re.compile(
    rb"[ \t\r\n]*(?:"
    rb'("[^"\\\x00-\x1f]*(?:\\.[^"\\\x00-\x1f]*)*")'
    rb"|(-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)"
    rb"|(true|false|null|NaN|-?Infinity)"
    rb"|([{}\[\],:])"
    rb")"
)
_STRING, _NUMBER, _LITERAL, _PUNCT = 1, 2, 3, 4
_LITERALS: dict[bytes, Any] = {b"true": True, b"false": False, b"null": None}

# Parser states: what the next token may be.
_VALUE, _VALUE_OR_CLOSE, _KEY, _KEY_OR_CLOSE, _COLON, _COMMA_OR_CLOSE, _DONE = range(7)


def loads_lenient(data: bytes) -> tuple[Any, bool]:
    """Parse one JSON value of any depth, accepting NaN, Infinity and -Infinity.

    Non-finite numbers (those literals, and numbers such as ``1e400`` that overflow a double)
    are returned as Python's nan/inf floats, for the flattener to null and flag per event;
    the second item of the result says whether there were any.

    Raises
    ------
    ValueError
        The text is not one JSON value (orjson's ``JSONDecodeError`` is a ValueError too, and
        is what invalid UTF-8 or a lone surrogate escape inside a string raises).

    Examples
    --------
    >>> loads_lenient(b'{"a": -Infinity, "b": [1]}')
    ({'a': -inf, 'b': [1]}, True)
    """
    stack: list[Any] = []
    keys: list[str] = []
    state = _VALUE
    nonfinite = False
    root: Any = None
    pos = 0
    while True:
        match = _TOKEN.match(data, pos)
        if match is None:
            if state == _DONE and not data[pos:].strip():
                return root, nonfinite
            raise ValueError(f"invalid JSON at byte {pos}")
        pos = match.end()
        group = match.lastindex
        token = match.group(group or 0)
        if state == _DONE:
            raise ValueError(
                f"trailing data after the JSON value at byte {match.start(group or 0)}"
            )
        if state == _COLON:
            if token != b":":
                raise ValueError(f"expected ':' at byte {pos - len(token)}")
            state = _VALUE
            continue
        if state in (_KEY, _KEY_OR_CLOSE):
            if group == _STRING:
                keys.append(orjson.loads(token))
                state = _COLON
                continue
            if token != b"}" or state != _KEY_OR_CLOSE:
                raise ValueError(f"expected a key at byte {pos - len(token)}")
            value = stack.pop()
        elif state == _COMMA_OR_CLOSE:
            is_dict = type(stack[-1]) is dict
            if token == b",":
                state = _KEY if is_dict else _VALUE
                continue
            if token != (b"}" if is_dict else b"]"):
                raise ValueError(f"expected ',' or a closing bracket at byte {pos - len(token)}")
            value = stack.pop()
        elif group == _PUNCT:
            if token == b"{":
                stack.append({})
                state = _KEY_OR_CLOSE
                continue
            if token == b"[":
                stack.append([])
                state = _VALUE_OR_CLOSE
                continue
            if token != b"]" or state != _VALUE_OR_CLOSE:
                raise ValueError(f"unexpected {token.decode()!r} at byte {pos - len(token)}")
            value = stack.pop()
        elif group == _STRING:
            value = orjson.loads(token)
        elif group == _NUMBER:
            value = _number(token)
            nonfinite = nonfinite or (type(value) is float and value - value != 0.0)
        elif token in _LITERALS:
            value = _LITERALS[token]
        else:  # NaN, Infinity, -Infinity: float() reads these spellings
            value = float(token)
            nonfinite = True
        if not stack:
            root = value
            state = _DONE
        else:
            top = stack[-1]
            if type(top) is dict:
                top[keys.pop()] = value
            else:
                top.append(value)
            state = _COMMA_OR_CLOSE


def _number(token: bytes) -> int | float:
    if b"." in token or b"e" in token or b"E" in token:
        return float(token)
    return int(token)


def has_nonfinite(value: Any) -> bool:
    """Whether a parsed value holds a NaN or infinite float anywhere (walked iteratively)."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is float and item - item != 0.0:
            return True
        if kind is dict:
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
    return False


def scalar_text(value: Any) -> str:
    """Return ``value`` as JSON text (strings unchanged), for columns of mixed types."""
    kind = type(value)
    if kind is str:
        return str(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        # str() rather than orjson: integers past 64 bits are legal JSON that orjson won't write.
        return str(value)
    return orjson.dumps(value, default=str).decode()


def dumps_limited(value: Any, max_len: int) -> tuple[str, bool]:
    """Return compact JSON text with sorted keys, cut to ``max_len`` characters.

    The second item says whether the text was cut. Values orjson cannot write (nesting deeper
    than its limit, integers past 64 bits) are encoded iteratively, stopping once the budget
    is spent, so a 10,000-deep subtree costs no more than ``max_len`` characters.

    Examples
    --------
    >>> dumps_limited({"b": 1, "a": [True, None]}, 100)
    ('{"a":[true,null],"b":1}', False)
    """
    try:
        text = orjson.dumps(value, option=_SORTED, default=str).decode()
    except TypeError:
        text = _dumps_iterative(value, max_len + 1)
    if len(text) > max_len:
        return text[:max_len], True
    return text, False


def _dumps_iterative(value: Any, budget: int) -> str:
    """Encode without recursion; stop once ``budget`` characters have been produced."""
    out: list[str] = []
    size = 0
    # Work items: (True, literal text) or (False, value still to encode); popped from the end.
    work: list[tuple[bool, Any]] = [(False, value)]
    while work and size < budget:
        is_text, item = work.pop()
        if is_text:
            piece = item
        elif type(item) is dict:
            piece = "{"
            work.append((True, "}"))
            entries = sorted(item.items(), key=lambda kv: str(kv[0]))
            for index in range(len(entries) - 1, -1, -1):
                key, child = entries[index]
                work.append((False, child))
                work.append((True, ("," if index else "") + scalar_json(str(key)) + ":"))
        elif type(item) is list:
            piece = "["
            work.append((True, "]"))
            for index in range(len(item) - 1, -1, -1):
                work.append((False, item[index]))
                if index:
                    work.append((True, ","))
        else:
            piece = scalar_json(item)
        out.append(piece)
        size += len(piece)
    return "".join(out)


def scalar_json(value: Any) -> str:
    """Encode one non-container value as JSON text (non-finite floats become null)."""
    if type(value) is int:
        return str(value)
    if type(value) is float and value - value != 0.0:
        return "null"
    return orjson.dumps(value, default=str).decode()
