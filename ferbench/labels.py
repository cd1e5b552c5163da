"""The canonical label space: FER-2013's seven classes, in FER-2013's code order."""

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
CONTEMPT = "contempt"
EMOTIONS_WITH_CONTEMPT: tuple[str, ...] = EMOTIONS + (CONTEMPT,)

# Spellings that data sets use on disk, mapped onto the canonical names.
ALIASES: dict[str, str] = {
    "anger": "angry",
    "angry": "angry",
    "an": "angry",
    "disgust": "disgust",
    "disgusted": "disgust",
    "di": "disgust",
    "fear": "fear",
    "fearful": "fear",
    "fe": "fear",
    "happy": "happy",
    "happiness": "happy",
    "ha": "happy",
    "sad": "sad",
    "sadness": "sad",
    "sa": "sad",
    "surprise": "surprise",
    "surprised": "surprise",
    "su": "surprise",
    "neutral": "neutral",
    "ne": "neutral",
    "contempt": "contempt",
    "co": "contempt",
}


def canonical(name: str) -> str | None:
    """Canonical class name for a spelling found on disk, or None when unknown."""
    return ALIASES.get(name.strip().lower())
