"""Ruby, PHP (grammars), Lua and shell (regex), and regex fallbacks agreeing with the grammars."""
from __future__ import annotations

import pytest

from order_testkit import lang_stats, run, sample_of
from tasks.order.config import Config
from tasks.order.regex_extract import extract_regex
from tasks.order.repo import _facts_of


def test_ruby_require_and_require_relative():
    samples, stats = run({
        "lib/shop.rb": "require 'shop/cart'\nrequire 'json'\n",
        "lib/shop/cart.rb": "require_relative 'item'\n",
        "lib/shop/item.rb": "class Item; end\n",
    }, lang="Ruby")
    assert samples == [["lib/shop/item.rb", "lib/shop/cart.rb", "lib/shop.rb"]]
    assert lang_stats(stats, "Ruby")["deps_external"] == 1


def test_php_namespaces_and_includes():
    samples, _ = run({
        "src/Model/User.php": "<?php\nnamespace App\\Model;\nclass User {}\n",
        "src/Controller/UserController.php": ("<?php\nnamespace App\\Controller;\nuse App\\Model\\User;\n"
                                              "require_once __DIR__ . '/../helpers.php';\n"),
        "src/helpers.php": "<?php\nfunction h() {}\n",
    }, lang="PHP")
    assert samples == [["src/Model/User.php", "src/helpers.php", "src/Controller/UserController.php"]]


def test_lua_and_shell_by_regex():
    samples, stats = run({
        "init.lua": "local u = require('lib.util')\nlocal s = require \"socket\"\n",
        "lib/util.lua": "return {}\n",
        "run.sh": "#!/bin/sh\nsource ./lib/common.sh\n. \"$DIR/lib/env.sh\"\n",
        "lib/common.sh": "X=1\n",
        "lib/env.sh": "Y=2\n",
    }, langs={"init.lua": "Lua", "lib/util.lua": "Lua", "run.sh": "Shell", "lib/common.sh": "Shell",
              "lib/env.sh": "Shell"})
    assert sample_of(samples, "init.lua") == ["lib/util.lua", "init.lua"]
    assert sample_of(samples, "run.sh") == ["lib/common.sh", "lib/env.sh", "run.sh"]
    assert stats["files_regex"] == 5 and stats["files_parsed"] == 0


@pytest.mark.parametrize("family,path,text", [
    ("kotlin", "A.kt", "package a.b\n\nimport x.y.Z\nimport x.y.*\nimport x.y.W as V\n\nclass A\n"),
    ("scala", "A.scala", "package a.b\npackage c\nimport x.y.Z\nimport x.y._\nimport x.y.{A, B => C}\nclass K\n"),
    ("ruby", "a.rb", "require 'a/b'\nrequire_relative \"../c\"\nload 'e.rb'\n"),
    ("php", "a.php", "<?php\nnamespace A\\B;\nuse C\\D;\nuse function E\\f;\nrequire_once __DIR__ . '/x.php';\ninclude 'y.php';\n"),
])
def test_regex_fallback_matches_grammar(family, path, text):
    tree_facts, reason, used_regex = _facts_of(family, path, text, Config())
    assert reason is None and not used_regex
    regex_facts = extract_regex(family, text)
    assert sorted(regex_facts.deps) == sorted(tree_facts.deps)
    assert regex_facts.decls == tree_facts.decls


def test_missing_grammar_falls_back_to_regex_or_counts_reason(monkeypatch):
    import tasks.order.repo as repo_mod

    monkeypatch.setattr(repo_mod, "load_language", lambda key: None)
    samples, stats = run({
        "k/B.kt": "package k\nclass B\n",
        "k/A.kt": "package k2\nimport k.B\n",
        "main.go": "package main\n",
    }, langs={"k/B.kt": "Kotlin", "k/A.kt": "Kotlin", "main.go": "Go"})
    assert sample_of(samples, "k/A.kt") == ["k/B.kt", "k/A.kt"]
    assert stats["files_regex"] == 2
    assert stats["parse_failures"] == {"no_grammar": 1}
