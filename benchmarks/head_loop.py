"""How cheap can the recipe's heads get? The weight-decay tries in fastai's training loop against the same steps in a
plain PyTorch loop, and what one step of fastai's head costs in arithmetic alone.

    python benchmarks/head_loop.py --tasks hymenoptera faces --seeds 0 1 2
    python benchmarks/head_loop.py --summary

Per task and seed (battery.py's data), in one process with --threads torch threads: the feature cache is built by a
first `sweep_wd` (not timed); then, `--repeats` times each, the median wall time of
- `sweep_wd` in fastai's loop: 3 weight decays x 10 epochs of fastai's `fit_one_cycle` on the cached features;
- `sweep_wd` as the recipe runs it since `FeatureCacheCallback.fit_head`: the same steps, weights and random draws, outside
  fastai's loop;
- the same number of steps (3 x 10 epochs x the cached loader's batches, the same batch size) of the same head in a
  plain PyTorch loop: `torch.optim.AdamW(foreach=True)` under `OneCycleLR`, no callbacks, one validation at the end;
and, on one batch, the milliseconds of the head's forward and backward, of one `AdamW(foreach=True)` step, and of one
step of fastai's `Adam` (the optimizer the learner trains with).
The plain loop is the floor a loop outside fastai's could reach on this machine: what the heads cost in arithmetic.
Run it alone on the machine: two torch processes on two cores slow each other several-fold."""
import argparse, copy, json, statistics as st, sys, time
from pathlib import Path
import torch, torch.nn as nn, torch.nn.functional as F
sys.path.insert(0, str(Path(__file__).parent))
from fastai_ft.all import *
from fastai.optimizer import Adam
from battery import TASKS
from recipe import fresh_learner
from record import RESULTS, save

WDS, EPOCHS, LR = [1e-3, 1e-2, 1e-1], 10, 1e-2   # the recipe's defaults for its tries

def timed(f, repeats):
    "Median seconds of `repeats` calls of `f`"
    ts = []
    for _ in range(repeats): t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return st.median(ts)

def trainable_rest(model):
    "The modules of the head after the cached ones (the first holding parameters on), as one `nn.Sequential`"
    mods = list(model[1])
    return nn.Sequential(*mods[next(i for i, m in enumerate(mods) if any(True for _ in m.parameters())):])

def plain_tries(head, x, y, bs, steps_per_epoch):
    "The tries' steps in plain PyTorch: each weight decay, `EPOCHS` one-cycle epochs of `steps_per_epoch` batches of `bs`"
    for wd in WDS:
        h = copy.deepcopy(head).train()
        opt = torch.optim.AdamW(h.parameters(), lr=LR, weight_decay=wd, betas=(0.95, 0.99), foreach=True)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=EPOCHS*steps_per_epoch, pct_start=0.25)
        for _ in range(EPOCHS):
            perm = torch.randperm(len(x))
            for i in range(steps_per_epoch):
                idx = perm[i*bs:(i+1)*bs]
                F.cross_entropy(h(x[idx]), y[idx]).backward(); opt.step(); opt.zero_grad(set_to_none=True); sched.step()
        h.eval()
        with torch.no_grad(): F.cross_entropy(h(x), y).item()

def step_ms(head, xb, yb, n=50):
    "Milliseconds of the head's forward+backward on one batch, of one AdamW(foreach) step, of one step of fastai's Adam"
    h = copy.deepcopy(head).train()
    def fb(): F.cross_entropy(h(xb), yb).backward()
    fb()
    res = dict(forward_backward_ms=timed(lambda: [fb() for _ in range(n)], 3)/n*1e3)
    opt = torch.optim.AdamW(h.parameters(), lr=1e-3, foreach=True); opt.step()
    res['adamw_foreach_step_ms'] = timed(lambda: [opt.step() for _ in range(n)], 3)/n*1e3
    fo = Adam(list(h.parameters()), lr=1e-3, wd=1e-2); fo.step()
    res['fastai_adam_step_ms'] = timed(lambda: [fo.step() for _ in range(n)], 3)/n*1e3
    return res

def run(task, seed, arch, repeats):
    "fastai's tries and the plain loop's, and the cost of one step, on `task`'s split of `seed`"
    learn = fresh_learner(TASKS[task](seed)[0], arch, seed); learn.freeze()
    cb = FeatureCacheCallback(aug=1, verbose=False, min_bs=32, clean=True)   # the recipe's: one augmented pass, batches of at least 32
    cbs = [BNPolicyCallback('freeze'), cb]
    with learn.no_bar(), learn.no_logging():
        sweep_wd(learn, WDS, EPOCHS, LR, cbs)   # builds the cache
        fastai_s = timed(lambda: sweep_wd(learn, WDS, EPOCHS, LR, cbs), repeats)
        fit_head_s = timed(lambda: sweep_wd(learn, WDS, EPOCHS, LR, [BNPolicyCallback('freeze')], cb.fit_head), repeats)
    x, (y,) = cb.features()
    y, bs, spe = y.long(), cb.tdl.bs, len(cb.tdl)
    head = trainable_rest(learn.model)
    torch.manual_seed(seed)
    plain_s = timed(lambda: plain_tries(head, x, y, bs, spe), repeats)
    return dict(task=task, seed=seed, config='tries', items=len(x), batch_size=bs, steps=len(WDS)*EPOCHS*spe,
                params=sum(p.numel() for p in head.parameters()), fastai_s=round(fastai_s, 3), fit_head_s=round(fit_head_s, 3), plain_s=round(plain_s, 3),
                **{k: round(v, 3) for k, v in step_ms(head, x[:bs], y[:bs]).items()})

def table(rows):
    "Per task, medians over seeds"
    out = ['| task | seeds | steps | fastai loop | fit_head | plain loop | ratio | fwd+bwd ms | AdamW ms | fastai Adam ms |', '|---' * 10 + '|']
    for task in dict.fromkeys(r['task'] for r in rows):
        rs = [r for r in rows if r['task'] == task]
        med = lambda k: st.median(r[k] for r in rs)
        out.append(f"| {task} | {len(rs)} | {med('steps'):.0f} | {med('fastai_s'):.2f} s | {med('fit_head_s'):.2f} s | {med('plain_s'):.2f} s | "
                   f"{st.median(r['fastai_s']/r['plain_s'] for r in rs):.2f}x | {med('forward_backward_ms'):.2f} | "
                   f"{med('adamw_foreach_step_ms'):.2f} | {med('fastai_adam_step_ms'):.2f} |")
    return '\n'.join(out)

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--tasks', nargs='+', default=['hymenoptera', 'faces'], choices=list(TASKS))
    ap.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--arch', default='lite0'); ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--summary', action='store_true')
    a = ap.parse_args()
    if not a.summary:
        torch.set_num_threads(a.threads)
        for task in a.tasks:
            for seed in a.seeds:
                row = run(task, seed, a.arch, a.repeats); print(json.dumps(row), flush=True)
                save('head-loop', [row], settings=dict(arch=a.arch, threads=a.threads, repeats=a.repeats))
    print(table(json.loads((RESULTS/'head-loop.json').read_text())['rows']))
