"""Bundle files: a zip with manifest.json (canonical JSON), changes.jsonl and manifest.sig (Ed25519 over
the exact manifest bytes; the manifest carries sha256 and size of changes.jsonl)."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from qi_station.sync import keys
from qi_station.sync.proto import BUNDLE_FORMAT, SyncError, canonical, sha256_hex


def write_bundle(
    out: str | os.PathLike[str], manifest: dict[str, Any], lines: Iterable[bytes], private_b64: str
) -> Path:
    """Write atomically (temp file + rename): a crash never leaves a half bundle under the final name."""
    import hashlib

    out = Path(out)
    body = b"".join(lines)
    h = hashlib.sha256(body).hexdigest()
    manifest = dict(manifest)
    manifest["format"] = BUNDLE_FORMAT
    manifest["files"] = {"changes.jsonl": {"sha256": h, "bytes": len(body)}}
    mbytes = canonical(manifest)
    sig = keys.sign(private_b64, mbytes)
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("manifest.json", mbytes)
        z.writestr("changes.jsonl", body)
        z.writestr("manifest.sig", sig.encode("ascii"))
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, out)
    return out


def read_bundle(path: str | os.PathLike[str]) -> tuple[dict[str, Any], bytes, str, bytes]:
    """Open and check structure + hash. Returns (manifest, manifest_bytes, signature, changes).
    The caller verifies the signature with the key it trusts."""
    import json

    p = Path(path)
    try:
        with zipfile.ZipFile(p) as z:
            names = set(z.namelist())
            for need in ("manifest.json", "changes.jsonl", "manifest.sig"):
                if need not in names:
                    raise SyncError(400, "bad_bundle", f"bundle {p.name}: {need} is missing / 数据包不完整")
            mbytes = z.read("manifest.json")
            sig = z.read("manifest.sig").decode("ascii", "replace").strip()
            changes = z.read("changes.jsonl")
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError) as e:
        if isinstance(e, FileNotFoundError):
            raise SyncError(400, "bad_bundle", f"no such bundle file: {p}") from None
        raise SyncError(
            400, "bad_bundle", f"bundle {p.name} is damaged or truncated ({e}) / 数据包损坏"
        ) from None
    try:
        manifest = json.loads(mbytes.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise SyncError(
            400, "bad_bundle", f"bundle {p.name}: manifest is not JSON / 数据包清单损坏"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise SyncError(
            400,
            "bad_bundle",
            f"bundle {p.name}: unknown format {manifest.get('format') if isinstance(manifest, dict) else None!r}",
        )
    f = (manifest.get("files") or {}).get("changes.jsonl") or {}
    if f.get("bytes") != len(changes) or f.get("sha256") != sha256_hex(changes):
        raise SyncError(
            400,
            "tampered",
            f"bundle {p.name}: changes.jsonl does not match the signed manifest (tampered or truncated) / 数据包被篡改或不完整",
        )
    return manifest, mbytes, sig, changes


def check_signature(name: str, mbytes: bytes, sig: str, public_b64: str) -> None:
    if not keys.verify(public_b64, mbytes, sig):
        raise SyncError(
            400,
            "bad_signature",
            f"bundle {name}: signature does not verify with the expected key (tampered or signed by someone else) / 签名校验失败",
        )


def bundle_name(kind: str, frm: int, to: int, target: str, bundle_id: str) -> str:
    return f"syncb_{kind}_{frm}_{to}_{target}_{bundle_id}.zip"
