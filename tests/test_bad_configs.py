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
