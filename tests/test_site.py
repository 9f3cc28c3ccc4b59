"""The docs site as a reader sees it: built by `docs/build.py` (from the executed notebooks `test_notebooks.py` keeps, so nothing
runs twice), opened from `file://` in headless Debian chromium driven by Playwright. `.ci/run` installs both; without them this
skips. Screenshots of every page go to a temporary folder (or `$FASTAI_FT_SHOTS`), never into the repository."""
import importlib.util, os, re, tempfile
from pathlib import Path
from urllib.parse import urlsplit, unquote
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get('CHROMIUM', '/usr/bin/chromium'))
ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', '--no-first-run']
if not os.environ.get('CI'):  # CI installs both (.ci/run) and must never skip this
    pytest.importorskip('playwright.sync_api', reason='browser test: `pip install playwright` (in the dev extra)')
    if not CHROMIUM.exists(): pytest.skip(f'browser test: no chromium at {CHROMIUM} (`apt-get install -y chromium`)', allow_module_level=True)
import playwright.sync_api as pw
pytestmark = pytest.mark.xdist_group('docs')   # after the notebooks (test_notebooks.py), in the same worker

def _build_module():
    spec = importlib.util.spec_from_file_location('docs_build', ROOT/'docs'/'build.py')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod

@pytest.fixture(scope='module')
def site(tmp_path_factory):
    return _build_module().build(tmp_path_factory.mktemp('site'), quiet=True)

@pytest.fixture(scope='module')
def browser():
    with pw.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()

@pytest.fixture
def page(browser):
    "A browser page that records console errors, script errors and failed requests in `page.problems`"
    pg = browser.new_page(viewport={'width': 1280, 'height': 900})
    pg.problems = []
    pg.on('console', lambda m: m.type == 'error' and pg.problems.append(f'{pg.url}: console error: {m.text}'))
    pg.on('pageerror', lambda e: pg.problems.append(f'{pg.url}: script error: {e}'))
    pg.on('requestfailed', lambda r: pg.problems.append(f'{pg.url}: request failed: {r.url} ({r.failure})'))
    yield pg
    pg.close()

def _split(url):
    u = urlsplit(url)
    return Path(unquote(u.path)), unquote(u.fragment)

_ids = 'els => els.map(e => e.id || e.getAttribute("name")).filter(x => x)'
_bad_imgs = 'imgs => imgs.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)'

_source_links = '''as => { const hs = [...document.querySelectorAll("article h2, article h3, article h4")];
  return as.map(a => [a.href, (hs.find(h => a.compareDocumentPosition(h) & Node.DOCUMENT_POSITION_FOLLOWING) || {textContent: ""}).textContent.replace(/#$/, "")]); }'''

def _repo_link_problems(links, sources):
    "Links into the repository must name files of this checkout; each `source` link the line where its name is defined"
    import tomllib
    repo = tomllib.loads((ROOT/'pyproject.toml').read_text())['project']['urls']['Repository'].rstrip('/') + '/blob/'
    bad = []
    for src,u in links:
        if u.startswith(repo) and not (ROOT/unquote(urlsplit(u).path.split('/blob/', 1)[1].split('/', 1)[1])).exists():
            bad.append(f'{src}: link to a file the repository does not have: {u}')
    for src,u,name in sources:
        f, line = ROOT/urlsplit(u).path.split('/blob/', 1)[1].split('/', 1)[1], urlsplit(u).fragment.lstrip('L')
        lines = f.read_text().splitlines() if f.exists() else []
        if not line.isdigit() or not re.match(rf'\s*(async\s+)?(def|class)\s+{re.escape(name.split(".")[-1])}\b', lines[int(line)-1] if int(line) <= len(lines) else ''):
            bad.append(f'{src}: the source link of {name} does not point at its definition: {u}')
    return bad

def test_walk_every_page(site, page):
    "Home page, then every sidebar link: each has a title and a heading, loads all its images and requests without errors, no page scrolls sideways; every internal link and anchor resolves, links into the repository name its files and `source` links the definitions"
    shots = Path(os.environ.get('FASTAI_FT_SHOTS') or tempfile.mkdtemp(prefix='fastai_ft_shots_'))
    shots.mkdir(parents=True, exist_ok=True)
    home = (site/'index.html').as_uri()
    page.goto(home)
    sidebar = page.eval_on_selector_all('nav.bd-docs-nav a', 'as => as.map(a => a.href)')
    urls = list(dict.fromkeys([home] + [u.split('#')[0] for u in sidebar]))
    assert len(urls) >= len(list((ROOT/'nbs').glob('*.ipynb'))), f'the sidebar lists {len(urls)} pages: {urls}'
    ids, links, sources, bad = {}, [], [], []
    def visit(url):
        page.goto(url)
        path = _split(url)[0]
        ids[path] = set(page.eval_on_selector_all('[id], a[name]', _ids))
        return path
    for url in urls:
        path = visit(url)
        title, h1 = page.title().strip(), page.locator('article h1').all_inner_texts()
        if not title or 'no title' in title or not h1 or not h1[0].strip(): bad.append(f'{path.name}: no title ({title!r}, h1 {h1})')
        if imgs := page.eval_on_selector_all('img', _bad_imgs): bad.append(f'{path.name}: images not loaded: {imgs}')
        if page.evaluate('document.documentElement.scrollWidth > window.innerWidth + 1'): bad.append(f'{path.name}: the page scrolls sideways')
        links += [(path.name, u) for u in page.eval_on_selector_all('a[href]', 'as => as.map(a => a.href)')]
        sources += [(path.name, *o) for o in page.eval_on_selector_all('a.source-link', _source_links)]
        page.screenshot(path=str(shots/f'{path.stem}.png'), full_page=True)
    internal = [(src, u) for src,u in links if u.startswith('file:')]
    for src,u in internal:
        path, frag = _split(u)
        if not path.exists(): bad.append(f'{src}: broken link {u}'); continue
        if frag and path.suffix == '.html':
            if path not in ids: visit(u)
            if frag not in ids[path]: bad.append(f'{src}: broken anchor {u}')
    bad += _repo_link_problems(links, sources)
    print(f'\n{len(urls)} pages and {len(internal)} internal links walked, {len(sources)} source links checked ({len(links)-len(internal)} external links not followed); screenshots in {shots}')
    assert not bad + page.problems, '\n'.join(bad + page.problems)

def test_search_finds_staged_fine_tune(site, page):
    "The search page, from `file://`, finds `staged_fine_tune` on the learner page"
    page.goto((site/'search.html').as_uri() + '?q=staged_fine_tune')
    page.wait_for_selector('#search-results li a', timeout=20_000)
    hits = page.eval_on_selector_all('#search-results li a', 'as => as.map(a => a.href)')
    assert any('learner.html' in h for h in hits), hits
    assert not page.problems, '\n'.join(page.problems)
