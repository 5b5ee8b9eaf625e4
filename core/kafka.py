"""The one factory of Kafka clients: every producer, consumer and admin client is built here.

:func:`new_producer`, :func:`new_consumer` and :func:`new_admin` take the settings and
the client's own options, and add the bootstrap servers and the security arguments
themselves, so no caller can forget them (``bench`` once built its clients without them) or pass them twice
(``riverbed smoke`` once raised ``TypeError`` on a SASL broker that way). An option that
would override the connection (bootstrap, protocol, SASL, TLS) is refused.
``broker_credentials`` is the same security for a faust app. With the default
``kafka_security_protocol=PLAINTEXT`` no security argument is added.
"""

from __future__ import annotations

import ssl
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.helpers import create_ssl_context
from aiokafka.protocol.admin import DeleteGroupsRequest

from core.settings import Settings

if TYPE_CHECKING:
    import faust


class KafkaSecurityError(ValueError):
    """The Kafka security settings do not fit together (a configuration mistake)."""


# Arguments only this module sets: a caller passing one would bypass the settings.
CONNECTION_ARGS = frozenset(
    {
        "bootstrap_servers",
        "security_protocol",
        "sasl_mechanism",
        "sasl_plain_username",
        "sasl_plain_password",
        "ssl_context",
    }
)


def connection_kwargs(settings: Settings, options: dict[str, Any]) -> dict[str, Any]:
    """The bootstrap servers and security arguments, merged with a client's own options."""
    clash = sorted(CONNECTION_ARGS & options.keys())
    if clash:
        raise TypeError(
            f"{', '.join(clash)} come from the settings (RIVERBED_KAFKA_*), not from the caller"
        )
    return {"bootstrap_servers": settings.kafka_bootstrap, **client_kwargs(settings), **options}


def new_producer(settings: Settings, **options: Any) -> AIOKafkaProducer:
    """An (unstarted) producer for the configured brokers, with the configured security."""
    return AIOKafkaProducer(**connection_kwargs(settings, options))


def new_consumer(settings: Settings, *topics: str, **options: Any) -> AIOKafkaConsumer:
    """An (unstarted) consumer, subscribed to ``topics`` if any are given."""
    return AIOKafkaConsumer(*topics, **connection_kwargs(settings, options))


def new_admin(settings: Settings, **options: Any) -> AIOKafkaAdminClient:
    """An (unstarted) admin client for the configured brokers."""
    return AIOKafkaAdminClient(**connection_kwargs(settings, options))


def client_kwargs(settings: Settings) -> dict[str, Any]:
    """``security_protocol``, SASL and TLS arguments for aiokafka clients (may be empty)."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return {}
    username, password = _sasl_login(settings)
    kwargs: dict[str, Any] = {
        "security_protocol": protocol,
        "sasl_mechanism": settings.kafka_sasl_mechanism,
        "sasl_plain_username": username,
        "sasl_plain_password": password,
    }
    if protocol == "SASL_SSL":
        kwargs["ssl_context"] = ssl_context(settings)
    return kwargs


def broker_credentials(settings: Settings) -> faust.SASLCredentials | None:
    """faust's ``broker_credentials`` for the same settings (None: plaintext)."""
    if settings.kafka_security_protocol == "PLAINTEXT":
        return None
    import faust

    username, password = _sasl_login(settings)
    return faust.SASLCredentials(
        username=username,
        password=password,
        mechanism=settings.kafka_sasl_mechanism,
        # faust picks SASL_SSL when given a context, SASL_PLAINTEXT without one.
        ssl_context=ssl_context(settings)
        if settings.kafka_security_protocol == "SASL_SSL"
        else None,
    )


# Kafka's error codes that mean "nothing left to delete" for a group.
GROUP_GONE = frozenset({0, 69})  # NONE, GROUP_ID_NOT_FOUND


async def delete_groups(client: AIOKafkaAdminClient, groups: Iterable[str]) -> dict[str, int]:
    """Delete consumer groups, each at its coordinator: group -> Kafka error code.

    aiokafka's admin client has no method for DeleteGroups (API 42), so the request goes
    to each coordinator directly. A group with live members is refused by the broker
    (code 68, GROUP_NOT_EMPTY): stop its consumers first.
    """
    by_node: dict[int, list[str]] = defaultdict(list)
    for group in sorted(set(groups)):
        by_node[await client.find_coordinator(group)].append(group)
    codes: dict[str, int] = {}
    for node, names in by_node.items():
        response = await client._send_request_to_node(node, DeleteGroupsRequest(names))
        codes.update({group: code for group, code in response.results})
    return codes


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """A context that verifies the broker (hostname included) against the CA file, or
    against the system's CAs when ``kafka_ssl_cafile`` is unset."""
    cafile = settings.kafka_ssl_cafile
    if cafile is not None and not cafile.is_file():
        raise KafkaSecurityError(f"RIVERBED_KAFKA_SSL_CAFILE {cafile} is not a readable file")
    return create_ssl_context(cafile=str(cafile) if cafile else None)  # type: ignore[no-any-return]


def _sasl_login(settings: Settings) -> tuple[str, str]:
    if not settings.kafka_username or settings.kafka_password is None:
        raise KafkaSecurityError(
            f"RIVERBED_KAFKA_SECURITY_PROTOCOL={settings.kafka_security_protocol} needs "
            "RIVERBED_KAFKA_USERNAME and RIVERBED_KAFKA_PASSWORD (`riverbed stack up --secure` "
            "writes them per principal under <data dir>/secure/)"
        )
    return settings.kafka_username, settings.kafka_password.get_secret_value()
