"""Where the real photos are. The real-data tests, the benchmarks and the tutorial read the ants-and-bees photos
(hymenoptera: the set of PyTorch's transfer-learning tutorial, `train/` and `val/` with `ants/` and `bees/`) from the folder
in the environment variable `FASTAI_FT_HYMENOPTERA`, by default `../shared/data/hymenoptera` beside the checkout.
Without it those tests skip, and pytest's summary lists them by name (conftest.py)."""
import os
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
HYMENOPTERA = Path(os.environ.get('FASTAI_FT_HYMENOPTERA', ROOT.parent/'shared'/'data'/'hymenoptera'))
REASON = (f"real-data test: hymenoptera not found at {HYMENOPTERA} (set FASTAI_FT_HYMENOPTERA to a folder with "
          "train/ and val/, one subfolder per class)")
needs_hymenoptera = pytest.mark.skipif(not (HYMENOPTERA/'train').is_dir(), reason=REASON)

def threads():
    "torch threads for a test: 1 in each of pytest-xdist's workers (one per core, the project's default), else 2"
    return 1 if os.environ.get('PYTEST_XDIST_WORKER') else 2
