"""The governance params sections: defaults, values, and errors that name the key."""
from __future__ import annotations

import pytest

from tasks.common.params import ParamError
from tasks.governance import GovernanceConfig, config_from_params
from tasks.governance.config import pii_config_from_params


def test_defaults_and_values():
    cfg = config_from_params({})
    assert cfg.pii == GovernanceConfig().pii and cfg.licenses.allow == ("permissive",) and cfg.optout.entries == ()
    cfg = config_from_params({"pii": {"types": ["KEY", "PASSWORD"], "ip_scope": "all", "ip_replacement": "placeholder"},
                              "licenses": {"allow": ["permissive", "no_license"]},
                              "optout": {"patterns": ["pypi/x"]}})
    assert cfg.pii.scan.types == ("KEY", "PASSWORD") and cfg.pii.scan.ip_scope == "all"
    assert cfg.pii.redact.ip_replacement == "placeholder" and cfg.licenses.allow == ("permissive", "no_license")
    assert cfg.optout.match_repo("pypi/x@1")


@pytest.mark.parametrize("section,message", [
    ({"pii": {"types": ["NAME"]}}, r"governance.pii.types\[0\]: unknown type 'NAME'"),
    ({"pii": {"types": []}}, "governance.pii.types: must name at least one type"),
    ({"pii": {"ip_scope": "private"}}, "governance.pii.ip_scope: unknown value 'private'"),
    ({"pii": {"min_password_length": 0}}, "governance.pii.min_password_length: must be >= 1"),
    ({"pii": {"redact": True}}, "governance.pii.redact: unknown key"),
    ({"license": {}}, "governance.license: unknown key"),
])
def test_errors_name_the_key(section, message):
    with pytest.raises(ParamError, match=message):
        config_from_params(section)


def test_pii_section_on_its_own():
    assert pii_config_from_params({"max_text_chars": 10}).scan.max_text_chars == 10
    with pytest.raises(ParamError, match="pii.max_text_chars: must be >= 1"):
        pii_config_from_params({"max_text_chars": 0})
