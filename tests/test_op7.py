"""Outside operator, second pass (op7): F6's bundle import by a bare file name."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_a_bare_bundle_name_is_found_in_the_export_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """F6: an export with a bare name goes to the export folder, so an import by that bare name looks
    there too (it said 意外错误: SyncError ...)."""
    from qi_station.services.files import input_path

    base = tmp_path / "exports"
    base.mkdir()
    (base / "down.qib").write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    assert input_path("down.qib", base) == base / "down.qib"
    (tmp_path / "down.qib").write_bytes(b"y")  # one where the app runs wins: the name as given
    assert input_path("down.qib", base) == Path("down.qib")
    assert input_path(str(tmp_path / "x.qib"), base) == tmp_path / "x.qib"  # absolute: as given


def test_a_missing_bundle_is_said_in_chinese_not_as_an_unexpected_error(tmp_path: Path) -> None:
    from qi_station import i18n
    from qi_station.screens.sync import sync_error
    from qi_station.sync.bundle import read_bundle
    from qi_station.sync.proto import SyncError

    was = i18n.get_lang()
    try:
        i18n.set_lang("zh")
        with pytest.raises(SyncError) as e:
            read_bundle(tmp_path / "none.qib")
        text = sync_error(e.value)
        assert "找不到数据包文件" in text and "意外错误" not in text
    finally:
        i18n.set_lang(was)
