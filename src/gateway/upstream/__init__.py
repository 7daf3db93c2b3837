"""Clients of the upstream model provider: over HTTP (aiohttp) or the in-process simulator,
behind one interface."""
