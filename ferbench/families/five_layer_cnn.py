"""five_layer_cnn: Raghuvanshi & Choksi (2016), Table 1.

conv3-64 x3, max-pool 2x2/2, dropout; conv3-128 x2, max-pool, dropout; each conv + BN + ReLU;
FC-512 + BN + ReLU + dropout; softmax. Adam, He initialisation, 3x3 kernels, stride 1, "same"
padding. `filters` (64) is the first block's width; the second block has twice as many.
"""

from __future__ import annotations

from ferbench.families._base_keras import KerasFamily, common_params
from ferbench.families._raghuvanshi import raghuvanshi_network
from ferbench.families.registry import register
from ferbench.params import Float, Int


@register
class FiveLayerCNN(KerasFamily):
    name = "five_layer_cnn"
    paper = "raghuvanshi2016"
    title = "Raghuvanshi & Choksi five-layer CNN (Table 1): conv3-64 x3, conv3-128 x2, FC-512"
    input_shape = (48, 48, 1)
    preprocessing = ("resize", "feature_mean")
    param_specs = {
        **common_params(augment=True),
        "filters": Int(64, "filters of the first block (the second has twice as many)", low=4, high=256, log=True),
        "dropout": Float(0.1, "dropout rate after each block and the FC layer", low=0.0, high=0.8),
        "l2": Float(1e-4, "L2 weight penalty", low=0.0, high=1e-1, log=True, search=(1e-6, 1e-1)),
    }
    test_params = {"filters": 4, "batch_size": 32}
    default_epochs = 10
    # synthetic, test accuracy: 0.33-0.39 after 1 epoch (seeds 0, 1), 0.56-0.59 after 3 (seeds 0-2)
    quick_epochs = 3
    notes = (
        "Table 1 exactly. Dropout 0.1 and L2 1e-4 defaults are assumptions (the paper tuned them "
        "and reports only that the best dropout was low); augmentation shifts 10% and flips."
    )

    def network(self, x, n_classes):
        f = self.params["filters"]
        return raghuvanshi_network(self, x, n_classes, blocks=[(f, 3), (2 * f, 2)], fc=(512,))
