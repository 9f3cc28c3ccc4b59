"""Measure fastai_ft against fastai's own `fine_tune`, side by side in one process, over several seeds.

    python benchmarks/bench.py overhead  [--data DIR] [--seeds 3] [--size 128] [--epochs 2]
    python benchmarks/bench.py adaptive  [--data DIR] [--seeds 3] [--size 128] [--total 5]
    python benchmarks/bench.py synth     # one-minute synthetic case (mechanics and overhead only)

`--data` is any folder in fastai's train/ + valid/ (or val/) layout; the default is ../shared/data/hymenoptera.
The model is the pretrained EfficientNet-Lite0 (`fastai_ft.models.lite0_learner`); pass `--arch` a timm name to use
`vision_learner(..., splitter=auto_split)` instead (weights must be available offline).
Writes benchmarks/results/<mode>.json and <mode>.md (accuracy mean and spread, epochs, wall time per stage and total,
peak RSS memory, and ratios to fine_tune as medians over seeds)."""
import argparse, json, resource, statistics as st, sys, time
from pathlib import Path
from fastai.vision.all import *
from fastai_ft.all import *
from fastai_ft.models import folder_dls, lite0_learner

ROOT = Path(__file__).parent
def peak_mb(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024

def make_learner(args, seed, aug=True):
    set_seed(seed, reproducible=True)
    if args.mode == 'synth': return synth_staged_learner(4, n=4096, bs=64, nf=64)
    dls = folder_dls(args.data, size=args.size, bs=32, aug=aug, seed=seed)
    if args.arch == 'lite0': return lite0_learner(dls)
    return vision_learner(dls, args.arch, metrics=accuracy, splitter=auto_split)

def run(args, name, seed, fn, aug=True):
    learn = make_learner(args, seed, aug)
    t = time.perf_counter()
    with learn.no_bar(), learn.no_logging(): out = fn(learn)
    wall = time.perf_counter() - t
    res = learn.validate()
    hist = getattr(learn, 'stage_history', None)
    stages = [dict(name=s.name, epochs=s.epochs_run, reason=s.reason, time=round(s.time, 2)) for s in out] if out is not None else None
    return dict(config=name, seed=seed, wall=round(wall, 2), valid_loss=float(res[0]),
                accuracy=float(res[1]) if len(res) > 1 else None, peak_mb=round(peak_mb()),
                epochs=int(len(hist)) if hist is not None and out is not None else None, stages=stages)

def configs(args):
    e, t = args.epochs, args.total
    if args.mode in ('overhead', 'synth'):
        return {'fastai fine_tune': lambda l: l.fine_tune(e),
                'staged (defaults)': lambda l: l.staged_fine_tune(e),
                "staged bn='freeze' frozen stage": lambda l: l.staged_fine_tune(e, bn=['freeze', 'train'])}
    pl = Plateau('valid_loss', patience=1, max_epochs=t-1)
    res = {f'freeze_epochs={k}': (lambda k: lambda l: l.staged_fine_tune(t-k, freeze_epochs=k))(k) for k in (1, 2, 3)}
    res["freeze_epochs='auto'"] = lambda l: l.staged_fine_tune('auto', freeze_epochs='auto', plateau=pl, total_epochs=t)
    res["'auto' + tracker"] = lambda l: l.staged_fine_tune('auto', freeze_epochs='auto', plateau=pl, total_epochs=t, tracker=RunTracker(ckpt_dir=False))
    return res

def summarise(rows, base='fastai fine_tune'):
    out = []
    for name in dict.fromkeys(r['config'] for r in rows):
        rs = [r for r in rows if r['config'] == name]
        acc = [r['accuracy'] for r in rs if r['accuracy'] is not None]
        ratio = None
        if any(r['config'] == base for r in rows):
            ratio = st.median(r['wall']/b['wall'] for r in rs for b in rows if b['config'] == base and b['seed'] == r['seed'])
        out.append(dict(config=name, n=len(rs), acc_mean=st.mean(acc) if acc else None,
                        acc_sd=st.stdev(acc) if len(acc) > 1 else 0., acc_min=min(acc, default=None), acc_max=max(acc, default=None),
                        epochs=st.median([r['epochs'] for r in rs if r['epochs']] or [0]),
                        wall_median=st.median(r['wall'] for r in rs), time_ratio_median=ratio))
    return out

def markdown(summary, args):
    data = 'synthetic (synth_staged_learner, 4 groups)' if args.mode == 'synth' else f"`{args.data}`, arch {args.arch}, {args.size}px"
    lines = [f"Command: `python benchmarks/bench.py {' '.join(sys.argv[1:])}`  ", f"Data: {data}; seeds {args.seeds}; torch threads {args.threads}; CPU", "",
             "| config | runs | accuracy mean | sd | min-max | epochs | wall s (median) | time / fine_tune (median) |", "|---|---|---|---|---|---|---|---|"]
    for s in summary:
        f = lambda v, d=4: '-' if v is None else f'{v:.{d}f}'
        lines.append(f"| {s['config']} | {s['n']} | {f(s['acc_mean'])} | {f(s['acc_sd'])} | {f(s['acc_min'])}-{f(s['acc_max'])} | {s['epochs']} | {f(s['wall_median'],1)} | {f(s['time_ratio_median'],3)} |")
    return '\n'.join(lines) + '\n'

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('mode', choices=['overhead', 'adaptive', 'synth'])
    p.add_argument('--data', default=str(ROOT.parent.parent/'shared'/'data'/'hymenoptera'))
    p.add_argument('--arch', default='lite0'); p.add_argument('--size', type=int, default=128)
    p.add_argument('--seeds', type=int, default=3); p.add_argument('--epochs', type=int, default=2)
    p.add_argument('--total', type=int, default=5); p.add_argument('--threads', type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    first = next(iter(configs(args).values()))
    run(args, 'warm-up', 0, first)                # untimed: first-run costs (allocator, lazy imports) hit no config
    for seed in range(args.seeds):
        for name, fn in configs(args).items():   # interleaved, so machine load drifts hit every config alike
            rows.append(run(args, name, seed, fn)); print(json.dumps(rows[-1]), flush=True)
    summary = summarise(rows)
    out = ROOT/'results'; out.mkdir(exist_ok=True)
    (out/f'{args.mode}.json').write_text(json.dumps(dict(args=vars(args), rows=rows, summary=summary), indent=1))
    (out/f'{args.mode}.md').write_text(markdown(summary, args))
    print(markdown(summary, args))

if __name__ == '__main__': main()
