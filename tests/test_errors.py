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

def test_one_group():
    fails_cleanly(synth_learner(), lambda l: l.staged_fine_tune(1), 'has 1 parameter group, so freeze() would freeze nothing')

def test_params_missing_from_optimizer():
    learn = synth_staged_learner(3)
    learn.splitter = lambda m: [params(m[0][0]), params(m[1])]
    fails_cleanly(learn, lambda l: l.staged_fine_tune(1), 'are in no parameter group')
