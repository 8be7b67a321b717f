"""The training hyper-parameters: defaults, a spec's [training] over them, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from symfnn.engine import hyper
from symfnn.engine.spec import parse
from symfnn.errors import SpecError

NET = '[[layers]]\nwidth = 5\nactivation = "relu"\n[[layers]]\nwidth = 3\nactivation = "softmax"\n'


def toml(tmp_path, training: str):
    path = tmp_path / "net.toml"
    path.write_text(f"input = 4\n{NET}[training]\n{training}\n", encoding="utf-8")
    return path


def test_defaults_are_the_generated_scripts():
    hp = hyper.resolve(parse("4-5:relu-3:softmax"))
    assert list(hp) == list(hyper.TABLE)
    assert hp["epochs"] == 50 and hp["batch_size"] == 32 and hp["patience"] == 10
    assert hp["optimizer"] == "adam" and hp["lr"] is None and hyper.learning_rate(hp) == 0.003
    assert hp["init"] == "he" and hp["dtype"] == "float32" and hp["seed"] == 0
    assert hyper.resolve(parse("4-5:sigmoid-3:softmax"))["init"] == "xavier"
    assert hyper.resolve(parse("4-3:relu"))["init"] == "xavier"  # no hidden layer


def test_training_table_overrides_the_defaults(tmp_path):
    path = toml(tmp_path, 'epochs = 7\nbatch_size = 16\nlr = 1\noptimizer = "sgd"\ninit = "normal"')
    hp = hyper.resolve(parse(str(path)))
    assert (hp["epochs"], hp["batch_size"], hp["optimizer"], hp["init"]) == (7, 16, "sgd", "normal")
    assert hp["lr"] == 1.0 and isinstance(hp["lr"], float) and hyper.learning_rate(hp) == 1.0
    path = toml(tmp_path, 'optimizer = "momentum"\nclip_norm = 5\nval_split = 0.1\npatience = 0')
    hp = hyper.resolve(parse(str(path)))
    assert hyper.learning_rate(hp) == 0.05 and hp["clip_norm"] == 5.0 and hp["patience"] == 0


@pytest.mark.parametrize(
    "training, message",
    [
        ("epoch = 3", "unknown key 'epoch'; did you mean 'epochs'?"),
        ("learningrate = 0.1", "unknown key 'learningrate'"),
        ("l2 = 0.1", "'l2' is a top-level key of the spec"),
        ('epochs = "30"', "[training] epochs must be a whole number, got '30'"),
        ("epochs = 2.5", "[training] epochs must be a whole number, got 2.5"),
        ("epochs = true", "[training] epochs must be a whole number, got True"),
        ("epochs = 0", "[training] epochs must be at least 1, got 0"),
        ("batch_size = -4", "[training] batch_size must be at least 1, got -4"),
        ("patience = -1", "[training] patience must be at least 0, got -1"),
        ("lr = -0.1", "[training] lr must be positive, got -0.1"),
        ("lr = 0", "[training] lr must be positive, got 0"),
        ("lr = nan", "[training] lr must be finite"),
        ('lr = "fast"', "[training] lr must be a number, got 'fast'"),
        ('optimizer = "rmsprop"', "[training] optimizer must be one of sgd, momentum, adam"),
        ('init = "zeros"', "[training] init must be one of normal, xavier, he; got 'zeros'"),
        ('dtype = "float16"', "[training] dtype must be one of float32, float64"),
        ("val_split = 1", "[training] val_split must be below 1, got 1"),
        ("clip_value = -1.0", "[training] clip_value must be positive"),
    ],
)
def test_bad_training_is_one_line(tmp_path, training, message):
    path = toml(tmp_path, training)
    with pytest.raises(SpecError) as e:
        parse(str(path))
    text = str(e.value)
    assert "\n" not in text and text.startswith(f"{path}: ") and message in text, text


def test_derive_exits_2_on_one_line(tmp_path):
    path = toml(tmp_path, "epoch = 3")
    run = subprocess.run(
        [sys.executable, "-m", "symfnn", "derive", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 2 and run.stdout == ""
    assert len(run.stderr.strip().splitlines()) == 1 and "did you mean 'epochs'?" in run.stderr


def test_document_algorithm_shows_the_resolved_values(tmp_path):
    from symfnn.documents import document
    from symfnn.engine.derive import derive
    from symfnn.script import codegen

    path = toml(
        tmp_path, 'epochs = 30\nbatch_size = 64\nlr = 0.01\noptimizer = "sgd"\npatience = 5'
    )
    tex = document.tex_source(derive(parse(str(path))), report=_report())
    line = next(t for t in tex.splitlines() if t.startswith("\\Require"))
    assert r"$\alpha = 0.01$" in line and "sgd}" in line
    assert "batch size 64, patience 5, at most 30 epochs" in line
    assert "not decreased for 5 epochs, or 30 epochs have run" in tex
    script = codegen.load(derive(parse(str(path))))  # the same values, from the same resolve
    assert {k: script.TRAINING[k] for k in ("epochs", "batch_size", "lr", "patience")} == {
        "epochs": 30,
        "batch_size": 64,
        "lr": 0.01,
        "patience": 5,
    }
    default = document.tex_source(derive(parse("4-5:relu-3:softmax")), report=_report())
    assert r"$\alpha = 0.003$" in default and "adam}" in default
    assert "batch size 32, patience 10, at most 50 epochs" in default


def test_the_algorithm_box_states_the_scripts_divergence_stop(tmp_path):
    """The box's stopping rule has the script's (runtime.loop.fit) factor of the loss at the
    start from the same [training] value, and none when it is off (0)."""
    from symfnn.documents import document
    from symfnn.engine.derive import derive

    for text, clause in (
        ("diverging = 4.5", "or the loss is over 4.5 times its value at the start"),
        ("", "or the loss is over 10 times its value at the start"),
        ("diverging = 0", None),
    ):
        spec = parse(str(toml(tmp_path, f"epochs = 30\n{text}")))
        tex = document.tex_source(derive(spec), report=_report())
        (until,) = [t for t in tex.splitlines() if t.startswith("\\Until")]
        assert (clause in until) if clause else ("loss" not in until), until
        zh = document.tex_source(derive(spec), report=_report(), lang="zh")
        (until,) = [t for t in zh.splitlines() if t.startswith("\\Until")]
        factor = hyper.resolve(spec)["diverging"]
        assert (f"损失超过起始值的 {factor:g} 倍" in until) == bool(factor), until


def _report():
    """A proof report of a proven network (these tests read the algorithm box only)."""
    from symfnn.engine.verify import DONE, Report

    report = Report(
        parse("2-2:softmax"), samples=1, partials=1, points=1, worst=1e-60, symbolic=DONE[0]
    )
    assert report.verdict == "PROVEN"
    return report
