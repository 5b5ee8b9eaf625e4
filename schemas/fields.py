"""Constrained field types shared by the contracts, so one rule has one definition.

Bounds are deliberately tight: loosening a published constraint later is backward
compatible, tightening it is not (see ``schemas.compat``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints, WithJsonSchema

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
SKU_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"
REASON_CODE_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
EVENT_TYPE_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"
SOURCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"

MAX_QUANTITY = 1_000_000
MAX_POSITION_S = 7 * 24 * 3600.0
MAX_TEXT_LENGTH = 500

# Ids are opaque: letters, digits, ``_`` and ``-`` keep them safe in keys, URLs and logs.
Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Sku = Annotated[str, StringConstraints(pattern=SKU_PATTERN)]
Currency = Annotated[str, StringConstraints(pattern=CURRENCY_PATTERN)]
# Machine-readable reasons (``damaged``, ``count_correction``): snake case, not prose.
ReasonCode = Annotated[str, StringConstraints(pattern=REASON_CODE_PATTERN)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT_LENGTH)]

# Strict: the wire must carry a JSON integer, never "3", 3.0 or true.
Quantity = Annotated[int, Field(strict=True, gt=0, le=MAX_QUANTITY)]
NonNegativeCount = Annotated[int, Field(strict=True, ge=0, le=MAX_QUANTITY)]
StockDelta = Annotated[int, Field(strict=True, ge=-MAX_QUANTITY, le=MAX_QUANTITY)]
# Negative when adjustments left a store oversold: a reading, not a request.
StockLevel = Annotated[int, Field(strict=True, ge=-MAX_QUANTITY, le=MAX_QUANTITY)]
PositionSeconds = Annotated[float, Field(strict=True, ge=0, le=MAX_POSITION_S, allow_inf_nan=False)]


_CENT = Decimal("0.01")


def _to_cents(value: Decimal) -> Decimal:
    # One spelling per amount ("10" and "1E+1" both become "10.00", "-0" becomes "0.00"),
    # so what we write always matches the published pattern below.
    return value.copy_abs().quantize(_CENT)


def _money_schema(max_digits: int, decimal_places: int) -> WithJsonSchema:
    """Describe a Decimal as the string it travels as, derived from its bounds.

    Amounts are JSON strings so that no float ever rounds them; the pattern is built from
    the same numbers as the validation, so tightening a bound changes the published
    schema and ``schemas.compat`` catches it. Readers also accept a JSON number, which
    pydantic parses exactly from its text.
    """
    whole = max_digits - decimal_places
    pattern = rf"^(0|[1-9][0-9]{{0,{whole - 1}}})(\.[0-9]{{1,{decimal_places}}})?$"
    return WithJsonSchema({"type": "string", "pattern": pattern, "examples": ["19.99"]})


UnitPrice = Annotated[
    Decimal,
    Field(ge=0, max_digits=12, decimal_places=2),
    AfterValidator(_to_cents),
    _money_schema(12, 2),
]
AMOUNT_DIGITS = 14
Amount = Annotated[
    Decimal,
    Field(ge=0, max_digits=AMOUNT_DIGITS, decimal_places=2),
    AfterValidator(_to_cents),
    _money_schema(AMOUNT_DIGITS, 2),
]
# The first amount too large for ``Amount`` (a worker that computes one checks it).
AMOUNT_LIMIT = Decimal(10) ** (AMOUNT_DIGITS - 2)
