"""The command line: output, exit codes, one-line errors, quick --help/--version."""

import errno
import os
import resource
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from symfnn.cli import main

ROOT = str(Path(__file__).resolve().parents[1])
CI = os.environ.get("CI", "").lower() == "true"


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
        "δ1 = ",  # its exact printing is the text printer's (test_document)
        "δ3 = a3 - y",
        "λ2 W1",
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
    import symfnn.engine.verify as verify_module

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
        (["check", "--script", "README.md"], "README.md"),
        (["derive", "3-2:softmax", "--tex", ".", "--force"], "is a folder"),
        (["generate", "3-2:softmax", "-o", "no/such/folder/train.py"], "does not exist"),
    ],
)
def test_bad_paths_are_one_line_exit_2(args, message, tmp_path):
    (tmp_path / "README.md").write_text("not a script\n")
    out = run(*args, cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert message in out.stderr and "Traceback" not in out.stderr


# -- issue 8: the success paths ------------------------------------------------------------


def test_generate_writes_an_importable_script(tmp_path, capsys):
    out = tmp_path / "train.py"
    assert main(["generate", "3-4:tanh-2:softmax", "-o", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert "def gradients(" in out.read_text() and "SPEC" in out.read_text()


def test_check_spec_passes(capsys):
    assert main(["check", "2-2:softmax", "--l2", "0.01"]) == 0
    assert capsys.readouterr().out.strip()


def test_data_writes_npz(tmp_path, capsys):
    import numpy as np

    out = tmp_path / "s.npz"
    assert main(["data", "spirals", "-o", str(out)]) == 0
    assert "spirals" in capsys.readouterr().out
    with np.load(out) as data:
        assert {"X_train", "y_train", "X_val", "y_val", "X_test", "y_test"} <= set(data.files)


def test_analyze_writes_its_outputs(tmp_path, monkeypatch, capsys):
    from dataclasses import replace

    from symfnn.flow import analyze as flow

    tiny = replace(
        flow.QUICK,
        chain_k=2,
        depth=2,
        width=4,
        probe=20,
        speed_depth=1,
        speed_width=4,
        epochs=1,
        clip_depth=1,
        clip_width=4,
        clip_epochs=1,
        samples=2,
    )
    monkeypatch.setattr(flow, "QUICK", tiny)
    out = tmp_path / "flow"
    assert main(["analyze", "64-4:sigmoid-10:softmax", "--quick", "--out", str(out)]) == 0
    assert (out / "flow.json").is_file() and (out / "report.md").is_file()


@pytest.mark.skipif(shutil.which("latexmk") is None and not CI, reason="no TeX toolchain")
def test_derive_writes_tex_and_pdf(tmp_path, capsys):
    tex, pdf = tmp_path / "d.tex", tmp_path / "d.pdf"
    assert main(["derive", "2-2:tanh-2:softmax", "--tex", str(tex), "--pdf", str(pdf)]) == 0
    assert tex.read_text().startswith(("%", "\\")) and pdf.read_bytes()[:5] == b"%PDF-"
    assert stat.S_IMODE(pdf.stat().st_mode) == 0o666 & ~_umask()


# -- issue 12: every fault one line, exit 2; writes atomic, umask, checked up front ----------


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old


def one_line_error(capsys, code, expected):
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("symfnn: error: ") and err.count("\n") == 1, err
    assert expected in err, err
    assert "Traceback" not in err
    return err


def _erofs_in(folder):
    """os.open raising EROFS for anything in `folder`: a read-only file system, even for root."""
    real = os.open

    def fake(path, *args, **kw):
        if str(path).startswith(str(folder)):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real(path, *args, **kw)

    return fake


def _commands(folder):
    return {
        "generate": ["generate", "3-2:softmax", "-o", str(folder / "t.py")],
        "derive --tex": ["derive", "3-2:softmax", "--tex", str(folder / "d.tex")],
        "data": ["data", "spirals", "-o", str(folder / "d.npz")],
        "analyze": ["analyze", "--quick", "--out", str(folder / "flow")],
    }


@pytest.mark.parametrize("command", ["generate", "derive --tex", "data", "analyze"])
def test_a_read_only_folder_is_one_line_before_any_work(command, tmp_path, monkeypatch, capsys):
    import symfnn.engine.derive

    monkeypatch.setattr(symfnn.engine.derive, "derive", _never)  # refused before the work
    monkeypatch.setattr(os, "open", _erofs_in(tmp_path))
    code = main(_commands(tmp_path)[command])
    monkeypatch.undo()
    one_line_error(capsys, code, "Read-only file system")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["generate", "derive --tex", "data"])
def test_a_full_disk_is_one_line_and_keeps_the_old_file(command, tmp_path, monkeypatch, capsys):
    from symfnn.script.runtime import safeio

    argv = _commands(tmp_path)[command] + ["--force"]
    target = Path(argv[argv.index("-o") + 1] if "-o" in argv else argv[3])
    target.write_bytes(b"old")

    def full(fd, data):
        os.write(fd, data[:10])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(safeio, "_write_all", full)
    one_line_error(capsys, main(argv), "No space left on device")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temporary left


def test_a_file_size_limit_is_one_line_and_keeps_the_old_file(tmp_path):
    # a real fault from the kernel (EFBIG), not a simulated one: works for root too
    target = tmp_path / "train.py"
    target.write_text("old\n")

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))

    out = run("generate", "3-2:softmax", "-o", str(target), "--force", preexec_fn=limit)
    assert out.returncode == 2 and "File too large" in out.stderr, out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["train.py"]


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o077])
def test_new_files_follow_the_umask(mask, tmp_path, capsys):
    old = os.umask(mask)
    try:
        assert main(["data", "regression", "-o", str(tmp_path / "d.npz")]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "d.npz").stat().st_mode) == 0o666 & ~mask


def test_a_replaced_file_keeps_its_permissions(tmp_path, capsys):
    target = tmp_path / "d.npz"
    target.write_bytes(b"old")
    target.chmod(0o640)
    assert main(["data", "regression", "-o", str(target), "--force"]) == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o640 and target.read_bytes() != b"old"


def test_same_file_for_tex_and_pdf_is_refused_up_front(tmp_path, monkeypatch, capsys):
    import symfnn.engine.derive

    monkeypatch.setattr(symfnn.engine.derive, "derive", _never)
    out = str(tmp_path / "same.out")
    code = main(["derive", "3-2:softmax", "--tex", out, "--pdf", out])
    one_line_error(capsys, code, "are the same file")
    assert not (tmp_path / "same.out").exists()


def test_missing_tex_is_said_before_the_analysis(monkeypatch, tmp_path, capsys):
    import symfnn.engine.derive
    import symfnn.flow.analyze

    real_which = shutil.which
    monkeypatch.setattr(symfnn.engine.derive, "derive", _never)
    monkeypatch.setattr(symfnn.flow.analyze, "analyze", _never)
    monkeypatch.setattr(shutil, "which", lambda t: None if "tex" in t else real_which(t))
    code = main(["derive", "3-2:softmax", "--pdf", str(tmp_path / "d.pdf"), "--flow"])
    one_line_error(capsys, code, "not found; install the TeX toolchain")


def test_analyze_without_matplotlib_says_so_up_front(monkeypatch, tmp_path, capsys):
    import symfnn.flow.analyze

    monkeypatch.setattr(symfnn.flow.analyze, "analyze", _never)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    code = main(["analyze", "--quick", "--out", str(tmp_path / "flow")])
    one_line_error(capsys, code, "needs matplotlib")
    assert not (tmp_path / "flow").exists()


def test_oversized_networks_are_refused_with_one_line(capsys):
    code = main(["generate", "4-1000000:relu-1000000:relu-3:softmax", "-o", "t.py"])
    one_line_error(capsys, code, "parameters; at most 1,000,000,000 are allowed")


def test_deep_networks_show_progress(tmp_path, capsys):
    spec = "2-" + "-".join(["2:tanh"] * 60) + "-2:softmax"
    assert main(["generate", spec, "-o", str(tmp_path / "t.py")]) == 0
    err = capsys.readouterr().err
    assert "deriving 61 layers" in err and "printing the script" in err


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["derive", '1-\n"'], "'\\n\"'"),
        (["generate", "3-2:softmax", "-o", "no\nsuch/t.py"], "'no\\nsuch/t.py'"),
        (["derive", "3-2:softmax", "--bogus\nflag"], "--bogus\\nflag"),
        (["data", "spi\nrals", "-o", "x.npz"], "'spi\\nrals'"),
    ],
)
def test_user_text_is_quoted_on_one_line(argv, expected, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own errors
        code = e.code
    one_line_error(capsys, code, expected)


def test_a_script_calling_sys_exit_is_one_line(tmp_path, capsys):
    script = tmp_path / "train.py"
    script.write_text("import sys\nsys.exit(7)\n")
    one_line_error(capsys, main(["check", "--script", str(script)]), "sys.exit(7)")


def test_check_help_says_the_script_runs(capsys):
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    assert "top-level" in capsys.readouterr().out


def _kill_at(where: str, tmp_path, *argv):
    """Run symfnn in a child that kill -9s itself at `where` (a function of symfnn)."""
    module, name = where.rsplit(".", 1)
    code = (
        "import os, signal, importlib, sys\n"
        f"m = importlib.import_module({module!r})\n"
        f"setattr(m, {name!r}, lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL))\n"
        "from symfnn.cli import main\n"
        f"main({list(argv)!r})\n"
    )
    env = dict(os.environ, PYTHONPATH=ROOT, TMPDIR=str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir(exist_ok=True)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, check=False)
    assert out.returncode == -9, out.stderr


def test_kill_9_between_write_and_rename_leaves_nothing_after_the_next_run(tmp_path, capsys):
    target = tmp_path / "out" / "d.npz"
    target.parent.mkdir()
    target.write_bytes(b"old")
    _kill_at("os.replace", tmp_path, "data", "spirals", "-o", str(target), "--force")
    assert target.read_bytes() == b"old"  # the old file, whole
    assert len(list(target.parent.iterdir())) == 2  # and the finished temporary beside it
    assert main(["data", "spirals", "-o", str(target), "--force"]) == 0
    assert [p.name for p in target.parent.iterdir()] == ["d.npz"]  # the next run removed it


def test_kill_9_while_writing_leaves_no_file(tmp_path):
    target = tmp_path / "out" / "d.npz"
    target.parent.mkdir()
    _kill_at(
        "symfnn.script.runtime.safeio._write_all", tmp_path, "data", "spirals", "-o", str(target)
    )
    leftovers = list(target.parent.iterdir())
    from symfnn.script.runtime import safeio

    fd, named = safeio._open_temp(target.parent, target.parent / ".probe")
    os.close(fd)
    if not named:  # Linux: the file had no name yet, so nothing can be left
        assert leftovers == []


@pytest.mark.skipif(shutil.which("latexmk") is None, reason="derive --pdf checks for TeX first")
def test_kill_9_during_a_pdf_build_leaves_no_work_folder(tmp_path):
    from symfnn import fileio

    _kill_at(
        "symfnn.documents.pdf.compile",
        tmp_path,
        "derive",
        "2-2:softmax",
        "--pdf",
        str(tmp_path / "d.pdf"),
    )
    left = list((tmp_path / "tmp").iterdir())
    assert len(left) == 1 and left[0].name.startswith("symfnn-pdf.")
    old = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(tmp_path / "tmp")
    import tempfile

    tempfile.tempdir = None
    try:
        with fileio.work_folder("pdf") as folder:
            assert list((tmp_path / "tmp").iterdir()) == [folder]  # the stale one is gone
    finally:
        if old is None:
            del os.environ["TMPDIR"]
        else:
            os.environ["TMPDIR"] = old
        tempfile.tempdir = None
    assert list((tmp_path / "tmp").iterdir()) == []


def _never(*args, **kw):
    raise AssertionError("the long work started before the inputs were checked")
