"""Study configs: the committed YAML files, the YAML traps, one-line errors, the schema."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from eventstudy.calendar import event_timing
from eventstudy.config import (
    DEFAULT_CAR_WINDOWS,
    TEST_NAMES,
    StudyConfig,
    find_root,
    load_config,
    load_yaml,
    parse_config,
    schema_json,
    write_schema,
)
from eventstudy.exceptions import ConfigError
from eventstudy.plan import plan_study

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
OEMS = ["7203.T", "7267.T", "7201.T", "7211.T"]
PEERS = ["7269.T", "7270.T", "7261.T"]

MINIMAL = """\
name: mini
securities:
  - symbol: "7203.T"
events:
  - id: e1
    title: An event
    announced: "2025-12-03T14:30:00-05:00"
"""


def write(tmp_path: Path, text: str, name: str = "study.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def one_line_error(path: Path, root: Path | None = None) -> str:
    with pytest.raises(ConfigError) as err:
        load_config(path, root=root)
    msg = str(err.value)
    assert "\n" not in msg
    assert path.name in msg
    return msg


# ----------------------------------------------------------------------------- committed configs


@pytest.mark.parametrize("name", ["kei_cars", "tariffs_2025", "demo"])
def test_committed_configs_load_and_carry_the_modeline(name):
    path = CONFIGS / f"{name}.yaml"
    assert path.read_text(encoding="utf-8").startswith(
        "# yaml-language-server: $schema=./schema.json\n"
    )
    config = load_config(path)
    assert config.name == name
    assert config.file == path
    assert config.root == ROOT
    plan = plan_study(config)
    for ev in plan.events:
        assert ev.announced.tzinfo is not None
        assert ev.dossier is not None and ev.dossier.is_file()
        text = ev.dossier.read_text(encoding="utf-8")
        assert "https://" in text or "http://" in text
    assert plan.output.report_dir == ROOT / "reports" / name


def test_kei_cars_config():
    config = load_config(CONFIGS / "kei_cars.yaml")
    assert [s.symbol for s in config.securities if s.role == "oem"] == OEMS
    assert [s.symbol for s in config.securities if s.role == "peer"] == PEERS
    assert config.exchanges == ["XTKS"]
    market = config.market["XTKS"]
    assert market.symbol == "TOPIX"
    assert market.candidates("csv") == ["TOPIX", "^N225", "1306.T"]
    assert market.candidates("yahoo") == ["1306.T", "^N225"]
    assert [f.symbol for f in config.factors] == ["JPY=X"]
    assert config.source.kind == "yahoo"
    assert config.tests == list(TEST_NAMES)
    assert [e.id for e in config.events] == ["kei_cafe_2025-12-03", "tinycars_truth_2025-12-05"]
    assert config.events[1].timing_confidence == "date-only"
    timing = event_timing(config.events, ["XTKS", "XNYS"])
    sessions = {(r.event_id, r.exchange): str(r.session.date()) for r in timing.itertuples()}
    assert sessions == {
        ("kei_cafe_2025-12-03", "XTKS"): "2025-12-04",
        ("kei_cafe_2025-12-03", "XNYS"): "2025-12-03",
        ("tinycars_truth_2025-12-05", "XTKS"): "2025-12-08",
        ("tinycars_truth_2025-12-05", "XNYS"): "2025-12-05",
    }


def test_tariffs_config_matches_the_researched_sessions(shared_dir: Path):
    """First TSE sessions equal ../shared/seeds/event-facts.csv's first_tse_day."""
    facts = pd.read_csv(shared_dir / "seeds" / "event-facts.csv").set_index("event_id")
    config = load_config(CONFIGS / "tariffs_2025.yaml")
    timing = event_timing(config.events, ["XTKS"])
    assert len(timing) == 4
    for row in timing.itertuples():
        assert str(row.session.date()) == facts.loc[row.event_id, "first_tse_day"][:10]
    kei = load_config(CONFIGS / "kei_cars.yaml")
    for row in event_timing(kei.events, ["XTKS"]).itertuples():
        assert str(row.session.date()) == facts.loc[row.event_id, "first_tse_day"][:10]


def test_demo_config_is_simulated_with_injected_ars():
    config = load_config(CONFIGS / "demo.yaml")
    assert config.source.kind == "simulated"
    assert config.source.seed is not None
    assert config.source.injected
    assert {i.event for i in config.source.injected} <= {e.id for e in config.events}


def test_variants_apply_overrides():
    plan = plan_study(CONFIGS / "kei_cars.yaml")
    variants = {v.name: v.plan for v in plan.variants}
    assert list(variants) == ["nikkei", "fx_factor", "est_120", "est_250"]
    nikkei = variants["nikkei"]
    assert nikkei.exchange("XTKS").market.symbol == "^N225"
    assert nikkei.name == plan.name and nikkei.title == "Nikkei 225 as the market"
    assert nikkei.securities == plan.securities
    assert nikkei.engine.estimation == plan.engine.estimation
    assert variants["fx_factor"].engine.model == "factor"
    assert variants["est_120"].engine.estimation == (-130, -11)
    assert not nikkei.variants and not nikkei.pools


# ----------------------------------------------------------------------------- defaults


def test_defaults(tmp_path):
    config = load_config(write(tmp_path, MINIMAL))
    assert config.title == "mini"
    assert config.estimation == (-250, -11)
    assert config.event_window == (-10, 10)
    assert config.car_windows == list(DEFAULT_CAR_WINDOWS)
    assert config.model == "market"
    assert config.returns == "simple"
    assert config.convention == "textbook"
    assert config.tests == list(TEST_NAMES)
    assert config.source.kind == "yahoo"
    assert config.output.dir == "reports"
    assert config.output.plotlyjs == "inline"
    assert config.securities[0].exchange == "XTKS"
    assert config.securities[0].role == "other"
    assert config.events[0].timing_confidence == "exact"
    # the default Tokyo benchmark is filled in
    assert config.market["XTKS"].symbol == "TOPIX"


def test_exchange_defaults_from_suffix_and_explicit_override(tmp_path):
    text = MINIMAL.replace(
        '  - symbol: "7203.T"\n',
        '  - symbol: "7203.T"\n  - symbol: TM\n  - {symbol: "7267.T", exchange: XNYS}\n',
    )
    config = load_config(write(tmp_path, text))
    assert [s.exchange for s in config.securities] == ["XTKS", "XNYS", "XNYS"]
    assert config.exchanges == ["XTKS", "XNYS"]
    assert config.market["XNYS"].symbol == "^GSPC"
    plan = plan_study(config)
    assert [ex.exchange for ex in plan.exchanges] == ["XTKS", "XNYS"]
    assert plan.exchange("XNYS").symbols == ["TM", "7267.T"]
    assert plan.exchange("XNYS").market.symbol == "^GSPC"


def test_announced_with_zone_name_and_z(tmp_path):
    text = MINIMAL.replace('"2025-12-03T14:30:00-05:00"', "2025-12-03 14:30 America/New_York")
    config = load_config(write(tmp_path, text))
    assert config.events[0].announced == datetime(2025, 12, 3, 19, 30, tzinfo=UTC)
    text = MINIMAL.replace('"2025-12-03T14:30:00-05:00"', "2025-12-03T19:30:00Z")
    config = load_config(write(tmp_path, text))
    assert config.events[0].announced == datetime(2025, 12, 3, 19, 30, tzinfo=UTC)


def test_tz_field_converts_local(tmp_path):
    text = MINIMAL + "    tz: Asia/Tokyo\n"
    text = text.replace('"2025-12-03T14:30:00-05:00"', '"2025-12-04T04:30:00+09:00"')
    config = load_config(write(tmp_path, text))
    assert config.events[0].local.hour == 4
    assert config.events[0].tz == "Asia/Tokyo"


# ----------------------------------------------------------------------------- YAML traps


def test_yaml_booleans_only_true_false():
    data = load_yaml("a: NO\nb: yes\nc: on\nd: true\ne: False\nf: y\n")
    assert data == {"a": "NO", "b": "yes", "c": "on", "d": True, "e": False, "f": "y"}


def test_yaml_octal_looking_and_floats_keep_their_text():
    data = load_yaml("a: 0123\nb: 1.10\nc: 7203\nd: -11\ne: 0\nf: 2025-12-03\n")
    assert data["a"] == "0123"
    assert data["b"] == 1.1 and repr(data["b"]) == "1.10"
    assert data["c"] == 7203 and repr(data["c"]) == "7203"
    assert data["d"] == -11
    assert data["e"] == 0
    assert data["f"] == "2025-12-03"  # dates stay text; the model parses them


def test_symbols_and_tags_that_yaml_1_1_would_turn_into_booleans(tmp_path):
    text = MINIMAL.replace('  - symbol: "7203.T"\n', '  - symbol: "7203.T"\n  - symbol: ON\n')
    text += "    tags: [NO, yes, kei-cars]\n"
    config = load_config(write(tmp_path, text))
    assert config.securities[1].symbol == "ON"
    assert config.events[0].tags == ["NO", "yes", "kei-cars"]


def test_ticker_written_as_number_gets_the_suffix_hint(tmp_path):
    msg = one_line_error(write(tmp_path, MINIMAL.replace('"7203.T"', "7203")))
    assert "securities[0].symbol" in msg
    assert '"7203.T"' in msg


def test_quoted_digits_only_ticker_is_rejected_with_hint(tmp_path):
    msg = one_line_error(write(tmp_path, MINIMAL.replace('"7203.T"', '"7203"')))
    assert '"7203.T"' in msg


def test_leading_zero_number_is_not_silently_octal(tmp_path):
    msg = one_line_error(write(tmp_path, MINIMAL + "min_estimation_obs: 0120\n"))
    assert "min_estimation_obs" in msg
    assert "'0120'" in msg


def test_float_that_lost_its_zero_is_rejected_in_text(tmp_path):
    msg = one_line_error(write(tmp_path, MINIMAL.replace("title: An event", "title: 1.10")))
    assert "events[0].title" in msg
    assert "1.10" in msg
    assert "quote" in msg


def test_duplicate_key_is_an_error(tmp_path):
    msg = one_line_error(write(tmp_path, MINIMAL + "model: market\nmodel: factor\n"))
    assert "'model'" in msg
    assert "once" in msg


def test_duplicate_key_names_its_line_and_column(tmp_path):
    text = MINIMAL.replace("    title: An event\n", "    title: An event\n    title: Again\n")
    msg = one_line_error(write(tmp_path, text))
    assert "line 7, column 5: got 'title'" in msg, msg


def test_a_key_may_override_one_merged_in(tmp_path):
    """YAML 1.2 merge keys: ``<<: *oem`` then ``symbol:`` is legal (issue 15)."""
    text = MINIMAL.replace(
        '  - symbol: "7203.T"\n',
        '  - &oem {symbol: "7203.T", role: oem, exchange: XTKS}\n'
        '  - <<: *oem\n    symbol: "7267.T"\n    name: Honda\n',
    )
    config = load_config(write(tmp_path, text))
    assert [(s.symbol, s.role, s.name) for s in config.securities] == [
        ("7203.T", "oem", None),
        ("7267.T", "oem", "Honda"),
    ]
    # a key given twice outside the merge is still an error
    msg = one_line_error(
        write(tmp_path, text.replace("    name: Honda\n", "    name: Honda\n    name: H\n"))
    )
    assert "line 7, column 5: got 'name'" in msg, msg


def test_duplicate_key_with_an_alias_bomb_value_is_refused_quickly(tmp_path):
    """The library's own duplicate-key message formats the value: 9 levels of aliases would
    be expanded to 387 million items."""
    import time

    bomb = ["&l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    bomb += [f"&l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 9)]
    text = MINIMAL + f"bomb: [{', '.join(bomb)}]\nmodel: market\nmodel: *l8\n"
    start = time.perf_counter()
    msg = one_line_error(write(tmp_path, text))
    assert time.perf_counter() - start < 2.0
    assert "got 'model'" in msg and len(msg) < 400


def test_a_yaml_1_1_directive_does_not_bring_the_traps_back():
    data = load_yaml("%YAML 1.1\n---\na: 0123\nb: yes\nc: 2025-12-03\n")
    assert data == {"a": "0123", "b": "yes", "c": "2025-12-03"}


def test_unsafe_tags_are_refused(tmp_path):
    msg = one_line_error(write(tmp_path, MINIMAL + "x: !!python/object/apply:os.system [ls]\n"))
    assert "valid YAML" in msg


# ----------------------------------------------------------------------------- errors


def test_error_names_file_field_value_and_fix(tmp_path):
    path = write(tmp_path, MINIMAL.replace('"2025-12-03T14:30:00-05:00"', '"2025-12-03 14:30"'))
    msg = one_line_error(path)
    assert msg.startswith(f"{path}: events[0].announced: got '2025-12-03 14:30'; expected")
    assert "-05:00" in msg


def test_unknown_key_suggests_the_close_one(tmp_path):
    text = MINIMAL + "    timing_confidense: exact\n"
    msg = one_line_error(write(tmp_path, text))
    assert "events[0].timing_confidense" in msg
    assert "did you mean 'timing_confidence'" in msg


def test_missing_file_and_empty_file(tmp_path):
    msg = one_line_error(tmp_path / "nope.yaml")
    assert "existing" in msg
    msg = one_line_error(write(tmp_path, ""))
    assert "mapping" in msg


def test_parse_config_without_file_and_python_objects():
    config = parse_config(
        {
            "name": "py",
            "securities": [{"symbol": "7203.T"}],
            "events": [
                {
                    "id": "e",
                    "title": "t",
                    "announced": pd.Timestamp("2025-12-03 14:30", tz="America/New_York"),
                }
            ],
        }
    )
    assert config.file is None
    with pytest.raises(ConfigError, match=r"^events\[0\]\.announced: "):
        parse_config(
            {
                "name": "py",
                "securities": [{"symbol": "7203.T"}],
                "events": [{"id": "e", "title": "t", "announced": datetime(2025, 12, 3, 14)}],
            }
        )


def test_dossier_existence_needs_a_root(tmp_path):
    text = MINIMAL + "    dossier: seeds/none.md\n"
    path = write(tmp_path, text)
    msg = one_line_error(path, root=tmp_path)
    assert "events[0].dossier" in msg
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "none.md").write_text("# x\n", encoding="utf-8")
    plan = plan_study(load_config(path, root=tmp_path))
    assert plan.event("e1").dossier == (tmp_path / "seeds" / "none.md")


def test_find_root():
    assert find_root(CONFIGS / "kei_cars.yaml") == ROOT
    assert find_root(ROOT / "tests" / "bad_inputs" / "x.yaml") == ROOT


def test_models_are_frozen():
    config = load_config(CONFIGS / "kei_cars.yaml")
    with pytest.raises(Exception, match="frozen"):
        config.name = "other"  # type: ignore[misc]


# ----------------------------------------------------------------------------- schema


def test_committed_schema_is_current():
    committed = (CONFIGS / "schema.json").read_text(encoding="utf-8")
    assert committed == schema_json(), (
        "configs/schema.json is stale: run "
        "python -c \"from eventstudy.config import write_schema; write_schema('configs/schema.json')\""
    )


def test_write_schema(tmp_path):
    path = write_schema(tmp_path / "schema.json")
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert {"name", "securities", "events"} <= set(schema["required"])
    assert "tests" in schema["properties"]
    assert StudyConfig.model_fields.keys() == schema["properties"].keys()


def test_announced_schema_pattern_accepts_what_the_loader_accepts():
    import re

    from eventstudy.config import ANNOUNCED_PATTERN

    good = [
        "2025-12-03T14:30:00-05:00",
        "2025-12-03T19:30:00Z",
        "2025-12-03 14:30 America/New_York",
        "2025-12-04T04:30+09:00",
        "2025-12-03 19:30 UTC",
    ]
    bad = ["2025-12-03 14:30", "2025-12-03", "2025-12-03T14:30:00"]
    for text in good:
        assert re.match(ANNOUNCED_PATTERN, text), text
        parse_config(
            {
                "name": "x",
                "securities": [{"symbol": "7203.T"}],
                "events": [{"id": "e", "title": "t", "announced": text}],
            }
        )
    for text in bad:
        assert not re.match(ANNOUNCED_PATTERN, text), text


def test_prices_path_resolves_against_root(tmp_path):
    path = write(tmp_path, MINIMAL + "source: {kind: csv, prices: data/prices}\n")
    config = load_config(path, root=tmp_path)
    assert plan_study(config).prices_path == tmp_path / "data" / "prices"
    assert plan_study(CONFIGS / "kei_cars.yaml").prices_path is None


def test_test_names_match_the_engine():
    """Every test name a config accepts is one eventstudy.stats implements."""
    from eventstudy import stats

    assert set(TEST_NAMES) <= set(stats.TEST_NAMES), set(TEST_NAMES) - set(stats.TEST_NAMES)


def test_prices_option_switches_the_plan_to_csv(tmp_path):
    folder = tmp_path / "prices"
    folder.mkdir()
    plan = plan_study(CONFIGS / "kei_cars.yaml", prices=folder)
    assert plan.source.kind == "csv"
    assert plan.prices_path == folder.resolve()
    assert all(v.plan.source.kind == "csv" for v in plan.variants)  # variants read it too
    assert plan.config.source.kind == "yahoo"  # the study itself is unchanged
    assert plan_study(CONFIGS / "kei_cars.yaml").source.kind == "yahoo"
    with pytest.raises(ConfigError, match=r"^--prices: "):
        plan_study(CONFIGS / "kei_cars.yaml", prices=tmp_path / "absent")


# ----------------------------------------------------------------------------- the plan, pools


TWO_EVENTS = (
    MINIMAL
    + """\
    tags: [kei]
  - id: e2
    title: Another event
    announced: "2025-12-05T09:00:00-05:00"
    tags: [kei]
  - id: e3
    title: An unrelated event
    announced: "2025-12-10T09:00:00-05:00"
"""
)


def test_headline_window_defaults_to_0_1_and_must_be_a_car_window(tmp_path):
    plan = plan_study(load_config(write(tmp_path, MINIMAL)))
    assert plan.headline_window == (0, 1)
    plan = plan_study(load_config(write(tmp_path, MINIMAL + "car_windows: [[0, 0], [-1, 1]]\n")))
    assert plan.headline_window == (0, 0)  # no (0,+1): the first CAR window
    plan = plan_study(load_config(write(tmp_path, MINIMAL + "headline_window: [-1, 1]\n")))
    assert plan.headline_window == (-1, 1)
    msg = one_line_error(write(tmp_path, MINIMAL + "headline_window: [0, 3]\n"))
    assert "headline_window" in msg and "one of car_windows" in msg


def test_car_chart_start_is_inside_the_event_window(tmp_path):
    plan = plan_study(load_config(write(tmp_path, MINIMAL)))
    assert plan.output.car_from == -1 and plan.output.fragments == "sibling"
    msg = one_line_error(write(tmp_path, MINIMAL + "output: {car_from: -20}\n"))
    assert "output.car_from" in msg and "inside the event window [-10, 10]" in msg


def test_no_pool_unless_the_study_asks(tmp_path):
    assert plan_study(load_config(write(tmp_path, TWO_EVENTS))).pools == ()


@pytest.mark.parametrize(
    ("pool", "name", "members"),
    [
        ("pool: [e1, e2]\n", "pool1", ("e1", "e2")),
        ("pool: {tag: kei}\n", "pool_kei", ("e1", "e2")),
        ("pool:\n  - {name: kei_both, title: Both kei posts, events: [e2, e1]}\n", "kei_both",
         ("e2", "e1")),
    ],
)  # fmt: skip
def test_pool_forms(tmp_path, pool, name, members):
    plan = plan_study(load_config(write(tmp_path, TWO_EVENTS + pool)))
    assert [(p.name, p.events) for p in plan.pools] == [(name, members)]
    assert plan.pools[0].title


@pytest.mark.parametrize(
    ("pool", "field", "expect"),
    [
        ("pool: [e1, nope]\n", "pool[0].events[1]", "an event id of this study"),
        ("pool: [e1]\n", "pool[0].events", "at least two events"),
        ("pool: [e1, e1]\n", "pool[0].events[1]", "each event once"),
        ("pool: {tag: none}\n", "pool[0].tag", "0 event(s) carry this tag"),
        ("pool: [{events: [e1, e2], tag: kei}]\n", "pool[0]", "either events"),
        ("pool: [[e1, e2], {events: [e1, e3]}]\n", "pool[0]", "a mapping"),
        ("pool: [{name: a, events: [e1, e2]}, {name: a, tag: kei}]\n", "pool[1].name",
         "a unique pool name"),
    ],
)  # fmt: skip
def test_bad_pools_are_one_line_errors(tmp_path, pool, field, expect):
    msg = one_line_error(write(tmp_path, TWO_EVENTS + pool))
    assert field in msg and expect in msg, msg


def test_mapped_exchange_codes_are_exchange_calendars_codes():
    """The codes the config accepts without asking exchange-calendars (those of the symbol
    and suffix maps) are each a code it knows."""
    import exchange_calendars as xc

    from eventstudy import config as config_mod

    names = set(xc.get_calendar_names(include_aliases=True))
    assert config_mod._MAPPED_EXCHANGES <= names
    assert config_mod._known_exchange("XTKS") and not config_mod._known_exchange("XTKZ")
