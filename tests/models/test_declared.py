"""Models declared in the config file (`[models.NAME]`): read beside the `[models]` settings,
checked with the shipped models (names, dependencies, cycles), and never named like a table
the streams own (a model replaces and drops its own table)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vitrina.config import ConfigError, Settings, load_settings

STREAM = """
[streams.orders.fields]
shop = { type = "string", max_length = 32 }
amount = { type = "float", ge = 0 }
[[streams.orders.rollups]]
keys = ["shop"]
aggregates = [{ name = "orders", function = "count" }]
"""
MODEL = """
[models]
enabled = false
[models.orders_daily]
description = "Orders per day and shop."
time = "day"
order_by = "shop, day"
cadence = "1.5m"
context = "1w"
depends = "site_sessions"
sql = "SELECT toDate(time) AS day, shop, count() AS orders FROM $db.orders WHERE time >= $start AND time < $end GROUP BY day, shop"
"""


def settings(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "c.toml"
    path.write_text(STREAM + text)
    return load_settings(path)


def test_a_declared_model_is_read_beside_the_settings(tmp_path: Path) -> None:
    s = settings(tmp_path, MODEL)
    assert s.models.enabled is False
    (m,) = s.extra_models
    assert (m.name, m.time, m.order_by, m.cadence_s, m.context_s, m.depends) == (
        "orders_daily",
        "day",
        "shop, day",
        90.0,
        7 * 86400.0,
        ("site_sessions",),
    )
    assert m.sql.startswith("SELECT toDate(time)") and m.description == "Orders per day and shop."


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('cadence = "1.5m"', 'cadence = "soon"'), "[models.orders_daily]: "),
        (('time = "day"\n', ""), "[models.orders_daily]: `time` is required"),
        (("sql = ", "query = "), "unknown keys ['query']"),
        (("site_sessions", "nope"), "[models]: unknown model 'nope'"),
        (("[models.orders_daily]", "[models.site_sessions]"), "site_sessions is a shipped model"),
        (("[models.orders_daily]", "[models.orders]"), "[models.orders]: orders is a table of the streams"),
        (("[models.orders_daily]", "[models.orders_1m]"), "[models.orders_1m]: orders_1m is a table of the streams"),
        (("[models.orders_daily]", "[models.rejected]"), "rejected is a table of the streams"),
        (("[models.orders_daily]", "[models.uploads]"), "uploads is a table of the streams"),
        (("[models.orders_daily]", "[models.Orders]"), "it must match"),
    ],
)
def test_a_bad_declared_model_is_refused_naming_it(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        settings(tmp_path, MODEL.replace(*change))
    assert message in str(err.value)


def test_a_dependency_cycle_between_declared_models_is_refused(tmp_path: Path) -> None:
    second = MODEL.split("[models.orders_daily]")[1].replace("site_sessions", "orders_daily")
    text = MODEL.replace("site_sessions", "orders_weekly") + "[models.orders_weekly]" + second.replace("description", "# d")
    with pytest.raises(ConfigError, match=r"\[models\]: .*cycle"):
        settings(tmp_path, text)
