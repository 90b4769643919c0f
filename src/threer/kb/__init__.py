"""The local knowledge base: ingest articles, index them in SQLite FTS5, search them and past cases."""
