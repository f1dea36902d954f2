"""Monthly summaries (月报): figures computed from the ledger with SQLAlchemy Core ``text()``.

``compute`` runs unchanged on the station SQLite database and on the hub database (SQLite or
PostgreSQL); ``writers`` turn a report dict into xlsx / csv / json / md; ``cli`` holds the Typer
apps. Nothing here imports Textual; heavy modules are imported inside functions.
"""
