"""One process of the distributed tests in tests/test_distributed.py. Launched the way the docs tell users to:
    torchrun --nproc_per_node 2 tests/ddp_worker.py OUT_DIR MODE
or the same code in one process, without `distrib_ctx`, for the one-process reference:
    python tests/ddp_worker.py OUT_DIR MODE --single
MODE: 'staged' (an adaptive run with roll-backs, then a fixed-epoch one), 'recipe' (recipe='auto'),
'nonfinite' (a NaN batch on rank 1 only, then on rank 0 only), or several joined by commas.
Writes OUT_DIR/rank{i}.json and .pth (single.json and .pth alone), one entry per run."""
import contextlib, faulthandler, json, signal, sys
from datetime import timedelta
from pathlib import Path
import torch
from accelerate.utils import InitProcessGroupKwargs
from fastai.basics import *
from fastai.distributed import *
from fastai_ft.all import *
from fastai.callback.progress import ProgressCallback
from fastai.vision.learner import create_head

READY = 'ddp_worker: process group up, training starts, rank'   # tests/test_distributed.py retries start-up failures only before this

# fastai's DistributedDL._broadcast moves its index tensor to CUDA (nccl needs that); gloo on CPU needs it on the CPU.
# This replaces that one method with a device-agnostic broadcast so fastai's distributed training runs on CPU.
def _broadcast(self, t, rank):
    t = LongTensor(t)
    torch.distributed.broadcast(t, rank)
    return t.tolist()
DistributedDL._broadcast = _broadcast

class HeadValidations(Callback):
    "Count the epochs of head-only fits, and their validations by what they ran on: cached features (`_FeatureDL`) or the images through the body"
    order = 99   # after fastai's DistributedTrainer wrapped the loader
    def __init__(self): self.seen,self.head_only,self.epochs = {},False,0
    def before_fit(self): self.head_only = self.opt.frozen_idx == len(self.opt.param_lists) - 1
    def after_fit(self): self.head_only = False
    def after_epoch(self): self.epochs += self.head_only
    def before_validate(self):
        if self.head_only:
            k = type(getattr(self.dl, 'dl', self.dl)).__name__
            self.seen[k] = self.seen.get(k, 0) + 1

class NaNBatch(Callback):
    "Put a NaN into the inputs of the first training batch of stage `stage`, on process `rank` only"
    order = RunTracker.order-1   # the tracker's `before_batch` sees it
    def __init__(self, rank, stage): self.rank,self.stage_name,self.done = rank,stage,False
    def before_batch(self):
        if self.done or not self.training or self.learn.stage.name != self.stage_name: return
        self.done = True   # once: a retried stage gets clean data
        if rank_distrib() == self.rank: x = self.xb[0].clone(); x[0, 0] = float('nan'); self.learn.xb = (x,)

def summary(r, learn):
    "What a staged run did, in JSON: stages as run, their plan, non-finite stops, best epoch, decisions, history"
    return dict(stages=[[s.name, s.epochs_run, s.reason, s.rollback] for s in r],
                plan=[[s.name, s.n_train, s.epochs, [float(o) for o in s.plan.lrs], s.bn] for s in r],
                non_finite=[getattr(s, 'non_finite', None) for s in r], best=r.best_at, decisions=r.decisions,
                valid_loss=learn.stage_history.valid_loss.tolist())

out,mode,single = Path(sys.argv[1]),sys.argv[2],'--single' in sys.argv[3:]
# A hang must fail fast and say where: a collective that waits 45 s raises (gloo's timeout), anything else stuck
# (start-up, exit) dumps every thread's stack after 100 s and exits. A healthy run takes about 10 s. A process that
# torchrun stops (SIGTERM) because the other failed says where it was too.
faulthandler.dump_traceback_later(100, exit=True)
faulthandler.register(signal.SIGTERM, chain=True)
pg = InitProcessGroupKwargs(timeout=timedelta(seconds=45))
torch.set_num_threads(1)

@contextlib.contextmanager
def distrib(learn):
    "fastai's `distrib_ctx` on gloo (or nothing with --single), saying once that the process group is up"
    if single: yield; return
    with learn.distrib_ctx(sync_bn=False, cpu=True, kwargs_handlers=[pg]):   # SyncBatchNorm needs CUDA; cpu=True makes Accelerate use gloo
        if not getattr(distrib, 'said', False): print(f"{READY} {rank_distrib()}", flush=True); distrib.said = True
        yield

def learner(**kwargs):
    set_seed(0)
    learn = synth_staged_learner(3, n=512, bs=32, **kwargs)
    learn.remove_cb(ProgressCallback)   # the logs, without a bar per epoch
    set_seed(1 + int(os.environ.get('RANK', 0)))   # different random states per process: decisions must still agree
    return learn

def recipe():   # the feature cache per process, the weight-decay sweep, the drift, the final choice on gathered items
    learn = learner()
    learn.model[1] = create_head(16, 2, pool=False)   # fastai's head, so the linear probe head is fitted (per process, then the main's)
    hv = HeadValidations()
    learn.add_cb(hv)
    from fastai_ft.cache import FeatureCacheCallback
    builds, _build = [], FeatureCacheCallback._build
    def _counted(self): builds.append(1); return _build(self)
    FeatureCacheCallback._build = _counted   # how many times the body's outputs are computed for the cache
    with distrib(learn):
        r = learn.staged_fine_tune(recipe='auto', epochs=2, freeze_epochs=5, tracker=RunTracker(ckpt_dir=out/'ckpt', rollback=None))
    FeatureCacheCallback._build = _build
    yield 'recipe', summary(r, learn) | dict(head_validations=hv.seen, head_epochs=hv.epochs, cache_builds=len(builds)), learn

def staged():
    learn = learner()
    with distrib(learn):
        r = learn.staged_fine_tune('auto', freeze_epochs='auto', base_lr=1e-2, total_epochs=6, plateau=Plateau(min_delta=0.03, max_epochs=4),
                                   tracker=RunTracker(ckpt_dir=out/'ckpt', rollback='restore'))
    yield 'staged', summary(r, learn), learn
    learn = learner()   # fixed epochs: each stage runs what it planned, on one process or two
    with distrib(learn):
        r = learn.staged_fine_tune(2, unfreeze='gradual', bn=['freeze', 'freeze_stats', 'train'], tracker=RunTracker(ckpt_dir=False))
    yield 'fixed', summary(r, learn), learn

def nonfinite():   # a NaN batch on one process stops every process, whichever it is on
    for bad in (1, 0):
        learn = learner()
        with distrib(learn):
            r = learn.staged_fine_tune(2, tracker=RunTracker(ckpt_dir=False), cbs=NaNBatch(bad, 'unfrozen'))
        yield f'nan_on_rank{bad}', summary(r, learn), learn

res,weights = {},{}
for m in mode.split(','):   # one process may run several modes (the one-process reference runs them all, for one start-up)
    for k,o,learn in dict(recipe=recipe, staged=staged, nonfinite=nonfinite)[m](): res[k],weights[k] = o,learn.model.state_dict()

name = 'single' if single else f'rank{rank_distrib()}'
json.dump(res, open(out/f'{name}.json', 'w'), default=str)   # decisions may hold records with numbers of any kind
torch.save(weights, out/f'{name}.pth')
if not single:
    torch.distributed.barrier()                   # both have written their results
    torch.distributed.destroy_process_group()     # a clean exit, without leaving gloo's teardown to interpreter shutdown
faulthandler.cancel_dump_traceback_later()
