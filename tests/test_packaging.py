"""The wheel: it carries Leaflet and the type markers, and maps work from it with no checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("optimizer", "geodata", "xingtu")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the project's wheel from a copy of the sources (the checkout stays clean)."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", *PACKAGES):
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, symlinks=False,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, source / name)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--quiet", "--wheel-dir", str(out), str(source)], check=True, cwd=source)
    (built,) = out.glob("xingtu-*.whl")
    return built


def test_wheel_ships_leaflet_and_type_markers(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    leaflet = {f"xingtu/static/leaflet/{name}" for name in ("leaflet.js", "leaflet.css", "LICENSE")}
    assert leaflet <= names
    images = {name for name in names if name.startswith("xingtu/static/leaflet/images/")}
    assert len(images) == len(list((ROOT / "xingtu" / "static" / "leaflet" / "images").iterdir()))
    assert {f"{package}/py.typed" for package in PACKAGES} <= names
    assert "geodata/data/prd_places.csv" in names


@pytest.mark.slow
def test_standalone_map_from_the_installed_wheel(wheel: Path, tmp_path: Path) -> None:
    # A fresh environment holding only the wheel; the dependencies are borrowed from this one
    # through a .pth line (the checkout itself, installed in editable mode here, is not seen).
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                    "--no-deps", "--no-index", str(wheel)], check=True)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          check=True, capture_output=True, text=True).stdout.strip()
    (Path(site) / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    script = (
        "import base64, re, xingtu, geodata, optimizer\n"
        "from xingtu import maps\n"
        "page = maps.standalone_html(maps.base_map((22.6, 114.0)))\n"
        "js = re.search(r'data:text/javascript;base64,([A-Za-z0-9+/=]+)', page).group(1)\n"
        "print(xingtu.__file__, geodata.__file__, optimizer.__file__, sep='\\n')\n"
        "print(base64.b64decode(js)[:200].decode())\n"
    )
    run = subprocess.run([str(python), "-c", script], check=True, capture_output=True, text=True,
                         cwd=tmp_path)
    *files, leaflet = run.stdout.strip().split("\n", 3)
    assert all(Path(file).is_relative_to(venv) for file in files), files
    assert "Leaflet" in leaflet
