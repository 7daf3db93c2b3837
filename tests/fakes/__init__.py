"""Local stand-ins for third-party services, so that no test reaches the real ones."""
