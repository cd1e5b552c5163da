"""The convolutional network of Raghuvanshi & Choksi (2016) that five_layer_cnn (Table 1) and
deeper_cnn (Table 2) instantiate: conv + BN + ReLU blocks, each closed by (fractional) max-pooling
and dropout, then FC + BN + ReLU + dropout layers and a softmax."""

from __future__ import annotations

from collections.abc import Sequence

from ferbench.errors import FerbenchError
from ferbench.families._base_keras import KerasFamily

# Keras's default 0.99 lets the moving statistics lag far behind fast-changing activations on
# short CPU budgets: measured on 4,000 FER-2013 images after 2 epochs, inference-mode accuracy on
# the training images was 0.26 against 0.39 in training mode; with 0.9 both were 0.39.
BN_MOMENTUM = 0.9


def check_poolings(owner: str, size: int, pools: int, pooling: str, ratio: float) -> None:
    """FerbenchError when `pools` poolings would shrink a `size`-pixel side below one pixel."""
    left = size
    for _ in range(pools):
        left = int(left // ratio) if pooling == "fractional" else left // 2  # TF: floor(size / ratio)
    if left < 1:
        raise FerbenchError(
            f"family {owner}: {pools} {pooling} poolings leave no pixels of a {size}-pixel input; "
            "use fewer blocks (n + m)"
        )


def raghuvanshi_network(
    family: KerasFamily,
    x,
    n_classes: int,
    *,
    blocks: Sequence[tuple[int, int]],
    fc: Sequence[int],
    stem: int | None = None,
    kernel_size: int = 3,
    pooling: str = "max",
    ratio: float = 1.414,
):
    """Shared by five_layer_cnn and deeper_cnn: optional stem conv, conv blocks given as
    (filters, convs per block), each closed by pooling + dropout, then FC layers, then softmax."""
    from keras import layers

    dropout = family.params["dropout"]
    reg = family.regularizer()

    def conv(x, filters):
        x = layers.Conv2D(
            filters,
            kernel_size,
            strides=1,
            padding="same",
            use_bias=False,  # BN supplies the bias
            kernel_initializer="he_normal",
            kernel_regularizer=reg,
        )(x)
        return layers.ReLU()(layers.BatchNormalization(momentum=BN_MOMENTUM)(x))

    check_poolings(family.name, int(x.shape[1]), len(blocks), pooling, ratio)
    if stem:
        x = conv(x, stem)
    for filters, convs in blocks:
        for _ in range(convs):
            x = conv(x, filters)
        if pooling == "fractional":
            from ferbench.layers import FractionalMaxPooling2D

            pool = FractionalMaxPooling2D(ratio=ratio)
        else:
            pool = layers.MaxPooling2D(2, strides=2)
        x = layers.Dropout(dropout)(pool(x))
    x = layers.Flatten()(x)
    for units in fc:
        x = layers.Dense(units, use_bias=False, kernel_initializer="he_normal", kernel_regularizer=reg)(x)
        x = layers.Dropout(dropout)(layers.ReLU()(layers.BatchNormalization(momentum=BN_MOMENTUM)(x)))
    return layers.Dense(n_classes, activation="softmax", kernel_regularizer=reg)(x)
