"Adaptive and gradual staged runs end to end on real photos (hymenoptera) with the pretrained EfficientNet-Lite0."
from pathlib import Path
import pytest, torch
from fastai.vision.all import set_seed
from fastai_ft.all import *

from realdata import HYMENOPTERA as DATA, needs_hymenoptera
pytestmark = needs_hymenoptera

@pytest.fixture
def learn():
    from fastai_ft.models import folder_dls, lite0_learner
    torch.set_num_threads(2); set_seed(0, reproducible=True)
    return lite0_learner(folder_dls(DATA, size=128, bs=32, aug=True, seed=0))

def test_adaptive_with_budget_and_tracker(learn, tmp_path):
    pl = Plateau('valid_loss', patience=1, max_epochs=3)
    with learn.no_bar(), learn.no_logging():
        r = learn.staged_fine_tune('auto', freeze_epochs='auto', plateau=pl, total_epochs=5,
                                   tracker=RunTracker(ckpt_dir=tmp_path), check_bn=True)
    assert [s.name for s in r] == ['frozen', 'unfrozen']
    assert sum(s.epochs_run for s in r) <= 5 and r[1].epochs == 5 - r[0].epochs_run
    assert all(s.reason in ('plateau', 'budget') for s in r)
    h = learn.stage_history
    assert r.best_at['value'] == h.valid_loss.min()
    assert abs(learn.validate()[0] - r.best_at['value']) < 1e-4      # the run's best weights are what the learner holds
    # 128 px keeps CI short; the >= 0.90 claim is tested at 160 px in test_realdata.py. Measured in CI here: 0.869
    # (the unfrozen stage's valid loss got worse, the tracker kept the frozen stage's best: what it is for)
    assert r.ceiling >= 0.85, str(r)
    files = list(tmp_path.iterdir())                                 # keep='best': only the best stage's checkpoint stays
    assert len(files) == 1 and files[0].name.endswith(f"stage{r.best_at['stage']}.pth")

def test_gradual_lite0(learn):
    plan = learn.stage_plan(1, unfreeze=[1, 3, 'all'], lr_decay=2.6)
    assert [s.n_train for s in plan] == [1, 3, len(learn.opt.param_lists)]
    with learn.no_bar(), learn.no_logging():
        r = learn.staged_fine_tune(1, unfreeze=[1, 3, 'all'], lr_decay=2.6, bn='freeze_stats')
    assert [s.name for s in r] == ['frozen', 'last3', 'unfrozen']
    assert r.ceiling >= 0.85, str(r)
