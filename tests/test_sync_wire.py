"""Issue 11 items 3-4: a wire no one can tap, secrets outside the ledger. Each test is an attack."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from test_sync_util import enroll_station, request_input, rows

from qi_station.db import secrets
from qi_station.services import ledger
from qi_station.sync import keys
from qi_station.sync.proto import SyncError, check_hub_url
from qi_station.sync.station import apply as S
from qi_station.sync.station import bundles as B
from qi_station.sync.station import client as C


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Any]:
    from qi_station.db.session import dispose_all
    from qi_station.sync.hub.store import Hub

    h = Hub(f"sqlite:///{tmp_path / 'hub.db'}")
    h.init(demo=False)
    h.upsert_library([("expert", {"id": "e-1", "name": "张三", "employer": "山东大学"})])
    yield h
    dispose_all()
    h.dispose()


@pytest.fixture
def tc(hub: Any) -> Iterator[Any]:
    from qi_station.sync.hub.server import create_app

    c = TestClient(create_app(hub.url))
    yield c
    c.close()


def sync(db: Path, http: Any, **kw: Any) -> dict[str, Any]:
    return C.run_sync(db, http=http, sleep=lambda s: None, **kw)


# ---- a phished enrollment token -------------------------------------------------------------------
def fake_hub(received: list[Any], *, sign_with: str | None, pub: str) -> Any:
    """A server that is not the hub: it knows the hub's PUBLIC key (anyone can), not its private key."""
    from qi_station.sync.proto import hub_proof_message

    app = FastAPI()

    @app.post("/sync/v1/prove")
    async def prove(req: Request) -> Any:
        nonce = (await req.json())["nonce"]
        sig = keys.sign(sign_with, hub_proof_message(nonce, None)) if sign_with else "AAAA"
        return {"hub_pubkey": pub, "tls_sha256": None, "signature": sig}

    @app.post("/sync/v1/enroll")
    async def enroll(req: Request) -> Any:
        received.append(await req.body())
        return {"error": "x", "message": "x"}

    return TestClient(app)


@pytest.mark.parametrize("disguise", ["own_key", "hub_pubkey_no_private_key"])
def test_phished_token_never_leaves_the_station(hub: Any, tmp_path: Path, disguise: str) -> None:
    token = hub.add_station("ZB01", "淄博")["token"]
    secret = token.rsplit(".", 1)[1]
    own_priv, own_pub = keys.generate()
    real_pub = hub.info()["hub_pubkey"]
    received: list[Any] = []
    fake = (
        fake_hub(received, sign_with=own_priv, pub=own_pub)
        if disguise == "own_key"
        else fake_hub(received, sign_with=own_priv, pub=real_pub)
    )
    with pytest.raises(SyncError) as e:
        C.enroll(tmp_path / "st.db", token, "http://testserver", http=fake)
    assert e.value.code == "hub_key_mismatch" and "NOT sent" in e.value.message
    assert received == [] and secret not in e.value.message
    # the real hub still takes the token: the station was not impersonated
    assert hub.stations()[0]["enrolled"] is False


def test_server_without_proof_gets_no_token(tmp_path: Path, hub: Any) -> None:
    received: list[Any] = []
    app = FastAPI()

    @app.post("/sync/v1/enroll")
    async def enroll(req: Request) -> Any:  # the old protocol: the token went first
        received.append(await req.body())
        return {}

    token = hub.add_station("ZB01", "淄博")["token"]
    with pytest.raises(SyncError) as e:
        C.enroll(tmp_path / "st.db", token, "http://testserver", http=TestClient(app))
    assert e.value.code == "not_a_hub" and received == []


# ---- reissue and revocation retire the old key at once --------------------------------------------
def test_reissue_retires_old_key_for_http_and_bundles(hub: Any, tc: Any, tmp_path: Path) -> None:
    old = tmp_path / "old-pc.db"
    enroll_station(old, hub, tc, "ZB01")
    ledger.create_request(old, request_input(1, 1))
    stolen = B.export_bundle(old, tmp_path / "stolen.zip")["file"]
    token2 = hub.add_station("ZB01", "淄博", reissue=True)["token"]
    # the stolen PC: its bundle and its HTTP token are refused at once
    with pytest.raises(SyncError) as e:
        hub.import_bundle(stolen)
    assert e.value.status == 403
    with pytest.raises(SyncError) as e:
        sync(old, tc)
    assert e.value.status == 401
    # the new PC (offline enrollment with the reissued token): its bundle is taken
    new = tmp_path / "new-pc.db"
    C.enroll(new, token2)
    ledger.create_request(new, request_input(2, 2))
    res = hub.import_bundle(B.export_bundle(new, tmp_path / "new.zip")["file"])
    assert res["status"] == "imported" and res["applied"] >= 1
    with pytest.raises(SyncError):  # and the old key stays retired
        hub.import_bundle(stolen)


def test_revoke_then_reissue_does_not_revive_old_key(hub: Any, tc: Any, tmp_path: Path) -> None:
    old = tmp_path / "old-pc.db"
    enroll_station(old, hub, tc, "ZB01")
    ledger.create_request(old, request_input(1, 1))
    stolen = B.export_bundle(old, tmp_path / "stolen.zip")["file"]
    hub.revoke_station("ZB01")
    hub.add_station("ZB01", "淄博", reissue=True)
    with pytest.raises(SyncError):
        hub.import_bundle(stolen)


# ---- signed replies ---------------------------------------------------------------------------------
class Tamper(httpx.BaseTransport):
    """Someone on the path: rewrites the bodies of replies to ``path``."""

    def __init__(self, inner: Any, path: str, edit: Any) -> None:
        self.inner, self.path, self.edit = inner, path, edit

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        r = self.inner.handle_request(request)
        if request.url.path != self.path:
            return r
        body = self.edit(r.read())
        headers = [(k, v) for k, v in r.headers.items() if k.lower() != "content-length"]
        return httpx.Response(r.status_code, headers=headers, content=body)


def tampering(tc: Any, path: str, edit: Any) -> httpx.Client:
    return httpx.Client(transport=Tamper(tc._transport, path, edit), base_url="http://testserver")


def test_tampered_pull_reply_is_refused_before_apply(hub: Any, tc: Any, tmp_path: Path) -> None:
    db = tmp_path / "st.db"
    enroll_station(db, hub, tc, "ZB01")
    evil = tampering(tc, "/sync/v1/pull", lambda b: b.replace("张三".encode(), "李四".encode()))
    with pytest.raises(SyncError) as e:
        sync(db, evil)
    assert e.value.code == "bad_reply_signature"
    assert rows(db, "SELECT COUNT(*) FROM expert")[0][0] == 0
    assert S.kv_int(S.open_conn(db), "pull_cursor") == 0
    sync(db, tc)  # the untouched reply applies
    assert rows(db, "SELECT name FROM expert") == [("张三",)]


def test_forged_push_ack_and_unsigned_reply_are_refused(hub: Any, tc: Any, tmp_path: Path) -> None:
    db = tmp_path / "st.db"
    enroll_station(db, hub, tc, "ZB01")
    ledger.create_request(db, request_input(1, 1))
    pending = rows(db, "SELECT COUNT(*) FROM outbox")[0][0]

    def ack_all(b: bytes) -> bytes:
        d = json.loads(b)
        d["acked_oseq"] = 10**9
        return json.dumps(d).encode()

    with pytest.raises(SyncError) as e:
        sync(db, tampering(tc, "/sync/v1/push", ack_all))
    assert e.value.code == "bad_reply_signature"
    assert rows(db, "SELECT COUNT(*) FROM outbox")[0][0] == pending  # nothing dropped

    class Strip(Tamper):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            r = self.inner.handle_request(request)
            headers = [(k, v) for k, v in r.headers.items() if k.lower() != "x-hub-signature"]
            return httpx.Response(r.status_code, headers=headers, content=r.read())

    strip = httpx.Client(transport=Strip(tc._transport, "", None), base_url="http://testserver")
    with pytest.raises(SyncError) as e:
        sync(db, strip)
    assert e.value.code == "bad_reply_signature"


# ---- plain http only to this PC ---------------------------------------------------------------------
def test_plain_http_to_another_host_is_refused(hub: Any, tc: Any, tmp_path: Path) -> None:
    for ok in ("http://127.0.0.1:8787", "http://localhost:1", "http://[::1]:8787", "https://hub.example"):
        check_hub_url(ok)
    token = hub.add_station("ZB01", "淄博")["token"]
    with pytest.raises(SyncError) as e:
        C.enroll(tmp_path / "st.db", token, "http://192.0.2.10:8787")
    assert e.value.code == "insecure_http" and "--insecure-http" in e.value.message
    assert "unencrypted" in e.value.message
    assert check_hub_url("http://192.0.2.10:8787/", insecure_http=True) == "http://192.0.2.10:8787"
    # sync: a station whose hub is on plain http elsewhere is refused unless it was allowed at enrollment
    db = tmp_path / "st2.db"
    enroll_station(db, hub, tc, "QD02")
    conn = S.open_conn(db)
    S.kv_set(conn, "hub_url", "http://192.0.2.10:8787")
    with pytest.raises(SyncError) as e:
        C.run_sync(db, retries=0)
    assert e.value.code == "insecure_http"
    C.hub_client(conn, insecure_http=True).close()  # --insecure-http on the sync command
    S.kv_set(conn, "insecure_http", 1)  # remembered from `sync enroll --insecure-http`
    C.hub_client(conn).close()
    conn.close()


def test_tokens_never_in_error_messages(hub: Any, tc: Any, tmp_path: Path) -> None:
    token = hub.add_station("ZB01", "淄博")["token"]
    code, fp, _ = token.split(".")[1:]
    long_secret = "S3cret" * 80  # the hub refuses the over-long body (422): its reply must not echo it
    bad = f"qie1.{code}.{fp}.{long_secret}"
    with pytest.raises(SyncError) as e:
        C.enroll(tmp_path / "st.db", bad, "http://testserver", http=tc)
    assert long_secret[:30] not in str(e.value) and long_secret[:30] not in json.dumps(e.value.to_dict())
    r = tc.post("/sync/v1/enroll", json={"token": bad, "pubkey": "x"}, headers={})
    assert long_secret[:30] not in r.text


# ---- HTTPS: a self-signed certificate pinned at enrollment, or a private CA --------------------------
def make_cert(tmp: Path, name: str, *, ca: tuple[Any, Any] | None = None, is_ca: bool = False) -> Any:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca[0].subject if ca else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
    )
    if not is_ca:
        b = b.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    cert = b.sign(ca[1] if ca else key, hashes.SHA256())
    cf, kf = tmp / f"{name}.crt", tmp / f"{name}.key"
    cf.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    kf.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cf, kf, (cert, key)


class Served:
    """A real uvicorn HTTPS server in a thread, on a port the OS picked; ready when uvicorn says so."""

    def __init__(self, app: Any, certfile: Path, keyfile: Path) -> None:
        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"https://127.0.0.1:{self.sock.getsockname()[1]}"
        cfg = uvicorn.Config(
            app, ssl_certfile=str(certfile), ssl_keyfile=str(keyfile), log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(cfg)
        self.th = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.th.start()
        deadline = time.monotonic() + 30
        while not self.server.started:  # observed readiness (uvicorn sets it once it listens)
            assert self.th.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            self.th.join(0.02)

    def close(self) -> None:
        self.server.should_exit = True
        self.th.join(30)
        self.sock.close()


def test_https_self_signed_pinned_at_enrollment(hub: Any, tmp_path: Path) -> None:
    from qi_station.sync.hub.server import create_app

    cf, kf, _ = make_cert(tmp_path, "hub")
    srv = Served(create_app(hub.url, certfile=str(cf)), cf, kf)
    db = tmp_path / "st.db"
    try:
        token = hub.add_station("ZB01", "淄博")["token"]
        res = C.enroll(db, token, srv.url)
        assert res["mode"] == "online" and res["tls"] == "pin"
        ledger.create_request(db, request_input(1, 1))
        out = C.run_sync(db, retries=0)
        assert out["pending"] == 0 and rows(db, "SELECT name FROM expert") == [("张三",)]
    finally:
        srv.close()
    # another certificate at the hub's address (someone in between, or a swapped server): refused
    cf2, kf2, _ = make_cert(tmp_path, "impostor")
    srv2 = Served(create_app(hub.url, certfile=str(cf2)), cf2, kf2)
    try:
        conn = S.open_conn(db)
        S.kv_set(conn, "hub_url", srv2.url)
        conn.close()
        ledger.create_request(db, request_input(2, 1))
        with pytest.raises(SyncError) as e:
            C.run_sync(db, retries=0)
        assert e.value.code == "tls_mismatch"
        assert rows(db, "SELECT COUNT(*) FROM outbox")[0][0] > 0
    finally:
        srv2.close()


def test_https_relay_with_another_certificate_gets_no_token(hub: Any, tmp_path: Path) -> None:
    """A relay shows its own certificate: the hub's proof names the hub's certificate, so it fails."""
    from qi_station.sync.hub.server import create_app

    real_cf, _, _ = make_cert(tmp_path, "real")
    relay_cf, relay_kf, _ = make_cert(tmp_path, "relay")
    srv = Served(create_app(hub.url, certfile=str(real_cf)), relay_cf, relay_kf)
    try:
        token = hub.add_station("ZB01", "淄博")["token"]
        with pytest.raises(SyncError) as e:
            C.enroll(tmp_path / "st.db", token, srv.url)
        assert e.value.code == "tls_mismatch"
        assert hub.stations()[0]["enroll_used"] is False
    finally:
        srv.close()


def test_plain_http_relay_in_front_of_an_https_hub_gets_no_token(hub: Any, tmp_path: Path) -> None:
    """A relay that speaks plain http to the station and forwards to the HTTPS hub: the hub's signed
    proof names its certificate, so the station knows this connection should have been TLS."""
    from qi_station.sync.hub.server import create_app

    real_cf, _, _ = make_cert(tmp_path, "real")
    relay = TestClient(create_app(hub.url, certfile=str(real_cf)))  # http://testserver, the hub behind
    received: list[Any] = []
    relay.event_hooks["request"] = [lambda req: received.append(req.url.path)]
    token = hub.add_station("ZB01", "淄博")["token"]
    with pytest.raises(SyncError) as e:
        C.enroll(tmp_path / "st.db", token, "http://testserver", http=relay)
    assert e.value.code == "tls_mismatch" and "NOT sent" in e.value.message
    assert received == ["/sync/v1/prove"]  # the token's call never went out
    assert hub.stations()[0]["enroll_used"] is False
    relay.close()


def test_https_private_ca(hub: Any, tmp_path: Path) -> None:
    from qi_station.sync.hub.server import create_app

    ca_cf, _, ca = make_cert(tmp_path, "ca", is_ca=True)
    cf, kf, _ = make_cert(tmp_path, "hub", ca=ca)
    srv = Served(create_app(hub.url, certfile=str(cf)), cf, kf)
    try:
        token = hub.add_station("ZB01", "淄博")["token"]
        res = C.enroll(tmp_path / "st.db", token, srv.url.replace("127.0.0.1", "localhost"), cafile=ca_cf)
        assert res["tls"] == "ca"
        assert C.run_sync(tmp_path / "st.db", retries=0)["ok"]
    finally:
        srv.close()


# ---- secrets outside the ledger -----------------------------------------------------------------------
SECRET_ROWS = "SELECT COUNT(*) FROM kv WHERE k IN ('station_privkey', 'station_pubkey', 'api_token')"


def test_secrets_live_in_a_private_file_not_the_database(hub: Any, tc: Any, tmp_path: Path) -> None:
    from qi_station.services.backup import backup_db

    a, b = tmp_path / "a.db", tmp_path / "b.db"
    enroll_station(a, hub, tc, "ZB01")
    enroll_station(b, hub, tc, "QD02")
    sa, sb = secrets.load(a), secrets.load(b)
    assert sa["api_token"] != sb["api_token"] and sa["station_privkey"] != sb["station_privkey"]
    assert rows(a, SECRET_ROWS) == [(0,)]
    p = secrets.secrets_path(a)
    assert p.stat().st_mode & 0o777 == 0o600 and p.parent.stat().st_mode & 0o777 == 0o700
    backup_db(a, tmp_path / "a.bak")
    raw = (tmp_path / "a.bak").read_bytes()
    assert sa["api_token"].encode() not in raw and sa["station_privkey"].encode() not in raw


def test_migrate_moves_old_kv_secrets_out(db: Path) -> None:
    from qi_station.db.engine import connect

    priv, pub = keys.generate()
    conn = connect(db)
    conn.executemany(
        "INSERT INTO kv(k, v) VALUES (?, ?)",
        [("station_privkey", priv), ("station_pubkey", pub), ("api_token", "tok-123")],
    )
    assert secrets.migrate(conn) == 3
    assert rows(db, SECRET_ROWS) == [(0,)]
    assert secrets.load(db) == {"station_privkey": priv, "station_pubkey": pub, "api_token": "tok-123"}
    assert secrets.migrate(conn) == 0
    conn.close()
    # the sync layer's one accessor reads the file
    assert S.signing_key(S.open_conn(db)) == (priv, pub)


def test_backup_of_an_old_database_carries_no_secrets(db: Path, tmp_path: Path) -> None:
    from qi_station.db.engine import connect
    from qi_station.services.backup import backup_db

    conn = connect(db)
    conn.execute("INSERT INTO kv(k, v) VALUES ('api_token', 'tok-old-999')")
    conn.close()
    backup_db(db, tmp_path / "old.bak")
    assert b"tok-old-999" not in (tmp_path / "old.bak").read_bytes()
    assert secrets.load(db)["api_token"] == "tok-old-999"


def test_restore_on_another_pc_says_how_to_reenroll(
    hub: Any, tc: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from qi_station.cli.commands import app
    from qi_station.services.backup import backup_db

    a = tmp_path / "a.db"
    enroll_station(a, hub, tc, "ZB01")
    backup_db(a, tmp_path / "a.bak")
    assert C.sync_status(a)["enrolment_usable"] is True  # on its own PC (its secrets file is there)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "other-pc-config"))
    other = tmp_path / "other-pc" / "station.db"
    other.parent.mkdir()  # a named --db's folder must exist (never created: docs/cli.md)
    res = CliRunner().invoke(app, ["--db", str(other), "restore", str(tmp_path / "a.bak")])
    assert res.exit_code == 0, res.output
    assert "add-station ZB01" in res.output and "--reissue" in res.output
    # sync status says the truth: enrolled, but not usable on this PC, and the next step (it said
    # "enrolled online" as if it could sync)
    st = C.sync_status(other)
    assert st["enrolled"] == "online" and st["enrolment_usable"] is False
    assert "add-station ZB01" in st["next_step"] and "--reissue" in st["next_step"]
    assert "sync enroll --hub http://testserver --token TOKEN" in st["next_step"]
    out = CliRunner().invoke(app, ["--db", str(other), "sync", "status"])
    assert out.exit_code == 0, out.output
    assert "本机无法使用" in out.output and "下一步" in out.output, out.output  # Chinese by default
    out = CliRunner().invoke(app, ["--lang", "en", "--db", str(other), "sync", "status"])
    assert "NOT usable on this PC" in out.output and "next step" in out.output, out.output
    # the TUI's sync page says it too (services.workspace.sync_overview, the same rule: db.secrets)
    from qi_station.i18n import set_lang
    from qi_station.screens.sync import status_lines
    from qi_station.services.workspace import sync_overview

    ov = sync_overview(other)
    assert ov["enrolment_usable"] is False
    set_lang("zh")
    assert any("本机无法使用该注册" in ln and "add-station ZB01" in ln for ln in status_lines(ov))
    with pytest.raises(SyncError) as e:
        sync(other, tc)
    assert e.value.code == "not_enrolled" and "--reissue" in e.value.message
    # re-enrolled with a reissued token, the restored station syncs again
    token = hub.add_station("ZB01", "淄博", reissue=True)["token"]
    C.enroll(other, token, "http://testserver", http=tc)
    assert sync(other, tc)["ok"]
    st = C.sync_status(other)
    assert st["enrolment_usable"] is True and "next_step" not in st
