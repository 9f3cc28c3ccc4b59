"""Both final-choice rules on the pre-registered runs (`README.md`): the recipe's, as it ran, and the loss guard
(`loss_guard` of ../probe-head/choice_rule.py) over the same recorded candidates, against the benchmark's probe and
fine_tune(3) on the same seeds.
    python benchmarks/experiments/loss-guard/score.py [NAME]   # reads battery-*-NAME.json here or in benchmarks/results (default guard1200)"""
import json, sys
from pathlib import Path
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent/'probe-head'))
from choice_rule import loss_guard, RESULTS, PROBE, mean, misses, won

def rows(f):
    "Per seed of one task: the recipe's test score, the guard's, the probe's and fine_tune(3)'s, and whether the guard switched"
    d = json.loads(f.read_text())
    by = {(r['config'], r['seed']): r for r in d['rows']}
    out = []
    for (c, s), r in sorted(by.items(), key=lambda kv: kv[0][1]):
        if c != "recipe='auto'": continue
        ct, ms = r['extra']['candidate_test'], r['extra']['mixes']
        g = loss_guard(ms)
        out.append(dict(seed=s, recipe=r['test'], guard=r['test'] if g is None else ct[g['name']], switched=g is not None,
                        probe=by[(PROBE, s)]['test'], ft=by[('fastai fine_tune(3)', s)]['test']))
    return d['args']['task'], out

def bars(xs, probe, ft):
    "Issue 21's bars: mean >= max(probe, fine_tune(3)), and no seed more than 0.03 below the probe"
    return ('met' if mean(xs) >= max(mean(probe), mean(ft)) - 1e-9 and not misses(xs, probe) else 'NOT met')

if __name__ == '__main__':
    name = sys.argv[1] if len(sys.argv) > 1 else 'guard1200'
    files = sorted({f.name: f for f in [*RESULTS.glob(f'battery-*-{name}.json'), *HERE.glob(f'battery-*-{name}.json')]}.values())
    print("| task | seeds | fine_tune(3) | probe | recipe's rule | loss guard | guard switched | recipe vs guard: won / lost |\n|---|---|---|---|---|---|---|---|")
    for f in files:
        task, rs = rows(f)
        if not rs: continue   # a run still going, no recipe row yet
        col = lambda k: [r[k] for r in rs]
        p, ft = col('probe'), col('ft')
        cell = lambda k: f"{mean(col(k)):.4f} ({misses(col(k), p)}, {bars(col(k), p, ft)})"
        print(f"| {task} | {len(rs)} | {mean(ft):.4f} | {mean(p):.4f} | {cell('recipe')} | {cell('guard')} | {sum(col('switched'))} | {won(col('recipe'), col('guard'))} |")
    print("\nIn brackets: seeds more than 0.03 below the probe on the same seed, and issue 21's two bars together.")
