"""Checks to run before trusting embeddings: cluster structure, stability, neighbour agreement.

As the source series does before it uses an embedding space: are there clusters at all
(silhouette, Davies-Bouldin on k-means), does a lightly corrupted event stay where it was
(perturbation stability), and do the embedding's neighbours agree with the feature space's
(neighbour consistency)? Computed on a sample; cheap next to training.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.cluster import KMeans
from sklearn.metrics import davies_bouldin_score, silhouette_score

from loghunt.errors import ConfigError
from loghunt.index._validation import check_matrix
from loghunt.index.neighbors import NeighborIndex

if TYPE_CHECKING:
    from loghunt.embed.embedder import Embedder

Float32s = NDArray[np.float32]


@dataclass(frozen=True)
class EmbeddingChecks:
    """What the checks found, on ``n_rows`` sampled events.

    Attributes
    ----------
    silhouette, davies_bouldin : float
        Of k-means (``n_clusters``) on the embeddings: silhouette in [-1, 1], higher is
        better separated; Davies-Bouldin >= 0, lower is better. NaN when there is one cluster.
    feature_silhouette, feature_davies_bouldin : float
        The same on the feature matrix, for comparison.
    perturbation_cosine, perturbation_cosine_p05 : float
        Mean and 5th percentile of the cosine between an event's embedding and that of a
        lightly corrupted copy (noise 0.05 on scaled numerics, 5 % of categories swapped).
    neighbour_overlap : float
        Share of each event's ``k`` embedding-space neighbours that are also within its ``k``
        nearest in feature space (ties count, so duplicated events do not lower it).
    neighbour_overlap_chance : float
        The same share for random events: what no agreement at all would give.
    perturbed_neighbour_overlap : float
        Share of the corrupted copy's ``k`` neighbours (among corrupted copies) within the
        event's own ``k`` nearest embeddings.
    """

    n_rows: int
    dim: int
    n_clusters: int
    k: int
    silhouette: float
    davies_bouldin: float
    feature_silhouette: float
    feature_davies_bouldin: float
    perturbation_cosine: float
    perturbation_cosine_p05: float
    neighbour_overlap: float
    neighbour_overlap_chance: float
    perturbed_neighbour_overlap: float

    def to_dict(self) -> dict[str, Any]:
        """Plain values; NaN becomes None (JSON has no NaN)."""
        return {
            k: (None if isinstance(v, float) and np.isnan(v) else v)
            for k, v in asdict(self).items()
        }

    def write_json(self, path: str | os.PathLike[str]) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")


def check_embeddings(
    embedder: Embedder,
    X: ArrayLike,
    categories: Any = None,
    embeddings: ArrayLike | None = None,
    sample_size: int = 5_000,
    n_clusters: int = 8,
    k: int = 10,
    random_state: int = 0,
) -> EmbeddingChecks:
    """Run every check on a sample of the rows of ``X`` (and ``categories``).

    ``embeddings`` are ``embedder.transform(X, categories)`` when already computed.

    Examples
    --------
    >>> import numpy as np
    >>> from loghunt.embed import Embedder
    >>> X = np.random.default_rng(0).normal(size=(80, 4)).astype("float32")
    >>> emb = Embedder(dim=8, max_epochs=1, batch_size=40).fit(X)
    >>> checks = check_embeddings(emb, X, n_clusters=3, k=5)
    >>> 0.0 <= checks.neighbour_overlap <= 1.0
    True
    """
    data = check_matrix(X)
    n = data.shape[0]
    if n < 3:
        raise ConfigError(f"need at least 3 rows to check embeddings, got {n}")
    rng = np.random.default_rng(random_state)
    rows = np.sort(rng.choice(n, min(n, sample_size), replace=False))
    cats = None if categories is None else categories[rows]
    feats = data[rows]
    emb = embedder.transform(feats, cats) if embeddings is None else check_matrix(embeddings)[rows]
    moved = embedder.transform_corrupted(feats, cats, random_state=random_state)
    k_used = max(1, min(k, len(rows) - 1))
    clusters = max(2, min(n_clusters, len(rows) - 1))
    sil, db = _clustering(emb, clusters, random_state)
    f_sil, f_db = _clustering(feats, clusters, random_state)
    cos = _row_cosine(emb, moved)
    emb_graph = NeighborIndex(method="exact").fit(emb).self_graph(k_used)
    feat_graph = NeighborIndex(method="exact").fit(feats).self_graph(k_used)
    moved_graph = NeighborIndex(method="exact").fit(moved).self_graph(k_used)
    random_nb = _random_neighbours(len(rows), k_used, rng)
    return EmbeddingChecks(
        n_rows=len(rows),
        dim=emb.shape[1],
        n_clusters=clusters,
        k=k_used,
        silhouette=sil,
        davies_bouldin=db,
        feature_silhouette=f_sil,
        feature_davies_bouldin=f_db,
        perturbation_cosine=float(cos.mean()),
        perturbation_cosine_p05=float(np.quantile(cos, 0.05)),
        neighbour_overlap=_within_radius(feats, emb_graph.indices, feat_graph.distances),
        neighbour_overlap_chance=_within_radius(feats, random_nb, feat_graph.distances),
        perturbed_neighbour_overlap=_within_radius(emb, moved_graph.indices, emb_graph.distances),
    )


def _clustering(M: Float32s, n_clusters: int, seed: int) -> tuple[float, float]:
    labels = KMeans(n_clusters=n_clusters, n_init=3, random_state=seed).fit_predict(M)
    if len(np.unique(labels)) < 2:
        return float("nan"), float("nan")
    return float(silhouette_score(M, labels)), float(davies_bouldin_score(M, labels))


def _row_cosine(a: Float32s, b: Float32s) -> NDArray[np.float64]:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    norms = np.linalg.norm(a64, axis=1) * np.linalg.norm(b64, axis=1)
    dots = np.einsum("ij,ij->i", a64, b64)
    out: NDArray[np.float64] = np.divide(dots, norms, out=np.ones_like(dots), where=norms > 0)
    return out


def _within_radius(space: Float32s, neighbours: NDArray[np.int64], radius: Float32s) -> float:
    """Share of ``neighbours[i]`` no farther from row ``i`` in ``space`` than its k-th nearest."""
    diffs = space[neighbours] - space[:, None, :]
    dist = np.sqrt(np.einsum("ijk,ijk->ij", diffs, diffs))
    kth = radius[:, -1:].astype(np.float64)
    return float((dist <= kth + 1e-5 * np.maximum(kth, 1.0)).mean())


def _random_neighbours(n: int, k: int, rng: np.random.Generator) -> NDArray[np.int64]:
    """``k`` random other rows per row."""
    picks = rng.integers(0, n - 1, size=(n, k))
    return (picks + (picks >= np.arange(n)[:, None])).astype(np.int64)
