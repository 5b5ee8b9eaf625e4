"""The floor of Riverbed: settings, the error tree, the Kafka client factory, logging.

Every other package may import ``core``; ``core`` imports none of them (the layering
test in ``tests/unit/test_layers.py`` enforces it).
"""

__version__ = "0.1.0"
