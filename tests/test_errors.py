"Bad input gets one clear sentence, raised before any training starts (nothing in the model changes)."
import pytest, torch
from fastai.basics import params
from fastai.test_utils import synth_learner
from fastai_ft.all import *

def weights(learn): return [p.detach().clone() for p in learn.model.parameters()]

def fails_cleanly(learn, call, contains, exc=Exception):
    "Run `call(learn)`; it must raise `exc` with one sentence containing `contains`, and leave the weights untouched"
    before = weights(learn)
    with pytest.raises(exc) as e: call(learn)
    msg = str(e.value)
    assert contains in msg, msg
    assert '\n' not in msg and msg.rstrip().endswith('.'), f"not one sentence: {msg!r}"
    assert all(torch.equal(a, b) for a, b in zip(before, weights(learn))), "training started before the error"
    assert not hasattr(learn, 'stage_history')
    return msg

CASES = {
    'monitor not a column':  (lambda l: l.staged_fine_tune(1, freeze_epochs='auto', plateau=Plateau('f1_score')), 'use one of train_loss, valid_loss, accuracy'),
    'tracker monitor':       (lambda l: l.staged_fine_tune(1, tracker=RunTracker('acc')), "monitor='acc' is not a recorder column"),
    'too many groups':       (lambda l: l.staged_fine_tune(1, unfreeze=[1, 7]), 'trains 7 groups but the model has 3'),
    'zero epochs':           (lambda l: l.staged_fine_tune(0), 'epochs must be a whole number of epochs >= 1'),
    'negative freeze':       (lambda l: l.staged_fine_tune(2, freeze_epochs=-1), 'freeze_epochs must be'),
    'zero lr':               (lambda l: l.staged_fine_tune(1, base_lr=0), 'must be a positive number'),
    'negative lr':           (lambda l: l.staged_fine_tune(1, lr=slice(-1e-4, 1e-3)), 'must be a positive number'),
    'reversed slice':        (lambda l: l.staged_fine_tune(1, lr=slice(1e-2, 1e-5)), 'is reversed'),
    'lr list length':        (lambda l: l.staged_fine_tune(1, lr=[1e-3, 1e-3]), '2 learning rates for 3 parameter groups'),
    'unknown bn policy':     (lambda l: l.staged_fine_tune(1, bn='frozen'), 'Unknown BatchNorm policy'),
    'bn list length':        (lambda l: l.staged_fine_tune(1, bn=['train']*3), '3 BatchNorm policies for 2 stages'),
    'unknown unfreeze':      (lambda l: l.staged_fine_tune(1, unfreeze='slowly'), 'Unknown unfreeze mode'),
    'budget too small':      (lambda l: l.staged_fine_tune('auto', freeze_epochs='auto', total_epochs=1), 'need at least 2 epochs'),
    'zero patience':         (lambda l: l.staged_fine_tune(1, freeze_epochs='auto', plateau=Plateau(patience=0)), 'patience must be at least 1'),
    'negative run patience': (lambda l: l.staged_fine_tune(1, tracker=RunTracker(patience=-2)), 'patience must be at least 1'),
    'unknown rollback':      (lambda l: l.staged_fine_tune(1, tracker=RunTracker(rollback='undo')), 'Unknown rollback mode'),
    'unwritable ckpt dir':   (lambda l: l.staged_fine_tune(1, tracker=RunTracker(ckpt_dir='/proc/fastai_ft')), 'pass a writable ckpt_dir'),
}

@pytest.mark.parametrize('case', CASES, ids=list(CASES))
def test_bad_input(case):
    call, contains = CASES[case]
    fails_cleanly(synth_staged_learner(3), call, contains)

def test_one_group_runs_what_fine_tune_runs():
    "One parameter group: fastai's fine_tune runs (freezing nothing), so staged_fine_tune runs the same, with one warning"
    with pytest.warns(UserWarning, match=r"1 parameter group, so freeze\(\) freezes nothing.*RegModel has no pretrained body"):
        learn = synth_learner()
        with learn.no_bar(), learn.no_logging(): r = learn.staged_fine_tune(1)
    assert [(s.name, s.n_train, s.n_groups) for s in r] == [('frozen', 1, 1), ('unfrozen', 1, 1)] and r.floor is None

def test_params_missing_from_optimizer():
    learn = synth_staged_learner(3)
    learn.splitter = lambda m: [params(m[0][0]), params(m[1])]
    fails_cleanly(learn, lambda l: l.staged_fine_tune(1), 'are in no parameter group')

# --- resume= files that are not this run's state (issue 13) ---
import io, os, pickle, warnings
from pathlib import Path
from fastai.basics import Callback

class _Stop(Callback):
    "Interrupt the run (as Ctrl-C would) at the end of its first unfrozen epoch, once the state is saved"
    order = RunStateCallback.order+1
    def after_epoch(self):
        if self.stage.index == 1: raise KeyboardInterrupt()

def interrupted(path, **kw):
    "A real state file: the issue's `staged_fine_tune(3, freeze_epochs=2, resume=path)` interrupted in stage 1"
    learn = synth_staged_learner(3)
    with learn.no_bar(), learn.no_logging(), pytest.raises(KeyboardInterrupt), pytest.warns(UserWarning, match='holds it up to its last complete epoch'):
        learn.staged_fine_tune(3, resume=path, cbs=_Stop(), **{'freeze_epochs': 2, **kw})
    assert path.exists()
    return path

class _Evil:
    def __init__(self, marker): self.marker = marker
    def __reduce__(self): return (io.open, (self.marker, 'w'))   # unpickling it would create the marker file

def _write(p, data): p.write_bytes(data); return p

def _bad_files(d):
    "name -> (make the file, the call, what the one sentence says)"
    same = lambda p: lambda l: l.staged_fine_tune(3, freeze_epochs=2, resume=p)
    def real(): return interrupted(d/'r.pth')
    def half(): p = real(); return _write(p, p.read_bytes()[:p.stat().st_size//2])
    def evil_zip(): torch.save({'x': _Evil(str(d/'pwned'))}, d/'r.pth'); return d/'r.pth'
    def evil_pkl(): return _write(d/'r.pth', pickle.dumps({'x': _Evil(str(d/'pwned'))}))
    def old(): torch.save(dict(i=1, stage=Stage('frozen', 1, 2, slice(2e-3)), info=None), d/'r.pth'); return d/'r.pth'
    def fmt1(): p = real(); torch.save(dict(torch.load(p, weights_only=True), format=1), p); return p
    def weights(): torch.save(synth_staged_learner(3).model.state_dict(), d/'r.pth'); return d/'r.pth'
    def no_ckpt():
        p = interrupted(d/'r.pth', tracker=RunTracker(ckpt_dir=d/'ckpt'))
        for f in (d/'ckpt').glob('*.pth'): f.unlink()
        return p
    return {
        'other call':       (real, lambda p: lambda l: l.staged_fine_tune(5, freeze_epochs=1, unfreeze='gradual', resume=p),
                             'it belongs to another plan (frozen 2 + unfrozen 3 epochs there, frozen 1 + last2 1 + unfrozen 5 epochs here)'),
        'other lr':         (real, lambda p: lambda l: l.staged_fine_tune(3, freeze_epochs=2, base_lr=1e-2, resume=p), 'it belongs to another plan (stages[0].lrs'),
        'other tracker':    (real, lambda p: lambda l: l.staged_fine_tune(3, freeze_epochs=2, tracker=RunTracker(ckpt_dir=False), resume=p),
                             'its run had no tracker and this one has one'),
        'other fit args':   (real, lambda p: lambda l: l.staged_fine_tune(3, freeze_epochs=2, wd=0.1, resume=p), "fit_one_cycle arguments differ (wd: None there, 0.1 here)"),
        'other plateau':    (lambda: interrupted(d/'r.pth', freeze_epochs='auto', plateau=Plateau(patience=2)),
                             lambda p: lambda l: l.staged_fine_tune(3, freeze_epochs='auto', plateau=Plateau(patience=3), resume=p),
                             "its plateau settings differ (patience: 2 there, 3 here)"),
        'other model':      (real, None, 'it was written for another model (0.0.0.weight: shape [16, 8] there, shape [32, 8] here)'),
        'truncated':        (half, same, 'cannot be read'),
        'garbage bytes':    (lambda: _write(d/'r.pth', os.urandom(5000)), same, 'cannot be read'),
        'empty file':       (lambda: _write(d/'r.pth', b''), same, 'cannot be read'),
        'hostile zip':      (evil_zip, same, 'holds pickled Python objects (io.open) that could run code when loaded, so it was not loaded'),
        'hostile pickle':   (evil_pkl, same, 'holds pickled Python objects (io.open)'),
        'older fastai_ft':  (old, same, 'was written by an older fastai_ft'),
        'older format':     (fmt1, same, 'in state format 1, which fastai_ft'),
        'not a state file': (weights, same, 'is no fastai_ft state file (it holds a dict with keys'),
        'best ckpt gone':   (no_ckpt, lambda p: lambda l: l.staged_fine_tune(3, freeze_epochs=2, tracker=RunTracker(ckpt_dir=d/'ckpt'), resume=p),
                             'cannot be resumed because its best checkpoint'),
    }

BAD = list(_bad_files(Path('.')))

@pytest.mark.parametrize('case', BAD, ids=BAD)
def test_bad_resume_file(case, tmp_path):
    make, call, contains = _bad_files(tmp_path)[case]
    p = make()
    before = p.read_bytes()
    learn = synth_staged_learner(3, nf=32) if case == 'other model' else synth_staged_learner(3)
    call = call(p) if call else (lambda l: l.staged_fine_tune(3, freeze_epochs=2, resume=p))
    with warnings.catch_warnings():
        warnings.simplefilter('error', UserWarning)          # no run starts, so no "the run stopped" warning either
        msg = fails_cleanly(learn, call, contains, ResumeError)
    assert str(p) in msg, "the sentence does not name the file"
    assert p.read_bytes() == before, "the refused file was changed"
    assert not (tmp_path/'pwned').exists(), "loading the file ran its code"

def test_refusal_names_file_and_ways_out(tmp_path):
    p = interrupted(tmp_path/'r.pth')
    with pytest.raises(ResumeError) as e: synth_staged_learner(3).staged_fine_tune(5, freeze_epochs=1, unfreeze='gradual', resume=p)
    msg = str(e.value)
    assert msg.startswith(f"{p} holds another run") and 'call staged_fine_tune again' in msg and f'or delete {p} to start afresh' in msg

def test_unwritable_resume_folder():
    fails_cleanly(synth_staged_learner(3), lambda l: l.staged_fine_tune(1, resume='/proc/fastai_ft/r.pth'), 'pass resume= a file in a writable folder', PermissionError)

def test_nan_data_report():
    "NaN inputs: the report blames the data in words, not the LR, and no retry is wasted on them"
    learn = synth_staged_learner(3)
    learn.dls.train.dataset.tensors[0][7, 2] = float('nan')   # one bad item
    with learn.no_bar(), learn.no_logging(): r = learn.staged_fine_tune(2, tracker=True)
    assert [(s.reason, s.rollback) for s in r] == [('non_finite', 'stop')]
    assert r[0].non_finite['cause'] == 'inputs'
    text = str(r)
    assert 'the training inputs at batch' in text and 'so the data, not the learning rate, made the loss non-finite' in text, text
    assert 'no epoch completed, so there is no floor or ceiling to report' in text
    assert all(torch.isfinite(p).all() for p in learn.model.parameters()), "the bad batch reached the weights"
