"""Published baselines: ferbench/baselines/published.yaml and its loader (filled in by issue 6)."""


def for_family(name: str) -> list[dict]:
    return []
