"""Kept so leaderboard caches written by earlier ferbench versions load: their pickled runs name
`ferbench.leaderboard_cache.RunRecord`, which lives in ferbench.leaderboard today."""

from ferbench.leaderboard._cache import RunRecord

__all__ = ["RunRecord"]
