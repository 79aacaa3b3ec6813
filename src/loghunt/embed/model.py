"""TabularResNet: categorical embeddings and projected numerics through residual MLP blocks."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from loghunt.errors import MissingExtraError

try:
    import torch
    from torch import nn
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise MissingExtraError("torch", "embed") from exc


@dataclass(frozen=True)
class Architecture:
    """The shape of a :class:`TabularResNet`; saved with a fitted embedder.

    A field with ``c`` table rows gets ``min(max_field_dim, round(1.6 * c ** 0.56))``
    dimensions (fast.ai's rule of thumb), at least 2.

    Examples
    --------
    >>> Architecture(n_numeric=10, cardinalities=(5, 2000)).field_dims()
    [4, 16]
    """

    n_numeric: int
    cardinalities: tuple[int, ...]
    dim: int = 64
    hidden: int = 128
    n_blocks: int = 2
    dropout: float = 0.1
    max_field_dim: int = 16

    def field_dims(self) -> list[int]:
        return [max(2, min(self.max_field_dim, round(1.6 * c**0.56))) for c in self.cardinalities]

    def to_dict(self) -> dict[str, Any]:
        state = asdict(self)
        state["cardinalities"] = list(self.cardinalities)
        return state

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Architecture:
        return cls(**{**state, "cardinalities": tuple(int(c) for c in state["cardinalities"])})


class ResidualBlock(nn.Module):
    """Pre-norm residual MLP: ``x + Dropout(W2 Dropout(GELU(W1 LayerNorm(x))))``."""

    def __init__(self, dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.act = nn.GELU()
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = x + self.drop(self.fc2(self.drop(self.act(self.fc1(self.norm(x))))))
        return out


class TabularResNet(nn.Module):
    """Events to embeddings: one table per categorical field, numerics projected, residual
    blocks, a final LayerNorm.

    ``forward(numeric, codes)`` takes float32 ``(batch, n_numeric)`` scaled features and int64
    ``(batch, n_fields)`` codes (see :mod:`loghunt.embed.encoding`) and returns
    ``(batch, dim)`` embeddings.

    Examples
    --------
    >>> net = TabularResNet(Architecture(n_numeric=3, cardinalities=(6,), dim=8, hidden=16))
    >>> net(torch.zeros(2, 3), torch.zeros(2, 1, dtype=torch.long)).shape
    torch.Size([2, 8])
    """

    def __init__(self, arch: Architecture) -> None:
        super().__init__()
        dims = arch.field_dims()
        tables = [nn.Embedding(c, d) for c, d in zip(arch.cardinalities, dims, strict=True)]
        for table, d in zip(tables, dims, strict=True):
            nn.init.normal_(table.weight, std=1.0 / math.sqrt(d))
        self.tables = nn.ModuleList(tables)
        self.numeric = (
            nn.Sequential(nn.Linear(arch.n_numeric, arch.dim), nn.GELU())
            if arch.n_numeric
            else None
        )
        width = sum(dims) + (arch.dim if arch.n_numeric else 0)
        self.input = nn.Linear(width, arch.dim)
        self.blocks = nn.Sequential(
            *(ResidualBlock(arch.dim, arch.hidden, arch.dropout) for _ in range(arch.n_blocks))
        )
        self.norm = nn.LayerNorm(arch.dim)

    def forward(self, numeric: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        parts = [table(codes[:, j]) for j, table in enumerate(self.tables)]
        if self.numeric is not None:
            parts.append(self.numeric(numeric))
        out: torch.Tensor = self.norm(self.blocks(self.input(torch.cat(parts, dim=1))))
        return out


class PretrainHeads(nn.Module):
    """What self-supervised training reads from an embedding, dropped afterwards.

    ``projection``: the contrastive head (NT-Xent is computed on its normalised output, as in
    SimCLR, so that the embedding itself keeps information the contrast would discard);
    ``numeric`` and ``fields``: predict masked numeric values and masked categories.
    """

    def __init__(self, arch: Architecture, projection_dim: int = 64) -> None:
        super().__init__()
        self.projection = nn.Sequential(
            nn.Linear(arch.dim, arch.dim), nn.GELU(), nn.Linear(arch.dim, projection_dim)
        )
        self.numeric = nn.Linear(arch.dim, arch.n_numeric) if arch.n_numeric else None
        self.fields = nn.ModuleList(nn.Linear(arch.dim, c) for c in arch.cardinalities)
