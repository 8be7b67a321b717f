"""What the fuzz tests share: how many cases a run makes, and a tally of their outcomes.

`make test` runs each category's default count, the same cases every time;
`SYMFNN_FUZZ=N` runs N per category (slow categories take a share) and prints the tallies.
"""

import collections
import os

from hypothesis import HealthCheck, settings

N = int(os.environ.get("SYMFNN_FUZZ", "0") or 0)
TALLY: collections.Counter = collections.Counter()


def fuzz(default: int, share: float = 1.0):
    """`default` cases, or under SYMFNN_FUZZ=N, N·share."""
    return settings(
        max_examples=max(default, int(N * share)) if N else default,
        deadline=None,
        derandomize=not N,  # the default run is the same every time; SYMFNN_FUZZ explores
        database=None,
        suppress_health_check=list(HealthCheck),
    )


def print_tallies(title: str) -> None:
    if N:
        print(f"\n{title}:", dict(sorted(TALLY.items())))
