"""What `fastai-ft demo` prints, kept for the README: run the command as a user does and store its report.

    python benchmarks/demo.py     # runs `fastai-ft demo` (a few minutes on 2 CPU cores), writes results/demo.json

The README's report (`<!-- table:demo-report -->` in nbs/index.ipynb) is rendered from that file by tables.py, and CI checks
it is; run this again when the report's format or the recipe changes."""
import json, subprocess, sys, tempfile
from pathlib import Path
from record import save

def run():
    "`fastai-ft demo`'s stdout and decisions.json, from a temporary output folder"
    with tempfile.TemporaryDirectory() as d:
        p = subprocess.run(['fastai-ft', 'demo', '--out', d], capture_output=True, text=True, check=True)
        return p.stdout, json.loads((Path(d)/'decisions.json').read_text())

ACC = "staged_fine_tune(recipe='auto'): validation accuracy"

def report(stdout):
    "What `print(report)` wrote, from the stage table's header to the line before the accuracy line, then that line"
    lines = stdout.splitlines()
    start = next(i for i, l in enumerate(lines) if l.split()[:3] == ['name', 'groups', 'params'])
    end = next(i for i, l in enumerate(lines) if l.startswith(ACC))
    return lines[start:end], lines[end]

if __name__ == '__main__':
    out, decisions = run()
    lines, accuracy = report(out)
    save('demo', [dict(seed=0, config='fastai-ft demo', report=lines, accuracy=accuracy, decisions=decisions)])
    print('\n'.join(lines + [accuracy]))
