"""Named detector ensembles, and detector specs such as ``"lof35=lof(n_neighbors=35)"``.

A spec names one member of an ensemble: ``label=detector(param=value, ...)``, where the label
(what findings call it) and the parameters are optional: ``"knn"``, ``"pyod:ROD"``,
``"avgknn=knn(method='mean')"``. Values are Python literals.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

from loghunt.errors import ConfigError

_SPEC = re.compile(
    r"^\s*(?:(?P<label>[\w.-]+)\s*=\s*)?(?P<name>[\w:.-]+)\s*(?:\((?P<args>.*)\))?\s*$"
)


@dataclass(frozen=True)
class DetectorSpec:
    """One ensemble member: its label in findings, registry name and parameters."""

    label: str
    name: str
    params: dict[str, Any] = field(default_factory=dict)


def parse_detector_spec(text: str) -> DetectorSpec:
    """Parse ``label=name(param=value, ...)``.

    >>> parse_detector_spec("lof35=lof(n_neighbors=35)")
    DetectorSpec(label='lof35', name='lof', params={'n_neighbors': 35})
    >>> parse_detector_spec("pyod:ROD").label
    'pyod:ROD'
    """
    match = _SPEC.match(text)
    if match is None:
        raise ConfigError(f"cannot read detector {text!r}; write name or label=name(k=v, ...)")
    name = match["name"]
    params = _parse_params(match["args"] or "", text)
    return DetectorSpec(match["label"] or name, name, params)


def _parse_params(args: str, text: str) -> dict[str, Any]:
    if not args.strip():
        return {}
    try:
        call = ast.parse(f"f({args})", mode="eval").body
        if not isinstance(call, ast.Call) or call.args:
            raise ValueError("positional arguments")
        return {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords if kw.arg}
    except (SyntaxError, ValueError) as exc:
        raise ConfigError(f"cannot read the parameters of {text!r}: {exc}") from None


#: Neighbours of k-NN and LOF unless a spec says otherwise: 40-75 was a plateau on the security
#: data measured, 20 let small groups of related attacker events hide together, and on ADBench
#: k-NN scores 0.835 at 50 against 0.770 at 20 (docs/detection.md).
DEFAULT_N_NEIGHBORS = 50

#: Ensembles by name. ``dune`` is the 12-model unsupervised vote of the DUNE threat-hunting
#: notebook (its 13th model, CD, needs labels); ``seed`` is the source notebook's trio.
PRESETS: dict[str, tuple[str, ...]] = {
    "default": ("knn", "ecod"),
    "seed": ("knn=knn(method='mean')", "lof", "iforest"),
    "dune": (
        "cblof",
        "iforest",
        "knn",
        "avgknn=knn(method='mean')",
        "lof=lof(n_neighbors=35)",
        "rod",
        "copod",
        "ecod",
        "gmm",
        "hbos",
        "inne",
        "loda",
    ),
    "fast": ("ecod", "iforest"),
}


def split_specs(text: str) -> tuple[str, ...]:
    """Split a comma-separated list of specs, keeping commas inside parentheses.

    >>> split_specs("knn, lof35=lof(n_neighbors=35, metric='l2'),iforest")
    ('knn', "lof35=lof(n_neighbors=35, metric='l2')", 'iforest')
    """
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return tuple(p.strip() for p in parts if p.strip())


def preset_specs(name: str) -> tuple[str, ...]:
    """The detector specs of preset ``name``."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}") from None
