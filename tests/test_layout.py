"""The package's layout, as the brief and STYLE.md ask for it, checked on the source: modules in layers that import only
downwards, no private name used outside its module (by the package, the benchmarks or the tests), no private function with more
than 6 parameters, and the recipe's orchestration short."""
import ast
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT/'fastai_ft'
LAYERS = [('core',), ('split', 'task', 'choice', 'probe', 'models'), ('callback.bn', 'callback.adaptive', 'callback.tracker', 'callback.fastai', 'callback.runstate'),
          ('cache', 'report'), ('learner',), ('recipe',), ('all',), ('cli',)]   # a module imports from its own layer or those before it
LAYER = {m: i for i, ms in enumerate(LAYERS) for m in ms}

def modules():
    return {'.'.join(p.relative_to(PKG).with_suffix('').parts): p for p in PKG.rglob('*.py') if p.name not in ('__init__.py', '_modidx.py')}

def imports(path, name):
    "(module imported from, names) of every import of the package in `path`, module names relative to the package"
    res = []
    for x in ast.walk(ast.parse(path.read_text())):
        if not isinstance(x, ast.ImportFrom): continue
        if x.level:
            base = name.split('.')[:len(name.split('.'))-x.level]
            mod = '.'.join(base + ([x.module] if x.module else []))
        elif (x.module or '').startswith('fastai_ft'): mod = x.module.removeprefix('fastai_ft').lstrip('.')
        else: continue
        res.append((mod, [a.name for a in x.names]))
    return res

def private(n): return n.startswith('_') and not n.startswith('__')

def test_every_module_has_a_layer():
    assert set(modules()) - {'__init__'} <= set(LAYER), set(modules()) - set(LAYER)

def test_imports_go_down_and_names_are_public():
    bad = []
    for name, p in modules().items():
        for mod, names in imports(p, name):
            if mod and mod in LAYER and LAYER[mod] > LAYER[name]: bad.append(f"{name} imports from the higher layer {mod}")
            bad += [f"{name} imports the private {mod}.{n}" for n in names if private(n)]
    assert not bad, bad

def test_benchmarks_and_tests_use_public_names():
    "What users can call is what the benchmarks and tests call: a private name they need is a public one waiting for its docment"
    bad = []
    for p in sorted([*(ROOT/'benchmarks').glob('*.py'), *(ROOT/'tests').glob('*.py')]):
        for x in ast.walk(ast.parse(p.read_text())):
            if isinstance(x, ast.ImportFrom) and (x.module or '').startswith('fastai_ft'): bad += [f"{p.name}: {x.module}.{a.name}" for a in x.names if private(a.name)]
            if isinstance(x, ast.Attribute) and private(x.attr) and 'fastai_ft' in ast.unparse(x.value): bad.append(f"{p.name}: {ast.unparse(x)}")
    assert not bad, bad

def test_private_functions_take_at_most_six():
    "A function that needs more is an object waiting to be named (STYLE.md)"
    bad = []
    for name, p in modules().items():
        for x in ast.walk(ast.parse(p.read_text())):
            if isinstance(x, (ast.FunctionDef, ast.AsyncFunctionDef)) and private(x.name):
                a = x.args
                ps = [o.arg for o in a.posonlyargs + a.args + a.kwonlyargs if o.arg != 'self'] + ([a.vararg.arg] if a.vararg else []) + ([a.kwarg.arg] if a.kwarg else [])
                if len(ps) > 6: bad.append(f"{name}.{x.name}: {len(ps)} parameters")
    assert not bad, bad

def test_recipe_is_orchestration():
    n = len((PKG/'recipe.py').read_text().splitlines())
    assert n <= 450, f"recipe.py has {n} lines: its notions belong in their modules (choice, probe, cache, task, callback.bn)"

def test_annotations_resolve():
    "Every annotation of the package's functions names something its module has: the docs build evaluates them (`from __future__ import annotations` defers them to it)"
    import importlib, inspect, typing
    bad = []
    for name in modules():
        mod = importlib.import_module(f'fastai_ft.{name}')
        for o in list(vars(mod).values()):
            for f in [o, *(vars(o).values() if inspect.isclass(o) else [])]:
                if not (inspect.isfunction(f) and f.__module__ == mod.__name__): continue
                try: typing.get_type_hints(f, vars(mod))
                except Exception as e: bad.append(f"{name}.{f.__qualname__}: {e}")
    assert not bad, bad
