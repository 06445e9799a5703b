"""The course on a real JupyterHub (#18): ethicskit course hub --demo, with the npm configurable-http-proxy.

Instructor and students log in over HTTP on 127.0.0.1; students have the Assignment List and none of the
instructor tools; the instructor has formgrader as the course's hub service; a lab goes out through
nbgrader's exchange and comes back graded by the kit, feedback included. The browser walk of the same
path is tests/test_browser.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.demo_lab import FIXTURE, LAB, LIMIT_ARGS
from tests.servers import Hub, hub_problem

pytestmark = [pytest.mark.server]
PROBLEM = hub_problem()
COURSE_ID = "ethics-course-kit"
BIN = Path(sys.executable).parent


def make_course(folder: Path, labs=(LAB,)) -> Path:
    (folder / "solutions").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "nbgrader_config.py", folder / "nbgrader_config.py")
    for lab in labs:
        origin = FIXTURE if lab == LAB else REPO_ROOT
        shutil.copytree(origin / "solutions" / lab, folder / "solutions" / lab)
    return folder


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    if PROBLEM:
        pytest.skip(f"no JupyterHub here: {PROBLEM}")
    course = make_course(tmp_path_factory.mktemp("hub") / "course")
    with Hub(course) as running:
        yield running


def _xsrf(session, hub, user) -> dict:
    """The user's server's own _xsrf cookie (the hub sets another one for /hub/)."""
    cookies = [c for c in session.cookies if c.name == "_xsrf"]
    mine = [c for c in cookies if f"/user/{user}" in (c.path or "")] or cookies
    return {"X-XSRFToken": mine[0].value}


def _action(session, hub, user, action, lab=LAB) -> dict:
    reply = session.post(
        f"{hub.base}/user/{user}/assignments/{action}",
        data={"course_id": COURSE_ID, "assignment_id": lab},
        headers=_xsrf(session, hub, user),
        timeout=120,
    )
    assert reply.status_code == 200, reply.text[:500]
    return reply.json()


def test_students_see_the_assignment_list_not_the_instructor_tools(hub):
    student = hub.login("student1")
    page = student.get(f"{hub.base}/user/student1/lab", timeout=60).text
    config = json.loads(
        re.search(
            r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', page, re.S
        ).group(1)
    )
    disabled = config.get("disabledExtensions", [])
    for plugin in ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment"):
        assert plugin in disabled
    assert "@jupyter/nbgrader:assignment-list" not in disabled
    assert student.get(f"{hub.base}/user/student1/formgrader", timeout=60).status_code == 404
    listing = student.get(
        f"{hub.base}/user/student1/assignments", params={"course_id": COURSE_ID}, timeout=60
    )
    assert listing.json()["success"] is True  # no "exchange directory does not exist"
    service = student.get(f"{hub.base}/services/{COURSE_ID}/formgrader", timeout=60)
    assert service.status_code == 403  # the course's formgrader is not theirs
    instructor = hub.login("instructor")
    formgrader = instructor.get(f"{hub.base}/services/{COURSE_ID}/formgrader", timeout=120)
    assert formgrader.status_code == 200 and "formgrade" in formgrader.text
    assert oct(hub.exchange.stat().st_mode & 0o7777) == "0o1777"


def test_release_fetch_submit_grade_feedback_through_the_exchange(hub):
    """The instructor publishes; two students fetch, answer (one right, one partly), submit; the kit grades;
    nbgrader releases the feedback; each student fetches it and sees their score and no hidden test."""
    from ethicskit.course.sandbox import sandbox_problem
    from tests.test_browser import PROBLEM as NO_BROWSER

    if NO_BROWSER is None and not os.environ.get("ETHICSKIT_HUB_HTTP_TEST"):
        pytest.skip("covered in a real browser by tests/test_browser.py (ETHICSKIT_HUB_HTTP_TEST=1 runs it)")
    env = dict(os.environ, ETHICSKIT_EXCHANGE=str(hub.exchange))
    subprocess.run(
        [str(BIN / "ethicskit"), "course", "publish", LAB, "--course", str(hub.course)],
        env=env,
        check=True,
        capture_output=True,
    )
    answers = {"student1": "correct", "student2": "partial"}
    for user, demo in answers.items():
        session = hub.login(user)
        listed = session.get(
            f"{hub.base}/user/{user}/assignments", params={"course_id": COURSE_ID}, timeout=60
        )
        assert [a["assignment_id"] for a in listed.json()["value"]] == [LAB]
        _action(session, hub, user, "fetch")
        # the student's answers, saved through the server's contents API as the notebook editor saves them
        notebook = json.loads((FIXTURE / "demo_submissions" / demo / LAB / f"{LAB}.ipynb").read_text())
        reply = session.put(
            f"{hub.base}/user/{user}/api/contents/{LAB}/{LAB}.ipynb",
            json={"type": "notebook", "format": "json", "content": notebook},
            headers=_xsrf(session, hub, user),
            timeout=60,
        )
        assert reply.status_code in (200, 201), reply.text[:300]
        submitted = _action(session, hub, user, "submit")
        assert submitted["success"], submitted

    def run(*args):
        return subprocess.run(args, cwd=hub.course, env=env, check=True, capture_output=True, text=True)  # noqa: E731

    run(str(BIN / "nbgrader"), "collect", LAB)
    sandbox = [] if sandbox_problem() is None else ["--no-sandbox"]
    graded = run(
        str(BIN / "ethicskit"),
        "course",
        "grade",
        "submitted",
        "--lab",
        LAB,
        *LIMIT_ARGS,
        *sandbox,
        "-q",
    )
    assert re.search(r"student1\s+6 / 6", graded.stdout) and re.search(r"student2\s+3 / 6", graded.stdout)
    run(str(BIN / "nbgrader"), "generate_feedback", LAB, "--force")
    run(str(BIN / "nbgrader"), "release_feedback", LAB)
    for user, score in (("student1", "6"), ("student2", "3")):
        session = hub.login(user)
        _action(session, hub, user, "fetch_feedback")
        listing = session.get(f"{hub.base}/user/{user}/api/contents/{LAB}/feedback", timeout=60).json()
        stamp = listing["content"][0]["path"]
        page = session.get(f"{hub.base}/user/{user}/files/{stamp}/{LAB}.html", timeout=60).text
        assert f"{score} / 6" in page.replace(".0", ""), page[:2000]
        assert "HIDDEN" not in page and "Traceback" not in page


def test_make_start_single_user_assignment_list_answers_without_errors(tmp_path):
    """`make start` (no hub): the course-local exchange makes the Assignment List and Courses answer."""
    import requests

    from tests.servers import jupyterlab

    course = make_course(tmp_path / "course")
    (course / "exchange").mkdir(mode=0o1777)  # what `make start` does
    env = {k: v for k, v in os.environ.items() if k != "ETHICSKIT_EXCHANGE"}
    env["JUPYTER_CONFIG_DIR"] = str(tmp_path / "cfg")
    with jupyterlab(course, env) as (base, token):
        auth = {"Authorization": f"token {token}"}
        listing = requests.get(
            f"{base}/assignments", params={"course_id": COURSE_ID}, headers=auth, timeout=60
        )
        assert listing.json() == {"success": True, "value": []}, listing.text[:500]
        courses = requests.get(f"{base}/courses", headers=auth, timeout=60).json()
        assert courses["success"] is True, courses  # no "Error fetching courses!"
