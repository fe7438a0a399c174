"""The released package: one version everywhere, and a wheel that carries its licenses and types."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

import nnback
from nnback.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_version_is_a_release_number():
    assert re.fullmatch(r"\d+\.\d+\.\d+((a|b|rc)\d+)?(\.dev\d+)?", nnback.__version__)


def test_cli_version_prints_the_package_version():
    result = subprocess.run([sys.executable, "-m", "nnback", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip().endswith(f", version {nnback.__version__}")
    assert CliRunner().invoke(main, ["--version"]).output.strip().endswith(nnback.__version__)


def test_pyproject_reads_the_version_from_the_package():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" in project["project"]["dynamic"] and "version" not in project["project"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "nnback.__version__"}


def test_changelog_has_a_section_for_this_version():
    release = nnback.__version__.split(".dev")[0]
    assert f"## [{release}]" in (ROOT / "CHANGELOG.md").read_text()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    """The wheel pip builds from this checkout (in an isolated build environment, as a user's would)."""
    if not (ROOT / "pyproject.toml").is_file():
        pytest.skip("not a source checkout")
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(out)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    (path,) = out.glob("nnback-*.whl")
    assert path.name.startswith(f"nnback-{nnback.__version__}-")
    return zipfile.ZipFile(path)


def test_wheel_carries_the_licenses_the_data_notice_and_py_typed(wheel):
    names = wheel.namelist()
    dist_info = f"nnback-{nnback.__version__}.dist-info"
    assert "nnback/py.typed" in names
    license_text = wheel.read(f"{dist_info}/licenses/LICENSE").decode()
    assert "MIT License" in license_text and "the nnback developers" in license_text
    notice = wheel.read(f"{dist_info}/licenses/LICENSES/MNIST-CC-BY-SA-3.0.txt").decode()
    assert "CC BY-SA 3.0" in notice and "LeCun" in notice and "Cortes" in notice and "Burges" in notice
    metadata = wheel.read(f"{dist_info}/METADATA").decode()
    assert "License-Expression: MIT AND CC-BY-SA-3.0" in metadata
    assert {"nnback/_data/mnist/train-images-idx3-ubyte.gz", "nnback/export.py"} <= set(names)
