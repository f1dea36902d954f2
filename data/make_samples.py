"""Write the sample spreadsheet ledger data/samples/台账示例.xlsx (run from anywhere):

    python data/make_samples.py                      # the sample (40 rows)
    python data/make_samples.py --rows 5000 --out /tmp/台账5000.xlsx   # a large one, for timing

The rows come from ``qi_station.devtools.generate.ledger_sheet`` (seeded): try
``qi-station request import data/samples/台账示例.xlsx --dry-run``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from qi_station.devtools.generate.ledger_sheet import ledger_rows, write_csv, write_xlsx  # noqa: E402

SAMPLE = HERE / "samples" / "台账示例.xlsx"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=40)
    ap.add_argument("--out", type=Path, default=SAMPLE)
    args = ap.parse_args()
    rows = ledger_rows(args.rows)
    if args.out.suffix.lower() == ".csv":
        write_csv(args.out, rows)
    else:
        write_xlsx(args.out, rows)
    print(f"{args.out}: {len(rows)} rows")


if __name__ == "__main__":
    main()
