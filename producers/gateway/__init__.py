"""The HTTP gateway: authenticated, rate-limited, validated publishing into Kafka.

``create_app(settings)`` builds the FastAPI app; ``riverbed gateway`` serves it.
"""

from producers.gateway.app import create_app
from producers.gateway.keys import KeyRecord, KeyStore, KeyStoreError, ScryptParams

__all__ = ["KeyRecord", "KeyStore", "KeyStoreError", "ScryptParams", "create_app"]
