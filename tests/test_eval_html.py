"""The HTML report: self-contained, and rendered by a real browser (headless Chromium)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from huddle_ai import HuddleAI
from huddle_ai.evals import apply_gate, load_suite, render_html, run_suite

from .test_eval_harness import Counting, write_suite


@pytest.fixture
def report(fake_hai: HuddleAI, tmp_path: Path) -> tuple[dict[str, Any], str]:
    suite = load_suite(write_suite(tmp_path))
    baseline = run_suite(suite, fake_hai, lambda v: Counting(1.0))
    run = run_suite(suite, fake_hai, lambda v: Counting(0.0), repeat=2)
    apply_gate(run, baseline, fail_on_regression=True)
    return run, render_html(run)


def test_html_is_self_contained_and_complete(report: tuple[dict[str, Any], str]) -> None:
    run, html = report
    # offline: no external scripts, styles, images or fonts
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "@import" not in html
    metrics = run["metrics"]["grounded"]
    charts = re.findall(r'<svg class="chart" data-metric="([^"]+)"', html)
    assert set(charts) == set(metrics)
    assert html.count("<section class='case'") == len(run["cases"]) == 3
    # drill-down: solution, context items, output and scores with explanations
    first = run["cases"][0]
    assert "At 09:02 the alert fired" in html
    assert all(item["id"] in html for item in first["context"])
    assert "Add an owner and a date to each action." in html
    why = first["outputs"]["grounded"][0]["scores"]["specificity"]["explanation"]
    assert why.replace("'", "&#x27;") in html
    # baseline diff with the regressions marked
    assert "<table id='diff'>" in html and "regressed" in html
    assert html.count("<script>") == 1  # only the page's own script


def test_html_escapes_learner_text(fake_hai: HuddleAI, tmp_path: Path) -> None:
    path = write_suite(tmp_path)
    data = tmp_path / "data.jsonl"
    data.write_text(
        data.read_text().replace("09:00 outage.", "<script>alert(1)</script><img src=x onerror=y>")
    )
    run = run_suite(load_suite(path), fake_hai, lambda v: Counting(1.0))
    html = render_html(run)
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert "<img src=x" not in html


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.mark.slow
def test_html_renders_in_headless_chromium(
    report: tuple[dict[str, Any], str], tmp_path: Path
) -> None:
    exe = _chromium()
    if exe is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    run, html = report
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    base = [
        exe,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [*base, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert dom.returncode == 0, dom.stderr[-500:]
    out = dom.stdout
    # the page's script ran in the browser and counted what rendered
    charts = re.search(r'data-charts="(\d+)"', out)
    cases = re.search(r'data-cases="(\d+)"', out)
    assert charts and int(charts.group(1)) == len(run["metrics"]["grounded"])
    assert cases and int(cases.group(1)) == len(run["cases"])
    assert out.count('class="bar"') >= len(run["metrics"]["grounded"])
    shot = tmp_path / "shot.png"
    subprocess.run(
        [*base, f"--screenshot={shot}", "--window-size=1200,2000", page.as_uri()],
        capture_output=True,
        timeout=120,
    )
    assert shot.is_file() and shot.stat().st_size > 10_000
    assert json.dumps(run)  # the run stays JSON-serialisable after rendering
