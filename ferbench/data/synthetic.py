"""The embedded default data set: procedural grey faces whose expression is set by
facial-action-like geometry (brows raised / lowered / knitted, eye opening, mouth corners,
mouth opening, nose wrinkle).

- Identity per synthetic subject: face shape, feature spacing and sizes, skin tone, hair line,
  and a small resting-face offset of the expression parameters.
- Per image: expression intensity (weak expressions drift towards neutral), per-parameter
  jitter (so fear/surprise and sad/angry overlap), pose (shift, rotation, scale), a lighting
  gradient, pixel noise and, sometimes, a random occluding block.
- Deterministic for a seed; fully vectorised (whole batches of images at once).
- Official split: by subject, about 70/15/15 % of subjects -> train/val/test, so `official`
  on synthetic is subject-independent. With fewer than 3 subjects there is no split.

It is always labelled synthetic; nothing compares it with published numbers.
"""

from __future__ import annotations

import numpy as np

from ferbench.data.dataset import FaceDataset
from ferbench.errors import FerbenchError
from ferbench.labels import EMOTIONS

# Expression parameters per class, FER-2013 order (angry, disgust, fear, happy, sad, surprise,
# neutral). Columns: brow raise, brow inner tilt (+ = inner ends up), eye opening, mouth
# curve (+ = corners up), mouth opening, mouth width, nose wrinkle, upper-lip raise.
PARAMS = ("brow_raise", "brow_tilt", "eye_open", "mouth_curve", "mouth_open", "mouth_width", "wrinkle", "lip_raise")
EXPRESSIONS = np.array(
    [
        [-0.8, -1.0, 1.05, -0.3, 0.10, 0.85, 0.3, 0.0],  # angry: brows down and knitted
        [-0.5, -0.5, 0.70, -0.6, 0.25, 0.90, 1.0, 1.0],  # disgust: wrinkle, upper lip up
        [0.6, 0.9, 1.35, -0.3, 0.45, 1.15, 0.0, 0.0],  # fear: raised + inner up, stretched mouth
        [0.0, 0.0, 0.80, 1.0, 0.35, 1.20, 0.2, 0.0],  # happy: corners up
        [-0.2, 0.9, 0.80, -0.8, 0.00, 0.90, 0.0, 0.0],  # sad: inner brows up, corners down
        [1.0, 0.3, 1.45, 0.0, 0.95, 0.80, 0.0, 0.0],  # surprise: brows high, mouth open
        [0.0, 0.0, 1.00, 0.0, 0.00, 1.00, 0.0, 0.0],  # neutral
    ],
    dtype=np.float32,
)
NEUTRAL = EXPRESSIONS[6]
JITTER = np.array([0.35, 0.4, 0.18, 0.35, 0.15, 0.1, 0.3, 0.3], dtype=np.float32)
CHUNK = 512  # images rendered at once: bounds memory to a few tens of MB


def generate(n_images: int = 2000, seed: int = 0, n_subjects: int = 40, image_size: int = 48) -> FaceDataset:
    """`n_images` balanced-class synthetic faces of `n_subjects` subjects, (N, S, S) uint8.

    With fewer images than subjects, every image gets its own subject (n_subjects = n_images)."""
    if n_images < 1:
        raise FerbenchError(f"synthetic: n_images must be at least 1, got {n_images}")
    if n_subjects < 1:
        raise FerbenchError(f"synthetic: n_subjects must be at least 1, got {n_subjects}")
    n_subjects = min(n_subjects, n_images)  # tiny sets: one image per subject
    if not 16 <= image_size <= 512:
        raise FerbenchError(f"synthetic: image_size must be in [16, 512], got {image_size}")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n_images) % len(EMOTIONS))
    subject_ids = rng.permutation(np.arange(n_images) % n_subjects)
    identity = _identities(rng, n_subjects)
    n_per = _per_image(rng, labels, identity["rest"][subject_ids])
    images = np.empty((n_images, image_size, image_size), dtype=np.uint8)
    for start in range(0, n_images, CHUNK):
        rows = slice(start, start + CHUNK)
        ident = {k: v[subject_ids[rows]] for k, v in identity.items()}
        images[rows] = _render({k: v[rows] for k, v in n_per.items()}, ident, image_size)
    width = len(str(n_subjects - 1))
    subjects = np.array([f"syn{s:0{width}d}" for s in subject_ids])
    variant = f"n{n_images}-s{seed}"
    if n_subjects != 40:
        variant += f"-j{n_subjects}"
    if image_size != 48:
        variant += f"-px{image_size}"
    return FaceDataset(
        images=images,
        labels=labels,
        class_names=EMOTIONS,
        subjects=subjects,
        splits=_subject_splits(subject_ids, n_subjects, seed),
        name="synthetic",
        variant=variant,
        source="ferbench.data.synthetic",
        options={"n_images": n_images, "seed": seed, "n_subjects": n_subjects, "image_size": image_size},
    )


def _subject_splits(subject_ids, n_subjects, seed):
    if n_subjects < 3:
        return None
    order = np.random.default_rng([seed, 1]).permutation(n_subjects)
    n_test = n_val = max(1, round(0.15 * n_subjects))
    part = np.full(n_subjects, "train", dtype=object)
    part[order[:n_test]] = "test"
    part[order[n_test : n_test + n_val]] = "val"
    return part[subject_ids].astype(str)


def _identities(rng, n):
    u = lambda lo, hi: rng.uniform(lo, hi, n).astype(np.float32)  # noqa: E731
    return {
        "face_w": u(0.62, 0.80),
        "face_h": u(0.80, 0.95),
        "skin": u(110, 200),
        "eye_dx": u(0.24, 0.34),
        "eye_y": u(-0.22, -0.08),
        "eye_r": u(0.09, 0.13),
        "brow_gap": u(0.13, 0.20),
        "brow_w": u(0.025, 0.045),
        "mouth_y": u(0.38, 0.52),
        "mouth_w": u(0.18, 0.26),
        "hair": u(-0.85, -0.55),
        "hair_tone": u(20, 90),
        "rest": (rng.normal(0, 1, (n, len(PARAMS))) * 0.35 * JITTER).astype(np.float32),
    }


def _per_image(rng, labels, rest):
    n = len(labels)
    intensity = rng.uniform(0.5, 1.15, (n, 1)).astype(np.float32)
    expr = NEUTRAL + intensity * (EXPRESSIONS[labels] - NEUTRAL)
    expr = expr + rest + rng.normal(0, 1, expr.shape).astype(np.float32) * JITTER
    u = lambda lo, hi: rng.uniform(lo, hi, n).astype(np.float32)  # noqa: E731
    occluded = rng.random(n) < 0.25
    return {
        "expr": expr,
        "dx": u(-0.08, 0.08),
        "dy": u(-0.08, 0.08),
        "rot": u(-0.12, 0.12),
        "scale": u(0.92, 1.08),
        "light": u(0.0, 0.45),
        "light_dir": u(0, 2 * np.pi),
        "bg": u(20, 230),
        "noise": u(4, 14),
        "noise_seed": rng.integers(0, 2**32, n),
        # occluder box (centre x, centre y, half width, half height, tone); half sizes 0 = none
        "occ": np.stack(
            [u(-0.7, 0.7), u(-0.7, 0.7), u(0.15, 0.35) * occluded, u(0.1, 0.3) * occluded, u(0, 255)], axis=1
        ),
    }


def _soft(x, edge):
    """1 inside (x > 0), 0 outside, linear ramp of width `edge` (anti-aliasing)."""
    return np.clip(x / edge + 0.5, 0.0, 1.0)


def _render(p, ident, size):
    n = len(p["dx"])
    col = lambda a: np.asarray(a, dtype=np.float32)[:, None, None]  # noqa: E731
    e = {name: col(p["expr"][:, i]) for i, name in enumerate(PARAMS)}
    g = {k: col(v) for k, v in ident.items() if k != "rest"}
    axis = np.linspace(-1, 1, size, dtype=np.float32)
    x, y = axis[None, None, :], axis[None, :, None]
    px = 2.0 / size  # one pixel in normalised units
    # face coordinates: undo the pose
    cos, sin, s = col(np.cos(p["rot"])), col(np.sin(p["rot"])), col(p["scale"])
    xs, ys = x - col(p["dx"]), y - col(p["dy"])
    u = (cos * xs + sin * ys) / s
    v = (-sin * xs + cos * ys) / s
    au = np.abs(u)  # the face is symmetric: draw one half through |u|

    face = _soft(1.0 - np.sqrt((u / g["face_w"]) ** 2 + ((v - 0.05) / g["face_h"]) ** 2), 2 * px)
    img = col(p["bg"]) * (1 - face) + g["skin"] * face
    hair = face * _soft(g["hair"] - v + 0.08 * u * u, 2 * px)
    img = img * (1 - hair) + g["hair_tone"] * hair

    # eyes: white of the eye whose height follows the eye opening, with a dark iris
    ex, ey = au - g["eye_dx"], v - g["eye_y"]
    ry = np.maximum(0.45 * g["eye_r"] * e["eye_open"], 0.012)
    white = _soft(1.0 - np.sqrt((ex / g["eye_r"]) ** 2 + (ey / ry) ** 2), 0.25)
    iris = white * _soft(0.55 * g["eye_r"] - np.sqrt(ex**2 + ey**2), px)
    img = img + white * (235 - img) * 0.8 - iris * img * 0.85

    # brows: segment from inner to outer end; raise lifts it, tilt lifts the inner end
    by = g["eye_y"] - g["brow_gap"] - 0.07 * e["brow_raise"]
    half = 0.15
    x0, y0 = g["eye_dx"] - half, by - 0.06 * e["brow_tilt"]
    x1, y1 = g["eye_dx"] + half, by + 0.06 * e["brow_tilt"]
    inner_shift = 0.04 * np.clip(-e["brow_tilt"], 0, None)  # knitted: inner ends move in
    x0 = x0 - inner_shift
    dxs, dys = x1 - x0, y1 - y0
    t = np.clip(((au - x0) * dxs + (v - y0) * dys) / (dxs**2 + dys**2), 0.0, 1.0)
    dist = np.sqrt((au - x0 - t * dxs) ** 2 + (v - y0 - t * dys) ** 2)
    img = img - _soft(g["brow_w"] - dist, px) * img * 0.7

    # nose wrinkle (disgust): short dark creases beside the nose bridge
    wr = np.clip(e["wrinkle"], 0, 1.5)
    crease = _soft(0.1 - np.abs(au - 0.08) * 1.2, px) * _soft(0.02 - np.abs(np.sin((v - 0.05) * 40) * 0.03), px)
    img = img - crease * _soft(0.12 - np.abs(v - 0.05), px) * wr * img * 0.35
    nose = _soft(0.035 - au, px) * _soft(0.12 - np.abs(v - 0.12), px)
    img = img - nose * img * 0.15

    # mouth: a curved lip line that opens into a dark ellipse
    mw = g["mouth_w"] * e["mouth_width"]
    rel = np.clip(au / mw, 0, 1.5)
    centre = g["mouth_y"] - 0.06 * e["lip_raise"] - 0.09 * e["mouth_curve"] * (rel**2 - 0.3)
    half_h = 0.02 + 0.11 * np.clip(e["mouth_open"], 0, None) * np.sqrt(np.clip(1 - rel**2, 0, 1))
    mouth = _soft(mw - au, px) * _soft(half_h - np.abs(v - centre), px)
    img = img - mouth * img * 0.8

    # lighting gradient, occluder, noise
    ang = p["light_dir"]
    img = img * (1 + col(p["light"]) * (col(np.cos(ang)) * x + col(np.sin(ang)) * y))
    occ = p["occ"]
    box = _soft(col(occ[:, 2]) - np.abs(x - col(occ[:, 0])), px) * _soft(
        col(occ[:, 3]) - np.abs(y - col(occ[:, 1])), px
    )
    img = img * (1 - box) + col(occ[:, 4]) * box
    noise = np.random.default_rng(p["noise_seed"][0]).standard_normal((n, size, size), dtype=np.float32)
    img = img + noise * col(p["noise"])
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)
