"""The bundle directory on disk: what is in it, and how it is written without ever being
half-written.

    model_dir/
      bundle.json                      the manifest: format_version, model config, signatures
                                       with their graphs, variables, optimizer, assets, and
                                       the names of the files below
      variables-<token>.safetensors    model weights and optimizer state, by variable name
      constants-<token>.safetensors    constants captured in the signature graphs
      assets-<token>/labels.txt        class labels, one per line (TFLite metadata's form)

A save writes new files under a fresh token, then replaces bundle.json in one atomic rename,
then deletes the files of the previous save.  A crash at any point leaves a bundle.json that
names complete files: the previous bundle, or the new one.  Readers need only bundle.json to
find everything (the converter reads bundles with `read_bundle`, without the trainer).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.numpy

from emberlite.errors import EmberliteError

FORMAT_VERSION = "1.0"
MANIFEST = "bundle.json"


class BundleError(EmberliteError):
    """A bundle cannot be read or written; the message names the bundle and the part at fault."""


@dataclass
class Bundle:
    """A bundle as read from disk."""

    path: Path
    manifest: dict[str, Any]
    variables: dict[str, np.ndarray]
    constants: dict[str, np.ndarray]

    @property
    def signatures(self) -> dict[str, Any]:
        return self.manifest["signatures"]

    def asset_path(self, name: str) -> Path | None:
        """The file of asset `name` ("labels", ...), or None."""
        relative = (self.manifest.get("assets") or {}).get(name)
        return self.path / relative if isinstance(relative, str) else None

    @property
    def labels(self) -> list[str] | None:
        path = self.asset_path("labels")
        return path.read_text(encoding="utf-8").splitlines() if path else None


def _fsync_write(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    if hasattr(os, "O_DIRECTORY"):  # NOTE: POSIX; Windows has no directory handles to sync
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _tensors_bytes(tensors: dict[str, np.ndarray]) -> bytes:
    # NOTE: np.array(order="C"), not np.ascontiguousarray, which makes scalars 1-d
    return safetensors.numpy.save({k: np.array(v, order="C") for k, v in tensors.items()})


def write_bundle(
    path: str | os.PathLike,
    manifest: dict[str, Any],
    variables: dict[str, np.ndarray],
    constants: dict[str, np.ndarray],
    assets: dict[str, bytes] | None = None,
) -> Path:
    """Write a bundle atomically (see the module docstring); returns its path.

    `manifest` is completed here with the format version and the file names; `assets` maps
    asset names to file contents ("labels" -> "labels.txt").
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise BundleError(f"cannot save a bundle to {path}: it is a file")
    if path.is_dir() and any(path.iterdir()) and not (path / MANIFEST).exists():
        raise BundleError(
            f"cannot save a bundle to {path}: the directory is not empty and is not a bundle "
            "(refusing to mix files into it)"
        )
    path.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:12]
    files = {
        "variables": f"variables-{token}.safetensors",
        "constants": f"constants-{token}.safetensors",
    }
    _fsync_write(path / files["variables"], _tensors_bytes(variables))
    _fsync_write(path / files["constants"], _tensors_bytes(constants))
    asset_index = {}
    if assets:
        folder = path / f"assets-{token}"
        folder.mkdir()
        for name, data in assets.items():
            filename = f"{name}.txt" if name == "labels" else name
            _fsync_write(folder / filename, data)
            asset_index[name] = f"{folder.name}/{filename}"
    full = {"format_version": FORMAT_VERSION, **manifest, "files": files, "assets": asset_index}
    text = json.dumps(full, indent=1, sort_keys=False, allow_nan=False)
    staged = path / f"{MANIFEST}.{token}.tmp"
    _fsync_write(staged, text.encode())
    os.replace(staged, path / MANIFEST)  # the commit point
    _fsync_dir(path)
    _remove_stale(path, keep={*files.values(), f"assets-{token}", MANIFEST})
    return path


def _remove_stale(path: Path, keep: set[str]) -> None:
    """Delete what earlier (or interrupted) saves left behind; never anything else."""
    for entry in path.iterdir():
        ours = entry.name.startswith(("variables-", "constants-", "assets-", f"{MANIFEST}."))
        if ours and entry.name not in keep:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def _load_tensors(path: Path, what: str) -> dict[str, np.ndarray]:
    try:
        return safetensors.numpy.load(path.read_bytes())
    except FileNotFoundError:
        raise BundleError(f"bundle {path.parent}: its {what} file {path.name} is missing") from None
    except Exception as e:  # NOTE: safetensors raises its own and assorted Rust-side errors
        raise BundleError(
            f"bundle {path.parent}: {what} file {path.name} is corrupt: {e}"
        ) from None


def read_bundle(path: str | os.PathLike) -> Bundle:
    """Read a bundle's manifest, variables and constants, checking each against the other."""
    path = Path(path)
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise BundleError(f"{path} is not an emberlite bundle: it has no {MANIFEST}")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BundleError(f"bundle {path}: {MANIFEST} is not valid JSON: {e}") from None
    if not isinstance(manifest, dict):
        raise BundleError(f"bundle {path}: {MANIFEST} must hold a JSON object")
    _check_version(path, manifest.get("format_version"))
    _check_manifest(path, manifest)
    files = manifest["files"]
    variables = _load_tensors(path / files["variables"], "variables")
    constants = _load_tensors(path / files["constants"], "constants")
    for name, spec in manifest["variables"].items():
        _check_tensor(path, "variable", name, spec, variables)
    return Bundle(path, manifest, variables, constants)


def _check_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """The structure readers rely on, so a damaged or hostile bundle.json fails here, by
    name, and never makes a reader open a file outside the bundle."""

    def fail(what: str) -> None:
        raise BundleError(f"bundle {path}: {MANIFEST}: {what}")

    def kind(key: str, types: Any, optional: bool = False) -> Any:
        value = manifest.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, types):
            fail(f"{key!r} is missing or not a {getattr(types, '__name__', types)}")
        return value

    files = kind("files", dict)
    for key in ("variables", "constants"):
        _check_inside(path, files.get(key), f"files.{key}", fail)
    for name, relative in (kind("assets", dict, optional=True) or {}).items():
        _check_inside(path, relative, f"assets.{name}", fail)
        if not (path / relative).is_file():
            fail(f"asset {name!r} ({relative}) is missing")
    for name, spec in kind("variables", dict).items():
        shape = spec.get("shape") if isinstance(spec, dict) else None
        valid = (
            isinstance(shape, list)
            and all(isinstance(d, int) and d >= 0 for d in shape)
            and isinstance(spec.get("dtype"), str)
        )
        if not valid:
            fail(f"variable {name!r} needs a 'shape' (sizes) and a 'dtype'")
    for key in ("weight_order", "optimizer_variables"):
        names = kind(key, list, optional=key == "optimizer_variables") or []
        unknown = [n for n in names if not isinstance(n, str) or n not in manifest["variables"]]
        if unknown:
            fail(f"{key} names variables it does not declare: {unknown[:5]}")
    signatures = kind("signatures", dict)
    if not all(isinstance(g, dict) for g in signatures.values()):
        fail("every signature must be a JSON object")
    kind("model", dict, optional=True)
    kind("compile", dict, optional=True)


def _check_inside(path: Path, relative: Any, what: str, fail: Any) -> None:
    if not isinstance(relative, str) or not relative:
        fail(f"{what} must name a file")
    root = path.resolve()
    if root not in (root / relative).resolve().parents:
        fail(f"{what} ({relative!r}) points outside the bundle")


def _check_version(path: Path, version: Any) -> None:
    try:
        major = int(str(version).split(".")[0])
    except ValueError:
        raise BundleError(f"bundle {path}: format_version {version!r} is not a version") from None
    ours = int(FORMAT_VERSION.split(".")[0])
    if major > ours:
        raise BundleError(
            f"bundle {path} has format {version}, newer than this emberlite reads "
            f"({FORMAT_VERSION}): upgrade emberlite to load it"
        )


def _check_tensor(
    path: Path, what: str, name: str, spec: dict[str, Any], tensors: dict[str, np.ndarray]
) -> None:
    if name not in tensors:
        raise BundleError(f"bundle {path}: {what} {name!r} is missing from its weights file")
    array = tensors[name]
    if list(array.shape) != list(spec["shape"]) or array.dtype.name != spec["dtype"]:
        raise BundleError(
            f"bundle {path}: {what} {name!r} is {array.dtype.name}{list(array.shape)} in the "
            f"weights file but {spec['dtype']}{list(spec['shape'])} in {MANIFEST}"
        )
