"""The two base classes every contract model derives from.

Contracts are frozen (an event is a fact: handlers must not edit what they received) and
refuse unknown fields (a typo or a field from a newer version must not pass silently).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class Contract(BaseModel):
    """A frozen part of an event contract that refuses unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Payload(Contract):
    """The body of one event type at one version.

    Subclasses set ``EVENT_TYPE`` (past tense, ``domain.verb``) and ``EVENT_VERSION``;
    the pair picks the topic, the key rule and the envelope it travels in. A change that
    is not backward compatible is a new class with the next version, never an edit.
    """

    EVENT_TYPE: ClassVar[str]
    EVENT_VERSION: ClassVar[int]
