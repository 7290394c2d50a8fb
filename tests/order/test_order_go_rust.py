"""Go packages via go.mod module paths; Rust module files and use paths."""
from __future__ import annotations

from order_testkit import lang_stats, run, sample_of


def test_go_module_path_package_dirs_and_tests_excluded():
    samples, stats = run({
        "go.mod": "module example.com/shop\n\ngo 1.21\n",
        "internal/db/db.go": "package db\nimport \"database/sql\"\n",
        "internal/db/db_test.go": "package db\nimport \"testing\"\n",
        "internal/db/conn.go": "package db\n",
        "api/handler.go": "package api\nimport (\n  \"fmt\"\n  store \"example.com/shop/internal/db\"\n)\n",
        "main.go": "package main\nimport \"example.com/shop/api\"\nimport \"github.com/other/lib\"\n",
    }, langs={p: "Go" for p in ("internal/db/db.go", "internal/db/db_test.go", "internal/db/conn.go",
                                "api/handler.go", "main.go")})
    assert samples == [["go.mod"], ["internal/db/conn.go", "internal/db/db.go", "api/handler.go", "main.go"],
                       ["internal/db/db_test.go"]]
    go = lang_stats(stats, "Go")
    assert (go["deps_found"], go["deps_resolved"], go["deps_external"]) == (6, 2, 4)
    assert go["edges"] == 3


def test_go_without_go_mod_unique_suffix_but_not_stdlib():
    samples, _ = run({
        "pkg/strutil/s.go": "package strutil\n",
        "fmt/f.go": "package fmt\n",
        "cmd/tool/main.go": "package main\nimport \"github.com/u/proj/pkg/strutil\"\nimport \"fmt\"\n",
    }, lang="Go")
    assert sample_of(samples, "cmd/tool/main.go") == ["pkg/strutil/s.go", "cmd/tool/main.go"]
    assert ["fmt/f.go"] in samples


def test_rust_mod_files_and_use_paths():
    samples, stats = run({
        "Cargo.toml": "[package]\nname = \"my-app\"\n",
        "src/main.rs": "mod config;\nmod net;\nuse crate::config::Settings;\nuse std::io;\nfn main() {}\n",
        "src/config.rs": "pub struct Settings;\n",
        "src/net/mod.rs": "pub mod client;\nuse super::config::Settings;\n",
        "src/net/client.rs": "use crate::config::{self, Settings};\n",
    }, langs={p: "Rust" for p in ("src/main.rs", "src/config.rs", "src/net/mod.rs", "src/net/client.rs")})
    assert sample_of(samples, "src/main.rs") == ["src/config.rs", "src/net/client.rs", "src/net/mod.rs", "src/main.rs"]
    rust = lang_stats(stats, "Rust")
    assert (rust["deps_found"], rust["deps_resolved"], rust["deps_external"]) == (8, 7, 1)
    assert stats["cycles_broken"] == 0


def test_rust_nested_module_file_workspace_crate_and_uniform_path():
    samples, _ = run({
        "crates/util-lib/Cargo.toml": "[package]\nname = \"util-lib\"\n",
        "crates/util-lib/src/lib.rs": "pub mod text;\n",
        "crates/util-lib/src/text.rs": "pub mod case;\n",
        "crates/util-lib/src/text/case.rs": "pub fn upper() {}\n",
        "app/src/main.rs": "mod cli;\nuse util_lib::text::case::upper;\nuse cli::Args;\n",
        "app/src/cli.rs": "pub struct Args;\n",
    }, lang="Rust")
    order = sample_of(samples, "app/src/main.rs")
    assert order.index("crates/util-lib/src/text/case.rs") < order.index("crates/util-lib/src/text.rs")
    assert order.index("crates/util-lib/src/text.rs") < order.index("crates/util-lib/src/lib.rs")
    assert order.index("app/src/cli.rs") < order.index("app/src/main.rs")
    assert order.index("crates/util-lib/src/text/case.rs") < order.index("app/src/main.rs")


def test_rust_super_glob_makes_a_cycle_that_is_broken():
    samples, stats = run({
        "src/lib.rs": "pub mod net;\n",
        "src/net/mod.rs": "pub mod client;\npub struct Conn;\n",
        "src/net/client.rs": "use super::*;\n",
    }, lang="Rust")
    # edges: net/mod.rs -> lib.rs, client.rs <-> net/mod.rs; every file starts with in-degree 1, so
    # the algorithm takes lib.rs by path (a break), then client.rs (in-degree 1: another break).
    assert samples == [["src/lib.rs", "src/net/client.rs", "src/net/mod.rs"]]
    assert stats["cycles_broken"] == 2 and stats["components_with_cycles"] == 1
