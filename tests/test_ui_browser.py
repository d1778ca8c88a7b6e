"""`make ui` in a real browser: the sweep's four runs sit under one parent and can be compared.

Slow (a sweep, an MLflow server and a headless Chromium): run by `make test-full`, not `make test`.
Needs Playwright (the `browser` extra) and a Chromium binary: Debian's `chromium` package, or
$INITLAB_CHROMIUM. Without them the tests are skipped, saying why.

Screenshots go to pytest's tmp dir and are copied to $INITLAB_UI_SHOTS (default /tmp/ui-shots;
set it empty to skip the copy).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import PROJECT_ROOT, run_cli
from initlab import tracking

pytestmark = pytest.mark.slow

try:  # imported here, skipped in the browser fixture: `make test` never hears of Playwright
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect, sync_playwright
except ImportError:
    sync_playwright = None

GRID = "init=zeros,random,he,xavier"
INITS = ("zeros", "random", "he", "xavier")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT = 60.0  # s, until /health answers
UI_TIMEOUT = 30_000  # ms, for any one thing to show up in the page
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _chromium() -> str | None:
    candidates = [os.environ.get("INITLAB_CHROMIUM"), "/usr/bin/chromium"]
    candidates += [shutil.which(name) for name in ("chromium", "chromium-browser")]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module", autouse=True)
def chromium() -> str:
    """Skip before the slow set-up (sweep, server) when there is no browser to drive."""
    if sync_playwright is None:
        pytest.skip("no Playwright: pip install -e '.[browser]' (make test-full does it)")
    executable = _chromium()
    if executable is None:
        pytest.skip(
            "no Chromium: `apt-get install chromium` (make test-full does it as root), "
            "or point $INITLAB_CHROMIUM at one"
        )
    return executable


# --- the store: one sweep of the course grid ---------------------------------------------------


@dataclass(frozen=True)
class Sweep:
    uri: str
    store_dir: Path
    experiment_id: str
    parent_id: str
    parent_name: str
    children: dict[str, tuple[str, str]]  # init -> (run id, run name)

    @property
    def child_ids(self) -> list[str]:
        return [run_id for run_id, _ in self.children.values()]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Sweep:
    from mlflow.tracking import MlflowClient

    cwd = tmp_path_factory.mktemp("ui-sweep")
    store_dir = cwd / "mlruns"
    uri = f"sqlite:///{store_dir / 'mlflow.db'}"
    result = run_cli("-m", GRID, "trainer.iterations=500", uri=uri, cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("initialization")
    assert experiment is not None, "the sweep did not create the 'initialization' experiment"
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if r.data.tags.get(tracking.ROLE_TAG) == "sweep"]
    jobs = [r for r in runs if r.data.tags.get(tracking.ROLE_TAG) == "job"]
    assert len(parents) == 1 and len(jobs) == 4, [r.info.run_name for r in runs]
    parent = parents[0]
    assert {r.data.tags[tracking.PARENT_TAG] for r in jobs} == {parent.info.run_id}
    children = {r.data.tags["init"]: (r.info.run_id, r.info.run_name) for r in jobs}
    assert set(children) == set(INITS)
    from initlab.report import main as report  # the report, logged to the parent run

    assert report(["--tracking-uri", uri, "--out", str(cwd / "reports")]) == 0
    return Sweep(
        uri=uri,
        store_dir=store_dir,
        experiment_id=experiment.experiment_id,
        parent_id=parent.info.run_id,
        parent_name=parent.info.run_name,
        children=children,
    )


# --- the server: `make ui` over that store ------------------------------------------------------


def _ui_command(sweep: Sweep, port: int) -> list[str]:
    """`make ui` itself (its install step taken as done), else the same mlflow command."""
    overrides = [f"STORE={sweep.store_dir}", f"UI_URI={sweep.uri}", f"PORT={port}"]
    if shutil.which("make") and (PROJECT_ROOT / ".venv" / "bin" / "mlflow").exists():
        return ["make", "--no-print-directory", "-o", ".venv/.installed", "ui", *overrides]
    mlflow = str(Path(sys.executable).with_name("mlflow"))
    return [mlflow, "ui", "--backend-store-uri", sweep.uri, "--host", "127.0.0.1",
            "--port", str(port), "--workers", "1"]  # fmt: skip


def _stop_group(proc: subprocess.Popen, grace: float = 15.0) -> None:
    """SIGTERM the server's process group, wait for all of it, SIGKILL whatever is left."""
    pgid = proc.pid  # start_new_session=True: the server leads its own group
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        proc.poll()
        try:
            os.killpg(pgid, 0)  # anyone left in the group?
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


@pytest.fixture(scope="module")
def ui(sweep: Sweep, tmp_path_factory) -> Iterator[str]:
    port = _free_port()
    command = _ui_command(sweep, port)
    log_path = tmp_path_factory.mktemp("ui-server") / "server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"`{shlex.join(command)}` exited:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                log_tail = log_path.read_text()[-3000:]
                waited = f"{SERVER_START_TIMEOUT:.0f} s"
                pytest.fail(f"no /health from `{shlex.join(command)}` in {waited}:\n{log_tail}")
            time.sleep(0.5)
        yield base
    finally:
        _stop_group(proc)


# --- the browser ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser(chromium: str):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        expect.set_options(timeout=UI_TIMEOUT)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    context.set_default_timeout(UI_TIMEOUT)
    context.set_default_navigation_timeout(UI_TIMEOUT)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    """shots(page, name): a screenshot in pytest's tmp dir, copied to $INITLAB_UI_SHOTS."""
    folder = tmp_path_factory.mktemp("ui-shots")
    copy_to = os.environ.get("INITLAB_UI_SHOTS", "/tmp/ui-shots")

    def shoot(page, name: str) -> Path:
        page.wait_for_timeout(500)  # let tree and chart animations settle
        path = folder / f"{name}.png"
        page.screenshot(path=str(path))
        if copy_to:
            Path(copy_to).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(copy_to) / path.name)
        return path

    return shoot


def _close_assistant(page) -> None:
    """MLflow 3's assistant side panel hides a third of the page: close it if it is open."""
    close = page.locator('button[data-component-id="mlflow.assistant.chat_panel.close"]')
    with contextlib.suppress(PlaywrightError):
        if close.count():
            close.first.click(timeout=3000)


def _run_link(page, run_id: str):
    return page.locator(f'a[href$="/runs/{run_id}"]')


def _expand_parent_and_check_nesting(page, sweep: Sweep) -> None:
    """The children show only under their parent: its expander hides and shows them."""
    parent_link = _run_link(page, sweep.parent_id)
    expect(parent_link).to_be_visible()
    expect(parent_link).to_have_text(sweep.parent_name)
    children = [_run_link(page, run_id) for run_id in sweep.child_ids]
    expander = (
        page.locator('[role="row"]', has=parent_link)
        .first.locator('button[data-component-id*="runnamecellrenderer"]')
        .first
    )
    expect(expander).to_be_visible()
    if children[0].count() and children[0].first.is_visible():  # shown expanded: fold once
        expander.click()
        for link in children:
            expect(link).to_have_count(0)
    else:
        for link in children:
            expect(link).to_have_count(0)
    expander.click()
    for (_, name), link in zip(sweep.children.values(), children, strict=True):
        expect(link).to_be_visible()
        expect(link).to_have_text(name)


_OVERLAID = """([names, minPoints]) => Array.from(document.querySelectorAll('.js-plotly-plot'))
    .some(plot => {
        const curves = (plot.data || []).filter(t => (t.x || []).length >= minPoints);
        const shown = new Set(curves.map(t => t.name));
        return names.every(name => shown.has(name));
    })"""


def _wait_for_overlaid_curves(page, names: list[str], min_points: int = 2) -> None:
    """One plot holds a line (>= min_points points, not a lone dot) for each of these runs."""
    try:
        page.wait_for_function(_OVERLAID, arg=[names, min_points], timeout=UI_TIMEOUT)
    except PlaywrightError as exc:
        plotted = page.evaluate(
            "Array.from(document.querySelectorAll('.js-plotly-plot'))"
            ".map(p => (p.data || []).map(t => [t.name, (t.x || []).length]))"
        )
        raise AssertionError(f"no plot overlays curves of {names}; plotted: {plotted}") from exc


# --- the checks -------------------------------------------------------------------------------


def test_the_four_runs_sit_under_one_parent(sweep: Sweep, ui: str, page, shots):
    assert sweep.parent_name.startswith(GRID)
    page.goto(f"{ui}/#/experiments/{sweep.experiment_id}/runs?workflowType=machine_learning")
    expect(page.get_by_text("5 matching runs")).to_be_visible()
    _close_assistant(page)
    shots(page, "1-runs-collapsed")
    _expand_parent_and_check_nesting(page, sweep)
    for init, (_, name) in sweep.children.items():
        assert name.startswith(f"init={init}")
    shots(page, "2-runs-expanded")


def test_chart_view_overlays_the_cost_curves(sweep: Sweep, ui: str, page, shots):
    page.goto(
        f"{ui}/#/experiments/{sweep.experiment_id}/runs"
        "?workflowType=machine_learning&compareRunsMode=CHART"
    )
    _expand_parent_and_check_nesting(page, sweep)  # charts only plot the rows shown
    _close_assistant(page)
    page.get_by_placeholder("Search metric charts").fill("cost")  # cost, final_cost: on top
    _wait_for_overlaid_curves(page, [name for _, name in sweep.children.values()])
    shots(page, "3-chart-view")


def test_compare_view_shows_the_cost_metric_and_overlays_its_curves(
    sweep: Sweep, ui: str, page, shots
):
    runs = json.dumps(sweep.child_ids, separators=(",", ":"))
    experiments = json.dumps([sweep.experiment_id])
    page.goto(f"{ui}/#/compare-runs?runs={runs}&experiments={experiments}")
    expect(page.get_by_text("Comparing 4 Runs from 1 Experiment").first).to_be_visible()
    _close_assistant(page)
    for _, name in sweep.children.values():
        expect(page.get_by_text(name, exact=True).first).to_be_attached()
    cost = page.get_by_role("link", name="cost", exact=True)
    expect(cost).to_be_visible()
    assert "metric=%22cost%22" in (cost.get_attribute("href") or "")
    shots(page, "4-compare")

    cost.click()  # the metric page: one line per run, all on one plot
    expect(page.get_by_text("Completed Runs")).to_be_visible()
    for _, name in sweep.children.values():
        expect(page.get_by_text(f"{name} (cost)", exact=True).first).to_be_visible()
    _wait_for_overlaid_curves(page, [name for _, name in sweep.children.values()])
    shots(page, "5-cost-curves-overlaid")


def test_a_run_shows_its_decision_boundary_as_an_image(sweep: Sweep, ui: str, page, shots):
    run_id, name = sweep.children["zeros"]
    page.goto(
        f"{ui}/#/experiments/{sweep.experiment_id}/runs/{run_id}"
        f"/artifacts/{tracking.BOUNDARY_ARTIFACT}"
    )
    expect(page.get_by_text(name, exact=True).first).to_be_visible()
    _close_assistant(page)
    tree_file = page.get_by_text(Path(tracking.BOUNDARY_ARTIFACT).name, exact=True)
    expect(tree_file.first).to_be_visible()
    expect(page.get_by_text(Path(tracking.COST_ARTIFACT).name, exact=True).first).to_be_visible()
    expect(page.get_by_text(tracking.BOUNDARY_ARTIFACT, exact=True).first).to_be_visible()
    image = page.locator('img[src^="blob:"]').first
    expect(image).to_be_visible()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 100 && img.naturalHeight > 100",
        arg=image.element_handle(),
        timeout=UI_TIMEOUT,
    )
    shots(page, "6-decision-boundary")


def test_every_runs_plots_are_served_as_png(sweep: Sweep, ui: str, page):
    for run_id, name in sweep.children.values():
        for artifact in (tracking.BOUNDARY_ARTIFACT, tracking.COST_ARTIFACT):
            response = page.request.get(
                f"{ui}/get-artifact", params={"path": artifact, "run_uuid": run_id}
            )
            assert response.status == 200, (name, artifact, response.status)
            assert response.headers["content-type"].startswith("image/png"), (name, artifact)
            assert response.body().startswith(PNG_MAGIC), (name, artifact)


def test_chart_view_overlays_the_signal_propagation_against_depth(
    sweep: Sweep, ui: str, page, shots
):
    """init/z_std is logged with step = layer: the chart view draws it against depth, one
    line per run, and selecting the four runs overlays them."""
    page.goto(
        f"{ui}/#/experiments/{sweep.experiment_id}/runs"
        "?workflowType=machine_learning&compareRunsMode=CHART"
    )
    _expand_parent_and_check_nesting(page, sweep)
    _close_assistant(page)
    page.get_by_placeholder("Search metric charts").fill("init/z_std")
    names = [name for init, (_, name) in sweep.children.items() if init != "zeros"]
    _wait_for_overlaid_curves(page, names, min_points=3)  # layers 1, 2, 3
    shots(page, "7-chart-signal-against-depth")


def test_the_parent_run_carries_the_report_and_the_summary(sweep: Sweep, ui: str, page, shots):
    for artifact in ("report/report.md", "report/report.html", "jobs.json"):
        response = page.request.get(
            f"{ui}/get-artifact", params={"path": artifact, "run_uuid": sweep.parent_id}
        )
        assert response.status == 200, (artifact, response.status)
    markdown = page.request.get(
        f"{ui}/get-artifact", params={"path": "report/report.md", "run_uuid": sweep.parent_id}
    ).text()
    assert "## The lecture's numbers beside initlab's" not in markdown  # 500 iterations
    assert "| job | init | status |" in markdown
    page.goto(
        f"{ui}/#/experiments/{sweep.experiment_id}/runs/{sweep.parent_id}"
        "/artifacts/report/report.html"
    )
    _close_assistant(page)
    expect(page.get_by_text("report.html", exact=True).first).to_be_visible()
    page.wait_for_timeout(1500)  # the HTML renders in a frame
    shots(page, "8-parent-report")
