"""Derivation time against depth: it must grow linearly (derive per layer type, then rename).

    python benchmarks/derive_depth.py

Each depth runs in a fresh process, so no cache is shared between rows. Prints a table of
seconds, seconds per layer, and the ratio of each row's per-layer time to the depth-10 row.
"""

from __future__ import annotations

import subprocess
import sys

DEPTHS = (2, 10, 50, 200)
ONE_RUN = """
import time
from symfnn.engine.spec import parse
from symfnn.engine.derive import derive
hidden = "-".join(["16:tanh", "16:relu", "16:sigmoid"] * {depth})
spec = parse("8-" + "-".join(hidden.split("-")[: {depth} - 1] + ["4:softmax"]), l2=0.01)
t = time.perf_counter()
derive(spec)
print(time.perf_counter() - t)
"""


def seconds(depth: int) -> float:
    code = ONE_RUN.format(depth=depth)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main() -> None:
    rows = [(depth, seconds(depth)) for depth in DEPTHS]
    per_layer_10 = dict(rows)[10] / 10
    print(f"{'depth':>6} {'seconds':>9} {'s/layer':>9} {'vs depth 10':>12}")
    for depth, s in rows:
        print(f"{depth:>6} {s:>9.2f} {s / depth:>9.4f} {s / depth / per_layer_10:>11.2f}x")


if __name__ == "__main__":
    main()
