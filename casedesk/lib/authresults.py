"""A small, forgiving reader of ``Authentication-Results`` header fields (RFC 8601).

``parse(value)`` returns the authserv-id and the results (method, result, reason,
properties such as ``smtp.mailfrom`` or ``header.d``, and the text of comments, where
many servers put the DMARC policy: ``dmarc=fail (p=reject dis=none)``), or None when the
field has no authserv-id. It never raises: these fields come from whoever sent the
message, so anything it cannot read is left out. Bounded: a field is read up to
``MAX_CHARS`` and ``MAX_RESULTS`` results.

The grammar, loosely (RFC 8601 section 2.2)::

    authres-header = authserv-id [ version ] ( 1*( ";" resinfo ) / ";" "none" )
    resinfo        = method [ "/" version ] "=" result [ "reason=" value ]
                     *( ptype "." property "=" pvalue )

with comments in parentheses (nested, ``\\`` escapes) and values as tokens or quoted strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_CHARS = 16_384
MAX_RESULTS = 64

# key=value, the value a quoted string or a run up to white space or ";".
_PAIR = re.compile(r'([^\s=";]+)\s*=\s*("(?:[^"\\]|\\.)*"?|[^\s;"]*)', re.DOTALL)
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|[^\s;"]+', re.DOTALL)


@dataclass(frozen=True)
class Result:
    """One ``method=result`` of a field, lower-cased (values keep their case)."""

    method: str
    result: str
    reason: str = ""
    # "smtp.mailfrom" -> value (and plain keys some servers add, such as "p")
    properties: dict[str, str] = field(default_factory=dict)
    comments: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuthenticationResults:
    authserv_id: str
    results: tuple[Result, ...]


def parse(value: str) -> AuthenticationResults | None:
    """The field's authserv-id and results; None when there is no authserv-id."""
    try:
        return _parse(str(value)[:MAX_CHARS])
    except Exception:  # hostile input is never worth an exception here
        return None


def _parse(value: str) -> AuthenticationResults | None:
    parts = _split(value)
    head_text, _ = parts[0]
    head = _TOKEN.findall(head_text)
    if not head:
        return None
    authserv_id = _unquote(head[0]).strip().lower()
    if not authserv_id:
        return None
    results = []
    for text, comments in parts[1 : 1 + MAX_RESULTS]:
        result = _resinfo(text, comments)
        if result is not None:
            results.append(result)
    return AuthenticationResults(authserv_id, tuple(results))


def _resinfo(text: str, comments: tuple[str, ...]) -> Result | None:
    pairs = [(key.lower(), _unquote(raw)) for key, raw in _PAIR.findall(text)]
    if not pairs:
        return None  # "none", or nothing readable
    method_key, result = pairs[0]
    method = method_key.partition("/")[0]
    if not method or "." in method:
        return None
    reason = ""
    properties: dict[str, str] = {}
    for key, item in pairs[1:]:
        if key == "reason":
            reason = item
        else:  # ptype.property, and the odd plain key some servers write (policy=, p=)
            properties.setdefault(key, item)
    return Result(method, result.strip().lower(), reason, properties, comments)


def _split(value: str) -> list[tuple[str, tuple[str, ...]]]:
    """Split at ``;`` outside quotes and comments; comments are taken out of the text and
    kept beside it."""
    parts: list[tuple[str, tuple[str, ...]]] = []
    text: list[str] = []
    comments: list[str] = []
    comment: list[str] = []
    depth = 0
    quoted = False
    escaped = False
    for char in value:
        if escaped:
            (comment if depth else text).append(char)
            escaped = False
        elif char == "\\" and (quoted or depth):
            escaped = True
            if quoted:
                text.append(char)
        elif depth:
            if char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
                if depth == 0:
                    comments.append("".join(comment).strip())
                    comment = []
                    text.append(" ")
                    continue
            comment.append(char)
        elif quoted:
            text.append(char)
            if char == '"':
                quoted = False
        elif char == '"':
            quoted = True
            text.append(char)
        elif char == "(":
            depth = 1
        elif char == ";":
            parts.append(("".join(text), tuple(comments)))
            text, comments = [], []
        else:
            text.append(char)
    parts.append(("".join(text), tuple(comments)))
    return parts


def _unquote(value: str) -> str:
    if value.startswith('"'):
        value = value[1:-1] if len(value) > 1 and value.endswith('"') else value[1:]
        return re.sub(r"\\(.)", r"\1", value, flags=re.DOTALL)
    return value
