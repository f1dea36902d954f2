"""places: an enterprise's location (county), the station's park, the station profile at the hub

Revision ID: 0008
Revises: 0007

- ``enterprise.county_code``: where the enterprise is today (a current GB/T 2260 county of Shandong;
  editable, ``qi-station enterprise locate``). ``region_code`` stays the region of its USCC, never
  changed. Back-filled from the registered region (``core.places.location``: a historic code is
  mapped to the place that holds it today, 371202 -> 370116), and ``city_code`` with it (3712xx ->
  370100; a province-level 370000 enterprise has no city until it is located).
- ``station.park``: the park the station serves; a station's historic region is mapped to today's.
- ``hub_station``: the profile each station sends (region, park, type, service mode) and when.
- ``region``: the current counties (level ``county``) and the historic codes (``historic``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from qi_station.core import places

    with op.batch_alter_table("enterprise") as b:
        b.add_column(sa.Column("county_code", sa.String(), nullable=True))
        b.create_index("ix_enterprise_county_code", ["county_code"])
    with op.batch_alter_table("station") as b:
        b.add_column(sa.Column("park", sa.String(), nullable=True))
    with op.batch_alter_table("hub_station") as b:
        b.add_column(sa.Column("region_code", sa.String(), nullable=True))
        b.add_column(sa.Column("park", sa.String(), nullable=True))
        b.add_column(sa.Column("station_type", sa.String(), nullable=True))
        b.add_column(sa.Column("service_mode", sa.String(), nullable=True))
        b.add_column(sa.Column("profile_at", sa.DateTime(), nullable=True))
    bind = op.get_bind()
    # back-fill in bulk: one UPDATE per distinct registered region (executemany), not per row
    regions = [r[0] for r in bind.execute(sa.text("SELECT DISTINCT region_code FROM enterprise"))]
    params = []
    for reg in regions:
        county, city = places.location(None, reg)
        params.append({"r": reg, "county": county, "city": city})
    if params:
        bind.execute(
            sa.text("UPDATE enterprise SET county_code = :county, city_code = :city WHERE region_code = :r"),
            params,
        )
    stations = [r[0] for r in bind.execute(sa.text("SELECT DISTINCT region_code FROM station"))]
    moved = [
        {"r": reg, "now": places.current_code(reg)}
        for reg in stations
        if places.current_code(reg) not in (None, reg)
    ]
    if moved:
        bind.execute(sa.text("UPDATE station SET region_code = :now WHERE region_code = :r"), moved)
    region = sa.table(
        "region",
        sa.column("code", sa.String),
        sa.column("name", sa.String),
        sa.column("level", sa.String),
        sa.column("historic", sa.Boolean),
        sa.column("parent", sa.String),
    )
    have = {r[0] for r in bind.execute(sa.text("SELECT code FROM region"))}
    rows = [
        {"code": c, "name": n, "level": "county", "historic": False, "parent": city}
        for city, counties in places.COUNTIES.items()
        for c, n in counties
        if c not in have
    ]
    rows += [
        {"code": c, "name": n, "level": "county", "historic": True, "parent": places.city_of(c)}
        for c, (n, _now) in places.HISTORIC.items()
        if c not in have and not c.endswith("00")
    ]
    op.bulk_insert(region, rows)


def downgrade() -> None:
    op.execute("DELETE FROM region WHERE level = 'county'")
    with op.batch_alter_table("hub_station") as b:
        for col in ("profile_at", "service_mode", "station_type", "park", "region_code"):
            b.drop_column(col)
    with op.batch_alter_table("station") as b:
        b.drop_column("park")
    with op.batch_alter_table("enterprise") as b:
        b.drop_index("ix_enterprise_county_code")
        b.drop_column("county_code")
