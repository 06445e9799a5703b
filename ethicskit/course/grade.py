"""``ethicskit course grade``: sandboxed, parallel, fail-closed autograding on top of nbgrader.

The phases, each one small function:

1. **stage** (serial): collect the submissions, register the lab in the gradebook, repair tampered
   nbgrader metadata, copy each submission into a private staging folder, and describe each notebook
   as a :class:`~ethicskit.course.tasks.GradingTask`.
2. **execute** (parallel, ``--jobs N``, :mod:`ethicskit.course.execute`): in each worker, nbgrader's
   sanitizing preprocessors restore the test cells (gradebook read-only), the notebook runs in its own
   sandboxed kernel, one fresh sandboxed process rechecks every test cell, and every test cell gets a
   verdict. Workers never touch the gradebook.
3. **save** (serial, nbgrader): the rest of ``Autograde``'s pipeline (IgnorePattern, ClearMetadata,
   LimitOutput, SaveAutoGrades, AssignLatePenalties, CheckCellMetadata) writes the notebooks and
   grades, so an sqlite gradebook is never written concurrently.
4. **enforce** (serial): every autograded test cell's score in the gradebook is replaced by the
   worker's verdict, and a cell without a verdict scores zero. This is what makes grading fail
   closed: nbgrader's rule "a test cell with no output passed" never decides a grade, whatever
   happened to the kernel, the worker or the executed notebook.

The reasons (per submission and per cell) are printed and stored in
``autograded/<student>/<lab>/ethicskit-grading.json``.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
import warnings
import zipfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from ethicskit._validation import check_positive_int
from ethicskit.course._config import (
    CourseSettings,
    course_settings,
    lab_grading_limits,
    lab_ids,
    load_course_config,
)
from ethicskit.course.dblock import gradebook_lock
from ethicskit.course.environment import grading_environment, kernel_environment_mismatch
from ethicskit.course.pool import execute_all, pool_context, student_line
from ethicskit.course.sanitize import released_metadata, repair_notebook
from ethicskit.course.tasks import GradingOutcome, GradingTask, Limits

__all__ = [
    "SubmissionResult",
    "grade",
    "grade_labs",
    "collect_submissions",
    "enforce_verdicts",
    "format_table",
    "GRADING_RECORD",
]

log = logging.getLogger("ethicskit.course")
GRADING_RECORD = "ethicskit-grading.json"


@dataclass
class SubmissionResult:
    """The outcome of grading one student's submission.

    ``cells`` maps each graded cell's id to ``[score, max_score]`` as the gradebook holds them;
    ``reasons`` maps each test cell that lost points to why; ``environment`` is what graded it
    (package versions and the course lock's hash, :func:`~ethicskit.course.environment.grading_environment`).
    """

    student: str
    score: float = 0.0
    max_score: float = 0.0
    status: str = "complete"
    reason: str = ""
    events: list[str] = field(default_factory=list)
    seconds: float = 0.0
    cells: dict[str, list[float]] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    environment: dict = field(default_factory=dict)


def collect_submissions(path: Path, lab: str, scratch: Path) -> tuple[Path, list[str]]:
    """Return an nbgrader *submitted* folder for ``path`` and the student ids in it.

    ``path`` is either nbgrader's layout (``<student>/<lab>/<lab>.ipynb``), or a folder of student
    notebooks (``<student>.ipynb``) or zip files (``<student>.zip`` holding ``<lab>.ipynb``).
    """
    path = Path(path).resolve()
    if not path.is_dir():
        raise ValueError(f"submissions must be a folder, got {path}")
    nested = sorted(p.name for p in path.iterdir() if p.is_dir() and (p / lab).is_dir())
    if nested:
        return path, nested
    flat = scratch / "submitted"
    students = []
    for item in sorted(path.iterdir()):
        if item.suffix not in (".ipynb", ".zip") or item.name.startswith("."):
            continue
        student = item.stem
        target = flat / student / lab
        target.mkdir(parents=True, exist_ok=True)
        if item.suffix == ".ipynb":
            shutil.copy(item, target / f"{lab}.ipynb")
        else:
            with zipfile.ZipFile(item) as archive:
                for member in archive.infolist():
                    name = Path(member.filename)
                    if member.is_dir() or name.is_absolute() or ".." in name.parts:
                        continue
                    destination = target / (f"{lab}.ipynb" if name.suffix == ".ipynb" else name.name)
                    with archive.open(member) as src, open(destination, "wb") as dst:
                        shutil.copyfileobj(src, dst)
        students.append(student)
    if not students:
        raise ValueError(
            f"no submissions for lab {lab!r} in {path}: expected <student>/{lab}/{lab}.ipynb, "
            "<student>.ipynb or <student>.zip"
        )
    return flat, students


def _converter(root: Path, lab: str, student: str, *, submitted: Path, autograded: Path):
    """nbgrader's ``Autograde`` with only its saving preprocessors (the workers sanitized and ran)."""
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.converters import Autograde
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.preprocessors import (
        AssignLatePenalties,
        CheckCellMetadata,
        IgnorePattern,
        LimitOutput,
        SaveAutoGrades,
    )

    config = load_course_config(root)
    config.CourseDirectory.submitted_directory = str(submitted)
    config.CourseDirectory.autograded_directory = str(autograded)
    config.CourseDirectory.assignment_id = lab
    config.CourseDirectory.student_id = student
    config.Autograde.sanitize_preprocessors = []
    config.Autograde.autograde_preprocessors = [
        IgnorePattern,
        ClearMetadataPreprocessor,
        LimitOutput,
        SaveAutoGrades,
        AssignLatePenalties,
        CheckCellMetadata,
    ]
    converter = Autograde(coursedir=CourseDirectory(config=config), config=config)
    converter.force = True
    converter.log.setLevel(logging.CRITICAL)
    return converter


def _run_converter(converter) -> str | None:
    """Run an nbgrader converter; return an error description or None."""
    messages: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            if record.levelno >= logging.ERROR:
                messages.append(record.getMessage())

    handler = Keep()
    converter.log.addHandler(handler)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SQLAlchemy warnings from inside nbgrader's gradebook
            converter.start()
    except Exception as error:  # noqa: BLE001 - nbgrader raises NbGraderException after logging
        detail = next((m for m in messages if "Error" in m or "error" in m.lower()), str(error))
        return detail.strip().splitlines()[-1][:300] if detail.strip() else type(error).__name__
    finally:
        converter.log.removeHandler(handler)
    return None


def _hidden_paths(root: Path, submissions: Path) -> list[str]:
    import ethicskit

    hidden = {root.resolve(), submissions.resolve(), Path.home().resolve()}
    checkout = Path(ethicskit.__file__).resolve().parent.parent
    if (checkout / "solutions").exists() or (checkout / "nbgrader_config.py").exists():
        hidden.add(checkout)
    for extra in ("/root", "/home"):
        if Path(extra).is_dir():
            hidden.add(Path(extra))
    return sorted(str(p) for p in hidden if str(p) != "/")


REGISTRY = ".ethicskit-registered.json"


def _source_digest(root: Path, lab: str, db_url: str) -> str:
    import hashlib

    digest = hashlib.sha256(db_url.encode())
    for path in [root / "nbgrader_config.py", *sorted((root / "solutions" / lab).rglob("*"))]:
        if path.is_file() and ".ipynb_checkpoints" not in path.parts:
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _register_cached(root: Path, lab: str, *, db_url: str, release_dir: Path, autograded: Path) -> None:
    """``register_lab``, skipped when this exact source was registered in this gradebook before.

    The record (source digest and released notebook) lives in the autograded folder; it is used only
    while the gradebook still holds the assignment.
    """
    from nbgrader.api import Gradebook, MissingEntry

    from ethicskit.course.release import register_lab

    record_file = autograded / REGISTRY
    digest = _source_digest(root, lab, db_url)
    try:
        record = json.loads(record_file.read_text()).get(lab, {})
    except (OSError, ValueError):
        record = {}
    if record.get("digest") == digest:
        try:
            with warnings.catch_warnings(), Gradebook(db_url) as gb:
                warnings.simplefilter("ignore")
                registered = {n.name for n in gb.find_assignment(lab).notebooks}
            if registered != {Path(name).stem for name in record["files"]}:
                raise KeyError(lab)
            target = release_dir / lab
            target.mkdir(parents=True)
            for name, text in record["files"].items():
                (target / name).write_text(text)
            return
        except (MissingEntry, KeyError, OSError):
            shutil.rmtree(release_dir, ignore_errors=True)
    register_lab(root, lab, db_url=db_url, release_dir=release_dir)
    files = {p.name: p.read_text() for p in (release_dir / lab).glob("*.ipynb")}
    try:
        everything = json.loads(record_file.read_text())
    except (OSError, ValueError):
        everything = {}
    everything[lab] = {"digest": digest, "files": files}
    record_file.parent.mkdir(parents=True, exist_ok=True)
    record_file.write_text(json.dumps(everything))


def _record_zero(db_url: str, lab: str, students: list[str]) -> None:
    """Record a zero for every graded cell of submissions that could not be graded at all."""
    from nbgrader.api import Gradebook

    if not students:
        return
    with warnings.catch_warnings(), Gradebook(db_url) as gb:
        warnings.simplefilter("ignore")
        for student in students:
            gb.update_or_create_student(student)
            submission = gb.update_or_create_submission(lab, student)
            for notebook in submission.notebooks:
                for grade_ in notebook.grades:
                    grade_.auto_score = 0
                    grade_.needs_manual_grade = False
            gb.db.commit()


def _autograded_root(root: Path) -> Path:
    return course_settings(root).autograded


def _scores(db_url: str, lab: str, students: list[str]) -> dict[str, tuple[float, float, dict]]:
    from nbgrader.api import Gradebook, MissingEntry

    out = {}
    with warnings.catch_warnings(), Gradebook(db_url) as gb:
        warnings.simplefilter("ignore")
        for student in students:
            try:
                submission = gb.find_submission(lab, student)
            except MissingEntry:
                continue
            cells = {}
            for notebook in submission.notebooks:
                for grade_ in notebook.grades:
                    cells[grade_.name] = [float(grade_.score or 0), float(grade_.max_score or 0)]
            out[student] = (float(submission.score or 0), float(submission.max_score or 0), cells)
    return out


def _limits(root: Path, lab: str, given: dict) -> Limits:
    """The lab's limits (its notebook's own, else the defaults), overridden by those given."""
    return Limits.from_mapping(
        {**lab_grading_limits(root, lab), **{k: v for k, v in given.items() if v is not None}}
    )


def _stage(
    root: Path, lab: str, submissions: Path, chosen_students, *, scratch: Path, settings: CourseSettings, say
) -> tuple[dict[str, SubmissionResult], list[Path]]:
    """The stage phase: register the lab, repair metadata, copy each submission; return results, notebooks."""
    submitted, found = collect_submissions(Path(submissions), lab, scratch)
    chosen = [s for s in found if chosen_students is None or s in chosen_students]
    clock = time.perf_counter()
    with gradebook_lock(settings.db_url):  # another instructor may be registering it in a server gradebook
        _register_cached(
            root,
            lab,
            db_url=settings.db_url,
            release_dir=scratch / "released",
            autograded=settings.autograded,
        )
    say(f"registered {lab} in the gradebook ({time.perf_counter() - clock:.1f} s)")
    spec = released_metadata(scratch / "released" / lab / f"{lab}.ipynb")
    results = {s: SubmissionResult(student=s) for s in chosen}
    environment = grading_environment()
    stage, notebooks = scratch / "sanitized", []
    for student in chosen:
        # the student's files (timestamp, extra files) go with the notebook, which is repaired there
        target = stage / student / lab
        shutil.copytree(submitted / student / lab, target)
        found_notebooks = sorted(target.glob("*.ipynb"))
        for notebook in found_notebooks:
            results[student].events += repair_notebook(notebook, spec)
            for difference in kernel_environment_mismatch(notebook, environment):
                results[student].events.append(f"environment: {difference}")
                say(f"  warning: {student}: {difference} (results may differ)")
        if not found_notebooks:
            results[student].status = "rejected"
            results[student].reason = "no notebook in the submission"
        notebooks += found_notebooks
    return results, notebooks


def _merge(result: SubmissionResult, outcome: GradingOutcome) -> None:
    if outcome.status != "complete" and result.status in ("complete", "stopped"):
        result.status = outcome.status
    if outcome.status != "complete":
        result.reason = "; ".join(filter(None, [result.reason, outcome.reason]))
    result.events += list(outcome.events)
    result.seconds += outcome.total_seconds
    for verdict in outcome.verdicts:
        if verdict.reason:
            result.reasons[verdict.grade_id] = verdict.reason


def _mark_unjudged(notebook_path: Path, outcome: GradingOutcome) -> None:
    """Give every test cell of a notebook the worker never wrote back a 'not run' output (for feedback)."""
    from ethicskit.course.execute import is_test_cell

    if outcome.written or not notebook_path.exists():
        return  # a missing notebook is not saved at all, and its test cells score zero (enforce)
    notebook = nbformat.read(notebook_path, as_version=4)
    for cell in notebook.cells:
        if is_test_cell(cell):
            message = f"not graded: {outcome.reason or 'the grading worker failed'}"
            cell.outputs = [
                nbformat.v4.new_output("error", ename="NotRun", evalue=message, traceback=[message])
            ]
    nbformat.write(notebook, notebook_path)


def _save_one(root: Path, lab: str, student: str, stage: Path, autograded: Path) -> str | None:
    """Save one student's notebooks and grades (a parallel save's unit of work, in its own process)."""
    return _run_converter(_converter(root, lab, student, submitted=stage, autograded=autograded))


def _save_parallel(root: Path, lab: str, students: list[str], *, stage, autograded, jobs: int) -> str | None:
    """Save students ``jobs`` at a time, one process each (only for a server gradebook)."""
    with ProcessPoolExecutor(max_workers=min(jobs, len(students)), mp_context=pool_context()) as pool:
        futures = [pool.submit(_save_one, root, lab, s, stage, autograded) for s in students]
        problems = [future.result() for future in futures]
    return next((p for p in problems if p), None)


def _save(
    root: Path, lab: str, results, *, stage: Path, autograded: Path, db_url: str, jobs: int = 1
) -> None:
    """The save phase: nbgrader's pipeline writes notebooks and grades, one submission at a time.

    With a server gradebook (PostgreSQL, MySQL) and ``jobs > 1`` the submissions are saved ``jobs`` at a
    time, each by its own process; an sqlite gradebook is always saved by one process.
    """
    rejected = [s for s, r in results.items() if r.status == "rejected"]
    for student in rejected:
        shutil.rmtree(stage / student, ignore_errors=True)
    todo = [s for s in results if s not in rejected]
    if todo and jobs > 1 and len(todo) > 1 and not db_url.startswith("sqlite"):
        problem = _save_parallel(root, lab, todo, stage=stage, autograded=autograded, jobs=jobs)
    elif todo:
        problem = _run_converter(_converter(root, lab, "*", submitted=stage, autograded=autograded))
    if todo:
        for student, result in results.items():
            if student not in rejected and not (autograded / student / lab).is_dir():
                result.status = "error"
                result.reason = f"saving the grades failed: {problem or 'unknown error'}"
                rejected.append(student)
    _record_zero(db_url, lab, rejected)


def enforce_verdicts(db_url: str, lab: str, outcomes: dict[str, dict[str, GradingOutcome]]) -> None:
    """The enforce phase: each autograded test cell scores exactly its verdict; no verdict, zero.

    Parameters
    ----------
    db_url, lab : str
        The gradebook and the lab.
    outcomes : dict
        Student -> {notebook name (without ``.ipynb``) -> the worker's outcome for it}. A notebook of
        a student's submission with no outcome scores zero on every test cell. One gradebook session
        serves every student.
    """
    from nbgrader.api import Gradebook, MissingEntry

    with warnings.catch_warnings(), Gradebook(db_url) as gb:
        warnings.simplefilter("ignore")
        tests: dict[str, set[str]] = {}
        for student, outcome_of in outcomes.items():
            try:
                submission = gb.find_submission(lab, student)
            except MissingEntry:
                continue
            for notebook in submission.notebooks:
                outcome = outcome_of.get(notebook.name)
                verdicts = outcome.scores() if outcome else {}
                if notebook.name not in tests:
                    tests[notebook.name] = _test_ids(gb, lab, notebook.name)
                for grade_ in notebook.grades:
                    if grade_.name in tests[notebook.name]:
                        verdict = verdicts.get(grade_.name)
                        grade_.auto_score = verdict.score if verdict else 0.0
                        grade_.needs_manual_grade = False
        gb.db.commit()


def _test_ids(gb, lab: str, notebook: str) -> set[str]:
    """Grade ids of the autograded test cells (graded code cells that are not answers) of a notebook."""
    source = gb.find_notebook(notebook, lab)
    answers = {cell.name for cell in source.solution_cells}
    return {cell.name for cell in source.grade_cells if cell.cell_type == "code" and cell.name not in answers}


def _write_records(results, *, autograded: Path, lab: str, db_url: str) -> None:
    scores = _scores(db_url, lab, list(results))
    environment = grading_environment()
    for student, result in results.items():
        result.environment = environment
        if student in scores:
            result.score, result.max_score, result.cells = scores[student]
        folder = autograded / student / lab
        if folder.is_dir():
            record = folder / GRADING_RECORD
            if record.exists():
                record.chmod(0o644)
            record.write_text(json.dumps(asdict(result), indent=1))


def grade(
    root: Path,
    submissions: Path,
    *,
    lab: str,
    jobs: int = 1,
    sandbox: bool = True,
    cell_timeout: float | None = None,
    notebook_timeout: float | None = None,
    memory_mb: int | None = None,
    max_processes: int | None = None,
    recheck: bool = True,
    students: list[str] | None = None,
    progress=None,
    save_jobs: int = 1,
    executor=None,
) -> list[SubmissionResult]:
    """Autograde every submission of ``lab`` under ``submissions`` into the course gradebook.

    Parameters
    ----------
    root : Path
        The course root (holding ``nbgrader_config.py`` and ``solutions/``).
    submissions : Path
        nbgrader's submitted layout, or a folder of ``<student>.ipynb`` / ``<student>.zip``.
    lab : str
        The lab (nbgrader assignment) id.
    jobs : int
        Submissions executed at once.
    sandbox : bool
        Run each kernel in the bubblewrap sandbox (refused where it cannot run).
    cell_timeout, notebook_timeout : float, optional
        Wall-time limits in seconds.
    memory_mb, max_processes : int, optional
        Limits of each sandbox. Each limit left as None comes from the lab
        (:func:`~ethicskit.course._config.lab_grading_limits`: its notebook's own, else the defaults).
    recheck : bool
        Re-run each test cell in a fresh process (tamper resistance).
    students : list of str, optional
        Grade only these students.
    progress : callable, optional
        Called with a message after each phase step.
    save_jobs : int
        Submissions saved at once into a server gradebook (PostgreSQL, MySQL); sqlite: always 1.
    executor : callable, optional
        ``executor(tasks, say) -> outcomes`` runs the execute phase instead of the local process pool
        (:func:`ethicskit.course.cluster.dask_executor`: a Dask cluster). It must return one
        :class:`~ethicskit.course.tasks.GradingOutcome` per task, in order, and write each executed
        notebook back to its task's path.

    Returns
    -------
    list of SubmissionResult
        One per student, sorted by student id.
    """
    root = _checked_root(root, [lab], jobs=jobs, sandbox=sandbox)
    say = progress or (lambda message: None)
    given = _given_limits(cell_timeout, notebook_timeout, memory_mb, max_processes)
    settings = course_settings(root)
    with tempfile.TemporaryDirectory(prefix="ethicskit-grade-") as scratch_name:
        run = _prepare_lab(
            root, lab, submissions, students, scratch=Path(scratch_name), settings=settings, say=say,
            options=dict(limits=_limits(root, lab, given), sandbox=sandbox, recheck=recheck),
        )  # fmt: skip
        clock = time.perf_counter()
        tasks = run.tasks
        outcomes = executor(tasks, say) if executor else execute_all(tasks, jobs=jobs, say=say)
        say(f"executed {len(tasks)} notebook(s) with {jobs} job(s) ({time.perf_counter() - clock:.1f} s)")
        return _finish_lab(root, run, outcomes, settings=settings, save_jobs=save_jobs, say=say)


def grade_labs(
    root: Path,
    submissions: Path,
    *,
    labs: list[str],
    jobs: int = 1,
    sandbox: bool = True,
    students: dict[str, list[str]] | None = None,
    progress=None,
    capacity=None,
    nice: int = 0,
    **given,
) -> dict[str, list[SubmissionResult]]:
    """Autograde several labs' submissions with one pool of ``jobs`` workers, longest labs first.

    Grading lab after lab leaves cores idle at each lab's end (its last, longest submission runs alone)
    and between labs (starting the pool, saving). Here every lab is staged first, then all of their
    submissions run in one pool, the labs with the longest notebook time limit (the fine-tuning lab)
    first so that short submissions fill the cores at the end; each lab is saved as soon as its last
    submission is done, while the others run. Each lab is graded exactly as :func:`grade` grades it.

    Parameters
    ----------
    root, submissions, jobs, sandbox :
        As for :func:`grade`.
    labs : list of str
        Lab ids.
    students : dict, optional
        Per lab id, the students to grade (default: every student's submission of that lab).
    progress : callable, optional
        ``progress(lab, message)`` after each phase step of each lab.
    capacity : callable, optional
        ``capacity()``: how many submissions may run now (:func:`~ethicskit.course.pool.execute_all`).
    nice : int
        Added to the grading workers' niceness (:func:`~ethicskit.course.pool.execute_all`).
    **given :
        ``cell_timeout``, ``notebook_timeout``, ``memory_mb``, ``max_processes``, ``recheck``,
        ``save_jobs``, as for :func:`grade`, the same for every lab.

    Returns
    -------
    dict
        Per lab id, its results sorted by student id.
    """
    recheck, save_jobs = given.pop("recheck", True), given.pop("save_jobs", 1)
    wanted = _given_limits(**given)
    root = _checked_root(root, labs, jobs=jobs, sandbox=sandbox)
    # the lab's own notebook time limit says how long its submissions take (lab3: 30 minutes)
    labs = sorted(dict.fromkeys(labs), key=lambda lab: -lab_grading_limits(root, lab)["notebook_timeout"])
    tell = progress or (lambda lab, message: None)
    settings = course_settings(root)
    chosen = students or {}
    with tempfile.TemporaryDirectory(prefix="ethicskit-grade-") as scratch_name:
        scratch = Path(scratch_name)
        runs = [
            _prepare_lab(
                root, lab, submissions, chosen.get(lab), scratch=scratch, work=scratch / lab,
                settings=settings, say=lambda message, _lab=lab: tell(_lab, message),
                options=dict(limits=_limits(root, lab, wanted), sandbox=sandbox, recheck=recheck),
            )
            for lab in labs
        ]  # fmt: skip
        tasks: list[GradingTask] = []
        owner: list[_LabRun] = []  # each task's lab
        span: dict[str, range] = {}  # each lab's task indices
        for run in runs:
            span[run.lab] = range(len(tasks), len(tasks) + len(run.tasks))
            tasks += run.tasks
            owner += [run] * len(run.tasks)
        graded: dict[str, list[SubmissionResult]] = {}
        arrived: dict[int, GradingOutcome] = {}

        def on_outcome(index: int, outcome: GradingOutcome) -> None:
            run = owner[index]
            arrived[index] = outcome
            tell(run.lab, student_line(tasks[index], outcome))
            mine = span[run.lab]
            if all(i in arrived for i in mine):  # its last submission: save it while the others run
                outcomes = [arrived[i] for i in mine]
                graded[run.lab] = _finish_lab(
                    root, run, outcomes, settings=settings, save_jobs=save_jobs,
                    say=lambda message: tell(run.lab, message),
                )  # fmt: skip

        execute_all(
            tasks, jobs=jobs, say=lambda message: None, capacity=capacity, on_outcome=on_outcome, nice=nice
        )
        for run in runs:
            if run.lab not in graded:  # no submission at all
                graded[run.lab] = _finish_lab(
                    root, run, [], settings=settings, save_jobs=save_jobs,
                    say=lambda message, _lab=run.lab: tell(_lab, message),
                )  # fmt: skip
    return graded


@dataclass
class _LabRun:
    """One lab's staged grading: its results so far and its tasks (for the execute phase)."""

    lab: str
    results: dict[str, SubmissionResult]
    tasks: list[GradingTask]
    work: Path


def _checked_root(root: Path, labs: list[str], *, jobs: int, sandbox: bool) -> Path:
    """The resolved course root, after checking the labs, ``jobs`` and the sandbox."""
    from ethicskit.course.sandbox import SandboxUnavailable, sandbox_problem

    root = Path(root).resolve()
    known = lab_ids(root)
    for lab in labs:
        if lab not in known:
            raise ValueError(f"lab {lab!r} not found in {root / 'solutions'}; labs there: {known}")
    check_positive_int(jobs, "jobs")
    if sandbox and (problem := sandbox_problem()):
        raise SandboxUnavailable(problem)
    return root


def _given_limits(cell_timeout=None, notebook_timeout=None, memory_mb=None, max_processes=None) -> dict:
    return {
        "cell_timeout": cell_timeout,
        "notebook_timeout": notebook_timeout,
        "memory_mb": memory_mb,
        "max_processes": max_processes,
    }


def _prepare_lab(
    root: Path, lab: str, submissions: Path, students, *, scratch: Path, settings: CourseSettings, say,
    options: dict, work: Path | None = None,
) -> _LabRun:  # fmt: skip
    """Stage one lab (``work``: its own folder under the run's ``scratch``, which the sandboxes hide)."""
    work = work or scratch
    work.mkdir(parents=True, exist_ok=True)
    results, notebooks = _stage(root, lab, submissions, students, scratch=work, settings=settings, say=say)
    hidden = tuple(_hidden_paths(root, Path(submissions)) + [str(scratch)])
    common = dict(lab=lab, db_url=settings.db_url, data_dir=str(root / "solutions" / lab), hidden=hidden,
                  scratch_root=str(scratch), **options)  # fmt: skip
    tasks = [GradingTask(student=path.parent.parent.name, notebook=str(path), **common) for path in notebooks]
    return _LabRun(lab, results, tasks, work)


def _finish_lab(
    root: Path, run: _LabRun, outcomes: list[GradingOutcome], *, settings: CourseSettings, save_jobs: int, say
) -> list[SubmissionResult]:
    """Collect one lab's outcomes, save them into the gradebook, enforce the verdicts, write the records."""
    results, db_url, autograded = run.results, settings.db_url, settings.autograded
    by_student = _collect(results, run.tasks, outcomes)
    clock = time.perf_counter()
    with gradebook_lock(db_url):  # one writer at a time, also across instructors (dblock.py)
        _save(
            root,
            run.lab,
            results,
            stage=run.work / "sanitized",
            autograded=autograded,
            db_url=db_url,
            jobs=save_jobs,
        )
        enforce_verdicts(db_url, run.lab, by_student)
    say(f"saved the grades ({time.perf_counter() - clock:.1f} s)")
    _write_records(results, autograded=autograded, lab=run.lab, db_url=db_url)
    return [results[s] for s in sorted(results)]


def _collect(
    results: dict[str, SubmissionResult], tasks: list[GradingTask], outcomes: list[GradingOutcome]
) -> dict[str, dict[str, GradingOutcome]]:
    """Merge each outcome into its student's result and notebook; the verdicts by student and notebook."""
    by_student: dict[str, dict[str, GradingOutcome]] = {s: {} for s in results}
    for task, outcome in zip(tasks, outcomes, strict=True):
        _merge(results[task.student], outcome)
        _mark_unjudged(Path(task.notebook), outcome)
        by_student[task.student][Path(task.notebook).stem] = outcome
    return by_student


def format_table(results: list[SubmissionResult]) -> str:
    """A plain-text table: student, score, status, reason."""
    rows = [("student", "score", "status", "reason")]
    for r in results:
        rows.append((r.student, f"{r.score:g} / {r.max_score:g}", r.status, r.reason[:70]))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
