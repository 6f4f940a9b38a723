"""Security (issue 6): safe YAML, escaped report text, no path escaping the project.

* YAML: ``!!python/...`` tags are refused before anything runs; an alias bomb ("billion
  laughs") is refused in well under a second (the error used to ``repr`` the whole
  expansion: 7-10 s and gigabytes for 8-9 levels).
* Report: ``<script>`` and friends in the study title, description, event titles, tags,
  security/market/factor names and a dossier show as text in ``index.html`` and in every
  fragment; the dossier's ``javascript:`` link is not a link.
* Paths: a dossier that is a symlink out of ``seeds/`` and an ``output.dir`` that is a
  symlink out of the project are refused (exit 2); ``..``/absolute forms are in the
  bad-config catalogue (``tests/bad_inputs``).
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from eventstudy import cli
from eventstudy.config import load_config
from eventstudy.exceptions import ConfigError

ROOT = Path(__file__).resolve().parents[1]
KEI_TEXT = (ROOT / "configs" / "kei_cars.yaml").read_text(encoding="utf-8")
EVIL = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(2)">'


def project(tmp_path: Path) -> Path:
    """A project folder (pyproject marker, configs/, seeds/ with the real dossiers)."""
    root = tmp_path / "proj"
    (root / "configs").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    shutil.copytree(ROOT / "seeds", root / "seeds")
    return root


def write_config(root: Path, text: str, name: str = "study.yaml") -> Path:
    path = root / "configs" / name
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- YAML


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system ['touch {marker}']",
        "!!python/object/new:subprocess.Popen [['touch', '{marker}']]",
        "!!python/name:os.system",
        "!!python/module:os",
        "!!python/object:eventstudy.config.StudyConfig {{}}",
    ],
)
def test_python_yaml_tags_are_refused_and_never_run(tmp_path: Path, tag: str):
    root = project(tmp_path)
    marker = tmp_path / "pwned"
    path = write_config(root, KEI_TEXT + f"\nextra: {tag.format(marker=marker)}\n")
    with pytest.raises(ConfigError, match="valid YAML") as err:
        load_config(path)
    assert "could not determine a constructor" in str(err.value)
    assert not marker.exists()


def _alias_bomb(levels: int) -> str:
    out = ["&l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        out.append(f"&l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    return "[" + ", ".join(out) + "]"


@pytest.mark.parametrize(
    "place",
    [
        lambda bomb: KEI_TEXT + f"\nunknown_key: {bomb}\n",
        lambda bomb: KEI_TEXT.replace(
            "title: Japanese automakers and the US kei-car announcements (December 2025)",
            f"title: {bomb}",
        ),
        lambda bomb: KEI_TEXT.replace("estimation: [-250, -11]", f"estimation: [{bomb}, *l8]"),
        lambda bomb: KEI_TEXT.replace("tags: [kei-cars, us-policy]", f"tags: {bomb}"),
    ],
    ids=["unknown_key", "title", "window_pair", "tags"],
)
def test_yaml_alias_bomb_is_refused_quickly(tmp_path: Path, place):
    """9 levels = 387 million leaves if anything walks the whole value."""
    path = write_config(project(tmp_path), place(_alias_bomb(9)))
    start = time.perf_counter()
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert time.perf_counter() - start < 2.0
    assert len(str(err.value)) < 600 and "\n" not in str(err.value)


# ----------------------------------------------------------------------------- paths


def test_dossier_symlink_out_of_seeds_is_refused(tmp_path: Path):
    root = project(tmp_path)
    secret = tmp_path / "secret.md"
    secret.write_text("private notes\n")
    (root / "seeds" / "evil.md").symlink_to(secret)
    text = KEI_TEXT.replace("seeds/kei_cafe_2025-12-03.md", "seeds/evil.md")
    path = write_config(root, text)
    code, _, err = invoke("validate", str(path))
    assert code == 2 and "events[0].dossier" in err and "seeds/" in err, err
    assert "private notes" not in err


def test_output_dir_symlink_out_of_the_project_is_refused(tmp_path: Path):
    """``output.dir: outlink`` is lexically inside the project but resolves outside it."""
    root = project(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "outlink").symlink_to(outside, target_is_directory=True)
    path = write_config(root, KEI_TEXT.replace("dir: reports", "dir: outlink"))
    code, _, err = invoke("validate", str(path))
    assert code == 2 and "output.dir" in err and "inside the project" in err, err


def test_output_dir_inside_the_project_through_a_symlink_is_fine(tmp_path: Path):
    root = project(tmp_path)
    (root / "real_reports").mkdir()
    (root / "reports_link").symlink_to(root / "real_reports", target_is_directory=True)
    cfg = load_config(write_config(root, KEI_TEXT.replace("dir: reports", "dir: reports_link")))
    assert cfg.output.dir == "reports_link"


# ----------------------------------------------------------------------------- escaping


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli.main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _poison(text: str) -> str:
    reps = {
        "title: Japanese automakers and the US kei-car announcements (December 2025)": (
            f'title: "Kei cars {EVIL}"'
        ),
        "Abnormal returns of Toyota,": f"Abnormal returns {IMG} of Toyota,",
        "name: Toyota Motor, role: oem": f"name: 'Toyota {EVIL}', role: oem",
        "name: TOPIX (Tokyo Stock Price Index)": f"name: 'TOPIX {IMG}'",
        "name: USD/JPY (yen per dollar)": f"name: 'USD/JPY {EVIL}'",
        "title: Oval Office CAFE rollback;": f"title: 'Oval Office {EVIL}' # ",
        "tags: [kei-cars, us-policy]": f"tags: ['{EVIL}', us-policy]",
        "title: Nikkei 225 as the market": f"title: 'Nikkei {EVIL}'",
    }
    for old, new in reps.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


@pytest.fixture(scope="module")
def poisoned_report(tmp_path_factory, prices_dir: Path) -> Path:
    tmp = tmp_path_factory.mktemp("xss")
    root = project(tmp)
    dossier = root / "seeds" / "kei_cafe_2025-12-03.md"
    dossier.write_text(
        dossier.read_text(encoding="utf-8")
        + f"\n\n{EVIL}\n\n{IMG}\n\n[click](javascript:alert(3))\n\n<a href='javascript:x'>y</a>\n",
        encoding="utf-8",
    )
    path = write_config(root, _poison(KEI_TEXT))
    code, _, err = invoke(
        "run", str(path), "--prices", str(prices_dir), "--offline", "--out", str(tmp / "out")
    )
    assert code == 0, err
    return tmp / "out" / "kei_cars"


def _html_files(report: Path) -> list[Path]:
    files = [report / "index.html", *sorted((report / "fragments").glob("*.html"))]
    assert len(files) > 5
    return files


def test_no_markup_from_configs_or_dossiers_survives(poisoned_report: Path):
    for page in _html_files(poisoned_report):
        html = page.read_text(encoding="utf-8")
        assert "<script>alert" not in html, page.name
        assert "<img src=x" not in html, page.name
        # no live link to javascript: (the dossier's raw <a href='javascript:x'> shows as
        # the text &lt;a href='javascript:x'&gt;, which is what "shown as text" means)
        assert not re.search(r"<a\s[^>]*href=[\"']?\s*javascript:", html, re.I), page.name
        assert "&lt;a href='javascript:x'&gt;y&lt;/a&gt;" in html or page.name != "index.html"
        # inside plotly's JSON a "</script>" would close the <script> tag early
        assert "</script>alert" not in html and "alert(1)</script>" not in html, page.name


def test_poisoned_text_is_shown_escaped(poisoned_report: Path):
    html = (poisoned_report / "index.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # titles, names, the dossier
    assert "&lt;img src=x onerror=" in html


def test_fragments_carry_the_escaped_titles(poisoned_report: Path):
    shown = 0
    for page in _html_files(poisoned_report)[1:]:
        html = page.read_text(encoding="utf-8")
        shown += "alert(1)" in html  # present, but only in an inert form
    assert shown > 0


def test_a_symlink_out_of_the_prices_folder_is_refused_without_reading_it(tmp_path: Path):
    """A ``<symbol>.csv`` that links outside the ``--prices`` folder is not read."""
    from eventstudy.data import CsvSource
    from eventstudy.exceptions import DataError

    secret = tmp_path / "secret.txt"
    secret.write_text("Date,Close\n2025-01-06,1\nTOP-SECRET-LINE\n")
    folder = tmp_path / "prices"
    folder.mkdir()
    (folder / "7203.T.csv").symlink_to(secret)
    with pytest.raises(DataError, match="links outside the prices folder") as info:
        CsvSource(folder).get("7203.T")
    assert "TOP-SECRET" not in str(info.value)
