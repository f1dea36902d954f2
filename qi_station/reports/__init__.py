"""Monthly summaries (月报).

``queries`` reads the raw material of every figure with SQLAlchemy Core ``text()`` (the station SQLite
database and the hub database, SQLite or PostgreSQL, alike); ``figures`` turns it into the report dict
(``monthly_report``); ``labels`` names each figure once (zh / en); ``writers`` write a report dict as
xlsx / csv / json / md. Nothing here imports Textual; heavy modules are imported inside functions.
"""
