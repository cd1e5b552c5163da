"""deeper_cnn: the parameterised deeper CNN of Raghuvanshi & Choksi (2016), Table 2.

Table 2, read top to bottom: one CONV-FILT1 + BN + ReLU layer; then n times the block
[CONV-FILT1 + BN + ReLU, CONV-FILT1 + BN + ReLU, (fractional) max-pool, dropout]; then m times
the same block with FILT2 filters; then FC-512, FC-256, FC-128, each + BN + ReLU + dropout; softmax.
With n = m = 1 this is exactly Table 1's five conv layers (the paper calls the five-layer CNN an
instance of this one, which fixes the reading); n + m = 3 gives the seven conv layers of the
paper's best model. Defaults n=1, m=2, FILT1=32, FILT2=64 follow the text (32 filters first,
64 after did best). Adam, He initialisation, stride 1 and "same" padding as for the five-layer CNN.
The paper's "CONVn" kernel size is its own parameter here (`kernel_size`), not the repeat count.
"""

from __future__ import annotations

from ferbench.families._base_keras import KerasFamily, common_params
from ferbench.families._raghuvanshi import check_poolings, raghuvanshi_network
from ferbench.families.registry import register
from ferbench.params import Choice, Float, Int


@register
class DeeperCNN(KerasFamily):
    name = "deeper_cnn"
    paper = "raghuvanshi2016"
    title = "Raghuvanshi & Choksi deeper CNN (Table 2): n+m conv blocks, (fractional) max-pool, FC 512-256-128"
    input_shape = (48, 48, 1)
    preprocessing = ("resize", "feature_mean")
    param_specs = {
        **common_params(augment=True),
        "n": Int(1, "repeats of the FILT1 block", low=1, high=4),
        "m": Int(2, "repeats of the FILT2 block", low=1, high=4),
        "filt1": Int(32, "filters of the first blocks", low=4, high=256, log=True),
        "filt2": Int(64, "filters of the second blocks", low=4, high=512, log=True),
        "kernel_size": Int(3, "convolution kernel size", low=1, high=7, step=2),
        "pooling": Choice("max", "2x2 max-pooling or fractional max-pooling", choices=("max", "fractional")),
        "fmp_ratio": Float(1.414, "fractional pooling reduction ratio", tune=False, low=1.05, high=2.0),
        "dropout": Float(0.1, "dropout rate after pooling and FC layers", low=0.0, high=0.8),
        "l2": Float(1e-4, "L2 weight penalty", low=0.0, high=1e-1, log=True, search=(1e-6, 1e-1)),
    }
    test_params = {"n": 1, "m": 1, "filt1": 4, "filt2": 4, "pooling": "fractional", "batch_size": 32}
    default_epochs = 10
    # synthetic, test accuracy: 0.21-0.23 after 1 epoch (seeds 0, 1), 0.48-0.54 after 6 (seeds 0-2)
    quick_epochs = 6
    notes = (
        "Table 2 read as: stem conv, n x [conv, conv, pool, dropout] with FILT1, m x the same with "
        "FILT2, FC 512-256-128. Defaults n=1, m=2 (seven conv layers, the paper's best), FILT1=32, "
        "FILT2=64; dropout 0.1 and L2 1e-4 are assumptions (the paper reports only that its best "
        "dropout was low). Fractional pooling: pseudo-random, overlapping, ratio ~sqrt(2)."
    )

    def __init__(self, **params):
        super().__init__(**params)
        p = self.params
        check_poolings(self.name, self.input_shape[0], p["n"] + p["m"], p["pooling"], p["fmp_ratio"])

    def network(self, x, n_classes):
        p = self.params
        blocks = [(p["filt1"], 2)] * p["n"] + [(p["filt2"], 2)] * p["m"]
        return raghuvanshi_network(
            self,
            x,
            n_classes,
            stem=p["filt1"],
            blocks=blocks,
            fc=(512, 256, 128),
            kernel_size=p["kernel_size"],
            pooling=p["pooling"],
            ratio=p["fmp_ratio"],
        )
