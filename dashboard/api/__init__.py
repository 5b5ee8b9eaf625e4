"""The HTTP routes: read API, live stream, operations endpoints."""
