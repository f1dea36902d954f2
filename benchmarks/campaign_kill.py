"""The kill -9 campaign at scale: `sync` killed while pushing and while pulling, `hub import-bundle` and
`sync import-bundle` killed mid-transaction, against a real uvicorn hub (SQLite).

    python benchmarks/campaign_kill.py [--iterations 120] [--seed 7] [--keep DIR]

Prints every kill and, at the end, the counts that must all be 0: lost, duplicated, corrupt. Exit 1 when
any is not. The campaign is tests/kill_util.py (tests/test_sync_kill.py runs it at a small count).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QI_STATION_OPERATOR", "bench")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
# the killed `qi-station` processes run this checkout's code, too
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iterations", type=int, default=120)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keep", type=Path, help="work in this directory and keep it")
    a = ap.parse_args()
    from kill_util import campaign

    t0 = time.perf_counter()
    if a.keep:
        a.keep.mkdir(parents=True, exist_ok=True)
        res = campaign(a.keep, a.iterations, a.seed, log=print)
    else:
        with tempfile.TemporaryDirectory(prefix="qi-kill-") as d:
            res = campaign(Path(d), a.iterations, a.seed, log=print)
    res["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(res, ensure_ascii=False, indent=2))
    print(
        f"kills {sum(res['kills'].values())} of {res['iterations']}: "
        f"lost {res['lost']}, duplicated {res['duplicated']}, corrupt {res['corrupt']}"
    )
    return 0 if (res["lost"], res["duplicated"], res["corrupt"]) == (0, 0, 0) and not res["problems"] else 1


if __name__ == "__main__":
    sys.exit(main())
