"""nbgrader configuration: this folder is the course root.

Instructors: override anything here in ``nbgrader_config_local.py`` (not tracked) or with
environment variables, e.g. a PostgreSQL gradebook for a large course::

    export ETHICSKIT_DB_URL=postgresql://grader@dbhost/ethics
"""
import os

c = get_config()  # noqa: F821  (nbgrader injects get_config)

c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "ethics-course-kit"
c.CourseDirectory.source_directory = "solutions"
# nbgrader's own Generate button / generate_assignment write here, never into labs/: with --force
# (formgrader always passes it) nbgrader deletes its release folder before any hook can refuse, and
# labs/ may hold a self-learner's answers. They are refused anyway (below); `ethicskit course release`
# writes labs/.
c.CourseDirectory.release_directory = "release"
# Data files shipped beside a lab notebook are released and graded with it.
c.CourseDirectory.include = ["*.ipynb", "*.csv", "*.csv.gz", "*.json", "*.md", "*.npz", "*.txt"]
# sqlite by default (file ignored by git); any SQLAlchemy URL through ETHICSKIT_DB_URL.
c.CourseDirectory.db_url = os.environ.get(
    "ETHICSKIT_DB_URL", "sqlite:///" + os.path.join(c.CourseDirectory.root, "gradebook.db")
)
# nbgrader's exchange (Assignment List: fetch, submit, feedback): a course-local folder for one person
# (`make start` creates it), the hub's shared folder through ETHICSKIT_EXCHANGE (docs/deploy.md).
c.Exchange.root = os.environ.get("ETHICSKIT_EXCHANGE", os.path.join(c.CourseDirectory.root, "exchange"))
# Never copied into feedback/ (nor anywhere else nbgrader copies a submission's files): the grading
# record holds the instructor-facing reasons and events of a grading run.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "ethicskit-grading.json"]
# Feedback through nbgrader (`nbgrader generate_feedback`, formgrader's "Generate Feedback") renders the
# kit's own page: points, plain messages, grader comments; never test sources, seeds or tracebacks.
c.GenerateFeedback.exporter_class = "ethicskit.course.feedback.KitFeedbackExporter"
# Every nbgrader path on this course goes through the kit (ethicskit/course/nbhooks.py, docs/grading.md):
# - Autograde (formgrader's button, `nbgrader autograde`): nbgrader sanitizes, then the kit's engine runs
#   the notebook (sandbox, the lab's own limits instead of nbgrader's 30 s default, fresh-process recheck,
#   fail-closed verdicts) in place of nbgrader's Execute, and the verdicts overwrite its scores.
c.Autograde.autograde_preprocessors = [
    "ethicskit.course.nbhooks.KitExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "ethicskit.course.nbhooks.KitEnforceVerdicts",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# - Generate (formgrader's button, `nbgrader generate_assignment`): refused; `ethicskit course release`
#   generates labs/ (it checks for a student's answers) and switches this guard off for itself.
c.GenerateAssignment.preprocessors = ["ethicskit.course.nbhooks.KitOnlyRelease"] + [
    "nbgrader.preprocessors." + name
    for name in (
        "IncludeHeaderFooter", "InstantiateTests", "LockCells", "ClearSolutions", "ClearOutput",
        "CheckCellMetadata", "ComputeChecksums", "SaveCells", "ClearHiddenTests", "ClearMarkScheme",
        "ComputeChecksums", "CheckCellMetadata",
    )
]
# Student-facing stubs in released notebooks.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

local = os.path.join(c.CourseDirectory.root, "nbgrader_config_local.py")
if os.path.exists(local):
    load_subconfig(local)  # noqa: F821
