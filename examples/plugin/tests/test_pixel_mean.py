"""The plugin's own tests: ferbench's family contract, check by check."""

from ferbench.testing import parametrize_with_family_checks
from ferbench_pixel_mean import PixelMeanLogReg


@parametrize_with_family_checks([PixelMeanLogReg])
def test_family_contract(family, check):
    check(family)
