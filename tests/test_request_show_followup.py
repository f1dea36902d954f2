"""Outside operator (opfix3) item 5: ``request show``'s 回访 line did not show the rating it recorded
(the 办结 line shows its result: ``i18n.event_detail``, also the detail screen's history), and the text
limit's message did not say how many characters were typed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_cli_show_history_zh import NUMBER, _env, _show  # noqa: F401 - fixture
from test_tui_helpers import fixture_db


def test_the_followup_line_shows_its_rating(tmp_path: Path) -> None:
    from qi_station.services.ledger import move_request

    db = fixture_db(tmp_path)
    move_request(
        db, NUMBER, "resolved", result="已完成校准", problems_solved=1, cost_saved="0.5", actor="测试员"
    )
    move_request(db, NUMBER, "closed", satisfaction=4, actor="测试员")
    zh = [ln for ln in _show(db).splitlines() if re.match(r"\s+#\d+ ", ln)]
    assert "[办理结果: 已完成校准; 解决问题数: 1; 节约成本（万元）: 0.50]" in zh[-2]
    assert zh[-1].endswith("[满意度: 满意]"), zh[-1]
    en = [ln for ln in _show(db, "en").splitlines() if re.match(r"\s+#\d+ ", ln)]
    assert en[-1].endswith("[Satisfaction: Satisfied]"), en[-1]


def test_the_text_limit_says_how_many_characters_were_typed() -> None:
    from qi_station.core.errors import ValidationError
    from qi_station.core.validate import clean_text

    with pytest.raises(ValidationError) as e:
        clean_text("字" * 192, "title", limit=100)
    assert e.value.rule == "max_length" and e.value.message.endswith("超过100字（已输入192字）")
