"""Settings to Kafka client security arguments: the one place every client gets them.

``client_kwargs`` is for any aiokafka client (producer, consumer, admin, low-level
client); ``broker_credentials`` is the same for a faust app. With the default
``kafka_security_protocol=PLAINTEXT`` both add nothing, so plaintext clients are built
exactly as before.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

from aiokafka.helpers import create_ssl_context

from core.settings import Settings

if TYPE_CHECKING:
    import faust


class KafkaSecurityError(ValueError):
    """The Kafka security settings do not fit together (a configuration mistake)."""


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
