"""How the probe head's C is picked, on development seeds only: the recipe's rule (best validation accuracy, ties by
validation loss, then the smallest C) against the lowest validation loss alone and against ties broken towards C=1 (the
benchmark probe's rule). Features: the recipe's probe head input, [max, avg]-pooled Lite0 body outputs, unscaled.
    python benchmarks/experiments/probe-head/c_rule.py hymenoptera-8shot 0 1 2 3 4 5 6 7 8 9"""
import sys, json; sys.path.insert(0, str(__import__('pathlib').Path(__file__).resolve().parents[2]))
import torch, numpy as np
torch.set_num_threads(2)
from battery import TASKS
from recipe import fresh_learner
from fastai_ft.recipe import fit_probe
from fastai.vision.all import *

CS = (0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30)
def feats(body, dl):
    with torch.no_grad(): fs = [(body(x), y) for x, y in dl]
    f = torch.cat([a for a, _ in fs]); return torch.cat([f.amax((2, 3)), f.mean((2, 3))], 1), torch.cat([b for _, b in fs])

RULES = {'recipe (acc, then loss)': lambda rs: max(rs, key=lambda r: (r['accuracy'], -r['valid_loss'], -r['C'])),
         'valid loss only': lambda rs: min(rs, key=lambda r: (r['valid_loss'], r['C'])),
         'acc, then C nearest 1': lambda rs: max(rs, key=lambda r: (r['accuracy'], -abs(np.log10(r['C'])), -r['C']))}
task, seeds = sys.argv[1], [int(s) for s in sys.argv[2:]]
out = {k: [] for k in RULES}
for seed in seeds:
    dls, tdl = TASKS[task](seed)
    body = fresh_learner(dls, 'lite0', seed).model[0].eval()
    (xt, yt), (xv, yv), (xs, ys) = [feats(body, dl) for dl in (dls.test_dl(dls.train_ds.items, with_labels=True), dls.valid, tdl)]
    rows = []
    for C in CS:
        W, b, _, r = fit_probe(xt, yt, xv, yv, dls.c, Cs=(C,))
        rows.append(dict(r[0], test=float(((xs.as_subclass(torch.Tensor) @ W.T + b).argmax(1) == ys.as_subclass(torch.Tensor)).float().mean())))
    for k, f in RULES.items(): out[k].append((f(rows)['C'], f(rows)['test']))
    print(seed, {k: v[-1] for k, v in out.items()}, flush=True)
print(json.dumps({'task': task, 'seeds': seeds, 'rules': {k: dict(mean=float(np.mean([t for _, t in v])), per_seed=v) for k, v in out.items()}}))
