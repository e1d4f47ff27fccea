"""SQL over the JSON document column, for SQLite (JSON1) and PostgreSQL (jsonb) alike."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB


class JsonSql:
    """The JSON functions of one dialect, over a JSON/JSONB expression and a key path."""

    def __init__(self, dialect: str) -> None:
        self.sqlite = dialect == "sqlite"

    def _path(self, keys: tuple[str, ...]) -> str:
        return "$" + "".join(f'."{key}"' for key in keys)

    def text(self, doc: Any, keys: tuple[str, ...]) -> Any:
        if self.sqlite:
            # json_extract yields SQL text for JSON strings; guard the type so
            # a number never compares as text.
            return sa.case(
                (
                    sa.func.json_type(doc, self._path(keys)) == "text",
                    sa.func.json_extract(doc, self._path(keys)),
                ),
                else_=sa.null(),
            )
        node = sa.func.jsonb_extract_path(doc, *keys)
        return sa.case(
            (sa.func.jsonb_typeof(node) == "string", sa.func.jsonb_extract_path_text(doc, *keys)),
            else_=sa.null(),
        )

    def number(self, doc: Any, keys: tuple[str, ...]) -> Any:
        if self.sqlite:
            kind = sa.func.json_type(doc, self._path(keys))
            return sa.case(
                (kind.in_(("integer", "real")), sa.func.json_extract(doc, self._path(keys))),
                else_=sa.null(),
            )
        node = sa.func.jsonb_extract_path(doc, *keys)
        return sa.case(
            (
                sa.func.jsonb_typeof(node) == "number",
                sa.cast(sa.func.jsonb_extract_path_text(doc, *keys), sa.Numeric),
            ),
            else_=sa.null(),
        )

    def is_true(self, doc: Any, keys: tuple[str, ...]) -> Any:
        if self.sqlite:
            return sa.func.json_type(doc, self._path(keys)) == "true"
        return sa.func.jsonb_extract_path(doc, *keys) == sa.cast(sa.literal("true"), JSONB)

    def is_false(self, doc: Any, keys: tuple[str, ...]) -> Any:
        if self.sqlite:
            return sa.func.json_type(doc, self._path(keys)) == "false"
        return sa.func.jsonb_extract_path(doc, *keys) == sa.cast(sa.literal("false"), JSONB)

    def present(self, doc: Any, keys: tuple[str, ...]) -> Any:
        """RFC 7644 §3.4.2.2 ``pr``: a non-null, non-empty value."""
        if self.sqlite:
            kind = sa.func.json_type(doc, self._path(keys))
            value = sa.func.json_extract(doc, self._path(keys))
            return sa.and_(
                kind.is_not(None),
                kind != "null",
                sa.or_(kind != "text", value != ""),
                sa.or_(kind != "array", sa.func.json_array_length(doc, self._path(keys)) > 0),
            )
        node = sa.func.jsonb_extract_path(doc, *keys)
        kind = sa.func.jsonb_typeof(node)
        return sa.and_(
            node.is_not(None),
            kind != "null",
            sa.or_(kind != "string", sa.func.jsonb_extract_path_text(doc, *keys) != ""),
            sa.or_(kind != "array", sa.func.jsonb_array_length(node) > 0),
        )

    def elements(self, doc: Any, keys: tuple[str, ...]) -> Any:
        """A JSON array as a table: ``value`` (JSON), ``position`` (0-based), ``text``."""
        if self.sqlite:
            each = sa.func.json_each(doc, self._path(keys)).table_valued("value", "key", "type")
            return each.alias("e")
        node = sa.func.jsonb_extract_path(doc, *keys)
        array = sa.case((sa.func.jsonb_typeof(node) == "array", node), else_=sa.null())
        # render_derived names the columns (AS e(value, position)); without it
        # PostgreSQL would call the ordinality column "ordinality".
        return (
            sa.func.jsonb_array_elements(array)
            .table_valued("value", with_ordinality="position")
            .render_derived(name="e")
        )

    def element_text(self, table: Any) -> Any:
        """A string element of a multi-valued simple attribute, as text (else NULL)."""
        if self.sqlite:
            # json_each gives primitive elements as SQL values, tagged by ``type``.
            return sa.case((table.c.type == "text", table.c.value), else_=sa.null())
        return sa.case(
            (
                sa.func.jsonb_typeof(table.c.value) == "string",
                table.c.value.op("#>>")(sa.literal_column("'{}'::text[]")),
            ),
            else_=sa.null(),
        )

    def position(self, table: Any) -> Any:
        return table.c.key if self.sqlite else table.c.position

    def lower(self, expr: Any) -> Any:
        # SQLite's lower() folds ASCII only; tenure_lower is Python's str.lower,
        # registered on every connection (app.store.db).
        return sa.func.tenure_lower(expr) if self.sqlite else sa.func.lower(expr)

    def ordered(self, expr: Any) -> Any:
        """Order strings by code point on PostgreSQL too, whatever the database collation."""
        return expr if self.sqlite else sa.collate(expr, "C")
