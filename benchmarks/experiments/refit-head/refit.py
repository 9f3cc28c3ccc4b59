"""Analysis only, on development seeds: a linear probe refitted on the body the recipe ends with (the 0.5 mix's, or the
fine-tuned one's), as a candidate head. The recipe runs as it is and chooses on validation; afterwards each candidate and
each refitted head is scored on the test split. The refit is the recipe's own probe (`fit_probe`, average-pooled head
input, the training items with the validation transforms, C by validation accuracy), on the other body.
    python benchmarks/experiments/refit-head/refit.py TASK ARCH SEED [SEED ...]   # appends to refit.jsonl beside this file
    python benchmarks/experiments/refit-head/refit.py --summary                   # the table, from refit.jsonl"""
import sys, json
from pathlib import Path
HERE = Path(__file__).parent; sys.path.insert(0, str(HERE.parents[1]))
CANDS = ('the 0.5 mix', 'the fine-tuned weights', 'the linear probe head')   # name prefixes of the candidates in the table

def summary():
    "Per task and arch: the mean test accuracy of each candidate and of each refitted head, with the seeds"
    runs = {}
    for l in (HERE/'refit.jsonl').read_text().splitlines():
        d = json.loads(l); runs.setdefault((d['task'], d['arch']), []).append(d)
    print("| task | arch | seeds | kept | mix 0.5 | fine-tuned | probe head | refit on the mix's body | refit on the fine-tuned body |\n" + "|---" * 9 + "|")
    for (task, arch), ds in runs.items():
        get = lambda d, c, p: next(v if isinstance(v, float) else v['test'] for k, v in d[c].items() if k.startswith(p))
        m = lambda f: f"{sum(map(f, ds))/len(ds):.4f}"
        print(f"| {task} | {arch} | {', '.join(str(d['seed']) for d in ds)} | {m(lambda d: d['kept'])} | "
              + " | ".join(m(lambda d, p=p: get(d, 'candidates', p)) for p in CANDS) + " | "
              + " | ".join(m(lambda d, p=p: get(d, 'refits', p)) for p in CANDS[:2]) + " |")

if __name__ == '__main__' and sys.argv[1] == '--summary': summary(); sys.exit()   # before the heavy imports
import torch
from battery import TASKS, TEST, AUTO, _candidates_on_test
from recipe import run_one, CONFIGS
import fastai_ft.recipe as R
from fastai_ft.core import _eval_mode
from fastai.vision.all import *

def head_inputs(learn, dl):
    "The input of the head's first BatchNorm1d ([max, avg]-pooled body outputs) and the targets, in eval mode"
    out, ys = [], []
    h = R._head_layers(learn)[0].register_forward_pre_hook(lambda m, i: out.append(i[0].detach().float()))
    try:
        with torch.no_grad(), _eval_mode(learn.model):
            for xb, yb in dl: learn.model(xb); ys.append(yb)
    finally: h.remove()
    x = torch.cat(out); return x[:, R._avg_cols(learn, x.shape[1])], torch.cat(ys).as_subclass(torch.Tensor).long()

def refit(learn, tdl):
    "Test accuracy of the recipe's probe refitted on the body `learn` holds, its C and validation accuracy"
    dls = learn.dls
    (xt, yt), (xv, yv), (xs, ys) = [head_inputs(learn, dl) for dl in (dls.test_dl(dls.train_ds.items, with_labels=True), dls.valid, tdl)]
    W, b, C, rows = R.fit_probe(xt, yt, xv, yv, dls.c)
    return dict(test=float(((xs @ W.T + b).argmax(1) == ys).float().mean()), C=C, valid=max(r['accuracy'] for r in rows))

def with_refits(choose):
    "`choose_weights` that, after choosing, refits the probe on the mix's and the fine-tuned body (`learn.refits`)"
    def _f(learn, cands, *args, **kw):
        name, rows, why = choose(learn, cands, *args, **kw)
        learn.refits = {}
        for n in cands:
            if n.startswith(CANDS[:2]):
                R.load_state(learn, cands[n]); learn.refits[n] = refit(learn, TEST['tdl'])
        R.load_state(learn, cands[name])
        return name, rows, why
    return _f

task, arch, seeds = sys.argv[1], sys.argv[2], [int(s) for s in sys.argv[3:]]
torch.set_num_threads(1)
R.choose_weights = with_refits(_candidates_on_test(R.choose_weights))
args = SimpleNamespace(arch=arch)
auto = CONFIGS[AUTO]
CONFIGS[AUTO] = lambda learn, clock: {**auto(learn, clock), 'refits': getattr(learn, 'refits', None)}
for seed in seeds:
    dls, tdl = TASKS[task](seed); TEST['tdl'] = tdl
    row = run_one(args, dls, tdl, AUTO, seed)
    out = dict(task=task, arch=arch, seed=seed, kept=row['test'], candidates=row['extra'].get('candidate_test'), refits=row['extra'].get('refits'))
    print(json.dumps(out), flush=True)
    with open(HERE/'refit.jsonl', 'a') as f: f.write(json.dumps(out) + '\n')
