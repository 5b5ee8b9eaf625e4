"""Seeded simulators of Riverbed's world: orders, stock and viewing, as events.

:class:`Simulation` builds a reproducible world from a seed (same seed, byte-identical
events); :func:`run` sends its stream to a sink (the publisher, the HTTP gateway or a
JSON-lines file) at a rate; :func:`seed_reference_data` writes its stores, products and
known customers to PostgreSQL. ``riverbed simulate`` wires them together.
"""

from producers.simulators.catalog import Catalog, Customer, Product, Store, Title, build_catalog
from producers.simulators.mix import DEFAULT_MIX, DOMAINS, MixPicker, parse_mix
from producers.simulators.runner import BatchResult, Pacer, RunStats, Sink, run
from producers.simulators.seed import ReferenceTablesMissing, SeedError, seed_reference_data
from producers.simulators.simulation import Simulation, SimulationConfig
from producers.simulators.sinks import GatewaySink, JsonLinesSink, PublisherSink
from producers.simulators.zipf import ZipfSampler

__all__ = [
    "DEFAULT_MIX",
    "DOMAINS",
    "BatchResult",
    "Catalog",
    "Customer",
    "GatewaySink",
    "JsonLinesSink",
    "MixPicker",
    "Pacer",
    "Product",
    "PublisherSink",
    "ReferenceTablesMissing",
    "RunStats",
    "SeedError",
    "Simulation",
    "SimulationConfig",
    "Sink",
    "Store",
    "Title",
    "ZipfSampler",
    "build_catalog",
    "parse_mix",
    "run",
    "seed_reference_data",
]
