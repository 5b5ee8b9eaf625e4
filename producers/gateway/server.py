"""Running the gateway: one uvicorn worker process, tuned for large batch requests,
over HTTPS when given a certificate and key."""

from __future__ import annotations

import gc
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import uvicorn

# Young-generation threshold of the cycle collector while serving (Python's default: 700).
GC_GEN0_THRESHOLD = 50_000


def serve(config: uvicorn.Config) -> None:
    """Run a :func:`server_config` under uvicorn in this process."""
    import uvicorn

    tune_gc()
    uvicorn.Server(config).run()


def server_config(
    app: Any,
    *,
    host: str,
    port: int,
    log_level: str = "info",
    ssl_certfile: Path | None = None,
    ssl_keyfile: Path | None = None,
    log_config: dict[str, Any] | None = None,
) -> uvicorn.Config:
    """One worker, uvloop and httptools when installed (else asyncio and h11); HTTPS
    only when given a certificate and its key (both or neither); uvicorn's own log
    format unless given ``log_config`` (``core.logs.uvicorn_log_config``)."""
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    if (ssl_certfile is None) != (ssl_keyfile is None):
        raise ValueError("TLS needs both a certificate file and its key file")
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        workers=1,
        loop="uvloop" if _installed("uvloop") else "asyncio",
        http="httptools" if _installed("httptools") else "h11",
        log_level=log_level.lower(),
        lifespan="on",
        log_config=log_config if log_config is not None else LOGGING_CONFIG,
        ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
        ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
    )


def tune_gc() -> None:
    """Keep the cycle collector off the hot path of a request-heavy process.

    A batch request keeps ~15 objects per event alive until it answers; with the default
    threshold they are promoted through the generations and re-traversed by full
    collections (measured: ~25% of the CPU per event). Objects from start-up (modules,
    contracts, the app) are frozen out of collections, and the young generation is
    collected after 50,000 net allocations: a request's objects are freed by reference
    counting before they are ever traversed. Cyclic garbage is still collected.
    """
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None
