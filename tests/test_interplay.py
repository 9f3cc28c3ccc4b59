"staged_fine_tune alongside fastai's own tools: export/load_learner, mixed precision, lr_find, other callbacks, KeyboardInterrupt."
import pickle, pytest, torch
import numpy as np
from pathlib import Path
from fastai.basics import Learner, load_learner, Callback, set_seed
from fastai.callback.progress import CSVLogger
from fastai.callback.progress import ShowGraphCallback
from fastai_ft.all import *

def quiet(learn, **kw):
    with learn.no_bar(), learn.no_logging(): return learn.staged_fine_tune(**kw)

def tiny_vision_learner(path):
    "A real fastai vision pipeline (export needs fastai datasets) on a few generated images"
    from PIL import Image
    import numpy as np
    from fastai.vision.all import ImageDataLoaders, vision_learner, resnet18, accuracy, Resize
    rng = np.random.default_rng(0)
    for split in ('train', 'valid'):
        for c in ('a', 'b'):
            (path/split/c).mkdir(parents=True)
            for i in range(8): Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(path/split/c/f'{i}.png')
    dls = ImageDataLoaders.from_folder(path, item_tfms=Resize(32), bs=8, num_workers=0)
    return vision_learner(dls, resnet18, pretrained=False, metrics=accuracy, splitter=auto_split, path=path)

def test_export_and_load_learner(tmp_path):
    learn = tiny_vision_learner(tmp_path)
    quiet(learn, epochs=1, freeze_epochs='auto', tracker=True, bn=['freeze', 'eval'], cbs=[for_stages(CSVLogger(), 'unfrozen')])
    ours = (RunTracker, AdaptiveStageCallback, StageRecorder, BNPolicyCallback, RunStateCallback)
    assert not [cb for cb in learn.cbs if isinstance(cb, ours)], "a callback of ours was left on the learner"
    x = learn.dls.valid.one_batch()[0]
    learn.model.eval()
    with torch.no_grad(): before = learn.model(x)
    learn.export(tmp_path/'export.pkl')
    new = load_learner(tmp_path/'export.pkl')
    new.model.eval()
    with torch.no_grad(): torch.testing.assert_close(new.model(x), before)
    assert all(p.requires_grad for p in new.model.parameters()), "a policy left parameters frozen"

class Precision(Callback):
    "Per stage: whether fastai's MixedPrecision had set up its autocast and gradient scaler for the stage's batches"
    order = 11   # after MixedPrecision's before_batch (order 10)
    def __init__(self): self.seen = {}
    def before_batch(self):
        mp = getattr(self.learn, 'mixed_precision', None)
        if self.training: self.seen.setdefault(self.stage.name, set()).add((getattr(mp, 'autocast', None) is not None, getattr(self.learn, 'scaler', None) is not None))

@pytest.mark.parametrize('mp', ['to_bf16', 'to_fp16'])
def test_mixed_precision_runs_every_stage(mp):
    """fastai's `to_fp16`/`to_bf16` take part in every stage. On the CPU fastai switches its (CUDA) autocast and gradient
    scaler off, so the run must train exactly what it trains without them; what half precision changes on a GPU is
    checked by tests/test_cuda.py where there is one"""
    def run(mixed):
        set_seed(0); learn = synth_staged_learner(3)
        if mixed: learn = getattr(learn, mp)()
        spy = Precision()
        r = quiet(learn, epochs=2, tracker=RunTracker(ckpt_dir=False), cbs=spy)
        return learn, r, spy.seen
    ref, r0, _ = run(False)
    ours, r, seen = run(True)
    assert seen == {'frozen': {(True, True)}, 'unfrozen': {(True, True)}}, seen
    assert [(s.name, s.epochs_run, s.reason) for s in r] == [(s.name, s.epochs_run, s.reason) for s in r0]
    for a, b in zip(ref.model.parameters(), ours.model.parameters()): assert torch.equal(a, b)

def test_lr_find_before_and_between_stages():
    "fastai's lr_find leaves the weights as they were, and the stages run at the LRs it suggested"
    learn = synth_staged_learner(3)
    w = lambda: [p.detach().clone() for p in learn.model.parameters()]
    with learn.no_bar(), learn.no_logging():
        learn.freeze()
        before = w(); sug = learn.lr_find(show_plot=False)
        assert all(torch.equal(a, b) for a, b in zip(before, w()))
        plan = [Stage('frozen', 1, 1, slice(sug.valley))]
        r1 = learn.staged_fine_tune(1, plan=plan, tracker=RunTracker(ckpt_dir=False))
        head = np.array(learn.stage_recorder.lrs)[:, -1]
        learn.unfreeze(); before = w(); sug2 = learn.lr_find(show_plot=False)
        assert all(torch.equal(a, b) for a, b in zip(before, w()))
        r2 = learn.staged_fine_tune(1, plan=[Stage('unfrozen', None, 2, slice(sug2.valley/100, sug2.valley))])
    assert [s.name for s in r1] == ['frozen'] and [s.epochs_run for s in r2] == [2]
    assert r1[0].plan.lrs[-1] == sug.valley and 0.9*sug.valley < head.max() <= sug.valley   # the head's one-cycle peaks at the suggestion
    lrs = [sug2.valley/100, sug2.valley/10, sug2.valley]                          # slice(lo, hi) over the 3 groups
    np.testing.assert_allclose(r2[0].plan.lrs, lrs)
    peak = np.array(learn.stage_recorder.lrs).max(0)
    assert (peak <= np.array(lrs)*(1+1e-9)).all() and (peak > 0.9*np.array(lrs)).all(), (peak, lrs)
    assert len(learn.stage_history) == 2                                          # the second run's own history
    assert not [cb for cb in learn.cbs if type(cb).__name__ in ('LRFinder', 'StageRecorder', 'RunTracker')]

def test_other_callbacks(tmp_path):
    class Count(Callback):
        def __init__(self): self.epochs, self.stages = 0, []
        def after_epoch(self): self.epochs += 1
        def before_stage(self): self.stages.append(self.stage.name)
    learn, c = synth_staged_learner(3, path=tmp_path), Count()
    with learn.no_logging(): learn.staged_fine_tune(2, cbs=[c, CSVLogger(fname=str(tmp_path/'log.csv'), append=True), ShowGraphCallback()])
    assert c.epochs == 3 and c.stages == ['frozen', 'unfrozen']
    lines = (tmp_path/'log.csv').read_text().strip().splitlines()   # one header and a row per epoch of the run (a logger that restarted each fit would hold one stage)
    assert lines[0].startswith('epoch,stage,train_loss') and [l.split(',')[:2] for l in lines[1:]] == [['0', 'frozen'], ['1', 'unfrozen'], ['2', 'unfrozen']], lines

def test_keyboard_interrupt_keeps_best(tmp_path):
    class Stop(Callback):
        order = 99
        def after_epoch(self):
            if self.stage.name == 'unfrozen' and self.stage.epochs_run == 2: raise KeyboardInterrupt()
    set_seed(0)
    learn = synth_staged_learner(3)
    tr = RunTracker(ckpt_dir=tmp_path, keep='all')
    with pytest.raises(KeyboardInterrupt):
        quiet(learn, epochs=4, base_lr=1e-2, tracker=tr, cbs=Stop())
    files = sorted(tmp_path.glob('ft-*.pth'))
    assert files, "no checkpoint written"
    best = torch.load(tr.files[tr.best_at["stage"]], weights_only=True)       # intact, and loadable without unpickling code
    for k, v in learn.model.state_dict().items(): torch.testing.assert_close(v, best['model'][k])
    assert abs(learn.validate()[0] - tr.best_at['value']) < 1e-4          # the learner holds the best weights so far
    assert not list(tmp_path.glob('.*.tmp'))
