"""Worker for tests/test_resume_faults.py. It imports torch, fastai and fastai_ft once, then, for each line `run OUT_DIR DELAY`
read from stdin, forks a child that runs one small staged run with `resume=` and an on-disk `RunTracker` in OUT_DIR,
prints `pid N` and, when the child ends, `exit N CODE` (negative: killed by that signal). The test kills children
(SIGKILL, SIGTERM) at random moments and runs them again; forking spares it a slow import per attempt.

DELAY (a hook of this script only, never of the library): if above 0, every `torch.save` writes its bytes in four
chunks with that pause after each, and the child prints `W+`/`W-` around it, so that the test can kill it inside a write."""
import io, os, sys, time, traceback
from pathlib import Path
import torch
torch.set_num_threads(1)
from fastai.basics import set_seed, Callback
from fastai_ft.all import *

_save = torch.save

def slow_save(delay):
    def _inner(obj, f, *args, **kw):
        buf = io.BytesIO(); _save(obj, buf, *args, **kw); data = buf.getvalue()
        print('W+', flush=True)
        step = len(data)//4 + 1
        for i in range(0, len(data), step):
            f.write(data[i:i+step]); f.flush(); time.sleep(delay)
        print('W-', flush=True)
    return _inner

class Epochs(Callback):
    "Print `epoch N` as each epoch of the run ends (N counted over the whole run), so the test sees where a resumed run picks up"
    order = StageRecorder.order+1
    def after_epoch(self): print(f'epoch {len(self.learn.stage_recorder.rows)-1}', flush=True)

def run(out:Path):
    "The run under test; its result (history, weights, stages, best) goes to out/'result.pth'"
    set_seed(0)
    learn = synth_staged_learner(3, n=128)
    tracker = RunTracker(ckpt_dir=out/'ckpt', rollback='retry')
    print('ready', flush=True)
    with learn.no_bar(), learn.no_logging():
        r = learn.staged_fine_tune(3, freeze_epochs='auto', unfreeze='gradual', plateau=Plateau(min_delta=0.02, max_epochs=3),
                                   total_epochs=8, base_lr=1e-2, tracker=tracker, resume=out/'run.pth', cbs=Epochs())
    res = dict(history=to_columns(learn.stage_history.to_dict('records')), weights=learn.model.state_dict(), run_id=tracker.run_id,
               stages=[[s.name, s.epochs_run, s.reason, str(s.rollback)] for s in r], best_at=r.best_at,
               best=str(tracker.files[r.best_at['stage']]))
    _save(res, out/'result.tmp'); os.replace(out/'result.tmp', out/'result.pth')
    print('done', flush=True)

for line in sys.stdin:
    cmd,out,delay = line.split()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            if float(delay) > 0: torch.save = slow_save(float(delay))
            run(Path(out))
        except BaseException as e:
            print(f'raised {type(e).__name__}', flush=True); traceback.print_exc(); code = 3
        finally: os._exit(code)
    print(f'pid {pid}', flush=True)
    _,status = os.waitpid(pid, 0)
    print(f'exit {pid} {os.waitstatus_to_exitcode(status)}', flush=True)
