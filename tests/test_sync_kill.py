"""kill -9: `qi-station sync` (while pushing, while pulling), `qi-station hub import-bundle` and `qi-station
sync import-bundle` are SIGKILLed mid-work, again and again, against a real uvicorn hub; after each kill the
databases are sound, and after a final retry nothing is lost, duplicated or corrupt. The campaign itself is
tests/kill_util.py (benchmarks/campaign_kill.py runs it at 100+ iterations)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from kill_util import KINDS, campaign

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")


def test_sigkill_push_pull_and_bundle_imports_at_both_ends(tmp_path: Path) -> None:
    res = campaign(tmp_path, iterations=2 * len(KINDS), seed=int(os.environ.get("QI_KILL_SEED", "7")))
    assert res["problems"] == []
    assert (res["lost"], res["duplicated"], res["corrupt"]) == (0, 0, 0)
    assert sum(res["kills"].values()) >= 1  # the campaign did kill work in flight
