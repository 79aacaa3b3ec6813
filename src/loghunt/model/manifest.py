"""The manifest of a model directory: what it holds, and the sha256 that seals each file.

``manifest.json`` lists every other file with its sha256 and carries ``manifest_sha256``, the
sha256 of its own canonical JSON without that key. A model is accepted only when the files on
disk are exactly those listed, each with its listed hash, and the manifest's own hash matches.
This detects accidental or careless changes; it is not a signature (whoever can rewrite the
files can rewrite the hashes), so sign the manifest outside loghunt where that matters.
"""

from __future__ import annotations

import hashlib
import platform
import re
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import faiss
import numpy as np
import orjson
import polars as pl

from loghunt.errors import ModelIntegrityError

MANIFEST = "manifest.json"
FORMAT = "loghunt.model"
#: Bump when the layout changes in a way older loghunt versions cannot read.
FORMAT_VERSION = 1
SEAL_KEY = "manifest_sha256"
_CHUNK = 1 << 20
_SAFE_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def library_versions() -> dict[str, str]:
    """Versions of what wrote the model (recorded for provenance, not enforced)."""
    from loghunt import __version__

    return {
        "loghunt": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "faiss": str(faiss.__version__),
        "polars": pl.__version__,
    }


def to_json(data: Any) -> bytes:
    """Readable JSON, keys in their given order (a featurizer's column order matters)."""
    return orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n"


def seal(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """``manifest`` with :data:`SEAL_KEY` set to the sha256 of the rest."""
    body = {k: v for k, v in manifest.items() if k != SEAL_KEY}
    return {**body, SEAL_KEY: _digest(body)}


def read_manifest(directory: Path) -> dict[str, Any]:
    """Parse ``directory/manifest.json`` and check its seal and format."""
    path = directory / MANIFEST
    try:
        manifest = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise ModelIntegrityError(f"{directory} is not a loghunt model: no {MANIFEST}") from None
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ModelIntegrityError(f"{path} cannot be read: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelIntegrityError(f"{path} is not a loghunt model manifest")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelIntegrityError(
            f"{path} has model format {version!r}; this loghunt reads up to {FORMAT_VERSION}"
        )
    body = {k: v for k, v in manifest.items() if k != SEAL_KEY}
    if manifest.get(SEAL_KEY) != _digest(body):
        raise ModelIntegrityError(f"{path} was altered: its content does not match its sha256")
    return manifest


def hash_files(directory: Path) -> dict[str, str]:
    """sha256 of every file under ``directory`` except the manifest, by relative path."""
    return {name: sha256_file(directory / name) for name in _files(directory)}


def verify_files(directory: Path, listed: Mapping[str, str]) -> None:
    """Raise :class:`ModelIntegrityError` unless the files are exactly ``listed``, unaltered."""
    for name in listed:
        check_relative(name)
    present = set(_files(directory))
    missing = sorted(set(listed) - present)
    extra = sorted(present - set(listed))
    if missing:
        raise ModelIntegrityError(f"{directory}: missing file(s): {', '.join(missing)}")
    if extra:
        raise ModelIntegrityError(f"{directory}: unexpected file(s): {', '.join(extra)}")
    altered = sorted(n for n, digest in listed.items() if sha256_file(directory / n) != digest)
    if altered:
        raise ModelIntegrityError(
            f"{directory}: file(s) altered since the model was saved: {', '.join(altered)}"
        )


def check_relative(name: str) -> PurePosixPath:
    """A path inside the model directory (no absolute paths, ``..`` or odd names)."""
    path = PurePosixPath(name)
    if not name or path.is_absolute() or not all(_SAFE_PART.match(p) for p in path.parts):
        raise ModelIntegrityError(f"the manifest names an unsafe path: {name!r}")
    return path


def safe_part(name: str) -> str:
    """``name`` if it can be one component of a file name in a model, else ValueError."""
    if not _SAFE_PART.match(name):
        raise ValueError(f"{name!r} cannot be used in a file name")
    return name


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _files(directory: Path) -> Iterator[str]:
    for path in sorted(directory.rglob("*")):
        if path.is_symlink():
            raise ModelIntegrityError(f"{path} is a symbolic link; a model holds plain files only")
        if path.is_dir():
            continue
        if not path.is_file():
            raise ModelIntegrityError(f"{path} is not a plain file")
        if path != directory / MANIFEST:
            yield path.relative_to(directory).as_posix()


def _digest(body: Mapping[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
