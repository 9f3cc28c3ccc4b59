"""Replay of the recipe's final choice on every held-out battery run that scored its candidates on test (`--candidates`):
the rule it uses (the reference, replaced only by a candidate better on validation beyond chance) against three
alternatives: the best validation accuracy with ties broken by validation loss; the linear probe head as the
reference, replaced only by a candidate that classifies at least 5 more validation items correctly (the least a sign
test with p < 0.05 needs; the rows hold each candidate's accuracy, not its items, so this is the count alone); and the
recipe's choice unless fine-tuning ended with a higher validation loss than the head it started from, then the linear
probe head (else the head stage's end), as a guard in loss where the recipe's guards count items. For
each rule: the mean test accuracy and the seeds more than 0.03 below the benchmark's own probe on the same seed
(issue 21's per-seed bar). Analysis only, after the runs; the test splits replayed here had all been read.

    python benchmarks/experiments/probe-head/choice_rule.py   # a table per task, from benchmarks/results/battery-*.json"""
import json
from collections import defaultdict
from pathlib import Path
RESULTS = Path(__file__).resolve().parents[2]/'results'
PROBE = 'linear probe'

def best_on_valid(mixes):
    "The candidate with the best validation accuracy, ties by the lowest validation loss"
    return min(mixes, key=lambda m: (-round(m['accuracy'], 6), m['valid_loss']))

def probe_first(mixes, n_valid, k=5):
    "The linear probe head unless another candidate classifies at least `k` more of the `n_valid` items correctly; `None` without a probe head"
    probe = next((m for m in mixes if m['name'].startswith('the linear probe head')), None)
    if probe is None: return None
    best = best_on_valid(mixes)
    return best if round(best['accuracy']*n_valid) - round(probe['accuracy']*n_valid) >= k else probe

def loss_guard(mixes):
    "The linear probe head (else the head stage's end) when the fine-tuned weights validate with a higher loss than the head stage's end; `None` keeps the recipe's choice"
    by = {m['name'].split(' (')[0]: m for m in mixes}
    ft,head = by.get('the fine-tuned weights'),by.get("the head stage's end")
    if ft is None or head is None or ft['valid_loss'] <= head['valid_loss']: return None
    return next((m for m in mixes if m['name'].startswith('the linear probe head')), head)

def replay(files):
    "Per task: runs with a probe head, each rule's test accuracies, and the benchmark probe's on the same seeds"
    out = defaultdict(lambda: defaultdict(list))
    for f in files:
        d = json.loads(f.read_text())
        bench = {r['seed']: r['test'] for r in d['rows'] if r['config'] == PROBE}
        for r in d['rows']:
            ex = r.get('extra', {}); ct, ms = ex.get('candidate_test'), ex.get('mixes')
            if not ct or not ms or any(m['name'] not in ct for m in ms) or r['seed'] not in bench: continue
            pf = probe_first(ms, d['args']['n_valid'])
            if pf is None: continue
            o, lg = out[d['args']['task']], loss_guard(ms)
            for k, v in (('kept', r['test']), ('best', ct[best_on_valid(ms)['name']]), ('probe', ct[pf['name']]),
                         ('guard', r['test'] if lg is None else ct[lg['name']]), ('bench', bench[r['seed']])): o[k].append(v)
    return out

def mean(xs): return sum(xs)/len(xs)
def misses(xs, bench): return sum(x < b - 0.03 - 1e-9 for x, b in zip(xs, bench))
def won(a, b): return f"{sum(x > y + 1e-9 for x, y in zip(a, b))} / {sum(y > x + 1e-9 for x, y in zip(a, b))}"

if __name__ == '__main__':
    files = sorted(f for f in RESULTS.glob('battery-*.json') if not f.stem.endswith(('-a', '-b')))
    print("| task | runs | kept (the recipe) | best validation accuracy, ties by loss | the probe head unless beaten by 5 items | "
          "the probe head when fine-tuning raised the validation loss | the benchmark's probe | kept vs best: seeds won / lost | "
          "kept vs probe head first: won / lost | kept vs the loss guard: won / lost |\n|---|---|---|---|---|---|---|---|---|---|")
    for task, o in sorted(replay(files).items()):
        cell = lambda k: f"{mean(o[k]):.4f} ({misses(o[k], o['bench'])})"
        print(f"| {task} | {len(o['kept'])} | {cell('kept')} | {cell('best')} | {cell('probe')} | {cell('guard')} | {mean(o['bench']):.4f} | "
              f"{won(o['kept'], o['best'])} | {won(o['kept'], o['probe'])} | {won(o['kept'], o['guard'])} |")
    print("\nIn brackets: seeds more than 0.03 below the benchmark's probe on the same seed.")
