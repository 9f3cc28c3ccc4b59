"fastai's own callbacks passed to (or on the learner of) staged_fine_tune mean what they mean in one fit (issue 11, items 2 and 5)."
import contextlib, io, warnings
import numpy as np, pandas as pd, pytest, torch
import fastai.callback.progress as fp
from fastprogress.fastprogress import ConsoleMasterBar, ConsoleProgressBar
from torch import nn
from fastai.basics import Callback, Recorder, Learner, DataLoaders, CrossEntropyLossFlat, params, set_seed
from fastai.callback.all import CSVLogger, SaveModelCallback, EarlyStoppingCallback, ReduceLROnPlateau, ShowGraphCallback, ProgressCallback, BnFreeze
from fastai_ft.all import *

GRADUAL = dict(epochs=3, freeze_epochs=2, unfreeze='gradual')   # stages frozen 2, last2 2, unfrozen 3: 7 epochs

class Valid(Callback):
    "Replace each epoch's valid_loss by the next of `values`, before any callback reads it"
    order = Recorder.order+0.5
    def __init__(self, values): self.values = list(values)
    def after_epoch(self): self.recorder.values[-1][1] = self.values.pop(0)

def quiet(learn, *args, **kw):
    with learn.no_bar(), learn.no_logging(), contextlib.redirect_stdout(io.StringIO()) as out:
        r = learn.staged_fine_tune(*args, **kw)
    return r, out.getvalue()

def overfit_learner(path, seed=2):
    "Validation loss rises after a few epochs: 40% of the training labels are flipped, the model is wide, the LR high"
    set_seed(seed)
    def ds(n, noise):
        x = torch.randn(n, 8); y = (x[:, 0] + 0.5*x[:, 1] > 0).long()
        return torch.utils.data.TensorDataset(x, torch.where(torch.rand(n) < noise, 1-y, y))
    dls = DataLoaders.from_dsets(ds(48, 0.4), ds(48, 0.), bs=16, device='cpu')
    blk = lambda ni: nn.Sequential(nn.Linear(ni, 64), nn.ReLU())
    model = nn.Sequential(nn.Sequential(blk(8), blk(64)), nn.Linear(64, 2))
    return Learner(dls, model, CrossEntropyLossFlat(), splitter=lambda m: [params(b) for b in m[0]] + [params(m[1])], path=path)

OVERFIT = dict(epochs=4, freeze_epochs=2, base_lr=5e-2, unfreeze='gradual')

@contextlib.contextmanager
def console():
    "fastprogress's console bars, printing into a string"
    old, out = (fp.master_bar, fp.progress_bar), io.StringIO()
    fp.master_bar, fp.progress_bar = ConsoleMasterBar, ConsoleProgressBar
    try:
        with contextlib.redirect_stdout(out): yield out
    finally: fp.master_bar, fp.progress_bar = old

def test_csv_logger_holds_every_epoch(tmp_path):
    learn = synth_staged_learner(3, path=tmp_path)
    quiet(learn, cbs=CSVLogger('h.csv'), **GRADUAL)
    log, h = pd.read_csv(tmp_path/'h.csv'), learn.stage_history
    assert log.epoch.tolist() == list(range(7))
    assert log.stage.tolist() == ['frozen']*2 + ['last2']*2 + ['unfrozen']*3
    np.testing.assert_allclose(log.valid_loss, h.valid_loss, rtol=1e-6)
    assert list(log.columns) == ['epoch', 'stage', 'train_loss', 'valid_loss', 'accuracy', 'time']

def test_csv_logger_on_the_learner(tmp_path):
    "A callback given to the Learner itself is made run-wide too, and is the learner's own again afterwards"
    learn = synth_staged_learner(3, path=tmp_path, cbs=CSVLogger('own.csv'))
    quiet(learn, **GRADUAL)
    assert len(pd.read_csv(tmp_path/'own.csv')) == 7
    assert type(learn.csv_logger) is CSVLogger

def test_save_model_reloads_the_runs_best(tmp_path):
    learn = overfit_learner(tmp_path)
    _, out = quiet(learn, cbs=SaveModelCallback(), **OVERFIT)
    h = learn.stage_history
    assert h.valid_loss.iloc[-1] > h[h.stage == h.stage.max()].valid_loss.min() > h.valid_loss.min(), "the learner must overfit"
    np.testing.assert_allclose(learn.validate()[0], h.valid_loss.min(), rtol=1e-5)
    v = h.valid_loss.tolist()
    bests = [e for e in range(len(v)) if v[e] < min(v[:e], default=np.inf)]
    assert [int(l.split()[5]) for l in out.splitlines() if l.startswith('Better model')] == bests

def test_save_model_matches_one_fit(tmp_path):
    vals = [.9, .5, .7, .6, .8, .65, .7]
    def run(staged):
        set_seed(0); learn = synth_staged_learner(3, path=tmp_path)
        cbs = [SaveModelCallback(fname='sm'), Valid(vals)]
        with learn.no_bar(), learn.no_logging(), contextlib.redirect_stdout(io.StringIO()) as out:
            if staged: learn.staged_fine_tune(cbs=cbs, **GRADUAL)
            else: learn.fit_one_cycle(7, cbs=cbs)
        return out.getvalue()
    assert run(True) == run(False) == ("Better model found at epoch 0 with valid_loss value: 0.9.\n"
                                       "Better model found at epoch 1 with valid_loss value: 0.5.\n")

def test_early_stopping_counts_across_stages(tmp_path):
    "The issue's case: patience 2 with SaveModelCallback stops 2 epochs after the run's best and ends on it"
    learn = overfit_learner(tmp_path)
    r, out = quiet(learn, cbs=[EarlyStoppingCallback(patience=2), SaveModelCallback()], **OVERFIT)
    h = learn.stage_history
    assert len(h) - 1 - h.valid_loss.idxmin() == 2 and r[-1].reason == 'early_stop'
    assert len(h) < 2 + 2 + 4, "the run should have stopped early"
    np.testing.assert_allclose(learn.validate()[0], h.valid_loss.min(), rtol=1e-5)
    assert f"No improvement since epoch {h.valid_loss.idxmin()}: early stopping" in out

def test_early_stopping_boundary_and_per_stage():
    vals = [.9, .5, .6, .7, .4, .3, .2, .1]
    def run(cb):
        set_seed(0)
        return quiet(synth_staged_learner(3), 2, freeze_epochs=3, unfreeze='gradual', cbs=[cb, Valid(vals)])[0]
    assert [(s.name, s.epochs_run, s.reason) for s in run(EarlyStoppingCallback(patience=2))] == [('frozen', 3, 'done'), ('last2', 1, 'early_stop')]
    assert [(s.name, s.epochs_run) for s in run(per_stage(EarlyStoppingCallback(patience=2)))] == [('frozen', 3), ('last2', 3), ('unfrozen', 2)]

def test_reduce_lr_on_plateau_is_run_wide():
    def lrs(cbs):
        set_seed(0); learn = synth_staged_learner(3)
        quiet(learn, cbs=cbs, **GRADUAL)
        return np.array(learn.stage_recorder.lrs)
    ref, ours = lrs([]), lrs([ReduceLROnPlateau(patience=2), Valid([.5, .6, .7, .8, .9, 1., 1.1])])
    nb = len(ref)//7
    np.testing.assert_allclose(ours[:3*nb], ref[:3*nb])
    np.testing.assert_allclose(ours[3*nb:5*nb], ref[3*nb:5*nb]/10)   # reduced after epoch 2, patience counted over the stage boundary
    np.testing.assert_allclose(ours[5*nb:], ref[5*nb:]/100)

def test_one_progress_table_and_graph():
    class GraphBar(ConsoleMasterBar):
        made = []
        def __init__(self, *args, **kwargs): super().__init__(*args, **kwargs); self.graphs = []; GraphBar.made.append(self)
        def update_graph(self, graphs, x_bounds=None, y_bounds=None): self.graphs.append((graphs, x_bounds))
    with console() as out:
        fp.master_bar = GraphBar
        synth_staged_learner(3).staged_fine_tune(cbs=ShowGraphCallback(), **GRADUAL)
    text = out.getvalue()
    assert text.count('train_loss') == 1, "one table header for the whole run"
    rows = [l.split() for l in text.replace('\r', '\n').splitlines() if l[:1].isdigit()]
    assert [r[:2] for r in rows] == [[str(i), n] for i, n in enumerate(['frozen']*2 + ['last2']*2 + ['unfrozen']*3)]
    assert 'Epoch 3/7 (last2)' in text
    assert len(GraphBar.made) == 1
    (train, valid), xb = GraphBar.made[0].graphs[-1]
    assert (len(train[1]), len(valid[1]), xb) == (7*8, 7, (0, 7*8))

def test_no_bar_still_works():
    learn = synth_staged_learner(3)
    with console() as out, learn.no_bar(), learn.no_logging(): learn.staged_fine_tune(1)
    assert out.getvalue().strip() == ''
    assert type(learn.progress) is ProgressCallback

def test_bn_freeze_is_honoured():
    learn = synth_staged_learner(3)
    bn = learn.model[0][0][1]
    m0, seen = bn.running_mean.clone(), []
    class Stats(Callback):
        def after_stage(self): seen.append(bn.running_mean.clone())
    r, _ = quiet(learn, 1, cbs=[BnFreeze(), Stats()])
    assert torch.equal(seen[0], m0) and not torch.equal(seen[1], m0)
    assert [s.bn for s in r] == ['freeze_stats', 'freeze_stats']
    with pytest.raises(PlanError, match='drop BnFreeze'): synth_staged_learner(3).staged_fine_tune(1, bn='recalibrate', cbs=BnFreeze())

def test_resume_keeps_one_csv_and_the_best(tmp_path):
    "A run interrupted in its third epoch and resumed writes each epoch once, and SaveModelCallback still loads the best of both parts"
    class Stop(Callback):
        order = 99
        def after_epoch(self):
            if self.stage.name == 'last2': raise KeyboardInterrupt()
    class Snap(Callback):
        def __init__(self): self.w = []
        def after_epoch(self): self.w.append([p.detach().clone() for p in self.model.parameters()])
    vals, snap = [.9, .5, .7, .6, .8, .65, .7], Snap()
    def run(vals, extra):
        learn = synth_staged_learner(3, path=tmp_path)
        with console() as out:   # with fastai's progress bar, which must start at the resumed epoch
            learn.staged_fine_tune(cbs=[CSVLogger('r.csv'), SaveModelCallback(fname='r'), Valid(vals), *extra], resume=tmp_path/'state.pth', **GRADUAL)
        return learn, out.getvalue()
    with pytest.raises(KeyboardInterrupt): run(vals, [Stop(), snap])
    assert len(pd.read_csv(tmp_path/'r.csv')) == 3
    learn, out = run(vals[3:], [])
    assert [l.split()[:2] for l in out.replace('\r', '\n').splitlines() if l[:1].isdigit()][0] == ['3', 'last2']
    log = pd.read_csv(tmp_path/'r.csv')
    assert log.epoch.tolist() == list(range(7))
    assert log.stage.tolist() == ['frozen']*2 + ['last2']*2 + ['unfrozen']*3
    for p, q in zip(learn.model.parameters(), snap.w[1]): assert torch.equal(p, q)

def test_no_moms_shadowing_warning(tmp_path):
    "StageRecorder used to raise 'You are shadowing an attribute (moms)' when a run resumed"
    class Stop(Callback):
        order = 99
        def after_epoch(self):
            if self.stage.index == 1: raise KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt): quiet(synth_staged_learner(3), 2, resume=tmp_path/'s.pth', cbs=Stop())
    with warnings.catch_warnings():
        warnings.filterwarnings('error', 'You are shadowing')
        quiet(synth_staged_learner(3), 2, resume=tmp_path/'s.pth')
