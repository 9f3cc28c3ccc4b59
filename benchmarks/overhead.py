"""fastai_ft against fastai's own `fine_tune`, side by side in one process, over several seeds: the time and memory
the defaults, `bn='freeze'` and the feature cache cost (`overhead`), and `freeze_epochs='auto'` against fixed frozen
epochs at one epoch budget (`adaptive`).

    python benchmarks/overhead.py overhead [--data DIR] [--seeds 3] [--size 128] [--epochs 1] [--freeze 3]
    python benchmarks/overhead.py adaptive [--data DIR] [--seeds 3] [--size 128] [--total 6]
    python benchmarks/overhead.py synth    # synthetic case, about a minute: mechanics and overhead only

--data: any folder in fastai's train/ + valid/ (or val/) layout; default ../shared/data/hymenoptera.
--arch: 'lite0' (pretrained EfficientNet-Lite0, fastai_ft.models.lite0_learner, its own normalisation) or a timm
        name used through vision_learner(..., splitter=auto_split) (its weights must be available offline).
Configs run interleaved (seed 0 of every config, then seed 1, ...) so that drifts in machine load hit all alike,
after one untimed warm-up run. Writes benchmarks/results/<name, default the mode>.json (record.py: the command, commit and
seeds, then every run: accuracy, epochs, wall time, time per frozen epoch, peak RSS growth; processes side by side with
the same --name, on other seeds, add their rows to it) and prints the table: the summary, and ratios to fine_tune as
medians over seeds of the per-seed ratio."""
import argparse, json, os, statistics as st, sys, threading, time
from pathlib import Path
from fastai.vision.all import *
from fastai_ft.all import *
from record import save

ROOT = Path(__file__).parent

class EpochTimer(Callback):
    """Wall time of every epoch, tagged with the number of trainable groups (an epoch that ends a stage early is missed:
    like fastai's EarlyStoppingCallback, the plateau cancels the fit in `after_epoch`, before callbacks of higher order)"""
    order = 100
    def __init__(self): self.rows = []
    def before_epoch(self): self.t = time.perf_counter()
    def after_epoch(self): self.rows.append((self.opt.frozen_idx > 0, time.perf_counter() - self.t))

class PeakRSS:
    "Peak resident memory growth (MB) while the block runs, sampled every 50 ms"
    def _rss(self): return int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20
    def __enter__(self):
        self.base = self.peak = self._rss(); self.stop = False
        def loop():
            while not self.stop: self.peak = max(self.peak, self._rss()); time.sleep(0.05)
        self.th = threading.Thread(target=loop, daemon=True); self.th.start(); return self
    def __exit__(self, *a): self.stop = True; self.th.join(); self.peak = max(self.peak, self._rss())

def make_learner(args, seed):
    set_seed(seed, reproducible=True)
    if args.mode == 'synth': return synth_staged_learner(4, n=8192, bs=64, nf=256)
    from fastai_ft.models import folder_dls, lite0_learner
    dls = folder_dls(args.data, size=args.size, bs=32, aug=args.mode == 'adaptive', seed=seed)
    if args.arch == 'lite0': return lite0_learner(dls)
    return vision_learner(dls, args.arch, metrics=accuracy, splitter=auto_split)

def run(args, name, seed, fn):
    learn, timer = make_learner(args, seed), EpochTimer()
    with PeakRSS() as mem, learn.no_bar(), learn.no_logging():
        t = time.perf_counter(); out = fn(learn, timer); wall = time.perf_counter() - t
    res = learn.validate()
    frozen = [t for f, t in timer.rows if f]
    stages = [dict(name=s.name, epochs=s.epochs_run, reason=s.reason, time=round(s.time, 2)) for s in out] if out is not None else None
    epochs = sum(s['epochs'] for s in stages) if stages else len(timer.rows)   # the timer misses an epoch that ends a stage
    return dict(config=name, seed=seed, wall=round(wall, 2), valid_loss=float(res[0]),
                accuracy=float(res[1]) if len(res) > 1 else None, peak_mb=round(mem.peak - mem.base),
                epochs=epochs, frozen_epoch_s=[round(t, 3) for t in frozen], stages=stages)

def configs(args):
    e, f, t = args.epochs, args.freeze, args.total
    if args.mode in ('overhead', 'synth'):
        res = {'fastai fine_tune': lambda l, c: l.fine_tune(e, freeze_epochs=f, cbs=c),
               'staged (defaults)': lambda l, c: l.staged_fine_tune(e, freeze_epochs=f, cbs=c),
               "staged bn='freeze' in frozen stage": lambda l, c: l.staged_fine_tune(e, freeze_epochs=f, bn=['freeze', 'train'], cbs=c)}
        if args.mode == 'overhead':
            res["staged bn='freeze' + feature cache"] = lambda l, c: l.staged_fine_tune(
                e, freeze_epochs=f, bn=['freeze', 'train'], cbs=[c, FeatureCacheCallback(aug='off', verbose=False)])
        return res
    keep = 2   # every config keeps at least 2 unfrozen epochs of the budget
    res = {f'freeze_epochs={k}': (lambda k: lambda l, c: l.staged_fine_tune(t-k, freeze_epochs=k, cbs=c))(k) for k in (1, 2, 3) if k <= t-keep}
    plateaus = {"'auto' (valid_loss, patience 1)": Plateau('valid_loss', patience=1, max_epochs=t-keep),
                "'auto' (accuracy, min_delta 0.01)": Plateau('accuracy', min_delta=0.01, patience=1, max_epochs=t-keep)}
    for name, pl in plateaus.items():
        res[name] = (lambda pl: lambda l, c: l.staged_fine_tune('auto', freeze_epochs='auto', plateau=pl, total_epochs=t, cbs=c))(pl)
    return res

def med(xs): return st.median(xs) if xs else None

def summarise(rows, base='fastai fine_tune'):
    out = []
    for name in dict.fromkeys(r['config'] for r in rows):
        rs = [r for r in rows if r['config'] == name]
        acc = [r['accuracy'] for r in rs if r['accuracy'] is not None]
        ratio = lambda key: med([key(r)/key(b) for r in rs for b in rows if b['config'] == base and b['seed'] == r['seed'] and key(b) and key(r)])
        fz = lambda r: med(r['frozen_epoch_s'])
        fz_later = lambda r: med(r['frozen_epoch_s'][1:])
        out.append(dict(config=name, n=len(rs), acc_mean=st.mean(acc) if acc else None, acc_sd=st.stdev(acc) if len(acc) > 1 else 0.,
                        acc_min=min(acc, default=None), acc_max=max(acc, default=None), epochs=med([r['epochs'] for r in rs]),
                        wall_median=med([r['wall'] for r in rs]), wall_ratio=ratio(lambda r: r['wall']),
                        frozen_epoch_s=med([fz(r) for r in rs if r['frozen_epoch_s']]),
                        frozen_later_s=med([fz_later(r) for r in rs if len(r['frozen_epoch_s']) > 1]),
                        frozen_later_speedup=(lambda v: 1/v if v else None)(ratio(fz_later)),
                        peak_mb=med([r['peak_mb'] for r in rs]),
                        frozen_epochs=[r['stages'][0]['epochs'] for r in rs if r['stages']]))
    return out

def header(data, args):
    "The command that made a table, and what it ran on"
    return [f"Command: `python benchmarks/overhead.py {' '.join(sys.argv[1:])}`  ",
            f"Data: {data}; seeds {args.seeds}; torch threads {args.threads}; CPU ({os.cpu_count()} cores)"]

def markdown(summary, args):
    f = lambda v, d=3: '-' if v is None else f'{v:.{d}f}'
    data = 'synthetic (synth_staged_learner, 4 groups)' if args.mode == 'synth' else f"`{Path(args.data).name}`, arch {args.arch}, {args.size}px"
    lines = header(data, args) + ["",
             "| config | runs | accuracy mean | sd | min-max | epochs | wall s (median) | wall / fine_tune (median) | frozen epoch s | later frozen epochs s | later frozen epochs speed-up vs fine_tune | peak RSS growth MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in summary:
        lines.append(f"| {s['config']} | {s['n']} | {f(s['acc_mean'],4)} | {f(s['acc_sd'],4)} | {f(s['acc_min'])}-{f(s['acc_max'])} | {s['epochs']} | "
                     f"{f(s['wall_median'],1)} | {f(s['wall_ratio'])} | {f(s['frozen_epoch_s'],2)} | {f(s['frozen_later_s'],2)} | {f(s['frozen_later_speedup'],1)} | {s['peak_mb']} |")
    return '\n'.join(lines) + '\n'

def markdown_adaptive(summary, rows, args):
    "The adaptive comparison: accuracy over seeds, the frozen epochs each run used, and every seed side by side"
    f = lambda v, d=4: '-' if v is None else f'{v:.{d}f}'
    names, seeds = [s['config'] for s in summary], sorted({r['seed'] for r in rows})
    acc = {(r['config'], r['seed']): r['accuracy'] for r in rows}
    lines = header(f"`{Path(args.data).name}`, arch {args.arch}, {args.size}px, `aug_transforms`; budget {args.total} epochs in all", args) + ["",
             "| config | runs | accuracy mean | sd | min-max | frozen epochs used (per seed) | epochs run (median) | wall s (median) |", "|---|---|---|---|---|---|---|---|"]
    for s in summary:
        lines.append(f"| {s['config']} | {s['n']} | {f(s['acc_mean'])} | {f(s['acc_sd'])} | {f(s['acc_min'],3)}-{f(s['acc_max'],3)} | "
                     f"{', '.join(map(str, s['frozen_epochs']))} | {s['epochs']} | {f(s['wall_median'],1)} |")
    lines += ["", "Accuracy per seed:", "", "| seed | " + " | ".join(names) + " |", "|---" * (len(names)+1) + "|"]
    for sd in seeds: lines.append(f"| {sd} | " + " | ".join(f(acc.get((n, sd))) for n in names) + " |")
    return '\n'.join(lines) + '\n'

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('mode', choices=['overhead', 'adaptive', 'synth'])
    p.add_argument('--data', default=os.environ.get('FASTAI_FT_HYMENOPTERA', str(ROOT.parent.parent/'shared'/'data'/'hymenoptera')))
    p.add_argument('--arch', default='lite0'); p.add_argument('--size', type=int, default=128)
    p.add_argument('--seeds', type=int, default=3); p.add_argument('--epochs', type=int, default=1)
    p.add_argument('--freeze', type=int, default=3); p.add_argument('--total', type=int, default=6)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--name', help='results file name (default: the mode), to keep runs with other settings')
    p.add_argument('--first-seed', type=int, default=0, help='seeds run are first-seed .. first-seed+seeds-1')
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.mode != 'adaptive':   # the adaptive comparison is about accuracy; the others are timed
        first = next(iter(configs(args).values()))
        run(args, 'warm-up', 0, first)  # untimed: first-run costs (allocator, lazy imports) hit no config
    rows = every = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for name, fn in configs(args).items():
            rows.append(run(args, name, seed, fn)); print(json.dumps(rows[-1]), flush=True)
            every = save(args.name or args.mode, rows, args={k: v for k, v in vars(args).items() if k not in ('seeds', 'first_seed', 'name')})
    summary = summarise(every)
    print(markdown_adaptive(summary, every, args) if args.mode == 'adaptive' else markdown(summary, args))

if __name__ == '__main__': main()
