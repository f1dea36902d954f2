"""Importing a station's existing spreadsheet ledger (台账) into the request ledger:
:mod:`.sheet` reads the file and maps its headers, :mod:`.rows` checks each row by the ledger's own
rules, :mod:`.run` writes all rows or none."""

from qi_station.services.importer.run import ImportRefused, import_ledger

__all__ = ["ImportRefused", "import_ledger"]
