"""Batch normalisation and dropout (issue 11): the stages not built yet refuse, in one line."""

import pytest

from symfnn import api
from symfnn.cli import main
from symfnn.errors import SpecError

BN = "4-5:tanh:bn-3:softmax"
DROP = "5-6:elu:dropout=0.3-3:softmax"


@pytest.mark.parametrize(
    "argv, output",
    [
        (["generate", BN, "-o", "{tmp}/train.py"], "not yet generated as a training script"),
        (["derive", DROP, "--tex", "{tmp}/d.tex"], "not yet documented"),
        (["derive", BN, "--html", "{tmp}/d.html"], "not yet documented"),
        (["check", BN], "not yet generated as a training script or checked"),
        (["analyze", DROP, "--quick", "--out", "{tmp}/flow"], "not yet analysed"),
    ],
)
def test_unfinished_outputs_refuse_in_one_line(argv, output, tmp_path, capsys):
    argv = [a.format(tmp=tmp_path) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert output in err and "batch normalisation and dropout are" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_plain_specs_are_not_refused():
    from symfnn.pending import refuse

    refuse(api.load_spec("4-5:tanh-3:softmax"), "documented")  # no error
    with pytest.raises(SpecError, match="not yet documented: 4-5:tanh:bn-3:softmax"):
        refuse(api.load_spec(BN), "documented")
