"""A run interrupted and resumed ends exactly as the same run never interrupted: here `recipe='auto'` stopped inside its
head stage, which trains on cached features with augmented passes that the epochs read in turn (the pass an epoch reads
must follow the stage's epoch, not the resumed fit's own counter, which starts again at 0)."""
import contextlib, io, random
import pytest, torch
from fastai.basics import Callback, set_seed
from fastai_ft.all import *
from kinds import single_label

class Stop(Callback):
    "Interrupt the run, as Ctrl-C would, at the end of the head stage's `at`-th epoch (its state is saved by then)"
    order = RunStateCallback.order+1
    def __init__(self, at): self.at = at
    def after_epoch(self):
        if self.stage.name == 'head' and self.stage.epochs_run == self.at: raise KeyboardInterrupt()

class Passes(Callback):
    "The cached pass each head-stage epoch trained on"
    def __init__(self): self.seen = []
    def before_epoch(self):
        if self.stage.name == 'head': self.seen.append(None)
    def after_batch(self):
        if self.training and self.stage.name == 'head': self.seen[-1] = self.learn.feature_cache_k()

def run(path, state, cbs=()):
    learn, _ = single_label(path)
    set_seed(0)
    for dl in learn.dls.loaders: dl.rng = random.Random(0)
    with learn.no_bar(), learn.no_logging(), contextlib.redirect_stdout(io.StringIO()):
        r = learn.staged_fine_tune(recipe='auto', freeze_epochs=5, epochs=1, head_aug=2, resume=state, cbs=list(cbs))
    return learn, r

def cached_pass(learn):
    "The pass of the feature cache the current batch comes from"
    cb = next(c for c in learn.cbs if type(c).__name__ == 'FeatureCacheCallback')
    return cb.tdl.k

def test_recipe_resumed_in_its_cached_head_stage(tmp_path, monkeypatch):
    monkeypatch.setattr('fastai.learner.Learner.feature_cache_k', cached_pass, raising=False)
    ref, seen_ref = run(tmp_path/'a', tmp_path/'a.pth', [p := Passes()])[0], p.seen
    assert seen_ref == [0, 1, 2, 0, 1], seen_ref    # one clean pass and two augmented ones, in turn
    with pytest.raises(KeyboardInterrupt), pytest.warns(UserWarning, match='holds it up to its last complete epoch'):
        run(tmp_path/'b', tmp_path/'b.pth', [Stop(2), p1 := Passes()])
    learn, r = run(tmp_path/'b', tmp_path/'b.pth', [p2 := Passes()])
    assert p1.seen + p2.seen == seen_ref, (p1.seen, p2.seen)
    assert [s.name for s in r] == ['head', 'unfrozen']
    for (k, a), b in zip(ref.model.state_dict().items(), learn.model.state_dict().values()): assert torch.equal(a, b), k
