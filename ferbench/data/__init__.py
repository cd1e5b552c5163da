"""Data sets: readers that turn files on disk into one FaceDataset type."""

from ferbench.data.dataset import FaceDataset, Part

__all__ = ["FaceDataset", "Part"]
