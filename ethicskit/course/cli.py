"""The ``ethicskit`` command line: ``ethicskit course <command> --help``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["main", "build_parser"]

WARNING_NO_SANDBOX = (
    "\n" + "!" * 78 + "\n"
    "!! WARNING: --no-sandbox: student code runs with YOUR rights, with network access, and can\n"
    "!! read solutions/, the gradebook and other students' work. Use only for trusted notebooks.\n"
    + "!" * 78
    + "\n"
)


def _course(args) -> Path:
    from ethicskit.course._config import find_course_root

    return find_course_root(args.course)


def _cmd_release(args) -> int:
    from ethicskit.course.release import StudentWorkError, check_release, release

    root = _course(args)
    if args.check:
        stale = check_release(root, args.labs or None)
        if not stale:
            print("labs/ is up to date with solutions/")
            return 0
        for lab, problems in stale.items():
            print(f"{lab}: labs/{lab} differs from what solutions/{lab} generates:", file=sys.stderr)
            for problem in problems[:10]:
                print(f"  - {problem}", file=sys.stderr)
        print("run `ethicskit course release` and commit labs/", file=sys.stderr)
        return 1
    try:
        released = release(root, args.labs or None, force=args.force)
    except StudentWorkError as error:
        print(f"refused: {error}", file=sys.stderr)
        return 1
    for lab in released:
        print(f"released {lab} -> labs/{lab}")
    return 0


def _cmd_work(args) -> int:
    from ethicskit.course.release import copy_for_work

    root = _course(args)
    try:
        target = copy_for_work(root, args.lab, Path(args.to) if args.to else None)
    except (FileExistsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"copied labs/{args.lab} to {target}: work there; no kit command writes that folder")
    return 0


def _cmd_grade(args) -> int:
    from ethicskit.course.grade import format_table, grade
    from ethicskit.course.sandbox import SandboxUnavailable

    root = _course(args)
    if args.no_sandbox:
        print(WARNING_NO_SANDBOX, file=sys.stderr)
    executor = None
    if args.cluster:
        from ethicskit.course.cluster import dask_executor

        executor = dask_executor(args.cluster, retries=args.retries)
    try:
        results = grade(
            root,
            Path(args.submissions),
            lab=args.lab,
            jobs=args.jobs,
            sandbox=not args.no_sandbox,
            cell_timeout=args.cell_timeout,
            notebook_timeout=args.notebook_timeout,
            memory_mb=args.memory_mb,
            max_processes=args.max_processes,
            recheck=not args.no_recheck,
            students=args.student or None,
            save_jobs=args.save_jobs,
            executor=executor,
            progress=None if args.quiet else (lambda m: print(m, file=sys.stderr)),
        )
    except SandboxUnavailable as error:
        print(f"cannot grade safely here: {error}", file=sys.stderr)
        return 2
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(format_table(results))
    if args.json:
        import json
        from dataclasses import asdict

        Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=1))
    return 0


def _cmd_feedback(args) -> int:
    from ethicskit.course.feedback import write_feedback

    root = _course(args)
    written = write_feedback(
        root, lab=args.lab, out=Path(args.out) if args.out else None, students=args.student or None
    )
    for path in written:
        print(path)
    return 0


def _cmd_answers(args) -> int:
    from ethicskit.course._config import course_settings
    from ethicskit.course.answers import write_answer_report

    root = _course(args)
    folder = Path(args.submissions) if args.submissions else course_settings(root).autograded
    try:
        written = write_answer_report(folder, args.lab, Path(args.out), threshold=args.threshold)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


def _cmd_report(args) -> int:
    from ethicskit.course.report import write_lms_export, write_report

    root = _course(args)
    if args.format:
        ids = {}
        for item in args.canvas_id or []:
            lab, sep, number = item.partition("=")
            if not sep or not lab or not number:
                print(f"error: --canvas-id wants LAB=ID, not {item!r}", file=sys.stderr)
                return 2
            ids[lab] = number
        path, frame = write_lms_export(
            root, args.format, out=Path(args.out), labs=args.lab or None, pending=args.pending, canvas_ids=ids
        )
        waiting = frame[frame["status"] == "pending"]
        print(path)
        if len(waiting):
            what = "left empty" if args.pending == "blank" else "written with the points graded so far"
            print(
                f"{len(waiting)} grade(s) wait for hand grading ({what}): "
                + ", ".join(f"{r.student}/{r.lab}" for r in waiting.itertuples()),
                file=sys.stderr,
            )
        return 0
    for path in write_report(root, out=Path(args.out), labs=args.lab or None):
        print(path)
    return 0


def _cmd_hub(args) -> int:
    import shutil
    import subprocess

    from ethicskit.course.hub import hub_command, prepare_hub

    root = _course(args)
    if not shutil.which("configurable-http-proxy"):
        print(
            "error: configurable-http-proxy not found: npm install -g configurable-http-proxy",
            file=sys.stderr,
        )
        return 2
    state = Path(args.state) if args.state else root / ".ethicskit-hub"
    env = prepare_hub(
        root,
        state,
        instructors=args.instructor or ["instructor"],
        students=args.student or ["student1", "student2"],
        port=args.port,
        exchange=Path(args.exchange) if args.exchange else None,
        demo=args.demo,
        password=os.environ.get("ETHICSKIT_HUB_PASSWORD"),
    )
    print(
        f"JupyterHub on http://127.0.0.1:{args.port}/  (instructors: {env['ETHICSKIT_HUB_INSTRUCTORS']}; "
        f"students: {env['ETHICSKIT_HUB_STUDENTS']}; exchange: {env['ETHICSKIT_EXCHANGE']})",
        flush=True,
    )
    if args.demo:
        print("demo: any password logs in (set ETHICSKIT_HUB_PASSWORD for one shared password)", flush=True)
    return subprocess.call(hub_command(state), cwd=state, env=env)


def _cmd_publish(args) -> int:
    from ethicskit.course.hub import publish

    root = _course(args)
    for lab in args.labs:
        folder = publish(root, lab)
        print(f"released {lab} to the exchange (student version in {folder})")
    return 0


def _cmd_run_all(args) -> int:
    from ethicskit.course.runall import run_all

    root = _course(args)
    return run_all(root, report=Path(args.report), jobs=args.jobs, sandbox=not args.no_sandbox)


def _command_adder(commands: Any) -> Callable[..., argparse.ArgumentParser]:
    """``add(name, func, help)``: a subcommand of ``ethicskit course`` with the shared ``--course`` option."""

    def add(name: str, func: Callable[..., int], help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument(
            "--course", default=None, help="course root (default: nearest folder with nbgrader_config.py)"
        )
        sub.set_defaults(func=func)
        return sub

    return add


def _add_release(add: Callable[..., argparse.ArgumentParser]) -> None:
    release = add("release", _cmd_release, "generate labs/ (student versions) from solutions/ with nbgrader")
    release.add_argument("labs", nargs="*", help="lab ids (default: every lab in solutions/)")
    release.add_argument(
        "--check",
        action="store_true",
        help="exit 1 naming each lab whose committed labs/ differ from what solutions/ generate",
    )
    release.add_argument(
        "--force",
        action="store_true",
        help="regenerate labs that hold a student's answers, after moving them to labs-backup/",
    )


def _add_work(add: Callable[..., argparse.ArgumentParser]) -> None:
    work = add("work", _cmd_work, "copy a lab into work/LAB to answer it there (no kit command writes work/)")
    work.add_argument("lab", help="lab id")
    work.add_argument("--to", help="target folder (default: work/LAB)")


def _add_grade(add: Callable[..., argparse.ArgumentParser]) -> None:
    grade = add("grade", _cmd_grade, "autograde submissions in a sandbox, in parallel")
    grade.add_argument(
        "submissions", help="nbgrader submitted/ layout, or a folder of <student>.ipynb / .zip"
    )
    grade.add_argument("--lab", required=True, help="lab (assignment) id")
    grade.add_argument("--jobs", "-j", type=int, default=1, help="submissions graded at once (default 1)")
    grade.add_argument(
        "--no-sandbox", action="store_true", help="run student code unsandboxed (trusted code only)"
    )
    grade.add_argument(
        "--no-recheck", action="store_true", help="skip the fresh-process recheck of test cells"
    )
    lab_default = "default: the lab's own (notebook metadata ethicskit.grading), else"
    grade.add_argument("--cell-timeout", type=float, help=f"seconds per cell ({lab_default} 60)")
    grade.add_argument("--notebook-timeout", type=float, help=f"seconds per notebook ({lab_default} 600)")
    grade.add_argument("--memory-mb", type=int, help=f"memory per submission in MiB ({lab_default} 4096)")
    grade.add_argument(
        "--max-processes", type=int, help=f"processes/threads per submission ({lab_default} 256)"
    )
    grade.add_argument("--student", action="append", help="grade only this student (repeatable)")
    grade.add_argument(
        "--save-jobs",
        type=int,
        default=1,
        help="submissions saved at once into a server gradebook (PostgreSQL/MySQL; default 1)",
    )
    grade.add_argument(
        "--cluster",
        metavar="tcp://HOST:8786",
        help="execute the submissions on this Dask scheduler's workers instead of local processes "
        "(the gradebook is still written here only; docs/deploy.md)",
    )
    grade.add_argument(
        "--retries", type=int, default=2, help="with --cluster: retries of a failed task (default 2)"
    )
    grade.add_argument("--json", help="also write the results as JSON to this file")
    grade.add_argument("--quiet", "-q", action="store_true", help="no progress messages")


def _add_feedback(add: Callable[..., argparse.ArgumentParser]) -> None:
    feedback = add("feedback", _cmd_feedback, "write per-student HTML feedback (points and plain messages)")
    feedback.add_argument("--lab", required=True, help="lab (assignment) id")
    feedback.add_argument("--out", help="folder (default: the course's feedback/ folder)")
    feedback.add_argument("--student", action="append", help="only this student (repeatable)")


def _add_answers(add: Callable[..., argparse.ArgumentParser]) -> None:
    answers = add(
        "answers",
        _cmd_answers,
        "hand grading help: group similar answers, flag near-identical ones (HTML report)",
    )
    answers.add_argument("--lab", required=True, help="lab (assignment) id")
    answers.add_argument("--submissions", help="folder in nbgrader's layout (default: autograded/)")
    answers.add_argument("--out", default="answers", help="output folder (default answers/)")
    answers.add_argument("--threshold", type=float, default=0.5, help="cosine distance that ends a group")


def _add_report(add: Callable[..., argparse.ArgumentParser]) -> None:
    report = add("report", _cmd_report, "export the gradebook (CSV) and a per-question summary with a plot")
    report.add_argument("--out", default="reports", help="output folder (default reports/)")
    report.add_argument("--lab", action="append", help="only this lab (repeatable)")
    report.add_argument(
        "--format",
        choices=("canvas", "moodle", "csv"),
        help="instead of the report, write one gradebook file for an LMS import: OUT/<format>-grades.csv "
        "(docs/deploy.md)",
    )
    report.add_argument(
        "--pending",
        choices=("blank", "partial"),
        default="blank",
        help="a lab with hand-graded points not graded yet: leave it empty in the canvas/moodle file "
        "(default) or write the points graded so far",
    )
    report.add_argument(
        "--canvas-id", action="append", metavar="LAB=ID", help="Canvas assignment id of a lab (repeatable)"
    )


def _add_hub(add: Callable[..., argparse.ArgumentParser]) -> None:
    hub = add("hub", _cmd_hub, "start the course's JupyterHub on 127.0.0.1 (docs/deploy.md)")
    hub.add_argument("--demo", action="store_true", help="trial course: any password, servers run as you")
    hub.add_argument("--port", type=int, default=8000, help="public port on 127.0.0.1 (default 8000)")
    hub.add_argument("--state", help="the hub's folder (default .ethicskit-hub/ in the course)")
    hub.add_argument("--exchange", help="nbgrader's exchange folder (default: exchange/ in the course)")
    hub.add_argument("--instructor", action="append", help="instructor user name (repeatable)")
    hub.add_argument("--student", action="append", help="student user name (repeatable)")


def _add_publish(add: Callable[..., argparse.ArgumentParser]) -> None:
    publish = add("publish", _cmd_publish, "release labs to students through nbgrader's exchange")
    publish.add_argument("labs", nargs="+", help="lab ids")


def _add_run_all(add: Callable[..., argparse.ArgumentParser]) -> None:
    run_all = add(
        "run-all",
        _cmd_run_all,
        "execute every lesson, release, grade every lab's demo submissions, write a Markdown report",
    )
    run_all.add_argument("--report", default="course-report", help="output folder (default course-report/)")
    run_all.add_argument("--jobs", "-j", type=int, default=2, help="submissions graded at once (default 2)")
    run_all.add_argument("--no-sandbox", action="store_true", help="grade unsandboxed (trusted code only)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``ethicskit``: one ``_add_<command>`` per subcommand."""
    parser = argparse.ArgumentParser(
        prog="ethicskit", description="The ethics course kit's instructor tools."
    )
    top = parser.add_subparsers(dest="group", required=True)
    course = top.add_parser("course", help="release, grade, feedback, report, run-all")
    add = _command_adder(course.add_subparsers(dest="command", required=True))
    _add_release(add)
    _add_work(add)
    _add_grade(add)
    _add_feedback(add)
    _add_answers(add)
    _add_report(add)
    _add_hub(add)
    _add_publish(add)
    _add_run_all(add)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ethicskit`` command."""
    # jsonschema (under nbformat) imports rfc3987_syntax, when installed, only to check "iri" formats, which
    # notebook schemas do not use; that import alone takes seconds, so the command skips it
    sys.modules.setdefault("rfc3987_syntax", None)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
