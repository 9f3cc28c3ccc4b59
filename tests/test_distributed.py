"staged_fine_tune under fastai's distributed training: two CPU processes (gloo), launched with torchrun."
import json, os, shutil, subprocess, sys
from pathlib import Path
import pytest, torch

HERE = Path(__file__).parent
pytestmark = pytest.mark.skipif(shutil.which('torchrun') is None, reason='torchrun not installed')

def test_two_processes_agree(tmp_path):
    pytest.importorskip('accelerate')
    env = dict(os.environ, OMP_NUM_THREADS='1', MASTER_PORT='29533')
    p = subprocess.run(['torchrun', '--nproc_per_node', '2', '--master_port', '29533', str(HERE/'ddp_worker.py'), str(tmp_path)],
                       capture_output=True, text=True, timeout=600, env=env)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    r0, r1 = (json.loads((tmp_path/f'rank{i}.json').read_text()) for i in (0, 1))
    assert r0['stages'] == r1['stages'], (r0['stages'], r1['stages'])     # same stages, same epochs, same reasons
    assert r0['best'] == r1['best'] and r0['valid_loss'] == r1['valid_loss']
    w0, w1 = (torch.load(tmp_path/f'rank{i}.pth') for i in (0, 1))
    for k in w0: assert torch.equal(w0[k], w1[k]), k                     # identical weights
    ckpts = list((tmp_path/'ckpt').glob('*.pth'))
    assert len(ckpts) == 1, ckpts                                         # only the main process wrote checkpoints
