"""Every notebook in notebooks/ runs from top to bottom without an error, so none can rot.

Each notebook runs in its own temporary working folder, on a kernel started from this test's own
Python interpreter (a throwaway kernelspec), with a 300 s limit per cell.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KERNEL_NAME = "xingtu-tests"
CELL_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def kernel_name(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Return a kernelspec that runs ipykernel on this interpreter (the project's venv)."""
    jupyter_path = tmp_path_factory.mktemp("jupyter")
    spec_dir = jupyter_path / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Xingtu tests", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    patch = pytest.MonkeyPatch()
    patch.setenv("JUPYTER_PATH", str(jupyter_path))
    patch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    yield KERNEL_NAME
    patch.undo()


def run_notebook(notebook: nbformat.NotebookNode, folder: Path, kernel: str) -> nbformat.NotebookNode:
    """Execute a notebook in ``folder``; raises ``CellExecutionError`` on the first failing cell."""
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT_S, kernel_name=kernel,
                            resources={"metadata": {"path": str(folder)}})
    return client.execute()


def test_the_runner_executes_cells_in_the_given_folder(kernel_name: str, tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import os, sys\nprint(os.getcwd())\nprint(sys.executable)"),
    ])
    executed = run_notebook(notebook, tmp_path, kernel_name)
    cwd, executable = executed.cells[0].outputs[0]["text"].split()
    assert Path(cwd).resolve() == tmp_path.resolve()
    assert Path(executable).resolve() == Path(sys.executable).resolve()


def test_the_runner_reports_a_failing_cell(kernel_name: str, tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 / 0")])
    with pytest.raises(CellExecutionError, match="ZeroDivisionError"):
        run_notebook(notebook, tmp_path, kernel_name)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_without_error(path: Path, kernel_name: str, tmp_path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    executed = run_notebook(notebook, tmp_path, kernel_name)
    errors = [output for cell in executed.cells if cell.cell_type == "code"
              for output in cell.get("outputs", []) if output.get("output_type") == "error"]
    assert errors == []
