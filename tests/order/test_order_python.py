"""Python dependency parsing and resolution: absolute, relative, src layout, script dirs."""
from __future__ import annotations

from order_testkit import lang_stats, run, sample_of


def test_src_layout_absolute_and_relative_imports():
    samples, stats = run({
        "src/app/__init__.py": "",
        "src/app/util.py": "import os\n",
        "src/app/models.py": "from .util import helper\n",
        "src/app/api.py": "from . import models\nfrom app.util import x\n",
        "tests/test_api.py": "from app.api import handler\nimport pytest\n",
    }, lang="Python")
    assert sample_of(samples, "src/app/api.py") == [
        "src/app/util.py", "src/app/models.py", "src/app/api.py", "tests/test_api.py"]
    assert ["src/app/__init__.py"] in samples  # `from . import models` resolves to the submodule
    py = lang_stats(stats, "Python")
    assert (py["deps_found"], py["deps_resolved"], py["deps_external"]) == (6, 4, 2)
    assert py["edges"] == 4 and stats["cycles_broken"] == 0


def test_relative_levels_and_package_init():
    samples, _ = run({
        "pkg/__init__.py": "",
        "pkg/base.py": "class B: ...\n",
        "pkg/other.py": "",
        "pkg/sub/__init__.py": "from .deep import run\n",
        "pkg/sub/deep.py": "from ..base import B\nfrom .. import other\n",
    }, lang="Python")
    assert sample_of(samples, "pkg/sub/deep.py") == [
        "pkg/base.py", "pkg/other.py", "pkg/sub/deep.py", "pkg/sub/__init__.py"]


def test_from_package_import_name_goes_to_init_and_dotted_import_to_deepest_module():
    samples, _ = run({
        "lib/__init__.py": "VERSION = 1\n",
        "lib/core/__init__.py": "",
        "lib/core/engine.py": "",
        "main.py": "from lib import VERSION\nimport lib.core.engine\n",
    }, lang="Python")
    assert sample_of(samples, "main.py") == ["lib/__init__.py", "lib/core/engine.py", "main.py"]


def test_script_dir_sibling_resolves_but_is_invisible_elsewhere():
    samples, stats = run({
        "scripts/run.py": "import helper\n",
        "scripts/helper.py": "",
        "tools/json.py": "",  # a loose script module must not shadow the stdlib for package code
        "src/pkg/__init__.py": "import json\n",
    }, lang="Python")
    assert sample_of(samples, "scripts/run.py") == ["scripts/helper.py", "scripts/run.py"]
    assert ["tools/json.py"] in samples and ["src/pkg/__init__.py"] in samples
    assert lang_stats(stats, "Python")["deps_external"] == 1


def test_imports_inside_functions_and_aliases_count():
    samples, stats = run({
        "a.py": "def f():\n    import b as bee\n    from c import (x,\n        y as z)\n",
        "b.py": "",
        "c.py": "",
    }, lang="Python")
    assert samples == [["b.py", "c.py", "a.py"]]
    assert lang_stats(stats, "Python")["deps_resolved"] == 2


def test_python_without_lang_column_uses_extension():
    samples, stats = run({"x/m.py": "from . import n\n", "x/n.py": ""}, lang=None)
    assert samples == [["x/n.py", "x/m.py"]]
    assert "python" in stats["languages"]
