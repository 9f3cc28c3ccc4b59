"""Per seed, each final candidate of recipe='auto': validation accuracy and loss, wins and losses against the reference, and test accuracy
(battery.py --candidates): python benchmarks/experiments/probe-head/candidates.py FILE.json ..."""
import json,sys,math
from pathlib import Path
RESULTS = Path(__file__).resolve().parents[2]/'results'
from scipy.stats import binom
def p_sign(w,l): return 1.0 if w+l==0 else binom.sf(w-1,w+l,.5)
for f in sys.argv[1:]:
    d=json.load(open(f)); task=d['args']['task']
    try: base={r['seed']:r['test'] for r in json.load(open(RESULTS/f'battery-{task}-baseline.json'))['rows'] if r['config']=='linear probe'}
    except FileNotFoundError: base={}   # the probe of the same split, where the baseline ran that seed
    base.update({r['seed']: r['test'] for r in d['rows'] if r['config'] == 'linear probe'})   # the file's own probe first
    for r in d['rows']:
        if 'mixes' not in r.get('extra', {}): continue   # fine_tune(3) and the probe have no candidates
        ct=r['extra'].get('candidate_test') or {}
        ms=r['extra']['mixes']
        print(f"{task} s{r['seed']} {r['config'][:12]} test {r['test']:.3f} probe {base.get(r['seed'],float('nan')):.3f}")
        for m in ms:
            print(f"    {m['name'][:45]:45s} vacc {m.get('accuracy',0):.3f} vloss {m['valid_loss']:.3f} w{m['wins']}-l{m['losses']}  test {ct.get(m['name'],float('nan')):.3f}")
