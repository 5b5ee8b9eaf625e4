"""Response bodies of the read API (they are also its OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import Query
from pydantic import BaseModel, model_validator

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=100, description="Items per page (1..100).")]
# Bounded: deep pages cost a scan each, and an int64 overflow was a 500.
MAX_OFFSET = 10_000
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip (0..10000).")]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class OrderLine(BaseModel):
    line_no: int
    sku: str
    quantity: int
    unit_price: Decimal


class StatusChange(BaseModel):
    status: str
    reason: str | None
    at: datetime


class Order(BaseModel):
    order_id: str
    store_id: str
    customer_id: str
    status: str
    reject_reason: str | None
    total: Decimal
    currency: str
    placed_at: datetime
    updated_at: datetime
    lines: list[OrderLine]
    history: list[StatusChange]


class StockLevel(BaseModel):
    sku: str
    on_hand: int
    reserved: int
    available: int
    low: bool
    updated_at: datetime


class StoreInventory(Page[StockLevel]):
    store_id: str
    name: str | None
    region: str | None


class Session(BaseModel):
    session_id: str
    title_id: str
    state: str
    started_at: datetime
    ended_at: datetime | None
    last_event_at: datetime | None = None
    last_position_s: float
    watched_seconds: float
    pauses: int
    completed: bool
    events: int | None = None
    genre: str | None = None
    context: dict[str, Any]

    @model_validator(mode="before")
    @classmethod
    def _event_count(cls, doc: Any) -> Any:
        # Session documents name the count ``events`` or (newer) ``event_count``.
        if isinstance(doc, dict) and "events" not in doc and "event_count" in doc:
            return {**doc, "events": doc["event_count"]}
        return doc


class UserSessions(Page[Session]):
    user_id: str


RecommendationSource = Literal["model", "co_watch", "trending"]


class Recommendation(BaseModel):
    title_id: str
    score: float  # blended: the sum of weight / (5 + rank) over the sources listing it
    source: RecommendationSource  # the source that gave it most
    sources: list[RecommendationSource]  # every source that listed it
    because: list[str]  # the user's titles it was co-watched with (co-watch only)


class Recommendations(BaseModel):
    user_id: str
    at: datetime  # the time of day recommended for (``at``, or now)
    time_of_day: str  # its bucket: night, morning, afternoon or evening
    model_version: int | None  # the trained model's version served, if any
    based_on: list[str]  # the user's recent titles that seed co-watch
    items: list[Recommendation]
    limit: int
    offset: int


class TrendingTitle(BaseModel):
    title_id: str
    starts: int


class Trending(BaseModel):
    window_minutes: int
    as_of: datetime  # the end of the window: now, on the dashboard's clock
    items: list[TrendingTitle]
    limit: int
    offset: int


class ErrorBody(BaseModel):
    status: int
    message: str
    details: Any = None


class Error(BaseModel):
    error: ErrorBody


NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Error, "description": "Unknown id"},
    422: {"model": Error, "description": "Invalid parameter"},
}
