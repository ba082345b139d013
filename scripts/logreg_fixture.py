"""Write tests/fixtures/embedding/logreg_sklearn.json: scikit-learn's LogisticRegression(max_iter=100) (MTEB's
classifier) fitted on seeded random problems, so the numpy/scipy fit in embedding/logreg.py is checked
against it without the tests depending on scikit-learn.

    pip install scikit-learn   # anywhere; or PYTHONPATH=<a folder with sklearn> python scripts/logreg_fixture.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "embedding" / "logreg_sklearn.json"


def problem(seed: int, classes: int, per_class: int, dim: int, spread: float) -> dict:
    rng = np.random.RandomState(seed)
    centres = rng.normal(size=(classes, dim))
    y = np.repeat(np.arange(classes), per_class)
    x = centres[y] + spread * rng.normal(size=(len(y), dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)  # unit rows, like normalised embeddings
    test = centres[rng.randint(classes, size=200)] + spread * rng.normal(size=(200, dim))
    test /= np.linalg.norm(test, axis=1, keepdims=True)
    return {"seed": seed, "classes": classes, "per_class": per_class, "dim": dim, "spread": spread,
            "x": x.round(8).tolist(), "y": y.tolist(), "test": test.round(8).tolist()}


def main() -> None:
    cases = [problem(0, 5, 8, 16, 1.5), problem(1, 12, 8, 32, 2.5), problem(2, 3, 30, 8, 0.8)]
    for case in cases:  # fitted on the rounded inputs the fixture stores
        x = np.array(case["x"])
        model = LogisticRegression(random_state=42, max_iter=100).fit(x, case["y"])
        case.update(predictions=model.predict(np.array(case["test"])).tolist(), n_iter=int(model.n_iter_[0]),
                    coef=model.coef_.round(8).tolist(), intercept=model.intercept_.round(8).tolist())
    OUT.write_text(json.dumps({"sklearn": sklearn.__version__, "cases": cases}) + "\n")
    print(f"wrote {OUT} (scikit-learn {sklearn.__version__})")


if __name__ == "__main__":
    main()
