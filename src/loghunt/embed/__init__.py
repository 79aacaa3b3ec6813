"""Learned event embeddings: a self-supervised TabularResNet (``pip install 'loghunt[embed]'``).

Importing this package needs torch; ``import loghunt`` does not import it.

>>> from loghunt.embed import Embedder
>>> Embedder(dim=32).dim
32
"""

from loghunt.embed.checks import EmbeddingChecks, check_embeddings
from loghunt.embed.embedder import Embedder
from loghunt.embed.encoding import FieldCodes, NumericScaler
from loghunt.embed.model import Architecture, TabularResNet

__all__ = [
    "Architecture",
    "Embedder",
    "EmbeddingChecks",
    "FieldCodes",
    "NumericScaler",
    "TabularResNet",
    "check_embeddings",
]
