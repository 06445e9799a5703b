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

__all__: list[str] = []
