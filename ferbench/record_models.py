"""Kept so models logged by earlier ferbench versions load: their pickled pyfunc model names
`ferbench.record_models.FamilyModel`, which lives in ferbench.record today."""

from ferbench.record._models import FamilyModel

__all__ = ["FamilyModel"]
