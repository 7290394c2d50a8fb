"""Opt-out patterns: normalised names, globs, reasons, and params validation."""
from __future__ import annotations

import pytest

from tasks.common.params import ParamError
from tasks.governance import optout_from_params
from tasks.governance.optout import url_name


@pytest.fixture
def optout(tmp_path):
    f = tmp_path / "optout.txt"
    f.write_text("# requests received\ngithub.com/Quiet-Owner/*  # issue 88\n\npypi/Left_Pad\n", encoding="utf-8")
    return optout_from_params({"patterns": ["npm/@acme/*", {"pattern": "git/jane/notes", "reason": "mail 2026-11-02"}],
                               "file": str(f)})


@pytest.mark.parametrize("spec,reason_part", [
    ({"type": "git", "url": "https://github.com/quiet-owner/tool.git"}, "issue 88"),
    ({"type": "git", "url": "git@github.com:Quiet-Owner/other"}, "issue 88"),
    ({"type": "git", "url": "https://user:tok@www.github.com/quiet-owner/x/"}, "issue 88"),
    ({"type": "pypi", "name": "left.pad", "version": "1.0"}, "optout.txt:4"),
    ({"type": "npm", "name": "@acme/widgets", "version": "2.0.0"}, "params.yaml"),
    ({"type": "git", "url": "https://gitlab.com/x/y", "name": "jane/notes"}, "mail 2026-11-02"),
])
def test_opted_out_sources(optout, spec, reason_part):
    reason = optout.match_spec(spec)
    assert reason is not None and reason.startswith("opt_out: ") and reason_part in reason


@pytest.mark.parametrize("spec", [
    {"type": "git", "url": "https://github.com/quiet-owner-2/tool"},
    {"type": "git", "url": "https://gitlab.com/quiet-owner/tool"},
    {"type": "pypi", "name": "left-pad-extra", "version": "1"},
    {"type": "npm", "name": "acme", "version": "1"},
    {"type": "local", "path": "/data/jane/notes"},
])
def test_other_sources_stay(optout, spec):
    assert optout.match_spec(spec) is None


def test_repo_ids_ignore_versions(optout):
    assert optout.match_repo("pypi/Left-Pad@0.3") and optout.match_repo("npm/@acme/ui@1.2.3")
    assert optout.match_repo("git/jane/notes@0123456789ab")
    assert optout.match_repo("git/x/y@abc", url="https://github.com/quiet-owner/y") and not optout.match_repo("pypi/x@1")


def test_url_names():
    assert url_name("ssh://git@github.com:22/A/B.git") == "github.com/a/b"
    assert url_name("/srv/bundles/x.bundle") is None


@pytest.mark.parametrize("section,message", [
    ({"patterns": ["*"]}, "a bare \\* would drop everything"),
    ({"patterns": [3]}, r"optout.patterns\[0\]: expected a pattern string"),
    ({"file": "/nonexistent/optout.txt"}, "optout.file: cannot read"),
    ({"pattern": []}, "optout.pattern: unknown key"),
])
def test_bad_params(section, message):
    with pytest.raises(ParamError, match=message):
        optout_from_params(section)
