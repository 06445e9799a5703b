"""``ethicskit course hub``: the course on a JupyterHub (#18, docs/deploy.md), and ``publish``.

:func:`prepare_hub` writes what ``deploy/jupyterhub_config.py`` reads: nbgrader's exchange (a folder every
user can write, mode 1777, as nbgrader's docs ask), one Jupyter configuration folder per role and the
environment variables naming them. Students' configuration turns formgrader, Create assignment and the
Courses list off (server extension and JupyterLab plugins), so they see the Assignment List (fetch,
validate, submit, fetch feedback) and nothing of the instructor's tools; instructors reach formgrader as
the course's hub service, ``/services/<course id>/``, which runs in the course root.

:func:`publish` puts a lab into the exchange the nbgrader way: it registers the lab in the gradebook and
writes the student version to the course's ``release/`` folder (as ``ethicskit course release`` does,
never ``labs/``), then runs ``nbgrader release_assignment``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

__all__ = ["prepare_hub", "hub_command", "publish", "STUDENT_DISABLED", "COURSE_ID"]

COURSE_ID = "ethics-course-kit"  # nbgrader_config.py's course_id
#: JupyterLab plugins of nbgrader that students do not get (instructor tools)
STUDENT_DISABLED = (
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:course-list",
)
CONFIG_FILE = Path(__file__).resolve().parents[2] / "deploy" / "jupyterhub_config.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_role(folder: Path, *, exchange: str, student: bool) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "nbgrader_config.py").write_text(
        "# written by ethicskit course hub (ethicskit/course/hub.py)\n"
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.course_id = {COURSE_ID!r}\n"
        f"c.Exchange.root = {exchange!r}\n"
    )
    if student:
        # nbgrader's exchange names a submission after the server's system user; on a demo hub every server
        # is the hub's own system user, so the student id comes from the hub (the same name with system users)
        with open(folder / "nbgrader_config.py", "a") as handle:
            handle.write(
                "import os\n"
                "if os.environ.get('JUPYTERHUB_USER'):\n"
                "    c.CourseDirectory.student_id = os.environ['JUPYTERHUB_USER']\n"
            )
    server = {"ServerApp": {"jpserver_extensions": {}}}
    if student:
        server["ServerApp"]["jpserver_extensions"] = {
            "nbgrader.server_extensions.formgrader": False,
            "nbgrader.server_extensions.course_list": False,
        }
        (folder / "labconfig").mkdir(exist_ok=True)
        (folder / "labconfig" / "page_config.json").write_text(
            json.dumps({"disabledExtensions": dict.fromkeys(STUDENT_DISABLED, True)}, indent=1)
        )
    (folder / "jupyter_server_config.json").write_text(json.dumps(server, indent=1))


def prepare_hub(
    course: Path,
    state: Path,
    *,
    instructors: list[str],
    students: list[str],
    port: int = 8000,
    exchange: Path | None = None,
    demo: bool = True,
    password: str | None = None,
) -> dict[str, str]:
    """Write the exchange and the role configurations; return the environment for ``jupyterhub``."""
    course, state = Path(course).resolve(), Path(state).resolve()
    exchange = Path(exchange).resolve() if exchange else course / "exchange"  # = nbgrader_config.py's
    for folder in (state, state / "home"):
        folder.mkdir(parents=True, exist_ok=True)
    exchange.mkdir(parents=True, exist_ok=True)
    exchange.chmod(0o1777)  # every user writes it; nbgrader makes its own course folders inside
    _write_role(state / "config" / "instructor", exchange=str(exchange), student=False)
    _write_role(state / "config" / "student", exchange=str(exchange), student=True)
    env = dict(
        os.environ,
        ETHICSKIT_COURSE=str(course),
        ETHICSKIT_HUB_STATE=str(state),
        ETHICSKIT_EXCHANGE=str(exchange),
        ETHICSKIT_HUB_INSTRUCTORS=",".join(instructors),
        ETHICSKIT_HUB_STUDENTS=",".join(students),
        ETHICSKIT_HUB_PORT=str(port),
        ETHICSKIT_HUB_PORTS=",".join(str(_free_port()) for _ in range(3)),
        ETHICSKIT_HUB_DEMO="1" if demo else "0",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    if password:
        env["ETHICSKIT_HUB_PASSWORD"] = password
    return env


def hub_command(state: Path) -> list[str]:
    """The ``jupyterhub`` command line for :data:`CONFIG_FILE`, run in the hub's state folder."""
    return [str(Path(sys.executable).parent / "jupyterhub"), "-f", str(CONFIG_FILE)]


def publish(course: Path, lab: str, *, exchange: str | None = None) -> Path:
    """Register ``lab``, write its student version to ``release/<lab>`` and release it to the exchange."""
    from ethicskit.course.release import register_lab

    course = Path(course).resolve()
    register_lab(course, lab, release_dir=course / "release")
    env = dict(os.environ)
    if exchange:
        env["ETHICSKIT_EXCHANGE"] = str(exchange)
    nbgrader = Path(sys.executable).parent / "nbgrader"
    subprocess.run(
        [str(nbgrader), "release_assignment", lab, "--force"],
        cwd=course,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return course / "release" / lab
