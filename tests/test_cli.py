"""The command line: output, exit codes, one-line errors, quick --help/--version."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from symfnn.cli import main

ROOT = str(Path(__file__).resolve().parents[1])


def run(*args, **kw):
    kw.setdefault("env", dict(os.environ, PYTHONPATH=ROOT))  # importable from any cwd
    return subprocess.run(
        [sys.executable, "-m", "symfnn", *args], capture_output=True, text=True, check=False, **kw
    )


def test_version_and_help_do_not_import_sympy():
    code = "import sys; from symfnn.cli import main\ntry: main(['--version'])\nexcept SystemExit: pass\nprint('sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.stdout.strip().endswith("False")
    assert "symfnn 0." in out.stdout
    assert run("--help").returncode == 0


def test_derive_prints_the_derivation(capsys):
    assert main(["derive", "4-5:sigmoid-5:tanh-3:softmax", "--l2", "0.01"]) == 0
    out = capsys.readouterr().out
    for text in (
        "Forward propagation",
        "δ1 = a1*(1 - a1) ⊙ W2ᵀ δ2",
        "δ3 = a3 - y",
        "∂R/∂W1 = λ2 W1 + δ1 a0ᵀ",
        "W(l) ← W(l) - α dW(l)",
    ):
        assert text in out


def test_derive_verify(capsys):
    assert main(["derive", "3-4:relu-2:sigmoid", "--loss", "mse", "--l1", "0.01", "--verify"]) == 0
    out = capsys.readouterr().out
    assert "verdict:    PROVEN" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["derive", "4-3:rleu"], "did you mean 'relu'"),
        (["derive", "4-5:softmax-3:softmax"], "output layer only"),
        (["derive", "4-3:softmax", "--l2", "x"], "l2 must be a non-negative number"),
        (["derive", "4-3:sigmoid", "--loss", "ce"], "needs a softmax output layer"),
        (["derive", "missing.toml"], "cannot read missing.toml"),
        (["derive"], "the following arguments are required"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, message):
    out = run(*args)
    assert out.returncode == 2
    assert message in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr


def test_subcommand_help_does_not_import_sympy():
    code = "import sys; from symfnn.cli import main\ntry: main(['derive', '--help'])\nexcept SystemExit: pass\nprint('sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.stdout.strip().endswith("False")


def test_failed_proof_exits_1(monkeypatch, capsys):
    import symfnn.verify as verify_module

    real = verify_module.verify

    def failing(d, **kw):
        report = real(d, points=1, symbolic=False)
        report.mismatches.append("d R / d w1_11: corrupted for the test")
        return report

    monkeypatch.setattr(verify_module, "verify", failing)
    assert main(["derive", "2-2:tanh-2:sigmoid", "--verify"]) == 1
    assert "verdict:    FAILED" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["check", "--script", "missing.py"], "no such script: missing.py"),
        (["check", "--script", "README.md"], "not a Python file"),
        (["derive", "3-2:softmax", "--tex", ".", "--force"], "is a folder"),
        (["generate", "3-2:softmax", "-o", "no/such/folder/train.py"], "does not exist"),
    ],
)
def test_bad_paths_are_one_line_exit_2(args, message, tmp_path):
    (tmp_path / "README.md").write_text("not a script\n")
    out = run(*args, cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert message in out.stderr and "Traceback" not in out.stderr
