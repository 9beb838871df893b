"""`muspsy view` in a real browser: Debian's chromium driven by Playwright (no browser download;
`.ci/run` installs chromium). One browser for the module; every page must load without console
errors; navigation, the paired view, live refresh and the static copy are used as a person would."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from muspsy.viewer.server import write_static
from muspsy.viewer.site import Source
from viewer_runs import mark_running, paired_run, read_arcs, viewer

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip("no /usr/bin/chromium on this machine (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import BrowserContext, Page, expect, sync_playwright  # noqa: E402

pytestmark = pytest.mark.browser
# What a closed network needs: no sandbox as root, no GPU, nothing that phones home.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return paired_run(tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),  # a fresh user-data-dir
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
            viewport={"width": 1300, "height": 900},
        )
        yield context
        context.close()


@pytest.fixture(scope="module")
def address(run_dir: Path) -> Iterator[str]:
    with viewer(run_dir) as url:
        yield url


class Tab:
    """A page that records every console error and uncaught exception."""

    def __init__(self, context: BrowserContext) -> None:
        self.page: Page = context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def planted(self) -> Any:
        return self.page.evaluate("window.__planted")

    def close(self) -> None:
        self.page.close()
        assert self.errors == []


@pytest.fixture
def tab(browser: BrowserContext) -> Iterator[Tab]:
    opened = Tab(browser)
    yield opened
    opened.close()


def test_from_the_run_to_an_arc_and_its_executed_path(tab, address, tmp_path):
    page = tab.page
    page.goto(address)
    page.locator("main table a").first.click()  # the home page lists the sources
    expect(page.locator("#arc-count")).to_contain_text("6 arc(s)")
    expect(page.locator("table.by-strategy")).to_contain_text("motivational_interviewing")
    page.locator("p.filters").get_by_role("link", name="cbt", exact=True).click()
    expect(page.locator("#arc-count")).to_contain_text("3 arc(s)")
    page.get_by_role("link", name="graham-chronic-pain-risk--cbt--seed0").click()
    expect(page.locator("h1")).to_contain_text("graham-chronic-pain-risk--cbt--seed0")
    expect(page.locator("svg.graph")).to_have_count(2)
    expect(page.locator('g.node[data-node="crisis"].ran')).to_have_count(1)
    expect(page.locator('g.node[data-node="between_sessions"]')).to_have_attribute("data-count", "2")
    expect(page.locator("svg.chart")).to_have_count(3)
    expect(page.locator(".override").first).to_contain_text("overridden by")
    page.screenshot(path=str(tmp_path / "arc.png"), full_page=True)
    assert (tmp_path / "arc.png").stat().st_size > 10_000


def test_planted_markup_is_text_and_never_runs(tab, address, run_dir):
    page = tab.page
    first = read_arcs(run_dir)[0]["arc_id"]
    page.goto(address + "s0/arc/0")
    expect(page.locator("h1")).to_contain_text(first)
    expect(page.locator(".turn.client").first).to_contain_text("<script>window.__planted = 1")
    expect(page.locator("body")).to_contain_text('<img src="x" onerror=')
    assert tab.planted() is None and page.locator("main img").count() == 0


def test_the_paired_view_shows_both_arcs_side_by_side(tab, address, tmp_path):
    page = tab.page
    page.goto(address + "s0/arc/0")
    page.get_by_role("link", name="side by side with its pair").click()
    expect(page.locator("h1")).to_contain_text("Pair:")
    expect(page.locator("table.pair-outcomes tr")).to_have_count(3)  # a header and two arcs
    first_session = page.locator("section.pair-session").first
    expect(first_session.locator(".pair-arc")).to_have_count(2)
    expect(first_session).to_contain_text("cbt")
    expect(first_session).to_contain_text("motivational_interviewing")
    expect(page.locator("svg.chart").first.locator("polyline")).to_have_count(2)
    page.locator("details summary").first.click()
    expect(page.locator("details").first.locator(".turn").first).to_be_visible()
    page.screenshot(path=str(tmp_path / "pair.png"), full_page=True)
    page.get_by_role("link", name="run", exact=True).click()
    expect(page.locator("#arc-count")).to_be_visible()


def test_a_running_run_refreshes_live(tab, run_dir, tmp_path):
    live = Path(shutil.copytree(run_dir, tmp_path / run_dir.name))
    mark_running(live, os.getpid())  # this test process plays the run's writer
    with viewer(live) as url:
        page = tab.page
        page.goto(url + "s0/")
        expect(page.locator("#run-status")).to_have_text("running")
        expect(page.locator("#arc-count")).to_contain_text("6 arc(s)")
        record = read_arcs(live)[0]
        with (live / "arcs.jsonl").open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({**record, "arc_id": "late-arrival--cbt--seed7"}) + "\n")
        expect(page.locator("#arc-count")).to_contain_text("7 arc(s)", timeout=15_000)
        expect(page.get_by_role("link", name="late-arrival--cbt--seed7")).to_be_visible()


def test_the_static_copy_works_from_files(tab, run_dir, tmp_path):
    out = tmp_path / "site"
    write_static([Source.open(0, run_dir)], out, force=False)
    page = tab.page
    page.goto((out / "index.html").as_uri())
    page.get_by_role("link", name="hannah-work-anxiety--motivational_interviewing--seed0").click()
    expect(page.locator("svg.graph")).to_have_count(2)
    page.get_by_role("link", name="side by side with its pair").click()
    expect(page.locator("table.pair-outcomes tr")).to_have_count(3)
    page.get_by_role("link", name="run", exact=True).click()
    page.locator("p.filters").get_by_role("link", name="dropout", exact=True).click()
    expect(page.locator("#arc-count")).to_contain_text("1 arc(s)")
