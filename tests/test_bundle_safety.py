"""Bundles that cannot hurt (issue 11, item 5): caps before reading (a zip bomb costs no memory), the
signature verified before anything is parsed, a bundle for another station refused."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest
from test_sync_util import enroll_station, hub_requests, library, request_input, station_requests

from qi_station.services import ledger
from qi_station.sync.proto import SyncError
from qi_station.sync.station import bundles as B
from qi_station.sync.station import client as C

MIB = 1 << 20


@pytest.fixture
def env(tmp_path: Path) -> Any:
    from fastapi.testclient import TestClient

    from qi_station.db.session import dispose_all
    from qi_station.sync.hub.server import create_app
    from qi_station.sync.hub.store import Hub

    url = f"sqlite:///{tmp_path / 'hub.db'}"
    hub = Hub(url)
    hub.init(demo=False)
    hub.upsert_library([("expert", {"id": "e-1", "name": "张三"})])
    tc = TestClient(create_app(url))
    dbs = {}
    for code in ("ZB01", "QD02"):
        db = tmp_path / f"{code}.db"
        enroll_station(db, hub, tc, code)
        dbs[code] = db
    yield hub, url, tc, dbs
    tc.close()
    dispose_all()
    hub.dispose()


def parts_of(f: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(f) as z:
        return {n: z.read(n) for n in z.namelist()}


def rezip(out: Path, parts: dict[str, bytes], extra: int = 0) -> Path:
    with zipfile.ZipFile(out, "w") as z:
        for n, d in parts.items():
            z.writestr(n, d)
        for i in range(extra):
            z.writestr(f"pad/{i}", b"")
    return out


class _Zeros:
    """A deflate compressor for 1 MiB chunks of zeros that compresses one chunk and repeats its
    output (each chunk ends with a full flush, so the blocks are independent): a 2 GiB member in a
    2 MiB file, written in about a second without ever holding more than a chunk."""

    def __init__(self) -> None:
        self.c = zlib.compressobj(9, zlib.DEFLATED, -15)
        self.block: bytes | None = None

    def compress(self, data: bytes) -> bytes:
        assert len(data) == MIB and not any(data[::4096])
        if self.block is None:
            self.block = self.c.compress(data) + self.c.flush(zlib.Z_FULL_FLUSH)
        return self.block

    def flush(self) -> bytes:
        return self.c.flush(zlib.Z_FINISH)


def bomb(out: Path, head: dict[str, bytes], mib: int, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``head`` members as they are, then changes.jsonl: ``mib`` MiB of zeros, streamed."""
    zero = bytes(MIB)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for n, d in head.items():
            z.writestr(n, d)
        with monkeypatch.context() as m:
            m.setattr(zipfile, "_get_compressor", lambda *a, **k: _Zeros())
            info = zipfile.ZipInfo("changes.jsonl")
            info.compress_type = zipfile.ZIP_DEFLATED
            with z.open(info, "w", force_zip64=mib >= 2048) as w:
                for _ in range(mib):
                    w.write(zero)
    return out


MEASURE = """
import resource, runpy, sys
sys.argv = ["qi-station", *sys.argv[1:]]
try:
    runpy.run_module("qi_station", run_name="__main__")
    code = 0
except SystemExit as e:
    code = e.code if isinstance(e.code, int) else 1
try:  # this process's own high-water mark (ru_maxrss keeps the parent's size across fork + exec)
    with open("/proc/self/status", encoding="utf-8") as f:
        kib = next(int(ln.split()[1]) for ln in f if ln.startswith("VmHWM:"))
except OSError:
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
sys.stderr.write("MAXRSS_KIB=%d\\n" % kib)
sys.exit(code)
"""


def measured(*args: str, env: dict[str, str]) -> tuple[int, str, int]:
    """Run the CLI in a fresh process; (exit code, stderr, peak resident memory in MiB)."""
    r = subprocess.run(
        [sys.executable, "-c", MEASURE, *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=300,
    )
    peak = [ln for ln in r.stderr.splitlines() if ln.startswith("MAXRSS_KIB=")]
    assert peak, r.stderr
    return r.returncode, r.stderr, int(peak[-1].split("=")[1]) // 1024


def test_zip_bomb_is_refused_with_memory_bounded(
    env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub, url, _tc, dbs = env
    a = dbs["ZB01"]
    ledger.create_request(a, request_input(1, 1))
    up = tmp_path / "up.zip"
    B.export_bundle(a, up)
    head = {n: d for n, d in parts_of(up).items() if n != "changes.jsonl"}
    big = bomb(tmp_path / "bomb.zip", head, 2048, monkeypatch)  # 2 GiB of zeros
    assert big.stat().st_size < 4 * MIB
    with zipfile.ZipFile(big) as z, z.open("changes.jsonl") as f:  # it really expands
        assert f.read(8 * MIB) == bytes(8 * MIB)
    before = hub_requests(hub)
    cenv = dict(os.environ, QI_STATION_DB=str(a))
    for args in (
        ("hub", "import-bundle", str(big), "--database-url", url),
        ("sync", "import-bundle", str(big)),
    ):
        rc, err, peak = measured(*args, env=cenv)
        assert rc == 2, err
        assert "changes.jsonl is 2147483648 bytes, more than the limit" in err and "bad_bundle_size" in err
        assert peak < 200, f"{args[0]} import-bundle of a zip bomb peaked at {peak} MiB"
    assert hub_requests(hub) == before


def test_directory_that_lies_is_read_no_further(
    env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The central directory says changes.jsonl is 100 bytes; the stream holds 64 MiB: reading stops."""
    import tracemalloc

    from qi_station.sync.bundle import open_signed, read_bundle

    hub, _url, _tc, dbs = env
    up = tmp_path / "up.zip"
    B.export_bundle(dbs["ZB01"], up)
    head = {n: d for n, d in parts_of(up).items() if n != "changes.jsonl"}
    liar = bomb(tmp_path / "liar.zip", head, 64, monkeypatch)
    data = bytearray(liar.read_bytes())
    at = data.rfind(b"PK\x01\x02")  # the last directory entry is changes.jsonl
    (nlen,) = struct.unpack_from("<H", data, at + 28)
    assert bytes(data[at + 46 : at + 46 + nlen]) == b"changes.jsonl"
    struct.pack_into("<I", data, at + 24, 100)
    liar.write_bytes(bytes(data))
    tracemalloc.start()
    try:
        with pytest.raises(SyncError) as ei:
            raw = read_bundle(liar)  # the small members only
            open_signed(raw, raw.signer_key)  # the signed manifest names another size: never read
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert ei.value.code in ("bad_bundle", "tampered"), ei.value
    assert peak < 16 * MIB


@pytest.mark.parametrize("forged", ["signature", "changes"])
def test_bundle_under_the_cap_is_not_read_before_its_signature(
    env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forged: str
) -> None:
    """64 MiB of changes (under the cap, the directory honest) with a forged signature, or with a signed
    manifest that names another size: refused without reading changes.jsonl into memory."""
    import tracemalloc

    from qi_station.sync.bundle import open_signed, read_bundle

    hub, _url, _tc, dbs = env
    up = tmp_path / "up.zip"
    B.export_bundle(dbs["ZB01"], up)
    head = {n: d for n, d in parts_of(up).items() if n != "changes.jsonl"}
    if forged == "signature":
        head["manifest.sig"] = b"AAAA"
    big = bomb(tmp_path / "big.zip", head, 64, monkeypatch)
    tracemalloc.start()
    try:
        with pytest.raises(SyncError) as ei:
            raw = read_bundle(big)
            open_signed(raw, raw.signer_key)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert ei.value.code == ("bad_signature" if forged == "signature" else "tampered"), ei.value
    assert peak < 16 * MIB


def test_too_many_or_unexpected_members(env: Any, tmp_path: Path) -> None:
    hub, _url, _tc, dbs = env
    a = dbs["ZB01"]
    ledger.create_request(a, request_input(1, 1))
    up = tmp_path / "up.zip"
    B.export_bundle(a, up)
    parts = parts_of(up)
    before = hub_requests(hub)
    crowd = rezip(tmp_path / "crowd.zip", parts, extra=5000)
    with pytest.raises(SyncError) as ei:
        hub.import_bundle(crowd)
    assert ei.value.code == "bad_bundle_size" and "5004 members, more than the limit 8" in ei.value.message
    with pytest.raises(SyncError) as ei:
        B.import_bundle(a, crowd)
    assert ei.value.code == "bad_bundle_size"
    odd = rezip(tmp_path / "odd.zip", parts, extra=1)
    with pytest.raises(SyncError) as ei:
        hub.import_bundle(odd)
    assert ei.value.code == "bad_bundle" and "pad/0" in ei.value.message
    assert hub_requests(hub) == before
    assert hub.import_bundle(up)["status"] == "imported"


def test_signature_is_checked_before_anything_is_parsed(env: Any, tmp_path: Path) -> None:
    hub, _url, tc, dbs = env
    a = dbs["ZB01"]
    C.run_sync(a, http=tc, sleep=lambda s: None)
    r = ledger.create_request(a, request_input(1, 1))
    up = tmp_path / "up.zip"
    B.export_bundle(a, up)
    parts = parts_of(up)
    before = hub_requests(hub)
    # a manifest that is not JSON (or JSON nobody signed) is a bad signature, not something parsed
    for name, body in (
        ("junk", b"\xff{not json" * 1000),
        ("nested", b"[" * 100_000),
        ("edited", parts["manifest.json"].replace(b'"up"', b'"down"')),
    ):
        with pytest.raises(SyncError) as ei:
            hub.import_bundle(rezip(tmp_path / f"{name}.zip", dict(parts, **{"manifest.json": body})))
        assert ei.value.code == "bad_signature", name
    # a tampered member: the signed manifest's sha256 of the raw bytes does not match
    flipped = bytearray(parts["changes.jsonl"])
    flipped[len(flipped) // 2] ^= 0x01
    with pytest.raises(SyncError) as ei:
        hub.import_bundle(rezip(tmp_path / "flip.zip", dict(parts, **{"changes.jsonl": bytes(flipped)})))
    assert ei.value.code == "tampered"
    assert hub_requests(hub) == before
    # the station side too: the hub key it pinned, before the manifest is read
    down = tmp_path / "down.zip"
    hub.export_bundle("ZB01", down)
    dparts = parts_of(down)
    with pytest.raises(SyncError) as ei:
        B.import_bundle(a, rezip(tmp_path / "djunk.zip", dict(dparts, **{"manifest.json": b"[" * 100_000})))
    assert ei.value.code == "bad_signature"
    assert hub.import_bundle(up)["status"] == "imported" and r["id"] in hub_requests(hub)


def test_a_bundle_for_another_station_is_refused(env: Any, tmp_path: Path) -> None:
    from qi_station.sync.bundle import write_bundle
    from qi_station.sync.station import apply as S

    hub, _url, _tc, dbs = env
    a, b = dbs["ZB01"], dbs["QD02"]
    ledger.create_request(a, request_input(1, 1))
    up = tmp_path / "up.zip"
    B.export_bundle(a, up)
    parts = parts_of(up)
    manifest = json.loads(parts["manifest.json"])
    conn = S.open_conn(a)
    try:
        priv, pub = S.signing_key(conn)
    finally:
        conn.close()
    before = hub_requests(hub)
    # ZB01 signs a bundle that says it comes from QD02: validly signed, but not its own
    manifest["source_id"] = "QD02"
    lines = [parts["changes.jsonl"]]
    forged = write_bundle(tmp_path / "as_qd02.zip", manifest, lines, priv, signer_id="ZB01", public_b64=pub)
    with pytest.raises(SyncError) as ei:
        hub.import_bundle(forged)
    assert ei.value.code == "wrong_station" and "signed by station 'ZB01'" in ei.value.message
    # naming QD02 as the signer does not help: QD02's key does not verify it
    forged2 = write_bundle(tmp_path / "as_qd02b.zip", manifest, lines, priv, signer_id="QD02", public_b64=pub)
    with pytest.raises(SyncError) as ei:
        hub.import_bundle(forged2)
    assert ei.value.code == "bad_signature"
    assert hub_requests(hub) == before
    # a valid down bundle for QD02, carried to ZB01: refused, nothing applied
    hub.upsert_library([("expert", {"id": "e-9", "name": "李四"})])
    down_b = tmp_path / "down_b.zip"
    hub.export_bundle("QD02", down_b)
    lib, reqs = library(a), station_requests(a)
    with pytest.raises(SyncError) as ei:
        B.import_bundle(a, down_b)
    assert ei.value.code == "wrong_target" and "is for station 'QD02', this is 'ZB01'" in ei.value.message
    assert (library(a), station_requests(a)) == (lib, reqs)
    assert B.import_bundle(b, down_b)["status"] == "imported" and "e-9" in library(b)
