"""The W3C Trace Context ``traceparent`` value carried by envelopes.

Validated on the way in so that a tracer downstream never chokes on a malformed parent;
see https://www.w3.org/TR/trace-context/#traceparent-header for the rules checked here.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

TRACEPARENT_PATTERN = r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}(-[0-9a-zA-Z._-]*)?$"
_TRACEPARENT = re.compile(TRACEPARENT_PATTERN)


def check_traceparent(value: str) -> str:
    """Refuse a value that a W3C-compliant tracer would refuse; returns it unchanged."""
    if _TRACEPARENT.fullmatch(value) is None:
        raise ValueError(
            "traceparent must look like '00-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>'"
            " in lowercase"
        )
    version, trace_id, parent_id = value[0:2], value[3:35], value[36:52]
    if version == "ff":
        raise ValueError("traceparent version 'ff' is invalid")
    if version == "00" and len(value) != 55:
        raise ValueError("traceparent version 00 has exactly four fields")
    if trace_id == "0" * 32:
        raise ValueError("traceparent trace-id must not be all zeros")
    if parent_id == "0" * 16:
        raise ValueError("traceparent parent-id must not be all zeros")
    return value


Traceparent = Annotated[
    str,
    # The pattern is published but checked by ``check_traceparent``, for a clearer error.
    Field(max_length=512, json_schema_extra={"pattern": TRACEPARENT_PATTERN}),
    AfterValidator(check_traceparent),
]
