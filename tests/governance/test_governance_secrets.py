"""Secrets/PII scan and redaction: what is found, what is left alone, and that values never leak."""
from __future__ import annotations

import ast
import logging

import pytest

from tasks.governance import Finding, redact, scan
from tasks.governance.config import RedactConfig, ScanConfig
from tasks.governance.evaluation import load_benchmark
from tasks.governance.findings import resolve_overlaps
from tasks.governance.redact import SYNTHETIC_IPV4
from tasks.governance.scan import ScanError

# fake, real-format values (random, issued by no service)
AWS_ID = "AKIAQ3ZT5XW7LMRB2KPD"
GH_TOKEN = "ghp_Zr8Qm2LkV9xT4pW7nB3cJ6hF1dS5gA0eYu2i"
PASSWORD = "Hx7-quartz-Lumen!"
EMAIL = "renata.silva@oceanic-freight.com"
PUBLIC_IP = "91.198.174.192"

SOURCE = f'''import os

ACCESS_KEY = "{AWS_ID}"
TOKEN = '{GH_TOKEN}'
password = "{PASSWORD}"
db_password = os.environ["DB_PASSWORD"]
OWNER = "{EMAIL}"  # docs: someone@example.com
UPSTREAM = "{PUBLIC_IP}"
LOCAL = "192.168.0.12"
VERSION = "1.2.3.4"
DIGEST = "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"
'''


def _types(text, lang="Python", path=None):
    return [(f.type, text[f.start:f.end]) for f in scan(text, lang, path)]


def test_finds_each_type_with_exact_spans():
    found = _types(SOURCE)
    assert found == [("KEY", AWS_ID), ("KEY", GH_TOKEN), ("PASSWORD", PASSWORD), ("EMAIL", EMAIL),
                     ("IP_ADDRESS", PUBLIC_IP)]


def test_text_that_lowers_longer_keeps_spans_and_ends():
    """'İ' lowers to two code points: the keyword scan looped forever on a line end that the shifted lowered
    text put on an anchor (a real 4x-corpus package hung redact), and spans found in the lowered text fell
    beside their value. Three 'İ' put "key" of the lowered text exactly on the newline."""
    import signal

    def hang(*_):
        raise TimeoutError("scan did not end")

    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(20)
    try:
        assert scan("İİİkey\nx = 1\n", "Python") == []
        text = f'# İstanbul, İzmir\npassword = "{PASSWORD}"\nTOKEN = "{GH_TOKEN}"\n'
        assert _types(text) == [("PASSWORD", PASSWORD), ("KEY", GH_TOKEN)]
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def test_every_assignment_on_a_line_is_found_and_the_rescan_is_clean():
    """Two passwords in one dict literal (pydantic-settings' Key Vault tests, bench-scale's 4x corpus): the
    keyword scan took the first match of a line only, so the rescan of the redacted text found the second
    and the redact gate failed the stage."""
    from tasks.redact.config import config_from_params
    from tasks.redact.shard import redact_text

    line = "secrets = {'databases--main-db--sql-password': 'Qm7-lattice', 'databases--replica--sql-password': 'Zr4-harbor'}\n"
    assert _types(line) == [("PASSWORD", "Qm7-lattice"), ("PASSWORD", "Zr4-harbor")]
    new, found, residual = redact_text(line, "Python", "tests/test_vault.py", config_from_params({}))
    assert len(found) == 2 and residual == 0 and "Zr4-harbor" not in new and "Qm7-lattice" not in new


def test_redaction_keeps_quotes_and_python_syntax():
    new, counts = redact(SOURCE, scan(SOURCE, "Python"), RedactConfig(ip_replacement="placeholder"))
    assert 'ACCESS_KEY = "<KEY>"' in new and "TOKEN = '<KEY>'" in new and 'password = "<PASSWORD>"' in new
    assert 'OWNER = "<EMAIL>"  # docs: someone@example.com' in new and 'UPSTREAM = "<IP_ADDRESS>"' in new
    assert counts == {"EMAIL": 1, "IP_ADDRESS": 1, "KEY": 2, "PASSWORD": 1}
    ast.parse(new)
    for kept in ('os.environ["DB_PASSWORD"]', "192.168.0.12", "1.2.3.4", "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"):
        assert kept in new


def test_synthetic_ips_are_consistent_private_and_rescan_clean():
    text = f"a = '{PUBLIC_IP}'\nb = '8.8.4.5'\nc = '{PUBLIC_IP}'\n"
    new, counts = redact(text, scan(text, "Python"))
    lines = new.splitlines()
    assert counts["IP_ADDRESS"] == 3
    assert lines[0] == lines[2].replace("c =", "a =") and lines[0] != lines[1].replace("b =", "a =")
    assert SYNTHETIC_IPV4[0] in lines[0] and SYNTHETIC_IPV4[1] in lines[1]
    assert scan(new, "Python") == []


def test_benchmark_files_stay_parseable_after_redaction():
    for rec in load_benchmark():
        if rec["lang"] != "Python":
            continue
        new, _ = redact(rec["text"], scan(rec["text"], rec["lang"], rec["path"]))
        ast.parse(new)
        assert scan(new, rec["lang"], rec["path"]) == [], rec["id"]


def test_secret_values_never_leak(caplog, capsys):
    caplog.set_level(logging.DEBUG)
    logging.getLogger().setLevel(logging.DEBUG)
    findings = scan(SOURCE, "Python", "app/settings.py")
    new, counts = redact(SOURCE, findings)
    reports = [repr(findings), str(findings), " ".join(map(str, findings)), repr(counts), new]
    out = capsys.readouterr()
    reports += [caplog.text, out.out, out.err]
    for secret in (AWS_ID, GH_TOKEN, PASSWORD, EMAIL, PUBLIC_IP):
        for report in reports:
            assert secret not in report
    assert all(set(vars(f) if hasattr(f, "__dict__") else {}) == set() for f in findings)  # slots: no value field
    assert {s for s in Finding.__slots__} == {"start", "end", "type", "detector"}


def test_scan_error_does_not_carry_the_text(monkeypatch):
    from tasks.governance import pii_rules

    def boom(text, *args):
        raise ValueError(f"cannot parse {text!r}")

    monkeypatch.setattr(pii_rules, "email_findings", boom)
    with pytest.raises(ScanError) as info:
        scan(f"x = '{GH_TOKEN}'", "Python")
    assert GH_TOKEN not in str(info.value) and info.value.__context__ is None and info.value.__cause__ is None
    assert "email" in str(info.value) and "ValueError" in str(info.value)


@pytest.mark.parametrize("line", [
    'api_key = "your-api-key"', 'password = "changeme"', 'password = "********"', 'secret = "${SECRET}"',
    'token = "{{ token }}"', 'AWS_KEY = "AKIAIOSFODNN7EXAMPLE"', 'password = os.getenv("PW")',
    'PASSWORD_FIELD = "password"', 'help = "Enter your password"', 'reset_password_url = "/account/reset"',
    'sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"',
    'request_id = "123e4567-e89b-12d3-a456-426614174000"', 'contact = "user@localhost"',
    'contact = "dev@example.org"', 'image = "icon@2x.png"', 'y = x@self.weight', 'remote = "git@github.com:o/r.git"',
    'ip = "203.0.113.7"', 'ip = "127.0.0.1"', 'ip = "0.0.0.0"', 'ip6 = "2001:db8::1"', 'ip6 = "::1"',
    'mask = "255.255.255.0"', '__version__ = "4.1.0.2"', 'requires = "lib==2.3.4.5"', 'oid = "1.3.6.1.4.1.311"',
    'PASSWORD_POLICY = "^(?=.*[A-Z]).{8,}$"', 'AUTH_HEADER = "Authorization"', 'ts = "12:30:45"',
])
def test_look_alikes_are_left_alone(line):
    assert scan(line + "\n", "Python", "x.py") == []


@pytest.mark.parametrize("text,lang,path,kind", [
    ('password: s3cret-Yaml\n', "YAML", "config.yml", "PASSWORD"),
    ('DB_PASSWORD=pa55-word-99\n', "Shell", ".env", "PASSWORD"),
    ('dbPass := "g0-Secret-1"\n', "Go", "main.go", "PASSWORD"),
    ('"Server=db;User Id=sa;Password=Sq1-pw-77;"\n', "C#", "a.cs", "PASSWORD"),
    ('url = "https://api.x.io/login?user=a&password=Qw3rty-77"\n', "Python", "a.py", "PASSWORD"),
    ('mysql -u root --password=Root-Pw-3 db\n', "Shell", "run.sh", "PASSWORD"),
    ('key = "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"\n', "Python", "a.py", "KEY"),
    ('Authorization: Bearer 9fK2mQ7xZ4pL8vR1tY6wE3sD0hJ5nB\n', None, "req.http", "KEY"),
    ('ip6 = "2a00:1450:4007:80e::200e"\n', "Python", "a.py", "IP_ADDRESS"),
])
def test_detects_across_languages(text, lang, path, kind):
    assert [f.type for f in scan(text, lang, path)] == [kind]


def test_scan_config_types_and_ip_scope():
    text = 'a = "10.1.2.3"\nb = "91.198.174.192"\nc = "x.y@oceanic-freight.com"\n'
    assert [f.type for f in scan(text, "Python", cfg=ScanConfig(types=("EMAIL",)))] == ["EMAIL"]
    assert [text[f.start:f.end] for f in scan(text, "Python", cfg=ScanConfig(types=("IP_ADDRESS",), ip_scope="all"))] \
        == ["10.1.2.3", "91.198.174.192"]


def test_findings_and_overlaps():
    with pytest.raises(ValueError, match="unknown finding type"):
        Finding(0, 1, "NAME", "x")
    with pytest.raises(ValueError, match="bad span"):
        Finding(5, 5, "KEY", "x")
    kept = resolve_overlaps([Finding(10, 30, "EMAIL", "e"), Finding(12, 20, "PASSWORD", "p"), Finding(40, 45, "KEY", "k")])
    assert kept == [Finding(12, 20, "PASSWORD", "p"), Finding(40, 45, "KEY", "k")]
    with pytest.raises(ValueError, match="overlaps"):
        redact("x" * 50, [Finding(0, 10, "KEY", "a"), Finding(5, 12, "KEY", "b")])
