"""The instructor command line: ``ethicskit course <command>``.

Commands (each has ``--help``):

``release``   generate the student versions in ``labs/`` from ``solutions/`` (``--check`` for CI)
``grade``     autograde submissions in a sandbox, in parallel, with tamper-resistant rechecks
``feedback``  per-student HTML feedback (points and plain messages, never hidden tests)
``report``    gradebook CSV and a per-question summary with a plot
``run-all``   run the whole course headless and write a short Markdown report

The modules: :mod:`~ethicskit.course.release`, :mod:`~ethicskit.course.grade`,
:mod:`~ethicskit.course.sandbox`, :mod:`~ethicskit.course.recheck`, :mod:`~ethicskit.course.feedback`,
:mod:`~ethicskit.course.report`, :mod:`~ethicskit.course.runall`.
"""

import os
import sys

# nbgrader runs the ``alembic`` command (installed beside this interpreter) to set up a gradebook.
# When the course tools are called as ``.venv/bin/ethicskit`` without activating the environment,
# that folder is not on PATH and every gradebook operation fails; put it there.
_interpreter_bin = os.path.dirname(sys.executable)
if _interpreter_bin not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = os.pathsep.join([_interpreter_bin, os.environ.get("PATH", "")])

__all__: list[str] = []
