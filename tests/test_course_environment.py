"""ethicskit.course.environment: the grading environment record and the kernel-mismatch warning."""

from __future__ import annotations

import json
import platform

import nbformat
import pytest

from ethicskit import envcheck
from ethicskit.course.environment import (
    COURSE_KERNEL,
    grading_environment,
    kernel_environment_mismatch,
    notebook_environment,
)
from tests.conftest import REPO_ROOT

LOCK = REPO_ROOT / "requirements" / "lock-py3.11-linux-x86_64.txt"

COURSE = {
    "python": "3.11.7",
    "platform": "linux-x86_64",
    "packages": {"numpy": "2.4.6", "pandas": "3.1.1", "torch": "2.13.0+cpu", "shap": "0.51.0"},
    "lock": LOCK.name,
    "lock_sha256": "a" * 64,
    "lock_differences": [],
}


def _notebook(kernel="python3", python="3.11.7", *, record=None, metadata_record=None, language="python"):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": f"Kernel {kernel}", "language": language}
    nb.metadata["language_info"] = {"name": language, "version": python}
    nb.cells.append(nbformat.v4.new_markdown_cell("# lab"))
    cell = nbformat.v4.new_code_cell("ethicskit.envcheck.record_environment()")
    if record is not None:
        cell.outputs = [nbformat.v4.new_output(
            "display_data", data={envcheck.ENVIRONMENT_MIMETYPE: record, "text/plain": "Python ..."}
        )]
    nb.cells.append(cell)
    if metadata_record is not None:
        nb.metadata["ethicskit"] = {"environment": metadata_record}
    return nb


def test_grading_environment_records_versions_and_the_lock_hash():
    record = grading_environment()
    assert record["python"] == platform.python_version()
    assert set(envcheck.COURSE_PACKAGES) <= set(record["packages"])
    assert record["packages"]["ethicskit"]  # installed (editable) in the course environment
    json.dumps(record)  # goes into the grading record as JSON
    if envcheck.find_lock() is not None:
        lock = envcheck.find_lock()
        assert record["lock"] == lock.name
        assert record["lock_sha256"] == envcheck.file_sha256(lock)
        assert len(record["lock_sha256"]) == 64
        assert all(isinstance(d, str) for d in record["lock_differences"])


def test_grading_environment_without_a_lock(monkeypatch, tmp_path):
    monkeypatch.setattr(envcheck, "find_lock", lambda path=None: None)
    record = grading_environment()
    assert record["lock"] is None and record["lock_sha256"] is None and record["lock_differences"] == []


def test_same_environment_no_differences():
    nb = _notebook(record={**COURSE, "python": "3.11.9"})  # a patch release is the same Python
    assert kernel_environment_mismatch(nb, COURSE) == []


def test_a_notebook_that_records_nothing_yields_nothing():
    nb = nbformat.v4.new_notebook()
    assert kernel_environment_mismatch(nb, COURSE) == []


def test_other_python_version():
    differences = kernel_environment_mismatch(_notebook(python="3.12.4"), COURSE)
    assert differences == ["the notebook ran on Python 3.12.4; the course grades with Python 3.11.7"]


def test_other_kernel_and_language():
    differences = kernel_environment_mismatch(_notebook(kernel="conda-env-base-py", language="R"), COURSE)
    assert any("'conda-env-base-py'" in d and repr(COURSE_KERNEL) in d for d in differences)
    assert any("'R'" in d for d in differences)


def test_recorded_package_versions_and_lock_differ():
    record = {
        **COURSE,
        "packages": {**COURSE["packages"], "pandas": "2.2.3", "torch": None, "unknown-extra": "1.0"},
        "lock_sha256": "b" * 64,
    }
    differences = kernel_environment_mismatch(_notebook(record=record), COURSE)
    assert "pandas: the notebook's environment has 2.2.3, the course grades with 3.1.1" in differences
    torch = "torch: the notebook's environment has nothing installed, the course grades with 2.13.0+cpu"
    assert torch in differences
    assert any("different lock" in d and "bbbbbbbbbbbb" in d for d in differences)
    assert not any("unknown-extra" in d for d in differences)  # nothing to compare it with
    assert len(differences) == 3


def test_same_lock_but_the_students_environment_had_drifted():
    record = {**COURSE, "lock_differences": ["shap 0.46.0 is installed, the lock pins 0.51.0"]}
    differences = kernel_environment_mismatch(_notebook(record=record), COURSE)
    assert differences == [
        "the notebook's environment differed from the course lock in 1 package(s): "
        "shap 0.46.0 is installed, the lock pins 0.51.0"
    ]


def test_metadata_block_wins_and_files_are_read(tmp_path):
    nb = _notebook(metadata_record={**COURSE, "python": "3.10.14"}, record=COURSE)
    path = tmp_path / "lab.ipynb"
    nbformat.write(nb, path)
    assert notebook_environment(path)["python"] == "3.10.14"
    differences = kernel_environment_mismatch(path, COURSE)
    assert differences == [
        "the notebook's environment check ran on Python 3.10.14; the course grades with Python 3.11.7"
    ]


def test_json_mime_data_stored_as_text_and_hostile_shapes():
    nb = _notebook(record=None)
    nb.cells[1].outputs = [{"output_type": "display_data", "metadata": {},
                            "data": {envcheck.ENVIRONMENT_MIMETYPE: json.dumps({"python": "3.12.0"})}}]
    nb.cells.append({"cell_type": "code", "outputs": ["not a dict"], "source": "", "metadata": {}})
    nb.metadata["kernelspec"] = "not a dict"
    assert notebook_environment(nb) == {"python": "3.12.0"}
    assert kernel_environment_mismatch(nb, COURSE) == [
        "the notebook's environment check ran on Python 3.12.0; the course grades with Python 3.11.7"
    ]
    with pytest.raises(TypeError):
        kernel_environment_mismatch(42, COURSE)


def test_default_course_is_the_running_environment():
    nb = _notebook(python=platform.python_version(), record=grading_environment())
    assert kernel_environment_mismatch(nb) == []


def test_record_environment_round_trip(monkeypatch):
    """What record_environment displays in a kernel is what the grader reads back."""
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, raw=False: shown.append(obj))
    fingerprint = envcheck.record_environment()
    (bundle,) = shown
    assert bundle[envcheck.ENVIRONMENT_MIMETYPE] == fingerprint
    nb = _notebook(python=fingerprint["python"], record=bundle[envcheck.ENVIRONMENT_MIMETYPE])
    assert notebook_environment(nb) == fingerprint
    assert kernel_environment_mismatch(nb) == []


# ---- envcheck's comparison with the lock ----

def test_read_lock_and_compare(tmp_path):
    lock = tmp_path / "lock-py3.11-linux-x86_64.txt"
    lock.write_text(
        "#\n# This file is autogenerated by pip-compile with Python 3.11\n#\n"
        "numpy==2.4.6 \\\n    --hash=sha256:" + "0" * 64 + "\n    # via ethicskit\n"
        "Scikit_Learn==1.9.1 \\\n    --hash=sha256:" + "1" * 64 + "\n"
        "torch==2.13.0+cpu \\\n    --hash=sha256:" + "2" * 64 + "\n"
    )
    assert envcheck.read_lock(lock) == {"numpy": "2.4.6", "scikit-learn": "1.9.1", "torch": "2.13.0+cpu"}
    assert envcheck.lock_python(lock) == "3.11"
    same = {"numpy": "2.4.6", "scikit-learn": "1.9.1", "torch": "2.13.0+cpu", "extra-package": "1"}
    assert envcheck.compare_with_lock(lock, installed=same, python="3.11.2") == []
    differences = envcheck.compare_with_lock(
        lock, installed={"numpy": "2.3.0", "torch": "2.13.0+cpu"}, python="3.12.1"
    )
    assert [str(d) for d in differences] == [
        "python 3.12.1 is installed, the lock pins 3.11",
        "numpy 2.3.0 is installed, the lock pins 2.4.6",
        "scikit-learn is not installed (the lock pins 1.9.1)",
    ]


def test_missing_lock_is_reported(monkeypatch, tmp_path):
    with pytest.raises(FileNotFoundError, match="make lock"):
        envcheck.compare_with_lock(tmp_path / "nope.txt")
    monkeypatch.setattr(envcheck, "find_lock", lambda path=None: None)
    row = envcheck._lock_row()
    assert not row.ok and "docs/environment.md" in row.detail


def test_lock_row_lists_differences(monkeypatch, tmp_path):
    lock = tmp_path / "lock-py3.11-linux-x86_64.txt"
    lock.write_text("# autogenerated by pip-compile with Python 3.11\nnot-a-real-package-xyz==1.0 \\\n")
    monkeypatch.setenv(envcheck.LOCK_ENV_VAR, str(lock))
    row = envcheck._lock_row()
    assert not row.ok and "not-a-real-package-xyz is not installed" in row.detail and "make env" in row.detail
    report = envcheck.lock_report()
    assert list(report.columns) == ["package", "installed", "locked"]
    assert "not-a-real-package-xyz" in set(report["package"])


def test_the_course_venv_matches_its_lock():
    """After `make env`, the running environment is the lock (what lesson 00 shows)."""
    lock = envcheck.find_lock()
    if lock is None or lock.name != LOCK.name:
        pytest.skip(f"no lock for this Python and platform ({envcheck.lock_name()})")
    differences = [str(d) for d in envcheck.compare_with_lock(lock)]
    assert not differences, f"run `make env`: {differences}"


def test_lock_report_without_a_lock(monkeypatch):
    monkeypatch.setattr(envcheck, "find_lock", lambda path=None: None)
    report = envcheck.lock_report()
    assert list(report["package"]) == ["(no lock)"] and "docs/environment.md" in report["locked"][0]


def test_drift_the_grader_shares_is_not_blamed_on_the_student():
    shared = "tomli is not installed (the lock pins 2.5.0)"
    course = {**COURSE, "lock_differences": [shared]}
    record = {**COURSE, "lock_differences": [shared, "numba 0.60.0 is installed, the lock pins 0.68.1"]}
    differences = kernel_environment_mismatch(_notebook(record=record), course)
    assert differences == [
        "the notebook's environment differed from the course lock in 1 package(s): "
        "numba 0.60.0 is installed, the lock pins 0.68.1"
    ]
