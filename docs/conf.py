"Sphinx configuration of the docs site; `docs/build.py` prepares the pages and runs Sphinx with it."
import sys, tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
_proj = tomllib.loads((Path(__file__).parent.parent/'pyproject.toml').read_text())['project']
project = 'fastai_ft'
html_title = 'fastai_ft'
author = _proj['authors'][0]['name']
copyright = author
html_baseurl = _proj['urls']['Documentation']

extensions = ['myst_nb']
nb_execution_mode = 'off'              # pages are built from notebooks that already ran (see build.py)
nb_render_markdown_format = 'myst'
myst_enable_extensions = ['colon_fence', 'dollarmath', 'attrs_inline', 'attrs_block', 'deflist']
exclude_patterns = ['**.ipynb_checkpoints']
suppress_warnings = ['myst.header']    # show_doc headings are H3 right under an H1 in some pages
myst_heading_anchors = 6
myst_heading_slug_func = 'build.slug'  # anchors as nbdev's (Quarto's) links expect them

html_theme = 'sphinx_book_theme'
html_theme_options = dict(
    repository_url=_proj["urls"]["Repository"], use_repository_button=True, use_issues_button=True,
    home_page_in_toc=True, show_toc_level=2, navigation_with_keys=False,
    navbar_persistent=[])               # one search box (in the sidebar), not two
html_static_path = ['_static']
html_css_files = ['custom.css']
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None
html_context = {'default_mode': 'auto'}   # no 'invalid theme mode' console error on a first visit
html_show_search_summary = False   # summaries fetch each page, which browsers refuse from file://
