"""fast_vgg: ferbench's own FER-2013 network, designed for accuracy per CPU-second on 48x48 grey faces.

VGG-style stages of 3x3 conv + BN + ReLU (Khaireddin & Chen's recipe, narrowed for a CPU), each
closed by 2x2 max-pooling, the width doubling per stage; global average pooling, dropout, softmax.
Training: SGD with Nesterov momentum and decoupled weight decay on a one-cycle schedule (linear
warm-up to the peak `learning_rate`, then cosine to zero over the fit's steps), label smoothing,
and in-graph augmentation: shifts (edge pixels repeated; zero fill learned slower in a 3-epoch
check), horizontal flips, small rotations and random erasing. `tta` averages each test image with its mirror.
Selection is on the validation rows only (PublicTest under the official protocol): early
stopping keeps the best epoch's weights.
"""

from __future__ import annotations

from ferbench.errors import FerbenchError
from ferbench.families._base_keras import KerasFamily, common_params
from ferbench.families._raghuvanshi import BN_MOMENTUM
from ferbench.families.registry import register
from ferbench.params import Bool, Choice, Float, Int


@register
class FastVGG(KerasFamily):
    name = "fast_vgg"
    paper = "ferbench"
    title = "ferbench's VGG-style BN network for CPUs: one-cycle SGD, label smoothing, in-graph augmentation"
    input_shape = (48, 48, 1)
    preprocessing = ("resize", "dataset_standardize")
    param_specs = {
        **common_params(augment=True, batch_size=128, learning_rate=0.05),
        "patience": Int(1000, "epochs without validation gain before early stopping", tune=False, low=1, high=1000),
        "width": Int(32, "filters of the first stage (each later stage doubles them)", low=4, high=128, log=True),
        "stages": Int(4, "conv stages, each closed by 2x2 max-pooling", low=1, high=5),
        "convs": Int(2, "3x3 convolutions per stage", low=1, high=4),
        "dropout": Float(0.3, "dropout before the classifier", low=0.0, high=0.8),
        "optimizer": Choice("sgd", "SGD with Nesterov momentum 0.9, or AdamW", choices=("sgd", "adamw")),
        "weight_decay": Float(5e-4, "decoupled weight decay (not on BN)", low=1e-6, high=1e-1, log=True),
        "warmup": Float(0.2, "share of the steps spent warming up linearly (0: cosine only)", low=0.0, high=0.5),
        "label_smoothing": Float(0.1, "label smoothing of the training targets", low=0.0, high=0.3),
        "shift": Float(0.1, "largest random shift, as a share of the side", low=0.0, high=0.3),
        "rotation": Float(10.0, "largest random rotation in degrees", low=0.0, high=30.0),
        "erasing": Float(0.25, "probability of erasing one random patch", low=0.0, high=1.0),
        "tta": Bool(False, "test-time augmentation: average each image's and its mirror's probabilities"),
    }
    test_params = {"width": 4, "stages": 2, "convs": 1, "batch_size": 32}
    default_epochs = 45  # about 55 minutes of a 2-core CPU at ~410 img/s (docs/fast_vgg.md)
    # synthetic, quick_params: test accuracy 0.46 and 0.33 after 6 epochs (seeds 0, 1); batch 32,
    # since 6 epochs of 1,400 images are 66 steps at 128
    quick_epochs = 6
    quick_params = {"batch_size": 32}
    notes = (
        "ferbench's own design, no paper: VGG-style BN stages 32-64-128-256 x2 convs, GAP, one-cycle "
        "SGD-Nesterov (peak 0.05), label smoothing 0.1, shifts, flips, rotations, random erasing, "
        "batch 128, 45 epochs; measured on a 2-core CPU in docs/fast_vgg.md. Selected on PublicTest only."
    )

    def __init__(self, **params):
        super().__init__(**params)
        if self.input_shape[0] >> self.params["stages"] < 1:
            raise FerbenchError(f"family {self.name}: {self.params['stages']} poolings leave no pixels of 48x48")

    def augmentation_layers(self) -> list:
        from keras import layers

        p = self.params
        out = [layers.RandomFlip("horizontal", name="aug_flip")]
        if p["shift"]:
            out.append(layers.RandomTranslation(p["shift"], p["shift"], fill_mode="nearest", name="aug_shift"))
        if p["rotation"]:
            out.append(layers.RandomRotation(p["rotation"] / 360.0, fill_mode="nearest", name="aug_rotation"))
        if p["erasing"]:
            out.append(layers.RandomErasing(factor=(p["erasing"], p["erasing"]), name="aug_erasing"))
        return out

    def loss(self):
        from ferbench.layers import SparseSmoothedCrossentropy

        smoothing = self.params["label_smoothing"]
        return SparseSmoothedCrossentropy(smoothing) if smoothing else super().loss()

    def optimizer(self):
        import keras

        p = self.params
        steps = max(1, getattr(self, "total_steps_", 1))
        warm = int(p["warmup"] * steps)
        peak = p["learning_rate"]
        schedule = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=peak / 25 if warm else peak,  # one-cycle's usual start
            decay_steps=max(1, steps - warm),
            warmup_target=peak if warm else None,
            warmup_steps=warm,
        )
        if p["optimizer"] == "adamw":
            optimizer = keras.optimizers.AdamW(learning_rate=schedule, weight_decay=p["weight_decay"])
        else:
            optimizer = keras.optimizers.SGD(
                learning_rate=schedule, momentum=0.9, nesterov=True, weight_decay=p["weight_decay"]
            )
        optimizer.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
        return optimizer

    def network(self, x, n_classes):
        from keras import layers

        p = self.params
        filters = p["width"]
        for _ in range(p["stages"]):
            for _ in range(p["convs"]):
                x = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_initializer="he_normal")(x)
                x = layers.ReLU()(layers.BatchNormalization(momentum=BN_MOMENTUM)(x))
            x = layers.MaxPooling2D(2)(x)
            filters *= 2
        x = layers.Dropout(p["dropout"])(layers.GlobalAveragePooling2D()(x))
        return layers.Dense(n_classes, activation="softmax")(x)
