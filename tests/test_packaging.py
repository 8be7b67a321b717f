"""A non-editable install finds its templates (they ship inside the wheel)."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        capture_output=True,
        check=False,
        text=True,
    )
    if build.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {build.stderr.strip().splitlines()[-1:]}")
    return next(out.glob("symfnn-*.whl"))


def test_templates_ship_in_the_wheel(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {
        n.removeprefix("symfnn/templates/") for n in names if n.startswith("symfnn/templates/")
    }
    in_repo = {
        str(p.relative_to(ROOT / "templates"))
        for p in (ROOT / "templates").rglob("*")
        if p.is_file()
    }
    assert in_repo and in_repo <= shipped


def _run_installed(wheel, tmp_path, code: str) -> tuple[Path, subprocess.CompletedProcess]:
    """Install the wheel into a folder of its own and run `code` there, outside the repository,
    with that folder first on the path."""
    target = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target)]
    subprocess.run([*pip, str(wheel)], check=True)
    env = dict(os.environ, PYTHONPATH=str(target))
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return target, out


def test_installed_package_loads_its_own_templates(wheel, tmp_path):
    code = "from symfnn.render import template_dir; print(template_dir())"
    target, out = _run_installed(wheel, tmp_path, code)
    assert Path(out.stdout.strip()) == target / "symfnn" / "templates"


def test_the_public_api_runs_from_the_installed_wheel(wheel, tmp_path):
    """Issue 13's line, outside the repository, from the wheel (every stage folder shipped)."""
    code = (
        "import symfnn; d = symfnn.derive('4-5:sigmoid-3:softmax', l2=0.01); "
        "print(bool(d.verify())); d.to_pdf('x.pdf'); m = d.module(); "
        "print(symfnn.__file__); print(sorted(m.init_params(seed=0)))"
    )
    target, out = _run_installed(wheel, tmp_path, code)
    proven, where, params = out.stdout.splitlines()
    assert proven == "True" and Path(where).is_relative_to(target)
    assert params == str(["W1", "W2", "b1", "b2"])
    assert (tmp_path / "x.pdf").read_bytes().startswith(b"%PDF")
