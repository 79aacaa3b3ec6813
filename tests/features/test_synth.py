"""A bigger run on the scenario generator's CloudTrail table, when the generator exists."""

from __future__ import annotations

import numpy as np
import pytest

from loghunt.features import Featurizer


def test_featurize_a_generated_cloudtrail_table() -> None:
    synth = pytest.importorskip("loghunt.synth")
    generate = getattr(synth, "generate_cloudtrail_table", None)
    if generate is None:
        pytest.skip("loghunt.synth.generate_cloudtrail_table is not there yet")
    table = generate(5000, 0)
    labels = [c for c in table.columns if any(k in c.lower() for k in ("label", "attack"))]
    fz = Featurizer(exclude=labels).fit(table)
    X = fz.transform(table)
    assert X.dtype == np.float32 and X.shape == (table.height, len(fz.feature_names_))
    assert np.isfinite(X).all()
    assert fz.roles_.user is not None and fz.roles_.time is not None
    assert any(n.startswith("pair_rarity:") for n in fz.feature_names_)
