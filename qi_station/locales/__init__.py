"""Message catalogues (plain dicts: nothing to parse at start-up). Keys must match across languages."""
