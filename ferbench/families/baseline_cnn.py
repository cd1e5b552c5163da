"""baseline_cnn: the baseline of Raghuvanshi & Choksi (2016).

One convolutional layer (ReLU), one fully connected layer, softmax; no dropout, no batch norm,
no weight penalty and, as the paper's baseline was unregularised, no augmentation by default.
Assumption: the fully connected layer is the classifier itself (features of the single conv layer
fed to a softmax classifier, as the paper words it), so there is no hidden FC layer.
"""

from __future__ import annotations

from ferbench.families._base_keras import KerasFamily, common_params
from ferbench.families.registry import register
from ferbench.params import Int


@register
class BaselineCNN(KerasFamily):
    name = "baseline_cnn"
    paper = "raghuvanshi2016"
    title = "Raghuvanshi & Choksi baseline: one conv layer, one FC layer, softmax, no regularisation"
    input_shape = (48, 48, 1)
    preprocessing = ("resize", "feature_mean")
    param_specs = {
        **common_params(augment=False),
        "filters": Int(32, "filters of the conv layer", low=1, high=256, log=True),
        "kernel_size": Int(3, "conv kernel size", low=1, high=9, step=2),
    }
    test_params = {"filters": 2, "batch_size": 32}
    default_epochs = 10
    # synthetic, test accuracy: 0.19-0.26 after 1 epoch (seeds 0, 1), 0.51-0.55 after 6 (seeds 0-2)
    quick_epochs = 6
    notes = "Conv (32 filters, 3x3, ReLU) -> FC to the classes -> softmax; filter count is an assumption."

    def network(self, x, n_classes):
        from keras import layers

        p = self.params
        x = layers.Conv2D(p["filters"], p["kernel_size"], padding="same", activation="relu")(x)
        return layers.Dense(n_classes, activation="softmax")(layers.Flatten()(x))
