"""Replay of the recipe's final choice on every held-out battery run that scored its candidates on test (`--candidates`):
the rule it uses (the reference, replaced only by a candidate better on validation beyond chance) against the plain
alternative, the best validation accuracy with ties broken by validation loss. Analysis only, after the runs; the test
splits replayed here had all been read.

    python benchmarks/experiments/probe-head/choice_rule.py   # a table per task, from benchmarks/results/battery-*.json"""
import json
from collections import defaultdict
from pathlib import Path
RESULTS = Path(__file__).resolve().parents[2]/'results'

def best_on_valid(mixes):
    "The candidate with the best validation accuracy, ties by the lowest validation loss"
    return min(mixes, key=lambda m: (-round(m['accuracy'], 6), m['valid_loss']))

def replay(files):
    "Per task: runs (task, seed), the kept choice's mean test accuracy, the alternative's, and how many seeds each won"
    out = defaultdict(lambda: dict(n=0, kept=0., alt=0., kept_won=0, alt_won=0))
    for f in files:
        d = json.loads(f.read_text())
        for r in d['rows']:
            ex = r.get('extra', {}); ct, ms = ex.get('candidate_test'), ex.get('mixes')
            if not ct or not ms or any(m['name'] not in ct for m in ms): continue
            kept, alt = r['test'], ct[best_on_valid(ms)['name']]
            o = out[d['args']['task']]
            o['n'] += 1; o['kept'] += kept; o['alt'] += alt
            o['kept_won'] += kept > alt + 1e-9; o['alt_won'] += alt > kept + 1e-9
    return out

if __name__ == '__main__':
    files = sorted(f for f in RESULTS.glob('battery-*.json') if not f.stem.endswith(('-a', '-b')))
    print('| task | runs | kept (the recipe) | best validation accuracy, ties by loss | seeds the kept rule won / lost |\n|---|---|---|---|---|')
    for task, o in sorted(replay(files).items()):
        print(f"| {task} | {o['n']} | {o['kept']/o['n']:.4f} | {o['alt']/o['n']:.4f} | {o['kept_won']} / {o['alt_won']} |")
