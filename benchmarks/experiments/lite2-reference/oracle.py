"""Could any choice among the recipe's final candidates reach issue 21's Lite2 bar (0.965 on 153 test photos)?
Reads every Lite2 224 px run scored with --candidates (analysis only: each candidate's test accuracy, after the recipe
chose on validation) and prints, per seed, each candidate's test accuracy, the kept one, and the best on test per seed
(an oracle no rule on validation can beat). Runs nothing.
    python benchmarks/experiments/lite2-reference/oracle.py"""
import json, re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FILES = [*sorted((ROOT/'results').glob('battery-hymenoptera-224-*.json')), *sorted(Path(__file__).parent.glob('battery-hymenoptera-224-*.json'))]
KINDS = {'the 0.5 mix': 'mix 0.5', 'the fine-tuned weights': 'fine-tuned', "the head stage's end": 'head end',
         "the weight-decay try's head": 'wd try', 'the linear probe head': 'probe head'}

def kind(name): return next(v for k, v in KINDS.items() if name.startswith(k))

def rows():
    "(file, seed, test of the kept weights, {candidate kind: test}) for every recipe row with candidate scores"
    for f in FILES:
        d = json.loads(f.read_text())
        if d['args'].get('arch') != 'lite2': continue
        for r in d['rows']:
            c = (r.get('extra') or {}).get('candidate_test')
            if c: yield f.stem.removeprefix('battery-hymenoptera-224-'), r['seed'], r['test'], {kind(k): v for k, v in c.items()}

def main():
    rs = list(rows())
    cols = list(KINDS.values())
    print("| run | seed | kept | " + " | ".join(cols) + " | best on test |")
    print("|---" * (len(cols)+4) + "|")
    for run, seed, kept, c in rs:
        print(f"| {run} | {seed} | {kept:.3f} | " + " | ".join(f"{c[k]:.3f}" for k in cols) + f" | {max(c.values()):.3f} |")
    mean = lambda xs: sum(xs)/len(xs)
    print(f"| mean of {len(rs)} | | {mean([k for _, _, k, _ in rs]):.4f} | " + " | ".join(f"{mean([c[k] for *_, c in rs]):.4f}" for k in cols)
          + f" | {mean([max(c.values()) for *_, c in rs]):.4f} |")

if __name__ == '__main__': main()
