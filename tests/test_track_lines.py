"""Track lines built from columns: the same values as one struct at a time."""

from __future__ import annotations

import numpy as np

from skywarden.pipeline import round4


def test_round4_is_pythons_round_even_at_halves():
    rng = np.random.default_rng(5)
    p = np.concatenate(
        [
            rng.random(200_000),
            rng.random(20_000) ** 9,  # tiny values
            (np.arange(20_000) + 0.5) / 1e4,  # 0.xxxx5: where scaling and rint disagree
            [0.0, 1.0, 0.00005, 0.99995, 0.12345, 0.5],
        ]
    ).reshape(-1, 2)
    got = round4(p)
    want = [[round(float(v), 4) for v in row] for row in p]
    assert got == want
    # Plain np.round would not do: it differs on some of the halves.
    assert np.round(p, 4).tolist() != want
