"""Browser tests (#18): Debian's chromium, driven by Playwright, against real JupyterLab and JupyterHub.

Playwright cannot download its own browsers here, so it drives ``/usr/bin/chromium`` (``executable_path``).
Screenshots of every step are saved under ``$ETHICSKIT_ARTIFACTS`` (default ``build/artifacts/browser``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from tests.conftest import REPO_ROOT
from tests.servers import hub_problem, jupyterlab

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
    env = dict(
        os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", JUPYTER_CONFIG_DIR=str(tmp_path / "cfg")
    )
    with jupyterlab(root, env, log=tmp_path / "lab.log") as (base, token):
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(120_000)
        page.goto(f"{base}/lab/tree/lessons/00-welcome.ipynb?token={token}")
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
    saved = nbformat.read(root / "lessons" / "00-welcome.ipynb", as_version=4)
    code = [c for c in saved.cells if c.cell_type == "code"]
    assert code and all(c.execution_count for c in code), "not every cell ran"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, [f"{e.ename}: {e.evalue}" for e in errors]
    html = [o.data["text/html"] for o in code[0].outputs if "text/html" in o.get("data", {})]
    assert html and "<table" in html[0] and "lock" in html[0]  # the environment table


# ------------------------------------------------------------------------------------------ on the JupyterHub

HUB_LAB = "lab2-model-card"
STUDENTS = {"student1": "correct", "student2": "partial"}  # whose answers each student types


def _answers(demo: str) -> dict[int, tuple[str, str]]:
    """The answer cells of a demo submission: cell index -> (cell type, source)."""
    notebook = nbformat.read(
        REPO_ROOT / "demo_submissions" / demo / HUB_LAB / f"{HUB_LAB}.ipynb", as_version=4
    )
    return {
        i: (c.cell_type, c.source)
        for i, c in enumerate(notebook.cells)
        if c.metadata.get("nbgrader", {}).get("solution")
    }


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


def type_answers(page, answers: dict[int, tuple[str, str]]) -> None:
    """Replace each answer cell's text through the notebook editor, as a student types it."""
    cells = page.locator(".jp-Notebook .jp-Cell")
    for index, (kind, source) in answers.items():
        cell = cells.nth(index)
        cell.scroll_into_view_if_needed()
        if kind == "markdown":
            cell.dblclick()  # a rendered markdown cell opens its editor on a double click
        editor = cell.locator(".cm-content")
        editor.click()
        page.keyboard.press("Control+a")
        page.keyboard.insert_text(source)
    page.keyboard.press("Escape")
    page.keyboard.press("Control+s")
    time.sleep(1)


def _hand_score(course: Path, student: str) -> float | None:
    import sqlite3

    with sqlite3.connect(course / "gradebook.db") as db:
        row = db.execute(
            "SELECT g.manual_score FROM grade g JOIN base_cell c ON g.cell_id = c.id "
            "JOIN submitted_notebook n ON g.notebook_id = n.id "
            "JOIN submitted_assignment s ON n.assignment_id = s.id "
            "WHERE s.student_id = ? AND c.name = 'answer-g'",
            (student,),
        ).fetchone()
    return row[0] if row else None


def test_hub_end_to_end_in_the_browser(browser, tmp_path):
    """lab2 on the local hub, in chromium: the instructor releases it; two students fetch it, type their
    answers (one correct, one partial), Validate, Submit; the kit grades; the instructor grades the
    hand-graded answer in formgrader and releases feedback; each student fetches it: the right score, no
    hidden test."""
    from ethicskit.course.sandbox import sandbox_problem
    from tests.servers import Hub
    from tests.test_hub import make_course

    if hub_problem():
        pytest.skip(hub_problem())
    course = make_course(tmp_path / "course", labs=(HUB_LAB,))
    env = dict(os.environ, ETHICSKIT_EXCHANGE=str(course / "exchange"))

    def run(*args):
        return subprocess.run(args, cwd=course, env=env, check=True, capture_output=True, text=True)

    formgrader = "/services/ethics-course-kit/formgrader"
    with Hub(course) as hub:
        teacher = hub_login(browser, hub, "instructor")
        shot(teacher, "hub-01-instructor-lab")
        run(str(BIN / "ethicskit"), "course", "publish", HUB_LAB, "--course", str(course))
        teacher.goto(f"{hub.base}{formgrader}")
        teacher.get_by_text(HUB_LAB).first.wait_for()
        shot(teacher, "hub-02-instructor-formgrader-released")
        for user, demo in STUDENTS.items():
            page = hub_login(browser, hub, user)
            open_assignment_list(page)
            shot(page, f"hub-03-{user}-assignment-list")
            page.get_by_role("button", name="Fetch", exact=True).first.click()
            page.get_by_text("Downloaded assignments").first.wait_for()
            page.goto(f"{hub.base}/user/{user}/lab/tree/{HUB_LAB}/{HUB_LAB}.ipynb")
            page.locator(".jp-Notebook .jp-Cell").nth(21).wait_for()
            accept_kernel(page)
            type_answers(page, _answers(demo))
            shot(page, f"hub-04-{user}-answered")
            page.get_by_role("button", name="Validate", exact=True).first.click()
            page.locator(".jp-Dialog").wait_for(timeout=240_000)
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
            str(BIN / "ethicskit"), "course", "grade", "submitted", "--lab", HUB_LAB, "-q", *sandbox
        ).stdout
        # lab2's points are the lab's business (they change with it); the path must carry them unchanged:
        # the correct answers beat the partial ones, and each student's page shows what the kit gave
        scores = {u: re.search(rf"{u}\s+([\d.]+) / ([\d.]+)\s+complete", graded) for u in STUDENTS}
        assert all(scores.values()), graded
        points = {u: float(m.group(1)) for u, m in scores.items()}
        total = scores["student1"].group(2)
        assert points["student1"] > points["student2"] > 0, graded
        # the instructor grades student1's hand-graded answer in formgrader
        listing = teacher.context.request.get(
            f"{hub.base}{formgrader}/api/submitted_notebooks/{HUB_LAB}/{HUB_LAB}"
        ).json()
        submission = next(s["id"] for s in listing if s["student"] == "student1")
        teacher.goto(f"{hub.base}{formgrader}/submissions/{submission}/")
        teacher.wait_for_load_state("networkidle")
        score = teacher.locator("#answer-g")
        score.wait_for()
        for _attempt in range(3):  # formgrader fills its inputs from its API after the page loads
            score.fill("5")
            score.press("Tab")
            deadline = time.monotonic() + 10
            while _hand_score(course, "student1") != 5 and time.monotonic() < deadline:
                time.sleep(0.5)
            if _hand_score(course, "student1") == 5:
                break
        shot(teacher, "hub-07-instructor-hand-grading")
        assert _hand_score(course, "student1") == 5
        run(str(BIN / "nbgrader"), "generate_feedback", HUB_LAB, "--force")
        run(str(BIN / "nbgrader"), "release_feedback", HUB_LAB)
        for user in STUDENTS:
            page = hub_login(browser, hub, user)
            open_assignment_list(page)
            page.get_by_role("button", name="Fetch Feedback").first.click()
            url = f"{hub.base}/user/{user}/api/contents/{HUB_LAB}/feedback"
            deadline = time.monotonic() + 60
            while not page.context.request.get(url).ok and time.monotonic() < deadline:
                time.sleep(0.5)
            time.sleep(1)
            shot(page, f"hub-08-{user}-feedback-fetched")
            folder = page.context.request.get(url).json()["content"][0]["path"]
            page.goto(f"{hub.base}/user/{user}/files/{folder}/{HUB_LAB}.html")
            text = page.locator("body").inner_text()
            shot(page, f"hub-09-{user}-feedback-page")
            want = points[user] + (5 if user == "student1" else 0)
            assert re.search(rf"Score:\s*{want:g} / {total}", text), text[:1500]
            assert "HIDDEN" not in text and "Traceback" not in text
            page.context.close()
