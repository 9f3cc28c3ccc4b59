"""Where recipe='auto''s time goes, part by part, beside fastai's fine_tune(3) in the same process, on the battery's tasks.

    python benchmarks/profile_recipe.py --tasks hymenoptera faces --seeds 0 1 2 --name NAME
    python benchmarks/profile_recipe.py --summary --name NAME     # the tables from results/profile-NAME.json

Per task and seed (battery.py's data: the same splits, sizes and batch sizes), in one process with --threads torch threads:
fastai's `fine_tune(3)`, then `staged_fine_tune(recipe='auto')` with no arguments, each timed from the outside. The
recipe's parts come from its report: the feature cache's build (the body's passes over the training and validation
items), the weight-decay tries (less the cache build when it happened there), the probe, the drift, each stage (the head
stage less the cache build when it happened there) and the final choice; what is left of the wall time is `other`
(planning, copies of weights). The *heads* are the tries, the probe and the head stage: training heads on cached features.
Run it alone on the machine: two torch processes on two cores slow each other several-fold.
Reported per task, medians over seeds: each part's seconds and share of the recipe's wall, and the wall ratio to fine_tune(3)."""
import argparse, json, statistics as st, sys, time
from pathlib import Path
import torch
sys.path.insert(0, str(Path(__file__).parent))
from fastai_ft.all import *
from battery import TASKS
from recipe import fresh_learner
from record import RESULTS, save

def parts(r, wall):
    "Seconds per part of a recipe run, from its report `r` and its wall time"
    t, build = dict(r.times), r.times.get('cache build', 0.)
    res = {'cache build': build}
    built = 'weight-decay tries' if t.get('weight-decay tries', 0) > build else None   # where the cache was built
    for k in ('weight-decay tries', 'probe', 'drift'):
        if k in t: res[k] = t[k] - (build if k == built else 0)
    for s in r: res[f"stage {s.name}"] = s.time - (build if s.name == 'head' and built is None else 0)
    res['final choice'] = t.get('final choice', 0.)
    res['other'] = wall - sum(res.values())
    res['heads'] = res.get('weight-decay tries', 0) + res.get('probe', 0) + res.get('stage head', 0)
    return res

def run(task, seed, arch):
    "fine_tune(3)'s wall and the recipe's, with the recipe's parts, on `task`'s split of `seed`"
    dls, _ = TASKS[task](seed)
    learn = fresh_learner(dls, arch, seed)
    t = time.perf_counter()
    with learn.no_bar(), learn.no_logging(): learn.fine_tune(3)
    ft = time.perf_counter() - t
    learn = fresh_learner(dls, arch, seed)
    t = time.perf_counter()
    with learn.no_bar(), learn.no_logging(): r = learn.staged_fine_tune(recipe='auto')
    wall = time.perf_counter() - t
    return dict(task=task, seed=seed, config="recipe='auto'", fine_tune=round(ft, 2), wall=round(wall, 2),
                parts={k: round(v, 3) for k, v in parts(r, wall).items()}, stages=[[s.name, s.epochs_run] for s in r])

def table(rows):
    "Per task: each part's median seconds and share of the recipe's wall, and the median wall ratio to fine_tune(3)"
    out = ['| task | seeds | fine_tune(3) | recipe | ratio | ' + ' | '.join(PARTS) + ' |', '|---' * (5 + len(PARTS)) + '|']
    for task in dict.fromkeys(r['task'] for r in rows):
        rs = [r for r in rows if r['task'] == task]
        med = lambda f: st.median(f(r) for r in rs)
        cell = lambda p: f"{med(lambda r: r['parts'].get(p, 0)):.2f} s ({med(lambda r: r['parts'].get(p, 0)/r['wall']):.0%})"
        out.append(f"| {task} | {len(rs)} | {med(lambda r: r['fine_tune']):.1f} s | {med(lambda r: r['wall']):.1f} s | "
                   f"{med(lambda r: r['wall']/r['fine_tune']):.2f}x | " + ' | '.join(cell(p) for p in PARTS) + ' |')
    return '\n'.join(out)

PARTS = ['cache build', 'weight-decay tries', 'probe', 'drift', 'stage head', 'stage unfrozen', 'final choice', 'other', 'heads']

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--tasks', nargs='+', default=['hymenoptera', 'faces', 'hymenoptera-8shot', 'textures-4shot', 'digits'], choices=list(TASKS))
    ap.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    ap.add_argument('--arch', default='lite0'); ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--name', default='dev'); ap.add_argument('--summary', action='store_true')
    a = ap.parse_args()
    name = f'profile-{a.name}'
    if not a.summary:
        torch.set_num_threads(a.threads)
        for task in a.tasks:
            for seed in a.seeds:
                row = run(task, seed, a.arch); print(json.dumps(row), flush=True)
                save(name, [row], settings=dict(arch=a.arch, threads=a.threads))
    print(table(json.loads((RESULTS/f'{name}.json').read_text())['rows']))
