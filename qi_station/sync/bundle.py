"""Bundle files: a zip with manifest.json (canonical JSON), changes.jsonl, manifest.sig (Ed25519 over
the exact manifest bytes; the manifest carries sha256 and size of changes.jsonl) and manifest.key
(the signer's id and public key, so the reader picks the key without parsing anything unsigned).

Reading is capped (member count, each member's size, total size) before any member is read, and the
signature is verified over the raw manifest bytes before the manifest is parsed (docs/sync.md)."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qi_station.sync import keys
from qi_station.sync.proto import BUNDLE_FORMAT, SyncError, canonical, sha256_hex


def write_bundle(
    out: str | os.PathLike[str],
    manifest: dict[str, Any],
    lines: Iterable[bytes],
    private_b64: str,
    *,
    signer_id: str,
    public_b64: str,
    force: bool = False,
    default_name: str | None = None,
    protect: Iterable[str | os.PathLike[str] | None] = (),
) -> Path:
    """Write atomically (temp file + rename): a crash never leaves a half bundle under the final name.
    ``out`` (a file, or a directory to write ``default_name`` into) obeys
    :func:`qi_station.services.files.check_out`; returns the file written."""
    import hashlib

    from qi_station.services.files import check_out

    out = check_out(out, "bundle", force=force, default_name=default_name, protect=protect)  # type: ignore[arg-type]
    body = b"".join(lines)
    h = hashlib.sha256(body).hexdigest()
    manifest = dict(manifest)
    manifest["format"] = BUNDLE_FORMAT
    manifest["files"] = {"changes.jsonl": {"sha256": h, "bytes": len(body)}}
    mbytes = canonical(manifest)
    sig = keys.sign(private_b64, mbytes)
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
    from qi_station.services.tempfiles import held_temp

    # a hidden ``.NAME.XXXXXXXX.part`` held by this run (services.tempfiles); the ones a killed export
    # left are swept first, those of other bundle names too (default names carry the bundle id)
    with held_temp(out, ".part", sweep_re=BUNDLE_NAME_RE) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
            z.writestr("manifest.json", mbytes)
            z.writestr("changes.jsonl", body)
            z.writestr("manifest.sig", sig.encode("ascii"))
            z.writestr(KEY_MEMBER, f"{signer_id} {public_b64}".encode())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a bundle is an ordinary file, as before
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        _place(tmp, out, force)
    return out


def _place(tmp: Path, out: Path, force: bool) -> None:
    """Put the finished bundle in place. Without ``force`` it never replaces a file another run (or
    the user) put there since ``check_out`` looked: a hard link fails if ``out`` exists (two exports to
    one ``--out`` at once: the second is refused, never silently lost). A file system without hard
    links (FAT on a USB stick) is checked, then renamed."""
    if force:
        os.replace(tmp, out)
        return
    try:
        os.link(tmp, out)
    except FileExistsError:
        raise _exists(out) from None
    except OSError:  # no hard links here
        if out.exists():
            raise _exists(out) from None
        os.replace(tmp, out)


def _exists(out: Path) -> Exception:
    from qi_station.core.errors import ValidationError

    return ValidationError(
        "out",
        "exists",
        f"{out} was written by another run meanwhile: not replaced (use --force to replace it) / "
        "文件已被另一次导出写入，未覆盖",
    )


#: default bundle file names (:func:`bundle_name`): their killed exports' temporary files are swept
BUNDLE_NAME_RE = r"syncb_[A-Za-z0-9_.-]+\.zip"


# ---- reading: caps first, signature before parsing ------------------------------------------------
KEY_MEMBER = "manifest.key"  # "<signer id> <public key>": which key to try; the signed manifest must agree
MEMBERS = ("manifest.json", "changes.jsonl", "manifest.sig", KEY_MEMBER)
MAX_MEMBERS = 8  # the format has 4; a zip with more is refused before its directory is parsed
MAX_DIRECTORY = 64 * 1024  # central directory bytes (zipfile reads it whole on open)
MAX_SMALL = {"manifest.json": 1 << 20, "manifest.sig": 1024, KEY_MEMBER: 1024}
DEFAULT_MAX_CHANGES_MB = 512
CHUNK = 1 << 20


def max_changes_bytes() -> int:
    """Cap on the uncompressed changes.jsonl: QI_STATION_BUNDLE_MAX_MB (MiB), default 512."""
    raw = os.environ.get("QI_STATION_BUNDLE_MAX_MB", "").strip()
    try:
        mb = int(raw) if raw else DEFAULT_MAX_CHANGES_MB
    except ValueError:
        mb = DEFAULT_MAX_CHANGES_MB
    return max(1, mb) << 20


@dataclass
class RawBundle:
    """A bundle's small members as raw bytes, nothing parsed. ``signer_id``/``signer_key`` only say which
    key to try; :func:`open_signed` verifies the signature before the manifest is parsed, and only then
    reads ``changes`` (streamed, hashed as it is read, never more than the signed manifest's size)."""

    name: str
    signer_id: str
    signer_key: str
    mbytes: bytes
    sig: str
    path: Path
    changes_size: int  # as the zip directory says (checked against the cap; may lie)
    changes: bytes | bytearray = b""


def _too_big(name: str, rule: str) -> SyncError:
    return SyncError(
        400, "bad_bundle_size", f"bundle {name}: {rule}; refused before reading / 数据包超出限制"
    )


def _not_a_bundle(name: str) -> SyncError:
    return SyncError(
        400,
        "bad_bundle",
        f"{name} is not a qi-station sync bundle (it holds no {', '.join(MEMBERS)}) / "
        "不是 qi-station 同步数据包",
    )


def _holds_no_member(p: Path) -> bool:
    """Does the zip at ``p`` hold none of a bundle's members? Read only when its directory is within
    :data:`MAX_DIRECTORY` (a spreadsheet, a document: a zip of another kind); unreadable: False."""
    try:
        with zipfile.ZipFile(p) as z:
            return not set(z.namelist()) & set(MEMBERS)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError):
        return False


def claimed_kind(raw: RawBundle) -> str | None:
    """The kind of a bundle whose manifest is signed by the key it names itself (``manifest.key``), read
    BEFORE the expected key is checked: used only to word a refusal (a bundle of the other side is
    refused whatever it says; nothing else of it is trusted or used). A manifest that does not verify
    with its own key (edited, junk) is not read at all: None."""
    import json

    if not keys.verify(raw.signer_key, raw.mbytes, raw.sig):
        return None
    try:
        m = json.loads(raw.mbytes.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # signed by a key of the sender's own
        return None
    kind = m.get("kind") if isinstance(m, dict) else None
    return kind if isinstance(kind, str) else None


def _directory(p: Path) -> None:
    """Member count and directory size from the end-of-central-directory record, before zipfile reads
    the directory (a zip can declare millions of members)."""
    import struct

    with open(p, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - 65557))
        tail = f.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < 22:
            raise SyncError(
                400, "bad_bundle", f"bundle {p.name} is not a zip (damaged or truncated) / 数据包损坏"
            )
        entries, cd_size = struct.unpack("<HI", tail[at + 10 : at + 16])
        count, cd = int(entries), int(cd_size)
        loc = at - 20
        if loc >= 0 and tail[loc : loc + 4] == b"PK\x06\x07":  # zip64: the real numbers are elsewhere
            (off64,) = struct.unpack("<Q", tail[loc + 8 : loc + 16])
            f.seek(off64)
            rec = f.read(56)
            if rec[:4] != b"PK\x06\x06" or len(rec) < 56:
                raise SyncError(400, "bad_bundle", f"bundle {p.name}: damaged zip64 directory / 数据包损坏")
            count, cd = struct.unpack("<QQ", rec[32:48])
    if count > MAX_MEMBERS:
        if cd <= MAX_DIRECTORY and _holds_no_member(p):  # a workbook, a document: say what it is not
            raise _not_a_bundle(p.name)
        raise _too_big(p.name, f"{count} members, more than the limit {MAX_MEMBERS}")
    if cd > MAX_DIRECTORY:
        raise _too_big(p.name, f"zip directory of {cd} bytes, more than the limit {MAX_DIRECTORY}")


def _read_member(z: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int, name: str) -> bytes:
    """Read in chunks and stop at the cap: the directory's sizes can lie."""
    out = bytearray()
    with z.open(info) as f:
        while True:
            chunk = f.read(min(CHUNK, cap + 1 - len(out)))
            if not chunk:
                break
            out += chunk
            if len(out) > cap:
                raise _too_big(name, f"{info.filename} expands past the limit of {cap} bytes")
    return bytes(out)


def read_bundle(path: str | os.PathLike[str]) -> RawBundle:
    """Open a bundle under the caps (member count, each member's size, total uncompressed size, checked
    from the directory before reading and again while reading). Nothing is parsed here."""
    p = Path(path)
    limits = {**MAX_SMALL, "changes.jsonl": max_changes_bytes()}
    try:
        _directory(p)
        with zipfile.ZipFile(p) as z:
            infos = z.infolist()
            names = [i.filename for i in infos]
            if len(infos) > MAX_MEMBERS:
                raise _too_big(p.name, f"{len(infos)} members, more than the limit {MAX_MEMBERS}")
            if not set(names) & set(MEMBERS):
                raise _not_a_bundle(p.name)
            for need in MEMBERS:
                if need not in names:
                    raise SyncError(400, "bad_bundle", f"bundle {p.name}: {need} is missing / 数据包不完整")
            extra = sorted(set(names) - set(MEMBERS))
            if extra or len(names) != len(set(names)):
                raise SyncError(
                    400,
                    "bad_bundle",
                    f"bundle {p.name}: unexpected or repeated members {extra or names} / 数据包结构不对",
                )
            for i in infos:
                if i.file_size > limits[i.filename]:
                    raise _too_big(
                        p.name,
                        f"{i.filename} is {i.file_size} bytes, more than the limit {limits[i.filename]}",
                    )
            total = sum(i.file_size for i in infos)
            if total > sum(limits.values()):
                raise _too_big(p.name, f"{total} bytes in all, more than the limit {sum(limits.values())}")
            by = {i.filename: i for i in infos}
            got = {
                n: _read_member(z, by[n], min(limits[n], by[n].file_size), p.name)
                for n in MEMBERS
                if n != "changes.jsonl"  # read by open_signed, after the signature
            }
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError) as e:
        if isinstance(e, FileNotFoundError):
            raise SyncError(400, "bad_bundle", f"no such bundle file: {p} / 找不到数据包文件：{p}") from None
        raise SyncError(
            400, "bad_bundle", f"bundle {p.name} is damaged or truncated ({e}) / 数据包损坏"
        ) from None
    signer = got[KEY_MEMBER].decode("utf-8", "replace").split()
    if len(signer) != 2:
        raise SyncError(
            400, "bad_bundle", f"bundle {p.name}: {KEY_MEMBER} does not name a signer / 数据包不完整"
        )
    return RawBundle(
        p.name,
        signer[0],
        signer[1],
        got["manifest.json"],
        got["manifest.sig"].decode("ascii", "replace").strip(),
        p,
        by["changes.jsonl"].file_size,
    )


def open_signed(raw: RawBundle, public_b64: str) -> dict[str, Any]:
    """Verify the signature over the raw manifest bytes and the sha256 of the raw changes, THEN parse
    the manifest. Returns the manifest; the caller checks that it agrees with the signer."""
    import json

    if not keys.verify(public_b64, raw.mbytes, raw.sig):
        raise SyncError(
            400,
            "bad_signature",
            f"bundle {raw.name}: signature does not verify with the expected key (tampered or signed by someone else) / 签名校验失败",
        )
    try:
        manifest = json.loads(raw.mbytes.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise SyncError(
            400, "bad_bundle", f"bundle {raw.name}: manifest is not JSON / 数据包清单损坏"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise SyncError(
            400,
            "bad_bundle",
            f"bundle {raw.name}: unknown format {manifest.get('format') if isinstance(manifest, dict) else None!r}",
        )
    f = (manifest.get("files") or {}).get("changes.jsonl") or {}
    size = f.get("bytes")
    tampered = SyncError(
        400,
        "tampered",
        f"bundle {raw.name}: changes.jsonl does not match the signed manifest (tampered or truncated) / 数据包被篡改或不完整",
    )
    if not isinstance(size, int) or size != raw.changes_size or size > max_changes_bytes():
        raise tampered
    raw.changes = _read_changes(raw, size)
    if sha256_hex(raw.changes) != f.get("sha256"):
        raise tampered
    return manifest


def _read_changes(raw: RawBundle, size: int) -> bytearray:
    """changes.jsonl, read in chunks up to the signed size (one byte more means it lies)."""
    try:
        with zipfile.ZipFile(raw.path) as z:
            out = bytearray()
            with z.open("changes.jsonl") as fh:
                while len(out) <= size:
                    chunk = fh.read(min(CHUNK, size + 1 - len(out)))
                    if not chunk:
                        break
                    out += chunk
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError, KeyError) as e:
        raise SyncError(
            400, "bad_bundle", f"bundle {raw.name} is damaged or truncated ({e}) / 数据包损坏"
        ) from None
    if len(out) != size:
        raise SyncError(
            400,
            "tampered",
            f"bundle {raw.name}: changes.jsonl does not match the signed manifest (tampered or truncated) / 数据包被篡改或不完整",
        )
    return out


def bundle_name(kind: str, frm: int, to: int, target: str, bundle_id: str) -> str:
    return f"syncb_{kind}_{frm}_{to}_{target}_{bundle_id}.zip"
