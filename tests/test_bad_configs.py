"""Bad-config catalogue (issue 6): every file in tests/bad_inputs/ is one mistake.

Each file starts with two comment lines read here::

    # field: <field path the message must name>
    # expect: <fragment of what the message must say>

``load_config`` must raise :class:`ConfigError` whose text is ONE line naming the file, the
field and the fragment. The CLI test runs the same catalogue through ``eventstudy validate``
(exit code 2).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from eventstudy.config import load_config
from eventstudy.exceptions import ConfigError

BAD_INPUTS = Path(__file__).resolve().parent / "bad_inputs"
CASES = sorted(BAD_INPUTS.glob("*.yaml"))
_HEADER = re.compile(r"^# (field|expect): (.+)$")


def read_header(path: Path) -> dict[str, str]:
    """The ``# field:`` and ``# expect:`` lines of a catalogue file."""
    header: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines()[:2]:
        match = _HEADER.match(line)
        if match:
            header[match.group(1)] = match.group(2).strip()
    return header


def test_catalogue_is_large_enough():
    assert len(CASES) >= 30


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_bad_config_gives_one_line_error(path: Path):
    header = read_header(path)
    assert set(header) == {"field", "expect"}, f"{path.name}: missing '# field:'/'# expect:'"
    with pytest.raises(ConfigError) as err:
        load_config(path)
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}: "), msg
    assert header["field"] in msg, msg
    assert header["expect"] in msg, msg
    assert err.value.exit_code == 2
    assert err.value.file == str(path)


_TOKENS = [
    "", "~", "[]", "{}", "0123", "1.10", "NO", "yes", "7203", "-1", "[1, 2, 3]", "'x'",
    "2025-02-30", "!!binary aGk=", "{a: 1}", '""', "..", "/etc", "9" * 30, "[[1, 2], [3]]",
    "[-5, 5]", "2025-12-03T14:30:00", "null", ".inf", ".nan", "0x1F", "1e400", "[a, b]",
    "{symbol: X}", '"2025-12-03 14:30 Asia/Tokyo"', "- x", ": :", "'", "\t",
]  # fmt: skip


def test_mutated_configs_never_crash(tmp_path: Path):
    """Random line edits of configs/kei_cars.yaml: valid, or one ConfigError line; no crash."""
    import random

    root = BAD_INPUTS.parents[1]
    base = (root / "configs" / "kei_cars.yaml").read_text(encoding="utf-8").splitlines()
    outcomes = {"ok": 0, "error": 0}
    for seed in range(300):
        rng = random.Random(seed)
        lines = list(base)
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(lines))
            op = rng.random()
            if op < 0.2:
                del lines[i]
            elif op < 0.3:
                lines.insert(i, lines[i])
            elif ":" in lines[i]:
                lines[i] = lines[i].split(":", 1)[0] + ": " + rng.choice(_TOKENS)
        path = tmp_path / f"mutant_{seed}.yaml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        try:
            load_config(path, root=root)
        except ConfigError as err:
            assert "\n" not in str(err), str(err)
            assert str(err).startswith(f"{path}: ")
            outcomes["error"] += 1
        else:
            outcomes["ok"] += 1
    assert outcomes["error"] > 100
