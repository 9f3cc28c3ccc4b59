"""Fault injection: a staged run with `resume=` and an on-disk `RunTracker` is killed at random moments (SIGKILL, in the middle
of checkpoint and state writes included), and interrupted by SIGTERM, then run again each time; it must always finish
exactly as the same run never interrupted, and the best checkpoint on disk must always load with `weights_only=True`."""
import os, queue, random, signal, subprocess, sys, threading, time
from pathlib import Path
import pytest, torch
from fastai_ft.all import *

pytestmark = pytest.mark.skipif(not hasattr(os, 'fork'), reason='the worker forks')
WORKER = Path(__file__).parent/'resume_worker.py'
DELAY = 0.02            # pause per quarter of every torch.save in the worker, so that kills land inside writes
N_KILLS = 12

class Worker:
    "The forking worker process, and its output line by line"
    def __init__(self):
        env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=os.pathsep.join([str(WORKER.parent.parent), os.environ.get('PYTHONPATH', '')]))
        self.p = subprocess.Popen([sys.executable, '-u', str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=env)
        self.lines,self.err = queue.Queue(),[]
        threading.Thread(target=lambda: [self.lines.put(l.strip()) for l in self.p.stdout], daemon=True).start()
        threading.Thread(target=lambda: [self.err.append(l) for l in self.p.stderr], daemon=True).start()

    def start(self, out, delay=0.):
        "Fork a run in `out`; its pid"
        self.p.stdin.write(f'run {out} {delay}\n'); self.p.stdin.flush()
        return int(self.until(lambda l: l.startswith('pid '))[-1].split()[1])

    def until(self, pred, timeout=300):
        "Lines up to and including the first for which `pred` is true; after `timeout` seconds without it, fail and say what the processes were doing"
        seen,end = [],time.time()+timeout
        while True:
            try: seen.append(self.lines.get(timeout=max(end-time.time(), 0.1)))
            except queue.Empty: raise AssertionError(f"no awaited line in {timeout} s; the last lines: {seen[-8:]}; {self.state()}") from None
            if pred(seen[-1]): return seen

    def state(self):
        "What the worker and its children are doing (Linux's /proc: state and kernel wait channel), and its stderr's last lines"
        def proc(pid):
            try: return f"{pid} {(Path('/proc')/str(pid)/'stat').read_text().rsplit(') ', 1)[1].split()[0]} {(Path('/proc')/str(pid)/'wchan').read_text()}"
            except OSError: return f'{pid} gone'
        def ppid(d):
            try: return int((d/'stat').read_text().rsplit(') ', 1)[1].split()[1])
            except (OSError, ValueError, IndexError): return None
        kids = [proc(d.name) for d in Path('/proc').iterdir() if d.name.isdigit() and ppid(d) == self.p.pid]
        return f"worker {proc(self.p.pid)} (exit code {self.p.poll()}), its children {kids}; its stderr ends: {''.join(self.err[-10:])}"

    def poll(self, t):
        "Lines printed within `t` seconds"
        seen,end = [],time.time()+t
        while (left := end-time.time()) > 0:
            try: seen.append(self.lines.get(timeout=left))
            except queue.Empty: break
        return seen

    def close(self): self.p.stdin.close(); self.p.wait(timeout=60)

@pytest.fixture(scope='module')
def worker():
    w = Worker()
    yield w
    w.close()

@pytest.fixture(scope='module')
def reference(worker, tmp_path_factory):
    out = tmp_path_factory.mktemp('reference')
    worker.start(out)
    lines = worker.until(lambda l: l.startswith('exit '))
    assert lines[-1].endswith(' 0'), ''.join(worker.err[-30:])
    return torch.load(out/'result.pth', weights_only=True)

def check_on_disk(out):
    "Every checkpoint loads with weights_only=True, and the state file, if any, is whole and names a best checkpoint that holds its epoch"
    for f in (out/'ckpt').glob('ft-*.pth'): torch.load(f, weights_only=True)
    st = read_state(out/'run.pth')
    if st is not None: assert RunTracker().check_state(st['cbs']['run_tracker']) is None

def check_result(out, ref):
    "The run finished as the reference did, and left only its best checkpoint"
    res = torch.load(out/'result.pth', weights_only=True)
    assert res['history'] == ref['history']
    assert res['stages'] == ref['stages'] and res['best_at'] == ref['best_at']
    for k,v in ref['weights'].items(): assert torch.equal(res['weights'][k], v), k
    assert not (out/'run.pth').exists() and not list(out.glob('.run.pth.*'))
    ours = sorted(out.glob(f"ckpt/*{res['run_id']}*")) + sorted(out.glob(f"ckpt/.*{res['run_id']}*"))
    assert ours == [Path(res['best'])], ours
    torch.load(res['best'], weights_only=True)
    return res

def saved_epochs(out):
    "Epochs the state file in `out` holds (0 without one): the epoch a resumed run must train first"
    st = read_state(out/'run.pth')
    return 0 if st is None else len(st['cbs']['stage_recorder']['history'].get('epoch', []))

def first_epoch(lines):
    "The first epoch a run trained, from its `epoch N` lines (None if it trained none)"
    return next((int(l.split()[1]) for l in lines if l.startswith('epoch ')), None)

def test_sigkill_anywhere(worker, reference, tmp_path):
    rng = random.Random(13)
    kills,in_write,finished,starts = 0,0,0,[]
    while True:
        due = saved_epochs(tmp_path)   # read before the run starts again: where it must carry on
        pid = worker.start(tmp_path, DELAY)
        if kills < N_KILLS:
            if kills % 2:   # at the start of a random write (a checkpoint or a state), then part-way through it
                n = rng.randint(1, 6)
                lines = worker.until(lambda l, c=[0]: l in ('W+', 'done') and (c.__setitem__(0, c[0]+1) or c[0] >= n) or l.startswith('exit '))
                lines += worker.poll(rng.uniform(0, 3*DELAY))
            else: lines = worker.poll(rng.uniform(0.05, 1.5))   # at a random moment
            if not any(l.startswith('exit ') for l in lines):
                try: os.kill(pid, signal.SIGKILL)
                except ProcessLookupError: pass   # the run ended between the poll and the kill
                lines += worker.until(lambda l: l.startswith('exit '))
                starts.append((due, first_epoch(lines)))
                if lines[-1] != f'exit {pid} 0':   # else it finished before the kill landed: checked as a finished run below
                    assert lines[-1] == f'exit {pid} -9', lines[-1]
                    kills += 1
                    in_write += [l for l in lines if l in ('W+', 'W-')][-1:] == ['W+']
                    check_on_disk(tmp_path)
                    continue
        else: lines = worker.until(lambda l: l.startswith('exit ')); starts.append((due, first_epoch(lines)))
        assert lines[-1] == f'exit {pid} 0', ''.join(worker.err[-30:])
        check_result(tmp_path, reference)
        finished += 1
        if kills >= N_KILLS: break
        (tmp_path/'result.pth').unlink()    # a finished run removes its state: the next one starts afresh
    resumed = [(d, f) for d,f in starts if f is not None]   # runs that trained an epoch before they ended or were killed
    print(f"\nSIGKILL: {kills} kills survived ({in_write} inside a write), {finished} run(s) finished identical to the uninterrupted one; "
          f"resumed at epochs {[f for _,f in resumed]}")
    assert [f for _,f in resumed] == [d for d,_ in resumed], resumed   # each run carried on at the first epoch its state file did not hold
    assert sum(d > 0 for d,_ in resumed) >= 5, resumed                  # ... and most carried on mid-run, not from the start
    assert in_write >= 3, in_write                                      # some kills landed inside a write of a checkpoint or the state

@pytest.mark.parametrize('when', ['between writes', 'inside a write'])
def test_sigterm_leaves_resumable_state(worker, reference, tmp_path, when):
    pid = worker.start(tmp_path, DELAY)
    worker.until(lambda l, c=[0]: l == 'W-' and (c.__setitem__(0, c[0]+1) or c[0] >= 5))
    if when == 'inside a write': worker.until(lambda l: l == 'W+')
    os.kill(pid, signal.SIGTERM)
    lines = worker.until(lambda l: l.startswith('exit '))
    assert 'raised RunTerminated' in lines and lines[-1] == f'exit {pid} 3', lines
    assert any('holds it up to its last complete epoch' in l for l in worker.err), ''.join(worker.err[-30:])
    check_on_disk(tmp_path)
    assert read_state(tmp_path/'run.pth') is not None
    worker.start(tmp_path)
    assert worker.until(lambda l: l.startswith('exit '))[-1].endswith(' 0'), ''.join(worker.err[-30:])
    check_result(tmp_path, reference)
