"""BSI Flex 335 v2.0 message rules, read from the standard's own .proto files.

The Dstl SAPIENT-Proto-Files (shipped compiled in ``sapient-py``) mark each field
with validation options, ``sapient_msg.field_options``: ``is_mandatory``,
``is_ulid``, ``is_uuid``; a oneof may be mandatory too (``oneof_options``). These
are the rules Dstl's Apex middleware applies before it forwards a message; in its
strict mode a UUID must be of version 4. This checker applies them to a message:

- a mandatory field of a message that is present must be present: a repeated
  field non-empty, a field with presence set (an enum not ``*_UNSPECIFIED``), a
  plain scalar not its default;
- a mandatory oneof must have one member set;
- a ULID field holds 26 Crockford base-32 characters, the first ``0``-``7``;
- a UUID field holds a hyphenated UUID of version 4 and the RFC 4122 variant.
"""

from __future__ import annotations

import re
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from sapient_msg import proto_options_pb2 as po

ULID = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}")
UUID4 = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}"
)
_REPEATED = FieldDescriptor.LABEL_REPEATED
_MESSAGE = FieldDescriptor.TYPE_MESSAGE
_ENUM = FieldDescriptor.TYPE_ENUM


def _options(opts: Any, ext: Any) -> Any:
    return opts.Extensions[ext] if opts.HasExtension(ext) else None


def violations(msg: Any, path: str = "") -> list[str]:
    """Every breach of the v2.0 validation rules in ``msg`` and its present sub-messages."""
    out: list[str] = []
    d = msg.DESCRIPTOR
    for oneof in d.oneofs:
        o = _options(oneof.GetOptions(), po.oneof_options)
        if o is not None and o.is_mandatory and msg.WhichOneof(oneof.name) is None:
            out.append(f"{path}{oneof.name}: mandatory oneof has no member set")
    for f in d.fields:
        o = _options(f.GetOptions(), po.field_options)
        where = f"{path}{f.name}"
        repeated = f.label == _REPEATED
        if o is not None and o.is_mandatory:
            if repeated:
                missing = len(getattr(msg, f.name)) == 0
            elif f.has_presence:
                missing = not msg.HasField(f.name)
            else:
                missing = getattr(msg, f.name) == f.default_value
            if not missing and f.type == _ENUM and not repeated:
                missing = f.enum_type.values_by_number[getattr(msg, f.name)].name.endswith(
                    "_UNSPECIFIED"
                )
            if missing:
                out.append(f"{where}: mandatory field missing")
        if o is not None and (o.is_ulid or o.is_uuid):
            values = list(getattr(msg, f.name)) if repeated else [getattr(msg, f.name)]
            for v in values:
                if not v:
                    continue
                if o.is_ulid and not ULID.fullmatch(v):
                    out.append(f"{where}: {v!r} is not a ULID")
                if o.is_uuid and not UUID4.fullmatch(v):
                    out.append(f"{where}: {v!r} is not a UUID version 4")
        if f.type == _MESSAGE and not f.message_type.full_name.startswith("google."):
            if repeated:
                for i, sub in enumerate(getattr(msg, f.name)):
                    out += violations(sub, f"{where}[{i}].")
            elif msg.HasField(f.name):
                out += violations(getattr(msg, f.name), f"{where}.")
    return out
