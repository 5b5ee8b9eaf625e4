"""What publishing can raise, placed in Riverbed's tree (see :mod:`core.errors`)::

RiverbedError
├── RetryableError
│   └── PublishError        no acknowledgement: the broker is unreachable, the
│       │                   publisher is not started, or the broker failed the send;
│       │                   the event may or may not have been written, so retry it
│       │                   with the SAME event_id (consumers deduplicate on it)
│       └── PublishTimeout  no acknowledgement within ``publisher_send_timeout_s``
├── PermanentError
│   └── PublishRejected     the event itself can never be written as is (larger than
│                           the broker accepts, a key that disagrees with its payload)
└── TopicLayoutError        a topic exists with a layout that breaks a rule of
                            ``schemas.topics`` (e.g. co-partitioning); never fixed
                            silently
"""

from __future__ import annotations

from core.errors import PermanentError, RetryableError, RiverbedError


class PublishError(RetryableError):
    """The broker did not acknowledge the event(s); safe to retry with the same ids."""


class PublishTimeout(PublishError):
    """No acknowledgement arrived within the send deadline."""


class PublishRejected(PermanentError):
    """The event can never be published as is; retrying the same bytes cannot help."""


class TopicLayoutError(RiverbedError):
    """An existing topic's partition count breaks a rule that consumers rely on."""
