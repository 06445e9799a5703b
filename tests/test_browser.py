"""Browser tests (#18): Debian's chromium, driven by Playwright, against real JupyterLab and JupyterHub.

Playwright cannot download its own browsers here, so it drives ``/usr/bin/chromium`` (``executable_path``).
Screenshots of every step are saved under ``$ETHICSKIT_ARTIFACTS`` (default ``build/artifacts/browser``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from tests.conftest import REPO_ROOT
from tests.servers import free_port, stop, wait_port

pytestmark = [pytest.mark.browser, pytest.mark.server]
CHROMIUM = Path(os.environ.get("ETHICSKIT_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(os.environ.get("ETHICSKIT_ARTIFACTS", REPO_ROOT / "build" / "artifacts" / "browser"))
BIN = Path(sys.executable).parent


def _browser_problem() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found (Debian: apt-get install chromium; .ci/run does)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (make env)"
    return None


PROBLEM = _browser_problem()


@pytest.fixture(scope="module")
def browser():
    if PROBLEM:
        pytest.skip(PROBLEM)
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage"],
        )
        yield chromium
        chromium.close()


def shot(page, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def accept_kernel(page) -> None:
    """A notebook saved without a kernel name asks which kernel: take the proposed one (Python 3)."""
    dialog = page.get_by_role("button", name="Select", exact=True)
    try:
        dialog.wait_for(timeout=15_000)
    except Exception:  # noqa: BLE001 - no dialog: the notebook names its kernel
        return
    dialog.click()


def run_all_cells(page) -> None:
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()


def wait_until_idle(page, timeout: float) -> None:
    """Until no cell shows the running prompt ``[*]`` (JupyterLab's input prompt while a cell runs)."""
    deadline = time.monotonic() + timeout
    time.sleep(1)
    while time.monotonic() < deadline:
        running = page.locator(".jp-InputArea-prompt", has_text="[*]").count()
        if running == 0:
            return
        time.sleep(0.5)
    raise TimeoutError(f"cells still running after {timeout} s")


def test_student_runs_lesson_00_in_jupyterlab(browser, tmp_path):
    """A self-learner opens lessons/00-welcome.ipynb in JupyterLab and runs all: no error, the table shows."""
    root = tmp_path / "course"
    (root / "lessons").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "lessons" / "00-welcome.ipynb", root / "lessons")
    port, token = free_port(), os.urandom(12).hex()
    flags = ["--allow-root"] if os.geteuid() == 0 else []
    env = dict(
        os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", JUPYTER_CONFIG_DIR=str(tmp_path / "cfg")
    )
    server = subprocess.Popen(
        [
            str(BIN / "jupyter"),
            "lab",
            "--no-browser",
            *flags,
            f"--port={port}",
            "--ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
        ],
        stdout=open(tmp_path / "lab.log", "w"),
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    try:
        wait_port(port, 120, server)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(120_000)
        page.goto(f"http://127.0.0.1:{port}/lab/tree/lessons/00-welcome.ipynb?token={token}")
        page.locator(".jp-Notebook").first.wait_for()
        accept_kernel(page)
        page.wait_for_function("document.body.innerText.includes('| Idle')", timeout=120_000)
        shot(page, "student-00-opened")
        run_all_cells(page)
        wait_until_idle(page, 240)
        page.keyboard.press("Control+s")
        time.sleep(2)
        shot(page, "student-00-ran")
        tables = page.locator(".jp-OutputArea-output table")
        assert tables.count() >= 1
        page.locator(".jp-OutputArea-output table").first.scroll_into_view_if_needed()
        shot(page, "student-00-environment-table")
        assert page.locator(".jp-OutputArea-output", has_text="Traceback").count() == 0
    finally:
        stop(server)
    saved = nbformat.read(root / "lessons" / "00-welcome.ipynb", as_version=4)
    code = [c for c in saved.cells if c.cell_type == "code"]
    assert code and all(c.execution_count for c in code), "not every cell ran"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, [f"{e.ename}: {e.evalue}" for e in errors]
    html = [o.data["text/html"] for o in code[0].outputs if "text/html" in o.get("data", {})]
    assert html and "<table" in html[0] and "lock" in html[0]  # the environment table
