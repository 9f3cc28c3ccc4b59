"""Share of a staged run's time spent in fastai_ft's own code (cProfile), a measure that machine load barely moves.

    python benchmarks/profile_overhead.py [--epochs 3] [--n 8192]

Runs `staged_fine_tune` with its defaults (= fine_tune) on the synthetic learner under cProfile and sums the
time spent inside functions defined in fastai_ft (self time), and the cumulative time of our callbacks' event methods
(including the fastai code they call), against the whole run. Writes results/profile_overhead.json (record.py)."""
import argparse, cProfile, pstats, json
import torch
from fastai.basics import set_seed
from fastai_ft.all import *
from record import save

p = argparse.ArgumentParser(); p.add_argument('--epochs', type=int, default=3); p.add_argument('--n', type=int, default=8192)
args = p.parse_args()
torch.set_num_threads(1)
set_seed(0)
learn = synth_staged_learner(4, n=args.n, bs=64, nf=256)
prof = cProfile.Profile()
with learn.no_bar(), learn.no_logging():
    prof.enable(); learn.staged_fine_tune(args.epochs); prof.disable()
st = pstats.Stats(prof)
total = max(v[3] for v in st.stats.values())                      # cumulative time of the outermost call
ours = sum(v[2] for k, v in st.stats.items() if 'fastai_ft' in k[0])  # own (self) time of fastai_ft functions
events = {'before_batch', 'after_batch', 'after_epoch', 'before_epoch', 'before_fit', 'after_fit', 'before_validate',
          'before_stage', 'after_stage', 'before_run', 'after_run', 'after_loss', 'before_train'}
cb = sum(v[3] for k, v in st.stats.items() if 'fastai_ft' in k[0] and k[2] in events)   # callbacks, with what they call
res = dict(total_s=round(total, 3), fastai_ft_self_s=round(ours, 4), share_self=round(ours/total, 5),
           callbacks_cumulative_s=round(cb, 4), share_callbacks=round(cb/total, 5), epochs=args.epochs, n=args.n)
print(json.dumps(res))
save('profile_overhead', seeds=[0], **res)   # set_seed(0) above
