"""The synthetic data generator (``qi-station generate``); the entry point is :mod:`.run`."""

#: Upper limits of one ``qi-station generate`` run (docs/cli.md; checked by ``run.check_sizes`` and the
#: CLI's options): 5 million requests (about 46 years of months at 9 000 ledger numbers each) and
#: 2 million library rows. Here, not in ``run``, so the CLI reads them without importing the generator.
MAX_REQUESTS = 5_000_000
MAX_LIBRARY = 2_000_000
