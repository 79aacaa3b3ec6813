"""The Embedder: fit a TabularResNet on events without labels, then embed events with it."""

from __future__ import annotations

import inspect
import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import ArrayLike, NDArray
from rich.console import Console

from loghunt.embed.encoding import FieldCodes, NumericScaler, encode_categories
from loghunt.embed.model import Architecture, PretrainHeads, TabularResNet
from loghunt.embed.train import Batch, TrainConfig, TrainHistory, corrupt, train
from loghunt.errors import ConfigError, MissingExtraError, NotFittedError
from loghunt.index._validation import check_matrix

try:
    import torch
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise MissingExtraError("torch", "embed") from exc

STATE_FORMAT = "loghunt.embedder"
STATE_VERSION = 1
_MODEL_PREFIX = "model."
_EMBED_BATCH = 8_192
_MIN_ROWS = 4
_MAX_VAL_ROWS = 10_000
_MIN_VAL_ROWS = 8


class Embedder:
    """Learn event embeddings without labels: a self-supervised TabularResNet.

    Inputs are the Featurizer's numeric matrix ``X`` and, optionally, the raw values of
    categorical fields (one embedding table each; see :class:`~.encoding.FieldCodes`).
    Training corrupts every batch twice and learns to match the two views (NT-Xent) and to
    recover masked features; see :mod:`loghunt.embed.train`. Results are deterministic for a
    given ``random_state``, device and ``n_threads``.

    Parameters
    ----------
    dim : int, default=64
        Embedding size.
    n_blocks : int, default=2
        Residual blocks.
    hidden : int, optional
        Width inside each block; default ``2 * dim``.
    dropout : float, default=0.1
    max_categories : int, default=1000
        Values per field with their own embedding; fields with more distinct values hash
        the rest into ``n_hash_buckets`` buckets.
    n_hash_buckets : int, default=256
    min_count : int, default=2
        Values seen fewer times share the UNKNOWN slot with values never seen.
    max_epochs, batch_size, learning_rate, weight_decay, noise, swap_prob, mask_prob,
    temperature, mask_weight, patience
        Training settings: see :class:`~.train.TrainConfig`.
    validation_fraction : float, default=0.1
        Share of the training rows (at most 10,000) held out for early stopping.
    max_train_rows : int, default=200_000
        Larger inputs are trained on a random sample of this size (all rows are embedded).
    device : str, default="auto"
        ``"cpu"``, ``"cuda"`` or ``"auto"`` (CUDA when available).
    n_threads : int or None, default=1
        CPU threads torch uses; None for every core this process may run on. One by default:
        batches of a few hundred rows gain little from threads, and on a busy 2-core machine
        two OpenMP threads made a training step 9-50x slower (measured; they spin-wait for
        each other when the cores are taken) and embedding 4-7x slower.
    random_state : int, default=0
    progress : bool, optional
        Show a progress bar with the loss; by default only when stderr is a terminal.

    Attributes
    ----------
    model_ : TabularResNet
    codes_ : list of FieldCodes
        One per categorical field, in ``fields_`` order.
    fields_ : list of str
    scaler_ : NumericScaler
    architecture_ : Architecture
    history_ : TrainHistory
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np, polars as pl
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(64, 5)).astype("float32")
    >>> cats = pl.DataFrame({"user": rng.choice(["a", "b", "c"], 64).tolist()})
    >>> emb = Embedder(dim=16, max_epochs=1, batch_size=32).fit(X, cats)
    >>> emb.transform(X, cats).shape
    (64, 16)
    """

    def __init__(
        self,
        dim: int = 64,
        n_blocks: int = 2,
        hidden: int | None = None,
        dropout: float = 0.1,
        max_categories: int = 1000,
        n_hash_buckets: int = 256,
        min_count: int = 2,
        max_epochs: int = 10,
        batch_size: int = 512,
        learning_rate: float = 2e-3,
        weight_decay: float = 1e-4,
        noise: float = 0.05,
        swap_prob: float = 0.05,
        mask_prob: float = 0.15,
        temperature: float = 0.5,
        mask_weight: float = 10.0,
        patience: int = 2,
        validation_fraction: float = 0.1,
        max_train_rows: int = 200_000,
        device: str = "auto",
        n_threads: int | None = 1,
        random_state: int = 0,
        progress: bool | None = None,
    ) -> None:
        self.dim = dim
        self.n_blocks = n_blocks
        self.hidden = hidden
        self.dropout = dropout
        self.max_categories = max_categories
        self.n_hash_buckets = n_hash_buckets
        self.min_count = min_count
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.noise = noise
        self.swap_prob = swap_prob
        self.mask_prob = mask_prob
        self.temperature = temperature
        self.mask_weight = mask_weight
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.max_train_rows = max_train_rows
        self.device = device
        self.n_threads = n_threads
        self.random_state = random_state
        self.progress = progress

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, X: ArrayLike, categories: Any = None) -> Embedder:
        """Train on feature rows ``X`` and the matching rows of categorical ``categories``.

        ``categories`` is a polars (or pandas) DataFrame of raw categorical columns, or None;
        every column of it becomes a field.
        """
        self._check_params()
        data = check_matrix(X)
        n = data.shape[0]
        if n < _MIN_ROWS:
            raise ConfigError(f"need at least {_MIN_ROWS} rows to train an embedder, got {n}")
        frame = _as_frame(categories)
        if frame is not None and frame.height != n:
            raise ConfigError(f"{frame.height} rows of categories for {n} rows of features")
        rng = np.random.default_rng(self.random_state)
        rows = np.arange(n)
        if n > self.max_train_rows:
            rows = np.sort(rng.choice(n, self.max_train_rows, replace=False))
        self.fields_ = [] if frame is None else list(frame.columns)
        self.codes_ = (
            []
            if frame is None
            else [
                FieldCodes.fit(
                    frame.get_column(f), f, self.max_categories, self.n_hash_buckets, self.min_count
                )
                for f in self.fields_
            ]
        )
        self.scaler_ = NumericScaler.fit(data[rows])
        self.n_features_in_ = data.shape[1]
        numeric = self.scaler_.transform(data[rows])
        sub = None if frame is None else frame[rows]
        codes = encode_categories(sub, self.codes_, len(rows))
        self.architecture_ = Architecture(
            n_numeric=data.shape[1],
            cardinalities=tuple(c.cardinality for c in self.codes_),
            dim=self.dim,
            hidden=self.hidden or 2 * self.dim,
            n_blocks=self.n_blocks,
            dropout=self.dropout,
        )
        val_rows = self._validation_rows(len(rows), rng)
        self.device_ = _device(self.device)
        with self._torch_context():
            model = TabularResNet(self.architecture_).to(self.device_)
            heads = PretrainHeads(self.architecture_).to(self.device_)
            self.history_ = train(
                model, heads, numeric, codes, val_rows, self._train_config(), self.device_,
                self.random_state, self._show_progress(),
            )  # fmt: skip
        self.model_ = model
        return self

    def fit_transform(self, X: ArrayLike, categories: Any = None) -> NDArray[np.float32]:
        return self.fit(X, categories).transform(X, categories)

    def _validation_rows(self, n: int, rng: np.random.Generator) -> NDArray[np.int64]:
        n_val = min(_MAX_VAL_ROWS, round(self.validation_fraction * n))
        if n_val < _MIN_VAL_ROWS or n - n_val < _MIN_ROWS:
            return np.empty(0, dtype=np.int64)  # too few rows to hold out: no early stopping
        return np.sort(rng.choice(n, n_val, replace=False)).astype(np.int64)

    def _train_config(self) -> TrainConfig:
        return TrainConfig(
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            weight_decay=self.weight_decay,
            noise=self.noise,
            swap_prob=self.swap_prob,
            mask_prob=self.mask_prob,
            temperature=self.temperature,
            mask_weight=self.mask_weight,
            patience=self.patience,
        )

    def _check_params(self) -> None:
        if not 8 <= self.dim <= 1024:
            raise ConfigError(f"dim must be between 8 and 1024, got {self.dim}")
        if self.max_epochs < 1 or self.batch_size < 2 or self.n_blocks < 0:
            raise ConfigError("max_epochs >= 1, batch_size >= 2 and n_blocks >= 0 are needed")
        if not 0.0 <= self.validation_fraction < 0.5:
            raise ConfigError("validation_fraction must be in [0, 0.5)")
        for name in ("swap_prob", "mask_prob", "dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.temperature <= 0 or self.noise < 0 or self.max_train_rows < _MIN_ROWS:
            raise ConfigError("temperature > 0, noise >= 0 and max_train_rows >= 4 are needed")

    # -- embedding -------------------------------------------------------------------------
    def transform(self, X: ArrayLike, categories: Any = None) -> NDArray[np.float32]:
        """Embeddings of the rows: float32 of shape ``(n_rows, dim)``."""
        numeric, codes = self._inputs(X, categories)
        return self._embed(numeric, codes)

    def transform_corrupted(
        self,
        X: ArrayLike,
        categories: Any = None,
        noise: float = 0.05,
        swap_prob: float = 0.05,
        random_state: int = 0,
    ) -> NDArray[np.float32]:
        """Embeddings of lightly corrupted copies of the rows (for stability checks)."""
        numeric, codes = self._inputs(X, categories)
        gen = torch.Generator(device=self.device_).manual_seed(random_state)

        def corrupted(batch: Batch) -> Batch:
            view = corrupt(batch, noise, swap_prob, 0.0, gen)
            return Batch(view.numeric, view.codes)

        return self._embed(numeric, codes, corrupted)

    def _inputs(
        self, X: ArrayLike, categories: Any
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        self._check_fitted()
        data = check_matrix(X)
        frame = _as_frame(categories)
        return self.scaler_.transform(data), encode_categories(frame, self.codes_, data.shape[0])

    def _embed(
        self,
        numeric: NDArray[np.float32],
        codes: NDArray[np.int64],
        change: Callable[[Batch], Batch] | None = None,
    ) -> NDArray[np.float32]:
        out = np.empty((numeric.shape[0], self.architecture_.dim), dtype=np.float32)
        self.model_.eval()
        with self._torch_context(), torch.inference_mode():
            for start in range(0, numeric.shape[0], _EMBED_BATCH):
                stop = min(numeric.shape[0], start + _EMBED_BATCH)
                batch = Batch(
                    torch.from_numpy(numeric[start:stop]).to(self.device_),
                    torch.from_numpy(codes[start:stop]).to(self.device_),
                )
                if change is not None:
                    batch = change(batch)
                out[start:stop] = self.model_(batch.numeric, batch.codes).float().cpu().numpy()
        return out

    # -- state -----------------------------------------------------------------------------
    def to_state(self) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
        """JSON-serialisable state and named float32 arrays (the weights); no pickle.

        ``Embedder.from_state(*emb.to_state())`` embeds exactly like ``emb`` on one device.
        """
        self._check_fitted()
        arrays: dict[str, NDArray[Any]] = {
            "scaler.mean": self.scaler_.mean,
            "scaler.scale": self.scaler_.scale,
        }
        for name, tensor in self.model_.state_dict().items():
            arrays[_MODEL_PREFIX + name] = np.ascontiguousarray(tensor.detach().cpu().numpy())
        state = {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "params": self.get_params(),
            "architecture": self.architecture_.to_dict(),
            "fields": [c.to_dict() for c in self.codes_],
            "history": asdict(self.history_),
        }
        return state, arrays

    @classmethod
    def from_state(cls, state: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]) -> Embedder:
        """Rebuild a fitted embedder from :meth:`to_state` output."""
        if state.get("format") != STATE_FORMAT or state.get("version") != STATE_VERSION:
            raise ConfigError("not a loghunt embedder state, or from an unsupported version")
        emb = cls(**state["params"])
        emb.architecture_ = Architecture.from_dict(state["architecture"])
        emb.codes_ = [FieldCodes.from_dict(f) for f in state["fields"]]
        emb.fields_ = [c.field for c in emb.codes_]
        emb.history_ = TrainHistory(**state["history"])
        try:
            emb.scaler_ = NumericScaler(
                np.asarray(arrays["scaler.mean"], np.float32),
                np.asarray(arrays["scaler.scale"], np.float32),
            )
            weights = {
                name[len(_MODEL_PREFIX) :]: torch.from_numpy(np.array(value))
                for name, value in arrays.items()
                if name.startswith(_MODEL_PREFIX)
            }
            emb.device_ = _device(emb.device)
            model = TabularResNet(emb.architecture_)
            model.load_state_dict(weights, strict=True)
        except (KeyError, RuntimeError, ValueError) as exc:
            raise ConfigError(f"embedder weights do not match its architecture: {exc}") from exc
        emb.model_ = model.to(emb.device_).eval()
        emb.n_features_in_ = emb.architecture_.n_numeric
        return emb

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments, JSON-serialisable."""
        names = inspect.signature(type(self).__init__).parameters
        return {name: getattr(self, name) for name in names if name != "self"}

    # -- helpers ---------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError("this Embedder is not fitted; call fit first")

    def _show_progress(self) -> bool:
        if self.progress is not None:
            return self.progress
        return Console(stderr=True).is_terminal

    @contextmanager
    def _torch_context(self) -> Iterator[None]:
        """Fixed seed, threads and deterministic kernels; the caller's settings come back."""
        threads = torch.get_num_threads()
        deterministic = torch.are_deterministic_algorithms_enabled()
        device = self.device_
        cuda = [device] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda), warnings.catch_warnings():
            # On CUDA some kernels have no deterministic version: warn (hidden), don't fail.
            warnings.filterwarnings("ignore", message=".*deterministic.*")
            torch.manual_seed(self.random_state)
            torch.set_num_threads(self.n_threads or _n_cores())
            torch.use_deterministic_algorithms(True, warn_only=device.type == "cuda")
            try:
                yield
            finally:
                torch.set_num_threads(threads)
                torch.use_deterministic_algorithms(deterministic)


def _as_frame(categories: Any) -> pl.DataFrame | None:
    if categories is None:
        return None
    if isinstance(categories, pl.DataFrame):
        return categories if categories.width else None
    try:
        frame = pl.from_pandas(categories)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"categories must be a DataFrame, got {type(categories).__name__}"
        ) from exc
    return frame if frame.width else None


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("device='cuda' was asked for but torch sees no CUDA device")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"unknown device {name!r}: {exc}") from exc


def _n_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1
