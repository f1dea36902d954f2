"""qi-station: the Shandong QI one-stop service workstation.

Kept import-light on purpose: importing ``qi_station`` must not pull in Textual,
SQLModel or pypinyin (see tests/test_import_hygiene.py).
"""

__version__ = "0.1.0"
PROTOCOL_VERSION = 1
