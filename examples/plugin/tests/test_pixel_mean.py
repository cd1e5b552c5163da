"""The plugin's own tests: ferbench's family contract, check by check."""

from ferbench_pixel_mean import PixelMeanLogReg

from ferbench.testing import parametrize_with_family_checks


@parametrize_with_family_checks([PixelMeanLogReg])
def test_family_contract(family, check):
    check(family)
