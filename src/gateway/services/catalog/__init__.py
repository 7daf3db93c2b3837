"""The model catalog: its contents and prices (`entries`), and the cache that serves it
(`cache`), shared between processes through Redis."""
