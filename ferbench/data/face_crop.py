"""Face crops: each image cut to its largest face found by OpenCV's Haar frontal-face cascade
(opencv-python-headless < 5: OpenCV 5 ships no cascades)."""

from __future__ import annotations

import dataclasses

import numpy as np

from ferbench.errors import FerbenchError


def crop_faces(dataset, detector="haar", on_miss="keep", margin=0.1, size=None):
    """Crop each image to its largest detected face (plus `margin` of the box on every side)
    and resize to `size` (default: the original image size).

    on_miss="keep" keeps an image with no face detected whole (resized); "drop" removes it.
    Returns (new FaceDataset, report) with found/missed counts and what happened to the misses.
    """
    import cv2

    if detector != "haar":
        raise FerbenchError(f"face detector {detector!r} is not available; known: haar")
    if on_miss not in ("keep", "drop"):
        raise FerbenchError(f"on_miss must be 'keep' or 'drop', got {on_miss!r}")
    if not 0.0 <= float(margin) <= 1.0:
        raise FerbenchError(f"face crop margin {margin} must be in [0, 1]")
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    if cascade.empty():
        raise FerbenchError("OpenCV's Haar frontal-face cascade could not be loaded (needs opencv<5)")
    height, width = dataset.images.shape[1:3]
    out_h, out_w = (height, width) if size is None else (int(size), int(size))
    crops, found = [], np.zeros(len(dataset), dtype=bool)
    for i, image in enumerate(dataset.images):
        box = _largest_face(cascade, image, cv2)
        found[i] = box is not None
        if box is not None:
            x, y, w, h = box
            pad_x, pad_y = int(round(w * margin)), int(round(h * margin))
            image = image[max(0, y - pad_y) : y + h + pad_y, max(0, x - pad_x) : x + w + pad_x]
        crops.append(cv2.resize(image, (out_w, out_h), interpolation=cv2.INTER_AREA))
    keep = np.ones(len(dataset), dtype=bool) if on_miss == "keep" else found
    missed = int((~found).sum())
    report = {
        "detector": detector,
        "n_images": len(dataset),
        "found": int(found.sum()),
        "missed": missed,
        "on_miss": on_miss,
        "kept_uncropped": missed if on_miss == "keep" else 0,
        "dropped": missed if on_miss == "drop" else 0,
        "missed_index": np.flatnonzero(~found).tolist()[:50],
    }
    if not keep.any():
        raise FerbenchError(f"face crop: no face found in any of the {len(dataset)} images of {dataset.name!r}")
    pick = lambda a: None if a is None else a[keep]  # noqa: E731
    note = (
        f"face crop ({detector}): {report['found']} found, {missed} missed "
        f"({'kept uncropped' if on_miss == 'keep' else 'dropped'})"
    )
    cropped = dataclasses.replace(
        dataset,
        images=np.stack(crops)[keep],
        labels=dataset.labels[keep],
        subjects=pick(dataset.subjects),
        splits=pick(dataset.splits),
        options={**dataset.options, "face_crop": f"{detector}:{on_miss}:{margin:g}:{out_h}x{out_w}"},
        warnings=[*dataset.warnings, note],
    )
    return cropped, report


def _largest_face(cascade, image, cv2):
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    # small crops (FER-2013's 48x48) are upscaled so the 24x24 detector window fits a face
    factor = max(1.0, 96.0 / min(grey.shape))
    if factor > 1:
        grey = cv2.resize(grey, None, fx=factor, fy=factor, interpolation=cv2.INTER_LINEAR)
    side = min(grey.shape)
    faces = cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=4, minSize=(side // 4, side // 4))
    if len(faces) == 0:
        return None
    x, y, w, h = max(faces, key=lambda f: f[2] * f[3])
    return tuple(int(round(v / factor)) for v in (x, y, w, h))
