"""Strict, AWS-side validation of API request parameters against botocore's models.

Why: the local stack (moto + moto_ext) must be at least as strict as AWS. moto
barely validates input and botocore's client-side validation is lenient (it
skips patterns, enums and most bounds), so a request our Rust code serializes
wrongly could pass every local test and then fail in AWS with a
ValidationException. A test that passes only because the emulator is lenient
is an emulator bug; this module closes that gap.

What ``violations(service, operation, params)`` checks, recursively through
structures, lists and maps, using the model of the installed botocore (the
version moto pins):

* required members are present (JSON ``null`` counts as absent);
* no unknown members (AWS may ignore them, but for us they are serialization
  bugs);
* types: string, integer/long (ints, not bools), float/double, boolean,
  timestamp (number or string), blob (base64 string or bytes), list, map,
  structure; documents accept any JSON value; unions need exactly one member;
* ``min``/``max``: string length, blob size, list/map size, numeric range;
* ``pattern`` on strings, with search semantics (Smithy: "pattern is not
  implicitly anchored"). Models use Java regex syntax, which is translated
  for the ``regex`` package (see ``_java_to_regex``); a pattern that still
  cannot be compiled is logged once and skipped, never raised;
* ``enum`` values;
* map keys, against the key shape (length, pattern, enum).

``params`` is the decoded request body with wire names, as awsJson (and
rpc-v2-cbor) send it. For REST protocols only body members are checked.

``error_response(violations)`` renders AWS's awsJson ValidationException body.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import functools
import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import botocore.exceptions
import botocore.model
import botocore.session
import regex

__all__ = ["Violation", "violations", "error_response", "skipped_patterns", "rest_operation"]

_LOG = logging.getLogger(__name__)

# Per-search limit: a pathological model pattern on hostile input must not
# stall the server. On timeout the pattern check is skipped for that value.
_PATTERN_TIMEOUT_S = 0.25
# The timeout triples the cost of a search, and even exponential backtracking
# is harmless on values this short, so they are searched without one.
_UNTIMED_MAX_LEN = 16
# Values echoed in messages are cut so a 256 KiB payload cannot flood a log.
_MAX_ECHO = 64


class Violation(str):
    """A violation message that also remembers its parts for AWS-style rendering.

    It is a ``str`` (``"<path>: <detail>"``) so callers can treat the result of
    ``violations()`` as plain strings.
    """

    path: str
    aws_value: str
    aws_constraint: str | None

    def __new__(cls, path: str, detail: str, aws_value: str = "null", aws_constraint: str | None = None) -> "Violation":
        self = super().__new__(cls, f"{path}: {detail}" if path else detail)
        self.path = path
        self.aws_value = aws_value
        self.aws_constraint = aws_constraint
        return self

    def aws_text(self) -> str:
        if self.aws_constraint is None:
            return str(self)
        return f"Value {self.aws_value} at '{self.path}' failed to satisfy constraint: {self.aws_constraint}"


# ---------------------------------------------------------------- model nodes


@dataclass(eq=False)
class _Node:
    """The validation-relevant part of one botocore shape, precomputed once."""

    kind: str
    name: str
    min: float | None = None
    max: float | None = None
    pattern_src: str | None = None
    pattern: regex.Pattern | None = None
    enum: frozenset[str] | None = None
    sensitive: bool = False
    sparse: bool = False
    union: bool = False
    members: dict[str, "_Node"] = field(default_factory=dict)  # wire name -> node
    required: tuple[str, ...] = ()
    member: "_Node | None" = None
    key: "_Node | None" = None
    value: "_Node | None" = None


_session_lock = threading.Lock()
_build_lock = threading.Lock()
_pattern_cache: dict[str, regex.Pattern | None] = {}
_pattern_errors: dict[str, str] = {}


@functools.lru_cache(maxsize=1)
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@functools.lru_cache(maxsize=None)
def _service(service: str) -> tuple[botocore.model.ServiceModel, dict[str, _Node]]:
    # The node memo is per service so shapes shared by operations are built once.
    with _session_lock:
        return _session().get_service_model(service), {}


@functools.lru_cache(maxsize=None)
def _rest_routes(service: str) -> dict[tuple[str, str], str]:
    """(method, path) -> operation, for the operations whose request URI has no labels."""
    model, _memo = _service(service)
    routes = {}
    for name in model.operation_names:
        http = model.operation_model(name).http
        path = http.get("requestUri", "").split("?", 1)[0]
        if "{" not in path:
            routes[(http.get("method", "POST"), path)] = name
    return routes


def rest_operation(service: str, method: str, path: str) -> str | None:
    """The operation a REST request names by its method and path (literal paths only)."""
    return _rest_routes(service).get((method, path.rstrip("/") or "/"))


# Bounded: operation names come from requests and may be garbage.
@functools.lru_cache(maxsize=4096)
def _operation(service: str, operation: str) -> _Node | str:
    """The body node of an operation, or a message saying why there is none."""
    try:
        model, memo = _service(service)
    except botocore.exceptions.UnknownServiceError:
        return f"unknown service {service!r}"
    try:
        op = model.operation_model(operation)
    except botocore.model.OperationNotFoundError:
        return f"unknown operation {operation!r} for service {service!r}"
    shape = op.input_shape
    if shape is None:
        return _Node(kind="structure", name="<no input>")
    with _build_lock:
        payload = shape.serialization.get("payload")
        if payload:
            # REST payload member: the body *is* that member.
            return _node(shape.members[payload], memo)
        return _node(shape, memo)


def _node(shape: botocore.model.Shape, memo: dict[str, _Node]) -> _Node:
    cached = memo.get(shape.name)
    if cached is not None:
        return cached
    meta = shape.metadata
    kind = "document" if meta.get("document") else shape.type_name
    node = _Node(
        kind=kind,
        name=shape.name,
        min=meta.get("min"),
        max=meta.get("max"),
        sensitive=bool(meta.get("sensitive")),
        union=bool(meta.get("union")),
        # 'sparse' is not exposed by botocore's Shape API.
        sparse=bool(getattr(shape, "_shape_model", {}).get("sparse")),
    )
    # Registered before the children are built: recursive shapes terminate.
    memo[shape.name] = node
    if kind == "string":
        node.pattern_src = meta.get("pattern")
        node.pattern = _compile(node.pattern_src) if node.pattern_src else None
        node.enum = frozenset(meta["enum"]) if meta.get("enum") else None
    elif kind == "structure":
        _fill_structure(node, shape, memo)
    elif kind == "list":
        node.member = _node(shape.member, memo)
    elif kind == "map":
        node.key = _node(shape.key, memo)
        node.value = _node(shape.value, memo)
    return node


def _fill_structure(node: _Node, shape: botocore.model.StructureShape, memo: dict[str, _Node]) -> None:
    required = set(shape.required_members)
    wire_required = []
    for name, member in shape.members.items():
        if member.serialization.get("location"):
            continue  # header/URI/query member: never in the body
        wire = member.serialization.get("name", name)
        node.members[wire] = _node(member, memo)
        if name in required:
            wire_required.append(wire)
    node.required = tuple(wire_required)


# ------------------------------------------------------------------ patterns

# Java's POSIX classes are US-ASCII only; the regex package's are Unicode.
_JAVA_POSIX = {
    "Lower": "a-z",
    "Upper": "A-Z",
    "ASCII": r"\x00-\x7F",
    "Alpha": "a-zA-Z",
    "Digit": "0-9",
    "Alnum": "a-zA-Z0-9",
    "Punct": r"!-/:-@\[-`{-\~",
    "Graph": r"!-\~",
    "Print": r" -\~",
    "Blank": r" \t",
    "Cntrl": r"\x00-\x1F\x7F",
    "XDigit": "0-9a-fA-F",
    "Space": r" \t\n\x0B\f\r",
    # Java-only names.
    "LD": r"\p{L}\p{Nd}",
    "all": r"\x00-\U0010FFFF",
}
# Java's \w \d \s are ASCII-only by default; \v and \h are classes, not chars.
_JAVA_SHORTHAND = {
    "w": "a-zA-Z0-9_",
    "d": "0-9",
    "s": r" \t\n\x0B\f\r",
    "v": r"\n\x0B\f\r\x85\u2028\u2029",
    "h": r" \t\xA0\u1680\u180E\u2000-\u200A\u202F\u205F\u3000",
}


def _compile(src: str) -> regex.Pattern | None:
    if src in _pattern_cache:
        return _pattern_cache[src]
    try:
        # V1 gives Java's nested classes and '&&' intersection.
        compiled: regex.Pattern | None = regex.compile(_java_to_regex(src), regex.V1)
    except (regex.error, ValueError, OverflowError) as exc:
        compiled = None
        _pattern_errors[src] = str(exc)
        _LOG.warning("api_contract: skipping uncompilable model pattern %r: %s", src, exc)
    _pattern_cache[src] = compiled
    return compiled


def skipped_patterns() -> dict[str, str]:
    """Model patterns seen so far that could not be compiled (pattern -> error)."""
    return dict(_pattern_errors)


def _java_to_regex(src: str) -> str:
    """Translate the Java regex dialect of the models to the regex package's V1.

    Only constructs whose meaning differs are rewritten; the rest is copied.
    """
    out: list[str] = []
    depth = 0  # character-class nesting (Java nests classes like V1 does)
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c == "\\" and i + 1 < n:
            text, i = _java_escape(src, i)
            out.append(text)
            continue
        if c == "[":
            depth += 1
            out.append(c)
            # A leading '^' negates; copy it so it is not escaped below.
            if i + 1 < n and src[i + 1] == "^":
                out.append("^")
                i += 1
        elif c == "]" and depth:
            depth -= 1
            out.append(c)
        elif depth and c in "|~":
            out.append("\\" + c)  # '||' and '~~' are V1 set operators, literals in Java
        elif depth and c == "-" and i + 1 < n and src[i + 1] == "-":
            out.append("-\\-")  # '--' is V1 set difference; in Java a range ending at '-'
            i += 1
        else:
            out.append(c)
        i += 1
    return "".join(out)


def _java_escape(src: str, i: int) -> tuple[str, int]:
    """Translate the escape starting at src[i] (a backslash); returns (text, next index)."""
    c = src[i + 1]
    if c in "pP" and src.startswith("{", i + 2):
        end = src.find("}", i + 3)
        if end != -1:
            name = src[i + 3 : end]
            body = _JAVA_POSIX.get(name.removeprefix("Is"))
            if body is not None:
                return f"[{'^' if c == 'P' else ''}{body}]", end + 1
    if c.lower() in _JAVA_SHORTHAND:
        negate = "^" if c.isupper() else ""
        return f"[{negate}{_JAVA_SHORTHAND[c.lower()]}]", i + 2
    if c == "x" and src.startswith("{", i + 2):
        end = src.find("}", i + 3)
        if end != -1:
            return f"\\U{int(src[i + 3 : end], 16):08X}", end + 1
    if c == "u":
        code = _utf16_escape(src, i)
        if code is not None:
            return code
    return src[i : i + 2], i + 2


def _utf16_escape(src: str, i: int) -> tuple[str, int] | None:
    """Java patterns spell astral characters as surrogate pairs: join them."""
    high = _hex4(src, i)
    if high is None or not 0xD800 <= high <= 0xDBFF:
        return None
    low = _hex4(src, i + 6)
    if low is None or not 0xDC00 <= low <= 0xDFFF:
        return None
    cp = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
    return f"\\U{cp:08X}", i + 12


def _hex4(src: str, i: int) -> int | None:
    if not src.startswith("\\u", i) or len(src) < i + 6:
        return None
    try:
        return int(src[i + 2 : i + 6], 16)
    except ValueError:
        return None


# ---------------------------------------------------------------- validation


def violations(service: str, operation: str, params: dict) -> list[str]:
    """Every way ``params`` breaks the model of ``service``/``operation``; [] if valid."""
    node = _operation(service, operation)
    if isinstance(node, str):
        return [Violation("", node)]
    out: list[Violation] = []
    _check(node, params, "", out)
    return list(out)


def error_response(violations: list[str]) -> dict:
    """AWS's awsJson ValidationException body for the given violations."""
    texts = [v.aws_text() if isinstance(v, Violation) else str(v) for v in violations]
    noun = "error" if len(texts) == 1 else "errors"
    return {
        "__type": "ValidationException",
        "message": f"{len(texts)} validation {noun} detected: " + "; ".join(texts),
    }


def _check(node: _Node, value: Any, path: str, out: list[Violation]) -> None:
    _CHECKERS[node.kind](node, value, path, out)


def _echo(node: _Node, value: Any) -> str:
    if node.sensitive:
        return "'***'"
    text = str(value)
    if len(text) > _MAX_ECHO:
        text = text[:_MAX_ECHO] + "..."
    return repr(text)


def _type_error(node: _Node, value: Any, path: str, out: list[Violation], expected: str) -> None:
    out.append(Violation(path, f"expected {expected} ({node.name}), got {type(value).__name__}", _echo(node, value),
                         f"Member must be of type {expected}"))


def _check_bounds(node: _Node, value: Any, size: float, path: str, out: list[Violation], what: str) -> None:
    # AWS words both bounds as "length" for strings, blobs and collections.
    noun = "value" if what == "value" else "length"
    if node.min is not None and size < node.min:
        detail = f"{value} is below the minimum {node.min}" if what == "value" else f"{what} {size} is below the minimum {node.min}"
        out.append(Violation(path, detail, _echo(node, value), f"Member must have {noun} greater than or equal to {node.min}"))
    if node.max is not None and size > node.max:
        detail = f"{value} is above the maximum {node.max}" if what == "value" else f"{what} {size} is above the maximum {node.max}"
        out.append(Violation(path, detail, _echo(node, value), f"Member must have {noun} less than or equal to {node.max}"))


def _check_string(node: _Node, value: Any, path: str, out: list[Violation]) -> None:
    if not isinstance(value, str):
        _type_error(node, value, path, out, "string")
        return
    _check_bounds(node, value, len(value), path, out, "length")
    if node.enum is not None and value not in node.enum:
        allowed = ", ".join(sorted(node.enum))
        out.append(Violation(path, f"{_echo(node, value)} is not one of [{allowed}]", _echo(node, value),
                             f"Member must satisfy enum value set: [{allowed}]"))
    if node.pattern is not None and not _search(node.pattern, value):
        out.append(Violation(path, f"{_echo(node, value)} does not match pattern {node.pattern_src}", _echo(node, value),
                             f"Member must satisfy regular expression pattern: {node.pattern_src}"))


def _search(pattern: regex.Pattern, value: str) -> bool:
    if len(value) <= _UNTIMED_MAX_LEN:
        return pattern.search(value) is not None
    try:
        return pattern.search(value, timeout=_PATTERN_TIMEOUT_S) is not None
    except TimeoutError:
        _LOG.warning("api_contract: pattern %r timed out on a %d-char value; check skipped", pattern.pattern, len(value))
        return True


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_integer(node: _Node, value: Any, path: str, out: list[Violation]) -> None:
    if not _is_int(value):
        _type_error(node, value, path, out, "integer")
        return
    _check_bounds(node, value, value, path, out, "value")


# awsJson sends non-finite floats as these strings.
_FLOAT_WORDS = frozenset({"NaN", "Infinity", "-Infinity"})


def _check_float(node: _Node, value: Any, path: str, out: list[Violation]) -> None:
    if isinstance(value, str) and value in _FLOAT_WORDS:
        return
    if not (_is_int(value) or isinstance(value, float)):
        _type_error(node, value, path, out, "number")
        return
    _check_bounds(node, value, value, path, out, "value")


def _check_boolean(node: _Node, value: Any, path: str, out: list[Violation]) -> None:
    if not isinstance(value, bool):
        _type_error(node, value, path, out, "boolean")


def _check_timestamp(node: _Node, value: Any, path: str, out: list[Violation]) -> None:
    # Epoch seconds in awsJson, ISO 8601 strings with timestampFormat, datetimes from CBOR.
    if not (_is_int(value) or isinstance(value, (float, str, datetime.datetime))):
        _type_error(node, value, path, out, "timestamp")


def _check_blob(node: _Node, value: Any, path: str, out: list[Violation]) -> None:
    if isinstance(value, (bytes, bytearray)):
        size = len(value)
    elif isinstance(value, str):
        try:
            size = len(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            out.append(Violation(path, f"blob ({node.name}) is not valid base64", _echo(node, value), "Member must be base64-encoded"))
            return
    else:
        _type_error(node, value, path, out, "blob")
        return
    _check_bounds(node, value, size, path, out, "size")


def _check_list(node: _Node, value: Any, path: str, out: list[Violation]) -> None:
    if not isinstance(value, list):
        _type_error(node, value, path, out, "list")
        return
    _check_bounds(node, f"list of {len(value)}", len(value), path, out, "size")
    assert node.member is not None
    for index, item in enumerate(value):
        item_path = f"{path}[{index}]"
        if item is None:
            if not node.sparse:
                out.append(Violation(item_path, "null element in a non-sparse list", "null", "Member must not be null"))
            continue
        _check(node.member, item, item_path, out)


def _check_map(node: _Node, value: Any, path: str, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        _type_error(node, value, path, out, "map")
        return
    _check_bounds(node, f"map of {len(value)}", len(value), path, out, "size")
    assert node.key is not None and node.value is not None
    for key, item in value.items():
        _check(node.key, key, f"{path} key {str(key)[:_MAX_ECHO]!r}", out)
        item_path = _join(path, str(key))
        if item is None:
            if not node.sparse:
                out.append(Violation(item_path, "null value in a non-sparse map", "null", "Member must not be null"))
            continue
        _check(node.value, item, item_path, out)


def _check_structure(node: _Node, value: Any, path: str, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        _type_error(node, value, path, out, "structure")
        return
    for name in node.required:
        if value.get(name) is None:
            out.append(Violation(_join(path, name), f"is required ({node.name})", "null", "Member must not be null"))
    present = 0
    for name, item in value.items():
        member = node.members.get(name)
        member_path = _join(path, name)
        if member is None:
            out.append(Violation(member_path, f"is not a member of {node.name}"))
            continue
        if item is None:
            continue  # JSON null means absent
        present += 1
        _check(member, item, member_path, out)
    if node.union and present != 1:
        out.append(Violation(path or node.name, f"union {node.name} must have exactly one member set, has {present}"))


def _check_document(node: _Node, value: Any, path: str, out: list[Violation]) -> None:
    """Documents are free-form JSON."""


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


_CHECKERS: dict[str, Callable[[_Node, Any, str, list[Violation]], None]] = {
    "string": _check_string,
    "integer": _check_integer,
    "long": _check_integer,
    "float": _check_float,
    "double": _check_float,
    "boolean": _check_boolean,
    "timestamp": _check_timestamp,
    "blob": _check_blob,
    "list": _check_list,
    "map": _check_map,
    "structure": _check_structure,
    "document": _check_document,
}
