"""Where the fetched model catalog is shared between processes."""
