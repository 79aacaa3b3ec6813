"""Open the report in headless Chromium: it renders, loads nothing, and runs no log content.

Debian's chromium is installed with apt-get where it is missing (the test machines run as
root with Debian's package mirror reachable). Playwright drives it through
``executable_path``; ``playwright install`` is never run. A screenshot of the page is saved
to ``$LOGHUNT_ARTIFACTS`` (or the test's tmp dir) and copied to /tmp/loghunt-report.png.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from loghunt.report import write_report

if TYPE_CHECKING:
    from conftest import HuntRun

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
_APT_LOCK = Path("/tmp/loghunt-apt-chromium.lock")
SCREENSHOT_COPY = Path("/tmp/loghunt-report.png")
# Sections whose plots must be drawn as inline SVG (the data has labels and times).
PLOTTED = ("scores", "votes", "quality", "projection", "timeline", "entities")

pytestmark = pytest.mark.slow


def _install_failed(reason: str) -> None:
    """CI must run this test, so there a failed install fails; elsewhere it skips."""
    if os.environ.get("CI"):
        pytest.fail(f"could not install chromium: {reason}")
    pytest.skip(f"chromium is missing and could not be installed: {reason}")


def ensure_chromium() -> Path:
    """Debian's chromium, installed with apt-get under a lock if it is not there yet."""
    if CHROMIUM.exists():
        return CHROMIUM
    if shutil.which("apt-get") is None:
        pytest.skip(f"{CHROMIUM} is missing and this system has no apt-get to install it")
    if os.geteuid() != 0:
        pytest.skip(f"{CHROMIUM} is missing and installing it needs root (apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    wait = ["-o", "DPkg::Lock::Timeout=600"]
    with _APT_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test runs install once, one at a time
        if CHROMIUM.exists():
            return CHROMIUM
        packages = ["chromium", "fonts-dejavu-core"]
        for command in (
            ["apt-get", *wait, "update", "-q"],
            ["apt-get", *wait, "install", "-y", "-q", "--no-install-recommends", *packages],
        ):
            try:
                done = subprocess.run(
                    command, env=env, capture_output=True, text=True, timeout=1_200, check=False
                )
            except subprocess.TimeoutExpired:
                _install_failed(f"{' '.join(command)} timed out")
            if done.returncode != 0:
                _install_failed(
                    f"{' '.join(command)} exited {done.returncode}: {done.stderr[-800:]}"
                )
    if not CHROMIUM.exists():
        _install_failed(f"apt-get succeeded but {CHROMIUM} does not exist")
    return CHROMIUM


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = ensure_chromium()
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the dev extra installs playwright"
    )
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(executable), args=LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def report_path(hunt_run: HuntRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_report(hunt_run.out_dir, tmp_path_factory.mktemp("report") / "report.html")


def test_report_renders_offline_and_runs_no_log_content(
    browser: Any, report_path: Path, hunt_run: HuntRun, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    requests: list[str] = []
    dialogs: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on("request", lambda r: requests.append(r.url))

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    url = report_path.resolve().as_uri()
    response = page.goto(url, wait_until="load")
    assert response is not None and response.ok
    page.wait_for_timeout(300)  # let any (unexpected) deferred work surface

    assert page.title().startswith("loghunt report")
    assert problems == [], problems
    assert requests == [url], "the report must load nothing but itself"
    assert dialogs == [], "log content ran as script"
    for section in PLOTTED:
        n_svg = page.locator(f"section#{section} svg").count()
        n_shapes = page.locator(f"section#{section} svg :is(rect, polyline, circle)").count()
        assert n_svg >= 1 and n_shapes >= 3, f"{section}: {n_svg} plots, {n_shapes} shapes"
        box = page.locator(f"section#{section} svg").first.bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 50, section

    page_stats = page.evaluate(
        """() => ({
            scripts: document.scripts.length,
            images: document.images.length,
            jsLinks: [...document.querySelectorAll('a[href]')]
                .filter(a => !a.getAttribute('href').startsWith('#')).length,
            text: document.body.textContent,
        })"""
    )
    assert page_stats["scripts"] == 0 and page_stats["images"] == 0
    assert page_stats["jsLinks"] == 0
    text = page_stats["text"]
    assert hunt_run.script in text, "the <script> value is shown as text"
    assert hunt_run.js_link in text and hunt_run.attr_break in text

    hostile_card = page.locator("article.card", has_text=hunt_run.hostile_uid)
    assert hostile_card.count() == 1
    card_text = hostile_card.text_content() or ""
    assert hunt_run.script in card_text and hunt_run.js_link in card_text
    assert hostile_card.locator("script, img, a").count() == 0

    artifacts = Path(os.environ.get("LOGHUNT_ARTIFACTS", str(tmp_path)))
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / "loghunt-report.png"
    page.screenshot(path=str(shot), full_page=True)
    hostile_card.screenshot(path=str(artifacts / "loghunt-report-hostile-card.png"))
    assert shot.stat().st_size > 50_000
    shutil.copyfile(shot, SCREENSHOT_COPY)
    page.close()
