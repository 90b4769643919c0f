"""The KB index in the team's PostgreSQL database (when `database_url` names one).

The same articles, past cases, spelling words and outcome feedback as the SQLite index,
in tables of the team database, so every technician indexes and searches one KB:

- `schema`: the tables, under a KB-owned schema version (`kb_meta`), and pg_trgm;
- `terms`: threer's analysed terms as a 'simple' tsvector with field weights and positions;
- `bm25`: FTS5's BM25 formula from tsvector positions (the candidate pool);
- `spelling`: typo correction with pg_trgm, or rapidfuzz where the extension cannot be made;
- `feedback`: outcome learning;
- `files`: indexing folders, the sample KB and imported pages;
- `index`: `PgKb`, what `PostgresStore.kb_index()` returns (threer.kb.backend.KbIndex and the writes).

docs/explanation/data.md says what is stored where; docs/explanation/search-ranking.md how it ranks.
"""
