"""The bn proof on a covering instance (verify_bn + cover_bn): a deep network's links are the
instance's renamed, and neither the reuse nor the staged numeric part can hide a wrong step."""

import random
import re
from dataclasses import replace

import mpmath
import pytest
import sympy as sp

from symfnn.engine import batchnorm, verify_bn
from symfnn.engine.cover import instance_spec
from symfnn.engine.cover_bn import (
    compared_layers,
    cover_normalised,
    link_image,
    repeated_links,
)
from symfnn.engine.derive import derive
from symfnn.engine.spec import parse
from symfnn.engine.verify import verify

THREE_BN = "3-2:tanh:bn-2:tanh:bn-2:tanh:bn-2:identity"  # layers 2 and 3: one type
TWO_BN = "3-4:tanh:bn-4:sigmoid:bn-2:identity"  # no pair of layer types repeats


def _with_layer(d, l: int, step_label: str, corrupt):
    """`d` with layer l's backward step `step_label` replaced by corrupt(step)."""
    layer = d.layers[l - 1]
    backward = tuple(corrupt(s) if s.label == step_label else s for s in layer.norm.backward)
    assert backward != layer.norm.backward
    layer = replace(layer, norm=replace(layer.norm, backward=backward), delta=backward[-1])
    return replace(d, layers=(*d.layers[: l - 1], layer, *d.layers[l:]))


def _no_one_over_n(d, l: int):
    """Layer l's compact δ without its 1/N (a bug in that layer only)."""
    return _with_layer(d, l, f"delta-{l}", lambda s: replace(s, batch=batchnorm.N * s.batch))


def test_the_cover_counts_bn_and_dropout_in_a_layers_type():
    """tanh:bn, tanh and tanh:dropout are different layers: none stands for another (by
    activation alone the instance would be tanh, tanh, identity)."""
    spec = parse("3-2:tanh:bn-2:tanh-2:tanh-2:tanh:bn-2:tanh:bn-2:tanh:dropout=0.5-2:identity")
    c = cover_normalised(spec)
    kinds = lambda s: [x.compact.split(":", 1)[1] for x in s.layers]
    small = kinds(instance_spec(c))
    assert small == [
        "tanh:bn",
        "tanh",
        "tanh",
        "tanh:bn",
        "tanh:bn",
        "tanh:dropout=0.5",
        "identity",
    ]
    deep = kinds(spec)
    for l, k in enumerate(c.image, start=1):  # each layer stands for one of its own type
        assert deep[l - 1] == small[k - 1]
    for l, j in enumerate(link_image(c)[1:-1], start=1):  # each link for one of its pair
        assert (deep[l - 1], deep[l]) == (small[j - 1], small[j])
    # a repeated pair is covered once: tanh:bn>tanh:bn twice -> one link of the instance
    c = cover_normalised(parse("3-2:tanh:bn-2:tanh:bn-2:tanh:bn-2:tanh:bn-2:identity"))
    assert kinds(instance_spec(c)) == ["tanh:bn", "tanh:bn", "identity"]


def test_a_deep_network_is_proven_on_its_instance_with_the_reuse_said():
    """Three bn layers of one type: layer 3 and link 2 reuse the instance's layer and link 1
    renamed; the report says which, and the proof is PROVEN."""
    d = derive(parse(THREE_BN, loss="squared_error"))
    c = cover_normalised(d.spec)
    assert c.image == (1, 2, 2, 3) and link_image(c) == (0, 1, 1, 2, 3)
    assert (3, 2) in compared_layers(c) and (2, 1) in compared_layers(c)  # layer 3 in both
    report = verify(d)
    assert report.proven, report.lines()
    assert report.instance.compact == "2-2:tanh:bn-2:tanh:bn-2:identity"
    assert "network links -> instance links 0 -> 0, 1, 2 -> 1, 3 -> 2, 4 -> 3" in report.renaming
    assert report.links == 4  # the instance's links, each proven


@pytest.mark.parametrize("l", [2, 3])
def test_a_wrong_step_in_one_layer_fails_whether_it_stands_for_others_or_is_reused(l):
    """A missing 1/N in layer 3 only (a layer the proof reuses, renamed from layer 2), or in
    layer 2 only (the one that stands for it): FAILED either way, naming the layer."""
    d = _no_one_over_n(derive(parse(THREE_BN, loss="squared_error")), l)
    status = verify_bn._symbolic(d, width=1)
    assert status.startswith("FAILED: delta-"), status
    if l == 3:  # not the instance's: found by the renaming, not hidden by it
        assert status.startswith("FAILED: delta-3 is not instance layer 2's delta-2"), status
    report = verify(d)
    assert report.verdict == "FAILED", report.lines()


def test_the_staged_brute_force_equals_finite_differences_of_the_whole_risk():
    """brute_force_partials (reverse accumulation over the definitions' stages) against a
    central difference of the unstaged risk at 60 digits, for every parameter."""
    spec = instance_spec(cover_normalised(parse(TWO_BN, loss="squared_error", l2=0.01)), 2)
    rng = random.Random(3)
    inst = verify_bn.Instance(spec, 3, rng)
    point = verify_bn.random_point(inst, rng, verify_bn.DIGITS)
    risk = verify_bn.brute_force_risk(inst)
    h = sp.Float("1e-20", verify_bn.DIGITS)
    with mpmath.workdps(verify_bn.DIGITS):
        staged = verify_bn.brute_force_partials(inst, point)
        for w, got in zip(inst.parameters, staged):
            at = lambda v, w=w: verify_bn._mpf(risk.xreplace(point | {w: point[w] + v}))
            central = (at(h) - at(-h)) / (2 * verify_bn._mpf(h))
            assert abs(got - central) < mpmath.mpf("1e-30") * max(1, abs(central)), w


def test_the_numeric_part_alone_finds_a_wrong_step():
    """Without the symbolic part a missing 1/N in layer 2's δ shows in the partials of
    layer 1's parameters (their error comes through it)."""
    d = _no_one_over_n(derive(parse(TWO_BN, loss="squared_error")), 2)
    report = verify(d, symbolic=False, points=1)
    assert report.verdict == "FAILED" and report.mismatches, report.lines()
    assert all(m.startswith("d R / d ") for m in report.mismatches)
    assert any("w1_" in m for m in report.mismatches) and not any(
        "w3_" in m for m in report.mismatches
    )


ALTERNATING = "3-2:tanh:bn-2:sigmoid:bn-2:tanh:bn-2:sigmoid:bn-2:identity"  # the walk repeats


def test_a_link_the_cover_walks_twice_is_proven_once_and_only_when_it_is_the_same():
    """tanh:bn>sigmoid:bn is the instance's link 1 and, to reach the output, link 3 again:
    proven once, link 3 reused renamed — unless its layers differ, then it is not reused."""
    d = derive(parse(ALTERNATING, loss="squared_error"))
    small = instance_spec(cover_normalised(d.spec), 1)  # the network is its own instance
    assert small.compact == "1-1:tanh:bn-1:sigmoid:bn-1:tanh:bn-1:sigmoid:bn-1:identity"
    assert repeated_links(d) == {3: 1}
    status = verify_bn._symbolic(d, width=1)
    assert status.startswith("difference = 0 for all"), status
    said = r"all (\d+) partials .*\((\d+) by cancel.*, (\d+) by renaming links 3 to links 1 "
    total, proven, renamed = map(int, re.search(said, status).groups())
    n, m = 3, 1  # link 3 holds what link 1 does: δ (n×m), γ, β, W(j+1) (m×m), no b (bn)
    assert renamed == n * m + 2 * m + m * m and proven + renamed == total
    for l in (3, 4):  # a layer of the repeated link differs: not reused
        assert 3 not in repeated_links(_no_one_over_n(d, l))
