"""The synthetic data generator (``qi-station generate``); the entry point is :mod:`.run`."""
