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
from tests.servers import free_port, hub_problem, stop, wait_port

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


# ------------------------------------------------------------------------------------------ on the JupyterHub

HUB_LAB = "demo-lab"
ANSWERS = {  # the answer cells of the lab (cell index -> source); None keeps the released stub
    "student1": {1: "demo_submissions/correct", 4: "demo_submissions/correct", 6: "demo_submissions/correct"},
    "student2": {1: "demo_submissions/partial", 4: "demo_submissions/partial", 6: None},
}


def _answer(origin: str, index: int) -> str:
    notebook = REPO_ROOT / "tests" / "fixtures" / "demo-lab" / origin / HUB_LAB / f"{HUB_LAB}.ipynb"
    return nbformat.read(notebook, as_version=4).cells[index].source


def hub_login(browser, hub, user: str):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto(f"{hub.base}/hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", "demo")
    page.click("#login_submit")
    page.wait_for_url(f"**/user/{user}/lab**", timeout=180_000)
    page.locator(".jp-LabShell").wait_for()
    return page


def open_assignment_list(page):
    page.get_by_role("menuitem", name="Nbgrader", exact=True).click()
    page.get_by_role("menuitem", name="Assignment List", exact=True).click()
    page.get_by_text("Released assignments").first.wait_for()


def test_hub_end_to_end_in_the_browser(browser, tmp_path):
    """Instructor and two students on the local hub, in chromium: release, fetch, answer in the notebook,
    Validate, submit, grade with the kit, feedback to each student with the right score, no hidden test."""
    from ethicskit.course.sandbox import sandbox_problem
    from tests.servers import Hub
    from tests.test_hub import make_course

    if hub_problem():
        pytest.skip(hub_problem())
    course = make_course(tmp_path / "course")
    env = dict(os.environ, ETHICSKIT_EXCHANGE=str(course / "exchange"))

    def run(*args):
        return subprocess.run(args, cwd=course, env=env, check=True, capture_output=True, text=True)

    with Hub(course) as hub:
        teacher = hub_login(browser, hub, "instructor")
        shot(teacher, "hub-01-instructor-lab")
        run(str(BIN / "ethicskit"), "course", "publish", HUB_LAB, "--course", str(course))
        teacher.goto(f"{hub.base}/services/ethics-course-kit/formgrader")
        teacher.get_by_text(HUB_LAB).first.wait_for()
        shot(teacher, "hub-02-instructor-formgrader-released")
        for user, cells in ANSWERS.items():
            page = hub_login(browser, hub, user)
            assert page.get_by_role("menuitem", name="Nbgrader", exact=True).count() == 1
            open_assignment_list(page)
            shot(page, f"hub-03-{user}-assignment-list")
            page.get_by_role("button", name="Fetch", exact=True).first.click()
            page.get_by_text("Downloaded assignments").first.wait_for()
            page.goto(f"{hub.base}/user/{user}/lab/tree/{HUB_LAB}/{HUB_LAB}.ipynb")
            page.locator(".jp-Notebook .jp-Cell").nth(7).wait_for()
            accept_kernel(page)
            for index, origin in cells.items():
                if origin is None:
                    continue
                editor = page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".cm-content")
                editor.click()
                page.keyboard.press("Control+a")
                page.keyboard.insert_text(_answer(origin, index))
            page.keyboard.press("Escape")
            page.keyboard.press("Control+s")
            time.sleep(1)
            shot(page, f"hub-04-{user}-answered")
            page.get_by_role("button", name="Validate", exact=True).first.click()
            page.locator(".jp-Dialog").wait_for(timeout=180_000)
            shot(page, f"hub-05-{user}-validated")
            page.locator(".jp-Dialog").get_by_role("button").last.click()
            open_assignment_list(page)
            page.get_by_role("button", name="Submit", exact=True).first.click()
            page.get_by_text("Submitted assignments").first.wait_for()
            time.sleep(1)
            shot(page, f"hub-06-{user}-submitted")
            page.context.close()
        run(str(BIN / "nbgrader"), "collect", HUB_LAB)
        sandbox = [] if sandbox_problem() is None else ["--no-sandbox"]
        graded = run(
            str(BIN / "ethicskit"),
            "course",
            "grade",
            "submitted",
            "--lab",
            HUB_LAB,
            "-q",
            "--cell-timeout",
            "8",
            "--notebook-timeout",
            "30",
            "--memory-mb",
            "768",
            "--max-processes",
            "64",
            *sandbox,
        ).stdout
        assert "student1  6 / 6" in graded and "student2  3 / 6" in graded, graded
        run(str(BIN / "nbgrader"), "generate_feedback", HUB_LAB, "--force")
        run(str(BIN / "nbgrader"), "release_feedback", HUB_LAB)
        teacher.goto(f"{hub.base}/services/ethics-course-kit/formgrader/gradebook/{HUB_LAB}/{HUB_LAB}")
        time.sleep(2)
        shot(teacher, "hub-07-instructor-gradebook")
        for user, score in (("student1", "6"), ("student2", "3")):
            page = hub_login(browser, hub, user)
            open_assignment_list(page)
            page.get_by_role("button", name="Fetch Feedback").first.click()
            url = f"{hub.base}/user/{user}/api/contents/{HUB_LAB}/feedback"
            deadline = time.monotonic() + 60
            while not page.context.request.get(url).ok and time.monotonic() < deadline:
                time.sleep(0.5)
            time.sleep(1)
            shot(page, f"hub-08-{user}-feedback-fetched")
            stamp = page.context.request.get(url).json()
            folder = stamp["content"][0]["path"]
            page.goto(f"{hub.base}/user/{user}/files/{folder}/{HUB_LAB}.html")
            text = page.locator("body").inner_text()
            shot(page, f"hub-09-{user}-feedback-page")
            assert f"{score} / 6" in text.replace(".0", ""), text[:1000]
            assert "HIDDEN" not in text and "Traceback" not in text
            page.context.close()
