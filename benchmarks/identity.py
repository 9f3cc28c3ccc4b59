"""Does a change to the recipe's code change what it does? Run `recipe='auto'` with no arguments on fixed development
seeds of the battery's tasks and write what it did: the stages as they ran, every epoch's validation figures, every
candidate of the final choice with its scores, the floor and ceiling, and a hash of the final weights. Run it on two
commits (e.g. in a `git worktree` of the old one) and compare: identical files mean identical choices and weights
(bit for bit on the CPU with the same number of threads).

    python benchmarks/identity.py --out /tmp/before.json                    # on the old commit
    python benchmarks/identity.py --out /tmp/after.json --compare /tmp/before.json

Only public names are used, so the script runs on the commits before and after a restructuring."""
import argparse, hashlib, json, sys
from pathlib import Path
import torch
sys.path.insert(0, str(Path(__file__).parent))
from fastai_ft.all import *
from recipe import protocol_dls, digits_dls, fresh_learner, DATA
from battery import hymenoptera_8shot

TASKS = {'hymenoptera': lambda seed: protocol_dls(DATA, 128, seed)[0], 'digits': lambda seed: digits_dls(48, seed)[0],
         'hymenoptera-8shot': lambda seed: hymenoptera_8shot(seed)[0]}   # near, far, few-shot (the probe head as the reference)

def weights_hash(learn):
    "sha256 of every tensor of the model's state, in order"
    h = hashlib.sha256()
    for k, v in learn.model.state_dict().items(): h.update(k.encode()); h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()

def run(task, seed):
    "What recipe='auto' did on `task`, seed `seed`, as plain values"
    learn = fresh_learner(TASKS[task](seed), 'lite0', seed)   # seeded, as the battery does
    with learn.no_bar(), learn.no_logging(): r = learn.staged_fine_tune(recipe='auto')
    cands = getattr(learn, 'recipe_candidates', None)
    num = lambda v: None if v is None or v != v else float(v) if isinstance(v, (int, float)) else v
    return dict(stages=[[s.name, s.n_train, s.epochs_run, s.bn, [float(o) for o in s.plan.lrs], s.reason] for s in r],
                history=[[num(v) for v in row] for row in learn.stage_history.drop(columns=['time'], errors='ignore').values.tolist()],
                candidates=None if cands is None else [[num(v) for v in row] for row in cands.select_dtypes('number').values.tolist()],
                floor=num(r.floor), ceiling=num(r.ceiling), weights=weights_hash(learn))

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--tasks', nargs='+', default=list(TASKS))
    ap.add_argument('--seeds', nargs='+', type=int, default=[0, 1])
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--out', required=True)
    ap.add_argument('--compare', help='an earlier output: exit 1 unless every run is identical')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    res = {f'{t} {s}': run(t, s) for t in a.tasks for s in a.seeds}
    Path(a.out).write_text(json.dumps(res, indent=1))
    if a.compare:
        old = json.loads(Path(a.compare).read_text())
        diff = {k: [f for f in v if v[f] != old.get(k, {}).get(f)] for k, v in res.items()}
        for k, fs in diff.items(): print(f"{k}: {'identical' if not fs else 'DIFFERS in ' + ', '.join(fs)} (weights {res[k]['weights'][:12]})")
        sys.exit(1 if any(diff.values()) else 0)
