"""JavaScript / TypeScript: import, export-from, require, dynamic import; extensions and index files."""
from __future__ import annotations

from order_testkit import lang_stats, run


def test_js_import_export_require_dynamic_and_index():
    samples, stats = run({
        "lib/index.js": "export * from './math';\nexport { fmt } from './fmt.mjs';\n",
        "lib/math.js": "const u = require('./util/');\nmodule.exports = { add: (a, b) => a + b };\n",
        "lib/util/index.js": "module.exports = {};\n",
        "lib/fmt.mjs": "import lodash from 'lodash';\nexport const fmt = 1;\n",
        "app.js": "import { add } from './lib';\nconst lazy = await import('./lib/fmt.mjs');\n",
    }, lang="JavaScript")
    assert samples == [["lib/fmt.mjs", "lib/util/index.js", "lib/math.js", "lib/index.js", "app.js"]]
    js = lang_stats(stats, "JavaScript")
    assert (js["deps_found"], js["deps_resolved"], js["deps_external"]) == (6, 5, 1)


def test_ts_dts_js_to_ts_mapping_tsx_and_import_require():
    files = {
        "src/types.d.ts": "export interface T { n: number }\n",
        "src/model.ts": "import type { T } from './types';\nexport class M {}\n",
        "src/view.tsx": "import { M } from './model.js';\nimport React from 'react';\nexport const V = () => <div/>;\n",
        "src/legacy.ts": "import fs = require('fs');\nimport cfg = require('./config.json');\n",
        "src/config.json": "{}\n",
    }
    samples, stats = run(files, langs={p: "TypeScript" for p in files if not p.endswith(".json")})
    assert samples == [["src/config.json", "src/legacy.ts"], ["src/types.d.ts", "src/model.ts", "src/view.tsx"]]
    ts = lang_stats(stats, "TypeScript")
    assert (ts["deps_found"], ts["deps_resolved"]) == (5, 3)
    assert stats["files_syntax_errors"] == 0  # .tsx parsed with the TSX grammar


def test_non_literal_and_bare_specifiers_are_not_edges():
    samples, stats = run({
        "a.js": "const name = './b';\nrequire(name);\nrequire(`./b`);\nimport x from 'b';\n",
        "b.js": "",
    }, lang="JavaScript")
    assert samples == [["a.js"], ["b.js"]]
    assert lang_stats(stats, "JavaScript")["deps_found"] == 1  # only the bare 'b' import is a statement
