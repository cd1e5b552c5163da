"""nishime_cnn: the CNN of Nishime et al. (2017) on FER-2013, with a GCN + ZCA front end.

What the paper states: 48x48 grey input; global contrast normalisation and ZCA whitening (both fit
on the training images only here); convolution, max-pooling, fully connected and classification
layers; one output unit per class. Its layer sizes are given only in a figure, and its CNN
follows the LeNet tutorial of the deeplearning.net documentation (its reference [4]).

Assumed, following that LeNet tutorial: conv 5x5 "valid" with 20 filters -> 2x2 max-pool ->
conv 5x5 with 50 filters -> 2x2 max-pool -> FC 500 -> softmax, tanh activations
(48 -> 44 -> 22 -> 18 -> 9). Not stated in the paper and chosen here: Adam (the tutorial used
plain SGD), batch 128, optional dropout before the classifier (0 by default), no augmentation,
20 epochs.
"""

from __future__ import annotations

from ferbench.families.keras_base import KerasFamily, common_params
from ferbench.families.registry import register
from ferbench.params import Choice, Float, Int


@register
class NishimeCNN(KerasFamily):
    name = "nishime_cnn"
    paper = "nishime2017"
    title = "Nishime et al. CNN: GCN + ZCA, LeNet-style conv-pool-conv-pool-FC-softmax"
    input_shape = (48, 48, 1)
    preprocessing = ("resize", "gcn", "zca")
    params = {
        **common_params(augment=False),
        "filters1": Int(20, "filters of the first conv layer", low=2, high=128, log=True),
        "filters2": Int(50, "filters of the second conv layer", low=2, high=256, log=True),
        "hidden": Int(500, "units of the fully connected layer", low=8, high=2048, log=True),
        "activation": Choice("tanh", "activation of the hidden layers", choices=("tanh", "relu")),
        "dropout": Float(0.0, "dropout before the classifier", low=0.0, high=0.8),
    }
    test_params = {"filters1": 2, "filters2": 2, "hidden": 8, "batch_size": 32}
    default_epochs = 20
    quick_epochs = 2
    notes = (
        "Layer sizes assumed from the LeNet tutorial the paper cites (20 and 50 5x5 filters, "
        "FC 500, tanh); optimizer Adam, batch 128 and 20 epochs are our choices. GCN and ZCA are "
        "fit on the training part only."
    )

    def network(self, x, n_classes):
        from keras import layers

        p = self.params
        act = p["activation"]
        for filters in (p["filters1"], p["filters2"]):
            x = layers.Conv2D(filters, 5, padding="valid", activation=act)(x)
            x = layers.MaxPooling2D(2)(x)
        x = layers.Dense(p["hidden"], activation=act)(layers.Flatten()(x))
        x = layers.Dropout(p["dropout"])(x)
        return layers.Dense(n_classes, activation="softmax")(x)
