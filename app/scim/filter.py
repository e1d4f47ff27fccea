"""SCIM filter and path grammar (RFC 7644 §3.4.2.2 filters, §3.5.2 PATCH paths): text ↔ AST.

Pure: ``parse_filter`` and ``parse_path`` read text into the tagged-union AST
below, ``to_text`` prints it back (``parse_filter(to_text(f)) == f``). Names
stay as the client wrote them; ``app.scim.resolve`` binds them to a schema.
Errors are ``InvalidFilter`` / ``InvalidPath`` naming the character position.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from app.scim.errors import InvalidFilter, InvalidPath, ScimError

MAX_LENGTH = 4096
MAX_DEPTH = 32
MAX_TERMS = 200  # comparisons in one filter; real clients send one or two

COMPARE_OPS = frozenset({"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"})
Value = str | int | float | bool | None


class AttrPath(msgspec.Struct, frozen=True, kw_only=True):
    """``[urn:…:]attr[.sub]``; ``urn`` is None when the path is not qualified."""

    urn: str | None = None
    attr: str
    sub: str | None = None


class Compare(msgspec.Struct, frozen=True, kw_only=True, tag="compare"):
    path: AttrPath
    op: str  # one of COMPARE_OPS, lower case
    value: Value


class Present(msgspec.Struct, frozen=True, kw_only=True, tag="present"):
    path: AttrPath


class And(msgspec.Struct, frozen=True, kw_only=True, tag="and"):
    left: Filter
    right: Filter


class Or(msgspec.Struct, frozen=True, kw_only=True, tag="or"):
    left: Filter
    right: Filter


class Not(msgspec.Struct, frozen=True, kw_only=True, tag="not"):
    inner: Filter


class ValuePath(msgspec.Struct, frozen=True, kw_only=True, tag="valuePath"):
    """``emails[type eq "work"]``: elements of a multi-valued attribute matching ``filter``."""

    path: AttrPath
    filter: Filter


Filter = Compare | Present | And | Or | Not | ValuePath


class PatchPath(msgspec.Struct, frozen=True, kw_only=True):
    """A PATCH target (RFC 7644 §3.5.2): attr, attr.sub, attr[filter] or attr[filter].sub."""

    path: AttrPath
    filter: Filter | None = None
    sub: str | None = None  # only with a filter; else it is path.sub


# --- tokens -------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w:.$-]))
  | (?P<punct>[()\[\]])
  | (?P<word>\.?[A-Za-z$_][\w:.$-]*)
  | (?P<bare>[^\s()\[\]"]+)
    """,
    re.VERBOSE,
)


class _Token(msgspec.Struct, frozen=True):
    kind: str  # string | number | punct | word | bare | end
    text: str
    at: int  # 0-based character offset


def _tokens(text: str, error: type[ScimError]) -> list[_Token]:
    if len(text) > MAX_LENGTH:
        raise error(f"too long: {len(text)} characters, at most {MAX_LENGTH}")
    out: list[_Token] = []
    at = 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            raise error(f"unexpected character {text[at]!r} at position {at + 1}")
        kind = match.lastgroup or ""
        if kind != "space":
            out.append(_Token(kind, match.group(), at))
        at = match.end()
    out.append(_Token("end", "", len(text)))
    return out


def _attr_path(word: str, at: int, error: type[ScimError]) -> AttrPath:
    """Split ``urn:…:User:name.givenName`` (the URN itself may contain dots, e.g. ``2.0``)."""
    urn = None
    rest = word
    if word.lower().startswith("urn:"):
        urn, _, rest = word.rpartition(":")
        if not rest:
            raise error(f"attribute name missing after {urn!r} at position {at + 1}")
    parts = rest.split(".")
    if len(parts) > 2 or not all(_NAME.match(p) for p in parts):
        raise error(f"{word!r} at position {at + 1} is not an attribute path")
    return AttrPath(urn=urn, attr=parts[0], sub=parts[1] if len(parts) == 2 else None)


_NAME = re.compile(r"^(?:\$ref|[A-Za-z][\w-]*)$")


# --- parser -------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str, error: type[ScimError]) -> None:
        self.error = error
        self.tokens = _tokens(text, error)
        self.i = 0
        self.depth = 0
        self.terms = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.i]

    def fail(self, expected: str) -> ScimError:
        token = self.token
        found = "end of input" if token.kind == "end" else repr(token.text)
        return self.error(f"expected {expected} at position {token.at + 1}, found {found}")

    def keyword(self, *words: str) -> str | None:
        token = self.token
        if token.kind == "word" and token.text.lower() in words:
            self.i += 1
            return token.text.lower()
        return None

    def punct(self, char: str) -> bool:
        if self.token.kind == "punct" and self.token.text == char:
            self.i += 1
            return True
        return False

    def nested(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(
                f"nested deeper than {MAX_DEPTH} levels at position {self.token.at + 1}"
            )

    # FILTER = term *("or" term); term = factor *("and" factor)  (and binds tighter)
    def filter(self, inside_brackets: bool = False) -> Filter:
        self.nested()
        node = self.term(inside_brackets)
        while self.keyword("or"):
            node = Or(left=node, right=self.term(inside_brackets))
        self.depth -= 1
        return node

    def term(self, inside_brackets: bool) -> Filter:
        node = self.factor(inside_brackets)
        while self.keyword("and"):
            node = And(left=node, right=self.factor(inside_brackets))
        return node

    def factor(self, inside_brackets: bool) -> Filter:
        if self.keyword("not"):
            if not self.punct("("):
                raise self.fail("'(' after 'not'")
            inner = self.filter(inside_brackets)
            if not self.punct(")"):
                raise self.fail("')'")
            return Not(inner=inner)
        if self.punct("("):
            inner = self.filter(inside_brackets)
            if not self.punct(")"):
                raise self.fail("')'")
            return inner
        token = self.token
        if token.kind != "word":
            raise self.fail("an attribute path, 'not' or '('")
        self.i += 1
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise self.error(f"more than {MAX_TERMS} comparisons (position {token.at + 1})")
        path = _attr_path(token.text, token.at, self.error)
        if self.punct("["):
            if inside_brackets:
                raise self.error(f"value filters cannot nest (position {token.at + 1})")
            if path.sub is not None:
                raise self.error(
                    f"'[' must follow an attribute, not a sub-attribute (position {token.at + 1})"
                )
            inner = self.filter(inside_brackets=True)
            if not self.punct("]"):
                raise self.fail("']'")
            following = self.token
            if following.kind == "word" and following.text.startswith("."):
                # emails[type eq "work"].value eq "…" (Entra's lookup): the element must pass
                # both, so it reads as emails[type eq "work" and value eq "…"].
                self.i += 1
                sub = _attr_path(following.text[1:], following.at + 1, self.error)
                return ValuePath(path=path, filter=And(left=inner, right=self.test(sub)))
            return ValuePath(path=path, filter=inner)
        return self.test(path)

    def test(self, path: AttrPath) -> Filter:
        """``pr`` or a comparison of ``path`` (its operator, in any case, and value)."""
        op = self.token.text.lower() if self.token.kind == "word" else ""
        if op == "pr":
            self.i += 1
            return Present(path=path)
        if op not in COMPARE_OPS:
            raise self.fail("an operator (eq ne co sw ew gt ge lt le pr)")
        self.i += 1
        return Compare(path=path, op=op, value=self.value())

    def value(self) -> Value:
        token = self.token
        self.i += 1
        if token.kind == "string":
            try:
                return str(msgspec.json.decode(token.text))
            except msgspec.DecodeError:
                raise self.error(f"malformed string at position {token.at + 1}") from None
        if token.kind == "number":
            try:
                number = msgspec.json.decode(token.text)
            except msgspec.MsgspecError:
                raise self.error(f"malformed number at position {token.at + 1}") from None
            return number  # type: ignore[no-any-return]
        if token.kind == "word" and token.text.lower() in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[token.text.lower()]
        if token.kind in ("word", "bare") and token.text.lower() not in ("and", "or", "not"):
            # Unquoted (userName eq jdoe@example.com): some clients never quote. The value
            # runs to the next space, parenthesis or bracket.
            text, end = token.text, token.at + len(token.text)
            while self.token.kind in ("word", "bare", "number") and self.token.at == end:
                text += self.token.text
                end += len(self.token.text)
                self.i += 1
            return text
        self.i -= 1
        raise self.fail('a value (a "string", number, true, false or null)')

    def end(self) -> None:
        if self.token.kind != "end":
            raise self.fail("end of input")


def parse_filter(text: str) -> Filter:
    """Parse a filter expression; ``InvalidFilter`` says where it goes wrong."""
    parser = _Parser(text, InvalidFilter)
    if parser.token.kind == "end":
        raise InvalidFilter("the filter is empty")
    node = parser.filter()
    parser.end()
    return node


def parse_path(text: str) -> PatchPath:
    """Parse a PATCH ``path`` (RFC 7644 §3.5.2 PATH grammar); ``InvalidPath`` on error."""
    parser = _Parser(text, InvalidPath)
    token = parser.token
    if token.kind != "word":
        raise parser.fail("an attribute path")
    parser.i += 1
    path = _attr_path(token.text, token.at, InvalidPath)
    if not parser.punct("["):
        parser.end()
        return PatchPath(path=path)
    if path.sub is not None:
        raise InvalidPath(f"'[' must follow an attribute, not a sub-attribute: {text!r}")
    try:
        inner = parser.filter(inside_brackets=True)
    except InvalidPath:
        raise
    except ScimError as exc:
        raise InvalidPath(exc.detail) from None
    if not parser.punct("]"):
        raise parser.fail("']'")
    sub = None
    following = parser.token
    if following.kind == "word" and following.text.startswith("."):
        parser.i += 1
        sub = following.text[1:]
        if not _NAME.match(sub):
            raise InvalidPath(f"{following.text!r} is not a sub-attribute")
    parser.end()
    return PatchPath(path=path, filter=inner, sub=sub)


# --- printer ------------------------------------------------------------------


def path_text(path: AttrPath) -> str:
    text = path.attr if path.sub is None else f"{path.attr}.{path.sub}"
    return f"{path.urn}:{text}" if path.urn else text


def _value_text(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    return msgspec.json.encode(value).decode()


def to_text(node: Filter) -> str:
    """Print a filter so that ``parse_filter`` reads back the same AST."""
    if isinstance(node, Compare):
        return f"{path_text(node.path)} {node.op} {_value_text(node.value)}"
    if isinstance(node, Present):
        return f"{path_text(node.path)} pr"
    if isinstance(node, Not):
        return f"not ({to_text(node.inner)})"
    if isinstance(node, ValuePath):
        return f"{path_text(node.path)}[{to_text(node.filter)}]"
    word = "and" if isinstance(node, And) else "or"
    left, right = to_text(node.left), to_text(node.right)
    # Parenthesise any compound operand: the tree, not precedence, decides the shape.
    if isinstance(node.left, And | Or):
        left = f"({left})"
    if isinstance(node.right, And | Or):
        right = f"({right})"
    return f"{left} {word} {right}"
