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
c.CourseDirectory.release_directory = "labs"
# Data files shipped beside a lab notebook are released and graded with it.
c.CourseDirectory.include = ["*.ipynb", "*.csv", "*.csv.gz", "*.json", "*.md", "*.npz", "*.txt"]
# sqlite by default (file ignored by git); any SQLAlchemy URL through ETHICSKIT_DB_URL.
c.CourseDirectory.db_url = os.environ.get(
    "ETHICSKIT_DB_URL", "sqlite:///" + os.path.join(c.CourseDirectory.root, "gradebook.db")
)
# Never copied into feedback/ (nor anywhere else nbgrader copies a submission's files): the grading
# record holds the instructor-facing reasons and events of a grading run.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "ethicskit-grading.json"]
# Feedback through nbgrader (`nbgrader generate_feedback`, formgrader's "Generate Feedback") renders the
# kit's own page: points, plain messages, grader comments; never test sources, seeds or tracebacks.
c.GenerateFeedback.exporter_class = "ethicskit.course.feedback.KitFeedbackExporter"
# Student-facing stubs in released notebooks.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

local = os.path.join(c.CourseDirectory.root, "nbgrader_config_local.py")
if os.path.exists(local):
    load_subconfig(local)  # noqa: F821
