"""Station <-> hub sync: HTTP push/pull, signed USB bundles, the hub service.

Top-level imports stay light: fastapi, httpx, cryptography and sqlalchemy are imported inside functions.
"""
