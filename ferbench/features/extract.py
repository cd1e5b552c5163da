"""One pass of a backbone over a data set, writing every requested layer to float16 .npy files.

The network sees grey images repeated to RGB, resized to the backbone's input size and passed
through the backbone's own keras `preprocess_input` (the mini-Xception: grey 64x64 scaled to
[-1, 1], as Arriaga et al. trained it). Outputs are appended to the .npy files batch by batch
through plain file writes, so block1_pool (802,816 values per image) never sits in RAM for the
whole data set: written pages belong to the OS page cache, not to this process (a writable
memory map would keep every written page in the process's resident set until it is closed).
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import numpy as np

from ferbench import store
from ferbench.errors import FerbenchError
from ferbench.progress import current
from ferbench.weights import MINI_XCEPTION, Backbone

POOLED = "@gap"
FLOAT16_MAX = float(np.finfo(np.float16).max)
_PASSES = [0]  # number of backbone passes in this process (tests prove cache hits with it)


def backbone_passes() -> int:
    return _PASSES[0]


def prepare(spec: Backbone, images: np.ndarray, size: int) -> np.ndarray:
    """uint8 (B,H,W[,3]) -> float32 network input (B,size,size,C) for this backbone."""
    import cv2

    images = np.asarray(images)
    out = np.empty((len(images), size, size, spec.channels), np.float32)
    for i, image in enumerate(images):
        if image.ndim == 3 and spec.channels == 1:
            image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        if image.shape[:2] != (size, size):
            shrink = image.shape[0] > size
            image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        if spec.channels == 3 and image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        out[i] = image.reshape(size, size, spec.channels)
    if spec.name == MINI_XCEPTION:
        return out / 127.5 - 1.0
    import keras

    module = getattr(keras.applications, spec.module)
    return np.asarray(module.preprocess_input(out))


def layer_outputs(model, layers: list[str]):
    """A multi-output keras.Model giving every requested layer at once."""
    import keras

    names = [layer.name for layer in model.layers]
    missing = [name for name in layers if name.split(POOLED)[0] not in names]
    if missing:
        shown = ", ".join(names[-12:] if len(names) > 12 else names)
        raise FerbenchError(f"backbone {model.name} has no layer {', '.join(missing)}; its layers include: {shown}")
    outputs = []
    for name in layers:
        out = model.get_layer(name.split(POOLED)[0]).output
        if name.endswith(POOLED):  # "<layer>@gap": global average pooling of a 4-D output
            out = keras.layers.GlobalAveragePooling2D()(out)
        outputs.append(out)
    return keras.Model(model.inputs, outputs)


def batch_size_for(input_size: int) -> int:
    """The one batch size every image of a cache is computed in (see `extract`). On this CPU a
    VGG19 pass at 224 px costs the same per image at 4 as at 16 (about 270 ms), so 4 wastes at
    most 3 padded images instead of 15; mini-Xception at 64 px is 1.5x faster per image at 16."""
    return 4 if input_size >= 160 else 16


def _as_stored(multi):
    """The outputs clipped to float16's range and cast to float16 inside the graph, where the
    conversion runs on every core: numpy's is single-threaded, about 2 s of a 213-image VGG19
    pass at 224 px. Both round to nearest even, so the stored bits are the same."""
    import keras

    stored = [keras.ops.cast(keras.ops.clip(out, -FLOAT16_MAX, FLOAT16_MAX), "float16") for out in multi.outputs]
    return keras.Model(multi.inputs, stored)


def extract(
    model, spec: Backbone, layers: list[str], images: np.ndarray, size: int, targets: dict[str, Path], batch_size: int
) -> dict[str, int]:
    """Write each layer's flattened float16 features to targets[layer] (atomically).

    Returns layer -> feature width. Values beyond the float16 range are clipped."""
    multi = _as_stored(layer_outputs(model, layers))
    widths = _widths(multi, layers)
    with ExitStack() as files:
        handles = {name: files.enter_context(store.atomic_write(targets[name])) for name in layers}
        for name in layers:
            header = {
                "descr": np.lib.format.dtype_to_descr(np.dtype(np.float16)),
                "fortran_order": False,
                "shape": (len(images), widths[name]),
            }
            np.lib.format.write_array_header_1_0(handles[name], header)
        for _, rows in _stored_batches(multi, spec, layers, images, size, batch_size):
            for name, block in zip(layers, rows, strict=True):
                handles[name].write(block.data)
    return widths


def extract_in_memory(
    model, spec: Backbone, layers: list[str], images: np.ndarray, size: int, batch_size: int
) -> dict[str, np.ndarray]:
    """`extract`'s features as arrays, written nowhere (images outside any cached data set):
    the same batches, so the same bits as a cached entry holds."""
    multi = _as_stored(layer_outputs(model, layers))
    widths = _widths(multi, layers)
    out = {name: np.empty((len(images), widths[name]), np.float16) for name in layers}
    for start, rows in _stored_batches(multi, spec, layers, images, size, batch_size):
        for name, block in zip(layers, rows, strict=True):
            out[name][start : start + len(block)] = block
    return out


def _widths(multi, layers: list[str]) -> dict[str, int]:
    return {name: int(np.prod(out.shape[1:])) for name, out in zip(layers, multi.outputs, strict=True)}


def _stored_batches(multi, spec: Backbone, layers: list[str], images: np.ndarray, size: int, batch_size: int):
    """(first row, one float16 (rows, width) block per layer) for every batch of one backbone pass."""
    n = len(images)
    _PASSES[0] += 1
    bars = current()  # one batch (a logged model's sample images): nothing to watch
    task = bars.add(f"{spec.name} features at {size} px", n, unit="img") if n > batch_size else None
    for start in range(0, n, batch_size):
        batch = prepare(spec, images[start : start + batch_size], size)
        # always a full batch: the same kernels run for every image, so an image's features
        # do not depend on how many others share its batch (predict_images == cached rows)
        padded = np.zeros((batch_size, *batch.shape[1:]), np.float32)
        padded[: len(batch)] = batch
        outputs = multi.predict_on_batch(padded)
        if len(layers) == 1:
            outputs = [outputs]
        yield (
            start,
            [np.ascontiguousarray(np.asarray(value)[: len(batch)].reshape(len(batch), -1)) for value in outputs],
        )
        bars.advance(task, len(batch))
    bars.done(task)
