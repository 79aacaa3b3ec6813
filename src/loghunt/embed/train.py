"""Self-supervised training of a TabularResNet: contrastive views plus masked features.

Each batch is corrupted twice (Gaussian noise on numerics, categories swapped with another
row's, a share of features masked). The loss is NT-Xent between the two views' projections
plus the error predicting the masked features (MSE for numerics, cross-entropy for
categories) from each view's embedding. AdamW, linear warm-up then cosine decay, early
stopping on a held-out split whose corruptions are the same every epoch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from loghunt.embed.encoding import MASK
from loghunt.embed.model import PretrainHeads, TabularResNet
from loghunt.errors import MissingExtraError

try:
    import torch
    import torch.nn.functional as F
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise MissingExtraError("torch", "embed") from exc

_WARMUP_SHARE = 0.05
_EVAL_BATCH = 4_096


@dataclass(frozen=True)
class TrainConfig:
    """Training settings (see :class:`~loghunt.embed.Embedder` for their meaning)."""

    max_epochs: int = 10
    batch_size: int = 512
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    noise: float = 0.05
    swap_prob: float = 0.05
    mask_prob: float = 0.15
    temperature: float = 0.5
    mask_weight: float = 10.0
    patience: int = 2
    min_delta: float = 1e-3


@dataclass
class TrainHistory:
    """Loss per epoch on the training batches and on the held-out split."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    seconds: float = 0.0
    n_train: int = 0
    n_val: int = 0


@dataclass(frozen=True)
class Batch:
    numeric: torch.Tensor
    codes: torch.Tensor


@dataclass(frozen=True)
class View:
    """A corrupted copy of a batch and which entries were masked."""

    numeric: torch.Tensor
    codes: torch.Tensor
    numeric_mask: torch.Tensor
    code_mask: torch.Tensor


def corrupt(
    batch: Batch, noise: float, swap_prob: float, mask_prob: float, gen: torch.Generator
) -> View:
    """Noise on numerics, categories swapped with a random row's, then masking."""
    num, codes = batch.numeric, batch.codes
    dev = num.device
    num_v = num + noise * torch.randn(num.shape, generator=gen, device=dev)
    codes_v = codes
    if codes.shape[1] and swap_prob > 0:
        swap = torch.rand(codes.shape, generator=gen, device=dev) < swap_prob
        donors = torch.randint(0, codes.shape[0], codes.shape, generator=gen, device=dev)
        codes_v = torch.where(swap, torch.gather(codes, 0, donors), codes)
    num_mask = torch.rand(num.shape, generator=gen, device=dev) < mask_prob
    code_mask = torch.rand(codes.shape, generator=gen, device=dev) < mask_prob
    num_v = num_v.masked_fill(num_mask, 0.0)
    codes_v = codes_v.masked_fill(code_mask, MASK)
    return View(num_v, codes_v, num_mask, code_mask)


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's loss: each view must pick its partner among the batch's 2n - 1 other views."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = z1.shape[0]
    sim = (z @ z.T) / temperature
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, targets)


def masked_loss(heads: PretrainHeads, emb: torch.Tensor, batch: Batch, view: View) -> torch.Tensor:
    """Error predicting the masked features' true values from the view's embedding."""
    total = emb.new_zeros(())
    n_masked = emb.new_zeros(())
    if heads.numeric is not None:
        mask = view.numeric_mask.float()
        total = total + (((heads.numeric(emb) - batch.numeric) ** 2) * mask).sum()
        n_masked = n_masked + mask.sum()
    for j, head in enumerate(heads.fields):
        # Only masked rows are predicted: ~mask_prob of the batch, not all of it.
        rows = view.code_mask[:, j]
        if bool(rows.any()):
            total = total + F.cross_entropy(head(emb[rows]), batch.codes[rows, j], reduction="sum")
            n_masked = n_masked + rows.sum()
    return total / n_masked.clamp(min=1.0)


def batch_loss(
    model: TabularResNet, heads: PretrainHeads, batch: Batch, cfg: TrainConfig, gen: torch.Generator
) -> torch.Tensor:
    views = [corrupt(batch, cfg.noise, cfg.swap_prob, cfg.mask_prob, gen) for _ in range(2)]
    embs = [model(v.numeric, v.codes) for v in views]
    contrastive = nt_xent(heads.projection(embs[0]), heads.projection(embs[1]), cfg.temperature)
    masked = sum(masked_loss(heads, e, batch, v) for e, v in zip(embs, views, strict=True))
    return contrastive + cfg.mask_weight * masked / 2


def train(
    model: TabularResNet,
    heads: PretrainHeads,
    numeric: NDArray[np.float32],
    codes: NDArray[np.int64],
    val_rows: NDArray[np.int64],
    cfg: TrainConfig,
    device: torch.device,
    seed: int,
    progress: bool,
) -> TrainHistory:
    """Train ``model`` in place on the rows not in ``val_rows``; keeps the best epoch's weights."""
    start = time.perf_counter()
    is_val = np.zeros(len(numeric), dtype=bool)
    is_val[val_rows] = True
    train_set = _to_batch(numeric[~is_val], codes[~is_val], device)
    val_set = _to_batch(numeric[is_val], codes[is_val], device) if len(val_rows) else None
    n_train = train_set.numeric.shape[0]
    batch_size = min(cfg.batch_size, n_train)
    steps = max(1, n_train // batch_size)  # partial last batch dropped: NT-Xent needs a batch
    params = [*model.parameters(), *heads.parameters()]
    opt = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _warmup_cosine(cfg.max_epochs * steps))
    gen = torch.Generator(device=device).manual_seed(seed)
    history = TrainHistory(n_train=n_train, n_val=len(val_rows))
    best: dict[str, torch.Tensor] | None = None
    best_loss, waited = math.inf, 0
    with _bar(progress, cfg.max_epochs * steps) as advance:
        for epoch in range(cfg.max_epochs):
            model.train()
            heads.train()
            order = torch.randperm(n_train, generator=gen, device=device)
            total = 0.0
            for step in range(steps):
                rows = order[step * batch_size : (step + 1) * batch_size]
                loss = batch_loss(model, heads, _take(train_set, rows), cfg, gen)
                opt.zero_grad(set_to_none=True)
                loss.backward()  # type: ignore[no-untyped-call]
                opt.step()
                sched.step()
                total += float(loss.detach())
                advance(f"epoch {epoch + 1}/{cfg.max_epochs} loss {total / (step + 1):.4f}")
            history.train_loss.append(total / steps)
            if val_set is None:
                history.best_epoch = epoch
                continue
            val = _evaluate(model, heads, val_set, cfg, seed, device)
            history.val_loss.append(val)
            if val < best_loss - cfg.min_delta * abs(
                best_loss if math.isfinite(best_loss) else val
            ):
                best_loss, waited, history.best_epoch = val, 0, epoch
                best = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                waited += 1
                if waited >= cfg.patience:
                    history.stopped_early = True
                    break
    if best is not None:
        model.load_state_dict(best)
    model.eval()
    history.seconds = time.perf_counter() - start
    return history


@torch.no_grad()
def _evaluate(
    model: TabularResNet,
    heads: PretrainHeads,
    data: Batch,
    cfg: TrainConfig,
    seed: int,
    device: torch.device,
) -> float:
    """Mean held-out loss; the same corruptions every epoch, so epochs compare fairly."""
    model.eval()
    heads.eval()
    gen = torch.Generator(device=device).manual_seed(seed + 1)
    n = data.numeric.shape[0]
    losses, weights = [], []
    for start in range(0, n, _EVAL_BATCH):
        rows = torch.arange(start, min(n, start + _EVAL_BATCH), device=device)
        if len(rows) < 2:
            continue
        losses.append(float(batch_loss(model, heads, _take(data, rows), cfg, gen)))
        weights.append(len(rows))
    return float(np.average(losses, weights=weights)) if losses else math.inf


def _to_batch(
    numeric: NDArray[np.float32], codes: NDArray[np.int64], device: torch.device
) -> Batch:
    return Batch(
        torch.from_numpy(np.ascontiguousarray(numeric)).to(device),
        torch.from_numpy(np.ascontiguousarray(codes)).to(device),
    )


def _take(data: Batch, rows: torch.Tensor) -> Batch:
    return Batch(data.numeric[rows], data.codes[rows])


def _warmup_cosine(total_steps: int) -> Callable[[int], float]:
    warmup = max(1, int(_WARMUP_SHARE * total_steps))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        done = (step - warmup) / max(1, total_steps - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, done)))

    return factor


@contextmanager
def _bar(enabled: bool, total: int) -> Iterator[Callable[[str], None]]:
    """A progress bar with the running loss on stderr, or nothing."""
    if not enabled:
        yield lambda _: None
        return
    columns = (TextColumn("training embedder"), BarColumn(), TextColumn("{task.description}"))
    with Progress(*columns, TimeElapsedColumn(), console=Console(stderr=True)) as bar:
        task = bar.add_task("", total=total)
        yield lambda text: bar.update(task, advance=1, description=text)
