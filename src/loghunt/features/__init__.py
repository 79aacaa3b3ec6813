"""Featurize event tables: rarity, numbers, time habits, string statistics, entity windows."""

from loghunt.features.featurizer import Featurizer
from loghunt.features.schema import FeatureSchema, InputColumn

__all__ = ["FeatureSchema", "Featurizer", "InputColumn"]
