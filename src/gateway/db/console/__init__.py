"""Console sessions: stored by the hash of their token."""
