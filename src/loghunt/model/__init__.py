"""Saved models: a fitted pipeline as a directory of JSON, ``.npy`` and FAISS files, no pickle.

>>> from loghunt.model import load_model, save_model
"""

from loghunt.model.artifact import load_model, save_model

__all__ = ["load_model", "save_model"]
