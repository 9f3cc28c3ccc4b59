"""Adaptive and gradual staged runs end to end on real photos (hymenoptera) with the pretrained EfficientNet-Lite0.

Accuracy alone cannot tell a working unfreeze from a broken one here: the frozen head already validates near 0.9, so
a run whose body never trains passes any accuracy bar a working run passes. The tests therefore check what each
stage must do to the weights: which parameter groups move, whether BatchNorm's statistics move, and that the learner
ends with the run's best weights."""
from pathlib import Path
import pytest, torch
from fastai.vision.all import set_seed, Callback
from fastai_ft.all import *

from realdata import HYMENOPTERA as DATA, needs_hymenoptera
pytestmark = needs_hymenoptera

@pytest.fixture
def learn():
    from fastai_ft.models import folder_dls, lite0_learner
    set_seed(0, reproducible=True)   # torch's threads: conftest.py
    return lite0_learner(folder_dls(DATA, size=128, bs=32, aug=True, seed=0))

BN = torch.nn.modules.batchnorm._BatchNorm

class Moved(Callback):
    """Per stage and parameter group: whether its weights changed during the stage's epochs (BatchNorm's own weights left
    out: fastai's `train_bn` trains them in frozen groups too), and whether its BatchNorm running statistics did"""
    def __init__(self): self.groups,self.stats = {},{}
    def _bns(self):
        group = {id(p): i for i,g in enumerate(self.opt.param_lists) for p in g}
        return [(group[id(m.weight)], m) for m in self.model.modules() if isinstance(m, BN) and m.weight is not None]
    def _stats(self):
        out = [[] for _ in self.opt.param_lists]
        for i,m in self._bns(): out[i] += [m.running_mean.clone(), m.running_var.clone()]
        return out
    def _weights(self):
        skip = {id(p) for _,m in self._bns() for p in m.parameters()}
        return [[p.detach().clone() for p in g if id(p) not in skip] for g in self.opt.param_lists]
    def before_stage(self): self.w0,self.s0 = self._weights(),self._stats()
    @staticmethod
    def _changed(now, then): return [any(not torch.equal(a, b) for a,b in zip(g, g0)) for g,g0 in zip(now, then)]
    def after_epoch(self):
        self.groups[self.stage.name] = self._changed(self._weights(), self.w0)
        self.stats[self.stage.name] = self._changed(self._stats(), self.s0)

def test_adaptive_with_budget_and_tracker(learn, tmp_path):
    pl, mv = Plateau('valid_loss', patience=1, max_epochs=3), Moved()
    with learn.no_bar(), learn.no_logging():
        r = learn.staged_fine_tune('auto', freeze_epochs='auto', plateau=pl, total_epochs=5,
                                   tracker=RunTracker(ckpt_dir=tmp_path), check_bn=True, cbs=mv)
    assert [s.name for s in r] == ['frozen', 'unfrozen']
    assert sum(s.epochs_run for s in r) <= 5 and r[1].epochs == 5 - r[0].epochs_run
    assert all(s.reason in ('plateau', 'budget') for s in r)
    assert r[1].epochs_run >= 1, str(r)
    n = len(learn.opt.param_lists)
    assert mv.groups['frozen'] == [False]*(n-1) + [True], mv.groups      # the frozen stage trains the head alone ...
    assert mv.groups['unfrozen'] == [True]*n, mv.groups                   # ... the unfrozen one every group, the stem too
    assert mv.stats['frozen'] == mv.stats['unfrozen'] == [True]*n, mv.stats   # bn='train', as fastai: every statistic follows the data
    h = learn.stage_history
    assert r.best_at['value'] == h.valid_loss.min()
    assert abs(learn.validate()[0] - r.best_at['value']) < 1e-4      # the run's best weights are what the learner holds
    # 128 px keeps CI short; the >= 0.90 claim is tested at 160 px in test_realdata.py. Measured here: 0.869-0.88
    assert r.ceiling >= 0.85, str(r)
    files = list(tmp_path.iterdir())                                 # keep='best': only the best stage's checkpoint stays
    assert len(files) == 1 and files[0].name.endswith(f"stage{r.best_at['stage']}.pth")

def test_gradual_lite0(learn):
    plan = learn.stage_plan(1, unfreeze=[1, 3, 'all'], lr_decay=2.6)
    n = len(learn.splitter(learn.model))
    assert [s.n_train for s in plan] == [1, 3, n]
    mv = Moved()
    with learn.no_bar(), learn.no_logging():
        r = learn.staged_fine_tune(1, unfreeze=[1, 3, 'all'], lr_decay=2.6, bn='freeze_stats', cbs=mv)
    assert [s.name for s in r] == ['frozen', 'last3', 'unfrozen']
    for name, k in (('frozen', 1), ('last3', 3), ('unfrozen', n)):   # each stage trains exactly the groups it unfroze
        assert mv.groups[name] == [False]*(n-k) + [True]*k, (name, mv.groups[name])
        assert mv.stats[name] == [False]*(n-k) + [True]*k, (name, mv.stats[name])   # bn='freeze_stats': frozen groups keep theirs
    assert r.ceiling >= 0.85, str(r)
