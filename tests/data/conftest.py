"""Writers for tiny data sets in each exact on-disk layout the readers accept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

FER_CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def write_image(path: Path, seed: int, size=(48, 48), mode: str = "L") -> np.ndarray:
    """A distinct random image (so no two are duplicates); returns its grey pixels as written."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    grey = rng.integers(0, 256, (size[1], size[0]), dtype=np.uint8)
    if mode == "RGB":
        Image.fromarray(np.stack([grey, grey // 2, 255 - grey], axis=-1)).save(path)
    elif mode == "P":
        Image.fromarray(grey).convert("P").save(path)
    else:
        Image.fromarray(grey).save(path)
    return grey


@pytest.fixture
def fer_folder(tmp_path) -> Path:
    """train/ and test/ class folders, files prefixed with their original Usage (2 per class/usage)."""
    root = tmp_path / "fer2013"
    seed = 0
    for split, usages in (("train", ("Training",)), ("test", ("PublicTest", "PrivateTest"))):
        for cls in FER_CLASSES:
            for usage in usages:
                for _ in range(2):
                    seed += 1
                    write_image(root / split / cls / f"{usage}_{seed:08d}.jpg", seed)
    return root


@pytest.fixture
def fer_csv(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    rows = ["emotion,pixels,Usage"]
    for i, usage in enumerate(["Training"] * 7 + ["PublicTest"] * 2 + ["PrivateTest"] * 3):
        pixels = " ".join(map(str, rng.integers(0, 256, 48 * 48)))
        rows.append(f"{i % 7},{pixels},{usage}")
    path = tmp_path / "fer2013.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture
def jaffe_dir(tmp_path) -> Path:
    root = tmp_path / "jaffe"
    names = ["KA.AN1.39", "KA.HA2.30", "KM.SU1.14", "KM.NE3.3", "TM.DI1.76", "TM.FE2.82", "TM.SA1.90"]
    for i, name in enumerate(names):
        write_image(root / f"{name}.tiff", 100 + i, size=(32, 32), mode="P" if i == 1 else "L")
    (root / "README").write_text("not an image")
    return root


@pytest.fixture
def ck_original(tmp_path) -> Path:
    """Two subjects, four labelled sequences (anger, contempt, happy, surprise) and one unlabelled."""
    root = tmp_path / "CK+"
    seqs = {
        ("S005", "001"): 1.0,
        ("S005", "002"): 2.0,
        ("S010", "004"): 5.0,
        ("S010", "006"): 7.0,
        ("S010", "007"): None,
    }
    seed = 200
    for (subject, seq), code in seqs.items():
        for frame in range(1, 6):
            seed += 1
            mode = "RGB" if (subject, seq, frame) == ("S010", "004", 5) else "L"
            write_image(
                root / "cohn-kanade-images" / subject / seq / f"{subject}_{seq}_{frame:08d}.png",
                seed,
                size=(40, 30),
                mode=mode,
            )
        if code is not None:
            label = root / "Emotion" / subject / seq / f"{subject}_{seq}_00000005_emotion.txt"
            label.parent.mkdir(parents=True, exist_ok=True)
            label.write_text(f"   {code:.7e}\n")
    return root


@pytest.fixture
def ck48(tmp_path) -> Path:
    root = tmp_path / "CK+48"
    seed = 300
    for cls in ("anger", "contempt", "happy", "sadness"):
        for subject in ("S011", "S022"):
            for frame in (8, 9, 10):
                seed += 1
                write_image(root / cls / f"{subject}_001_{frame:08d}.png", seed)
    return root


@pytest.fixture
def sfew_dir(tmp_path) -> Path:
    root = tmp_path / "SFEW"
    seed = 400
    for split, n in (("Train", 2), ("Val", 1)):
        for cls in ("Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise"):
            for _ in range(n):
                seed += 1
                write_image(root / split / cls / f"frame_{seed}.png", seed, size=(36, 24), mode="RGB")
    return root
