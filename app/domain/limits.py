"""Input limits: what a request may carry, so that no value outgrows a column or an operation.

One place for each bound that both the validation (``app/scim``, ``app/api``)
and the storage (``app/store/tables.py``) read; the README's "Limits" table
lists them. Each is far beyond what a real client sends.
"""

from __future__ import annotations

import datetime as dt

# The string attributes and sub-attributes of these names (userName, a Group's
# displayName, externalId, an NHI's name, a reference's display) are kept in
# columns of MAX_NAME_LENGTH characters. The unique name is also kept folded
# (``str.lower``), which may lengthen it ("İ" → "i̇"), so both must fit.
MAX_NAME_LENGTH = 512
NAME_ATTRIBUTES = frozenset({"userName", "displayName", "externalId", "name", "display"})

# A token's purpose, and its environments comma-joined, are kept in columns this wide.
MAX_TOKEN_TEXT = 500

# Nesting of JSON arrays and objects in a request body. The deepest SCIM body
# (a /Bulk operation carrying a PATCH of an extension's complex attribute) is
# about ten; deeper input is refused before anything recurses over it.
MAX_JSON_DEPTH = 32

# Integers a client sends (startIndex, count, ids) fit a signed 64-bit column.
MAX_INT64 = 2**63 - 1
MIN_INT64 = -(2**63)

# dateTime values (RFC 7643 §2.3.5) are accepted in [MIN_DATETIME, MAX_DATETIME):
# every bound, grace or lifetime added to or taken from them (at most ten years
# each) stays inside what Python, SQLite and PostgreSQL can represent.
MIN_DATETIME = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
MAX_DATETIME = dt.datetime(9000, 1, 1, tzinfo=dt.UTC)

# The request target (path and query) the application reads: beyond it a
# client should use POST /.search (RFC 7644 §3.4.3), which carries the query
# in the body.
MAX_REQUEST_TARGET = 8192


def fits_name(text: str) -> bool:
    """Does ``text`` fit a name column, as given and folded?"""
    return len(text) <= MAX_NAME_LENGTH and len(text.lower()) <= MAX_NAME_LENGTH


def fits_int64(value: int) -> bool:
    return MIN_INT64 <= value <= MAX_INT64
