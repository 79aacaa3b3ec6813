from __future__ import annotations

from loghunt.synth import catalog
from loghunt.synth import org as O


def test_organisation_is_deterministic_and_complete() -> None:
    a = O.make_org(seed=4, n_users=40, days=7)
    b = O.make_org(seed=4, n_users=40, days=7)
    assert a.principals == b.principals and a.user_agents == b.user_agents
    assert {p.role for p in a.humans()} == set(O.ROLES)
    kinds = {p.kind for p in a.principals}
    assert {O.HUMAN, O.CI, O.LAMBDA, O.MONITOR, O.AUDIT, O.AWS_SERVICE, O.HIDDEN} <= kinds
    assert len({p.name for p in a.humans()}) == 40
    assert O.make_org(seed=5, n_users=40, days=7).principals != a.principals


def test_vocabularies_are_valid_and_skewed_to_reads() -> None:
    org = O.make_org(seed=1, n_users=30, days=7)
    for habits in org.habits:
        if len(habits.vocab_ids):
            assert abs(habits.vocab_p.sum() - 1) < 1e-9
            assert habits.vocab_ids.max() < len(catalog.APIS)
    dev = next(p for p in org.humans(("developer",)))
    habits = org.habits[dev.index]
    reads = catalog.API_READ_ONLY[habits.vocab_ids]
    assert habits.vocab_p[reads].sum() > 0.8
    assert len(catalog.APIS) >= 300 and len(catalog.SERVICES) >= 50
