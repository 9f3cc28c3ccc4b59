"""Training-step and inference time of EfficientNet-Lite with `lite_learner`'s channels-last weights against the default
layout, side by side in one process (alternating), median over repeats. Writes results/channels-last.json (record.py)
and prints its table.

    python benchmarks/channels_last.py [--threads 1] [--repeats 7]"""
import argparse, statistics as st, time
import torch
from fastai.vision.all import *
from fastai_ft.models import lite_learner, digits_folder, folder_dls
from record import save

def step_times(learn, x, y, repeats):
    "Median seconds of one training step (forward, loss, backward) and of one no-grad forward in eval mode"
    m = learn.model
    def train_step():
        m.train(); learn.loss_func(m(x), y).backward(); m.zero_grad()
    def infer():
        m.eval()
        with torch.no_grad(): m(x)
    res = {}
    for name,f in (('train_step', train_step), ('inference', infer)):
        f()   # warm-up
        ts = []
        for _ in range(repeats):
            t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
        res[name] = st.median(ts)
    return res

def main():
    p = argparse.ArgumentParser(); p.add_argument('--threads', type=int, default=1); p.add_argument('--repeats', type=int, default=7)
    p.add_argument('--bs', type=int, default=32)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for arch,size in (('lite0', 48), ('lite0', 128), ('lite2', 224)):
        dls = folder_dls(digits_folder(), size=size, bs=args.bs, seed=0)
        x,y = dls.one_batch()
        learners = {cl: lite_learner(dls, arch, channels_last=cl) for cl in (False, True)}
        for l in learners.values(): l.unfreeze()
        learners[True].model.load_state_dict(learners[False].model.state_dict())
        t = {cl: step_times(l, x, y, args.repeats) for cl,l in learners.items()}
        rows.append(dict(arch=arch, size=size, bs=args.bs, **{f'{k}_{n}': t[cl][k] for cl,n in ((False, 'default'), (True, 'channels_last')) for k in t[cl]}))
        print(rows[-1], flush=True)
    save('channels-last', rows, seeds=[0], args=vars(args), torch=torch.__version__)   # one batch of folder_dls(seed=0)
    md = [f"Command: `python benchmarks/channels_last.py --threads {args.threads} --repeats {args.repeats}` (torch {torch.__version__}, "
          f"{args.threads} thread(s), batch {args.bs}, median of {args.repeats} repeats, all groups trainable)\n",
          '| model | size | training step, default (s) | channels-last (s) | ratio | inference, default (s) | channels-last (s) | ratio |',
          '|---|---|---|---|---|---|---|---|']
    for r in rows:
        md.append(f"| {r['arch']} | {r['size']} px | {r['train_step_default']:.3f} | {r['train_step_channels_last']:.3f} | "
                  f"{r['train_step_default']/r['train_step_channels_last']:.2f}x | {r['inference_default']:.3f} | "
                  f"{r['inference_channels_last']:.3f} | {r['inference_default']/r['inference_channels_last']:.2f}x |")
    print('\n'.join(md))

if __name__ == '__main__': main()
