"""Sphinx configuration of the course site (`make book`): the executed notebooks rendered as they are stored.

Nothing is re-executed (``nb_execution_mode = "off"``): the pages show exactly the outputs that nbval checks.
MathJax is served from the site itself (sphinx-mathjax-offline), so math renders without network access.
"""

project = "SR-LoRA reference kit: the course"
author = "SR-LoRA reference kit contributors"
copyright = "2026, SR-LoRA reference kit contributors"

extensions = ["myst_nb", "sphinx-mathjax-offline"]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**.ipynb_checkpoints", "jupyter_execute"]

nb_execution_mode = "off"  # the stored outputs are the checked ones
nb_merge_streams = True  # one block per stream instead of one per progress-bar update
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

html_theme = "sphinx_book_theme"
html_title = "SR-LoRA: a course"
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": True,
    "home_page_in_toc": True,
    "use_sidenotes": False,
}
html_static_path: list[str] = []
html_last_updated_fmt = None
