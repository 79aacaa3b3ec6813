"""Autoencoder: rows a small network trained on the data reconstructs badly are anomalous."""

from __future__ import annotations

import importlib.util
import itertools
import numbers
import warnings
from collections.abc import Sequence
from typing import ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from loghunt.detectors.base import Detector, Scores, score_in_chunks
from loghunt.detectors.registry import register
from loghunt.errors import ConfigError, MissingExtraError
from loghunt.index.graph import NeighborGraph

_BACKENDS = ("auto", "torch", "sklearn")

Matrix = NDArray[np.float64]


@register
class AutoEncoderDetector(Detector):
    """Reconstruction error of a fully connected autoencoder (as PyOD's ``AutoEncoder``).

    Columns are standardised; a mirrored network (``d -> 64 -> 32 -> 64 -> d`` by default,
    ReLU between layers, linear output) learns to reproduce the rows with Adam on the mean
    squared error. A row's score is the Euclidean distance between its standardised values
    and their reconstruction, as in PyOD. Unlike PyOD's, the network has no batch
    normalisation or dropout, so it is a plain stack of matrices: whichever backend trained
    it, the weights are kept as numpy arrays and every row is scored by numpy, which saves
    and loads without pickle and without torch.

    Training is on at most ``max_samples`` rows (a seeded sample; every row is scored), so its
    cost is bounded on large inputs. The backend is torch (CPU, seeded) when it is installed
    and ``backend="auto"``, else scikit-learn's ``MLPRegressor`` (same layers and optimiser;
    ``weight_decay`` becomes its L2 penalty ``alpha``).

    Parameters
    ----------
    hidden_neurons : sequence of int, default=(64, 32)
        Widths of the encoder's layers; the decoder mirrors them.
    epochs : int, default=10
        Passes over the training rows.
    batch_size : int, default=32
        Rows per optimiser step (at most the number of rows).
    learning_rate : float, default=1e-3
        Adam's step size.
    weight_decay : float, default=1e-5
        L2 penalty on the weights.
    max_samples : int, default=10000
        Rows the network trains on.
    backend : {"auto", "torch", "sklearn"}, default="auto"
        Who trains the network.
    random_state : int, default=0
        Seed of the initial weights, of the batch order and of the sample.

    Attributes
    ----------
    train_scores_ : ndarray of shape (n_samples,)
        Scores of the training rows.
    mean_, scale_ : ndarray of shape (n_features,)
        Standardisation of the columns (scale 1 for constant columns).
    layer_sizes_ : ndarray of shape (n_layers + 1,)
        Widths from input to output.
    coefs_ : ndarray of shape (n_parameters,)
        Every layer's weights (``in x out``, row-major) then bias, layer after layer.
    backend_ : str
        The backend that trained the network.
    n_features_in_ : int
        Number of columns seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(500, 4))
    >>> X[0] = 8.0
    >>> det = AutoEncoderDetector(hidden_neurons=(8, 2), backend="sklearn").fit(X)
    >>> int(np.argmax(det.train_scores_)), det.layer_sizes_.tolist()
    (0, [4, 8, 2, 8, 4])
    """

    name: ClassVar[str] = "autoencoder"
    fits_in_threads: ClassVar[bool] = False
    _fitted_attrs: ClassVar[tuple[str, ...]] = (
        "train_scores_",
        "n_features_in_",
        "mean_",
        "scale_",
        "layer_sizes_",
        "coefs_",
        "backend_",
    )

    mean_: Matrix
    scale_: Matrix
    layer_sizes_: NDArray[np.int64]
    coefs_: Matrix
    backend_: str

    def __init__(
        self,
        hidden_neurons: Sequence[int] = (64, 32),
        epochs: int = 10,
        batch_size: int = 32,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-5,
        max_samples: int = 10_000,
        backend: str = "auto",
        random_state: int = 0,
    ) -> None:
        self.hidden_neurons = hidden_neurons
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.max_samples = max_samples
        self.backend = backend
        self.random_state = random_state

    def fit(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Self:
        hidden = self._check_params()
        data = self._validate_fit(X)
        n, d = data.shape
        rng = np.random.default_rng(self.random_state)
        sample = data
        if n > self.max_samples:
            sample = data[np.sort(rng.choice(n, self.max_samples, replace=False))]
        self.mean_ = sample.mean(axis=0, dtype=np.float64)
        spread = sample.std(axis=0, dtype=np.float64)
        self.scale_ = np.where(spread > 1e-12, spread, 1.0)
        self.layer_sizes_ = np.array([d, *hidden, *hidden[-2::-1], d], dtype=np.int64)
        self.backend_ = _resolve_backend(self.backend)
        train = (sample - self.mean_) / self.scale_
        layers = (
            self._train_torch(train) if self.backend_ == "torch" else self._train_sklearn(train)
        )
        self.coefs_ = np.concatenate([part.ravel() for layer in layers for part in layer])
        self.n_features_in_ = d
        self.train_scores_ = score_in_chunks(data, self._score_block)
        return self

    def score(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Scores:
        return score_in_chunks(self._validate_score(X), self._score_block)

    def _check_params(self) -> list[int]:
        hidden = list(self.hidden_neurons) if isinstance(self.hidden_neurons, Sequence) else []
        if not hidden or not all(_positive_int(h) for h in hidden):
            raise ConfigError(
                f"hidden_neurons must be a non-empty list of positive integers, "
                f"got {self.hidden_neurons!r}"
            )
        for key in ("epochs", "batch_size", "max_samples"):
            if not _positive_int(getattr(self, key)):
                raise ConfigError(f"{key} must be a positive integer, got {getattr(self, key)!r}")
        if not self.learning_rate > 0 or not self.weight_decay >= 0:
            raise ConfigError("learning_rate must be > 0 and weight_decay >= 0")
        if self.backend not in _BACKENDS:
            raise ConfigError(f"unknown backend {self.backend!r}; choose one of {list(_BACKENDS)}")
        return [int(h) for h in hidden]

    def _layers(self) -> list[tuple[Matrix, Matrix]]:
        """(weights ``in x out``, bias) of each layer, cut out of ``coefs_``."""
        layers, start = [], 0
        sizes = [int(s) for s in self.layer_sizes_]
        for fan_in, fan_out in itertools.pairwise(sizes):
            stop = start + fan_in * fan_out
            weights = self.coefs_[start:stop].reshape(fan_in, fan_out)
            layers.append((weights, self.coefs_[stop : stop + fan_out]))
            start = stop + fan_out
        return layers

    def _score_block(self, block: NDArray[np.float32]) -> Scores:
        original = (block - self.mean_) / self.scale_
        hidden = original
        layers = self._layers()
        for i, (weights, bias) in enumerate(layers):
            hidden = hidden @ weights + bias
            if i < len(layers) - 1:
                np.maximum(hidden, 0.0, out=hidden)
        scores: Scores = np.linalg.norm(original - hidden, axis=1)
        return scores

    def _train_torch(self, train: Matrix) -> list[tuple[Matrix, Matrix]]:
        import torch

        sizes = [int(s) for s in self.layer_sizes_]
        # Steps on a few dozen rows of a 64-wide network are too small to share between threads:
        # torch's thread pool made them ~40x slower (measured, 600 rows, 2 busy cores).
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return self._torch_steps(train, sizes)
        finally:
            torch.set_num_threads(threads)

    def _torch_steps(self, train: Matrix, sizes: list[int]) -> list[tuple[Matrix, Matrix]]:
        import torch

        # A private generator stream: the global torch seed is left as the caller set it.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.random_state)
            modules: list[torch.nn.Module] = []
            for fan_in, fan_out in itertools.pairwise(sizes):
                modules += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
            model = torch.nn.Sequential(*modules[:-1])
            optimizer = torch.optim.Adam(
                model.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
            )
            rows = torch.from_numpy(train.astype(np.float32))
            batch = min(int(self.batch_size), len(rows))
            for _ in range(int(self.epochs)):
                order = torch.randperm(len(rows))
                for start in range(0, len(rows), batch):
                    chunk = rows[order[start : start + batch]]
                    optimizer.zero_grad()
                    loss = torch.nn.functional.mse_loss(model(chunk), chunk)
                    loss.backward()  # type: ignore[no-untyped-call]
                    optimizer.step()
        linear = [m for m in model if isinstance(m, torch.nn.Linear)]
        return [
            (
                m.weight.detach().numpy().T.astype(np.float64),
                m.bias.detach().numpy().astype(np.float64),
            )
            for m in linear
        ]

    def _train_sklearn(self, train: Matrix) -> list[tuple[Matrix, Matrix]]:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPRegressor

        model = MLPRegressor(
            hidden_layer_sizes=tuple(int(s) for s in self.layer_sizes_[1:-1]),
            activation="relu",
            solver="adam",
            alpha=self.weight_decay,
            batch_size=min(int(self.batch_size), len(train)),
            learning_rate_init=self.learning_rate,
            max_iter=int(self.epochs),
            shuffle=True,
            random_state=self.random_state,
            n_iter_no_change=int(self.epochs) + 1,
        )
        with warnings.catch_warnings():
            # A fixed, small number of epochs is the point; "not converged" is expected.
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(train, train)
        return [
            (np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64))
            for w, b in zip(model.coefs_, model.intercepts_, strict=True)
        ]


def _positive_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and int(value) >= 1


def _has_torch() -> bool:
    return importlib.util.find_spec("torch") is not None


def _resolve_backend(backend: str) -> str:
    has_torch = _has_torch()
    if backend == "torch" and not has_torch:
        raise MissingExtraError("torch", "embed")
    if backend == "auto":
        return "torch" if has_torch else "sklearn"
    return backend
