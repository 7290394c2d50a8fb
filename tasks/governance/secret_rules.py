"""Detectors for keys, tokens and passwords, built on detect-secrets (Yelp) used in memory.

detect-secrets is the detector of bigcode's PII pipeline (StarCoder, The Stack v2). Its plugins are
written for files and report a value without a position; here their maintained patterns run directly
on the text, so each finding has an exact span and nothing is written to disk or run per file in a
subprocess:
- token rules (`TOKEN_RULES`): the plugins' regexes (AWS, GitHub, GitLab, Slack, Stripe, Twilio,
  SendGrid, Mailchimp, PyPI, npm, Square, Telegram, Discord, OpenAI, basic-auth URLs), taken from the
  plugin classes where their match is the secret, re-anchored where the plugin's match includes
  delimiters or its group is not the whole token; plus what detect-secrets lacks (Google API keys,
  GitHub fine-grained PATs, Stripe test keys, full PEM private-key blocks, whole JWTs validated like
  its JwtTokenDetector, bearer tokens, passwords in connection strings, URL queries and CLI flags).
  Every rule's regex starts with a literal, so it is its own prefilter (see `TokenRule`): most run
  at 1-2 GB/s on text that holds no secret, which is what keeps a 100 GB scan affordable.
- keyword assignments (`keyword_findings`): detect-secrets' KeywordDetector regexes, chosen by file
  type exactly as the plugin does (quotes required in code, not in YAML/INI/.env), run only on lines
  holding a keyword, then screened by `guards` (placeholders, identifiers, sentences, hashes).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterator, Pattern

from detect_secrets.filters import heuristic as ds_heuristic
from detect_secrets.plugins import aws, basic_auth, github_token, gitlab_token, keyword, pypi_token, sendgrid, slack
from detect_secrets.plugins import square_oauth, twilio
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.util.filetype import FileType, determine_file_type

from tasks.governance import guards
from tasks.governance.findings import KEY, PASSWORD, Finding


@dataclass(frozen=True)
class TokenRule:
    """One regex detector; `group` of each match is the secret.

    Every pattern starts with a literal (a key prefix, `password`, `:`, `://` ...): the regex engine
    then skips to occurrences of that literal at memory speed, which makes the pattern its own
    prefilter (a leading look-behind or character class would make it try every position). What
    must come before the literal is checked afterwards: `head` (a `$`-anchored regex matched on the
    few characters before the match, which then join the span) and `bounded` (no token character
    right before or after). `lower` rules run on the lowered text (scan.same_length_lower: same offsets; values are taken from
    the original text), because IGNORECASE costs the engine its literal skip.
    """

    name: str
    type: str
    pattern: Pattern[str]
    group: int = 0
    lower: bool = False
    head: Pattern[str] | None = None
    head_window: int = 0
    bounded: bool = False
    extend: bool = False  # grow the span over adjacent token characters (never redact half a token)
    valid: Callable[[str], bool] | None = None  # extra check on the value


def _no_placeholder(value: str) -> bool:
    return not guards.is_placeholder(value)


def _jwt_ok(value: str) -> bool:
    return (JwtTokenDetector.is_formally_valid(value) and guards.is_valid_jwt(value)
            and not guards.is_sample_jwt(value))


def _password_ok(value: str) -> bool:
    return guards.looks_like_credential_value(value, password=True)


def _token_ok(value: str) -> bool:
    return guards.looks_like_credential_value(value, password=False)


def _random_looking(value: str) -> bool:
    return (not guards.is_placeholder(value) and any(c.isdigit() for c in value)
            and any(c.isupper() for c in value) and any(c.islower() for c in value))


def _case_sensitive(p: Pattern[str]) -> Pattern[str]:
    return re.compile(p.pattern, p.flags & ~re.IGNORECASE)


_TOKEN = r"[A-Za-z0-9_\-]"
_SEP_BEFORE_VALUE = re.compile(r"(?:;|[\"'`])\s*$")  # a connection string's `;Password=` or `"Password=`

TOKEN_RULES: tuple[TokenRule, ...] = (
    # --- detect-secrets plugins: their pattern objects where they already start with a literal
    TokenRule("detect-secrets:AWSKeyDetector", KEY, aws.AWSKeyDetector.denylist[0], valid=_no_placeholder,
              extend=True),
    TokenRule("detect-secrets:AWSKeyDetector", KEY, _case_sensitive(aws.AWSKeyDetector.denylist[1]), group=1,
              lower=True, valid=_no_placeholder),
    TokenRule("detect-secrets:GitHubTokenDetector", KEY, github_token.GitHubTokenDetector.denylist[0], extend=True),
    # GitLab's seven patterns (all `gl...` but GR1348941) as one regex: one pass over the text, not seven
    TokenRule("detect-secrets:GitLabTokenDetector", KEY,
              re.compile("|".join(p.pattern for p in gitlab_token.GitLabTokenDetector.denylist if p.pattern.startswith("(gl")
                                  or p.pattern.startswith("gl"))), extend=True),
    *(TokenRule("detect-secrets:GitLabTokenDetector", KEY, p, extend=True)
      for p in gitlab_token.GitLabTokenDetector.denylist if not p.pattern.startswith(("(gl", "gl"))),
    TokenRule("detect-secrets:SlackDetector", KEY, _case_sensitive(slack.SlackDetector.denylist[0]), lower=True,
              extend=True),
    TokenRule("detect-secrets:SlackDetector", KEY, _case_sensitive(slack.SlackDetector.denylist[1]), extend=True),
    TokenRule("detect-secrets:SendGridDetector", KEY, sendgrid.SendGridDetector.denylist[0], extend=True),
    TokenRule("detect-secrets:PypiTokenDetector", KEY,
              re.compile("|".join(p.pattern for p in pypi_token.PypiTokenDetector.denylist)), extend=True),
    TokenRule("detect-secrets:SquareOAuthDetector", KEY, square_oauth.SquareOAuthDetector.denylist[0], extend=True),
    TokenRule("detect-secrets:BasicAuthDetector", PASSWORD, basic_auth.BasicAuthDetector.denylist[0], group=1,
              valid=_password_ok),
    *(TokenRule("detect-secrets:TwilioKeyDetector", KEY, p, bounded=True,
                valid=lambda v: any(c.isdigit() for c in v) and any(c.isalpha() for c in v[2:]))
      for p in twilio.TwilioKeyDetector.denylist),
    # --- the same plugins' patterns turned literal-first (what precedes the literal becomes `head`)
    TokenRule("detect-secrets:StripeDetector", KEY, re.compile(r"k_(?:live|test)_[0-9a-zA-Z]{24,99}"),
              head=re.compile(r"[rs]$"), head_window=1, bounded=True),
    TokenRule("detect-secrets:MailchimpDetector", KEY, re.compile(r"-us[0-9]{1,2}"),
              head=re.compile(r"[0-9a-z]{32}$"), head_window=32, bounded=True),
    TokenRule("detect-secrets:TelegramBotTokenDetector", KEY, re.compile(r":[0-9A-Za-z_-]{35}"),
              head=re.compile(r"\d{8,10}$"), head_window=10, bounded=True, valid=_random_looking),
    TokenRule("detect-secrets:DiscordBotTokenDetector", KEY, re.compile(r"\.[a-zA-Z\d_-]{6}\.[a-zA-Z\d_-]{27}"),
              head=re.compile(r"[MNO][a-zA-Z\d_-]{23,25}$"), head_window=26, bounded=True, valid=_random_looking),
    TokenRule("detect-secrets:OpenAIDetector", KEY,
              re.compile(r"sk-(?:(?:proj|svcacct|admin)-)?[A-Za-z0-9_-]*?(?:T3BlbkFJ[A-Za-z0-9_-]{20,}|"
                         r"[A-Za-z0-9_-]{40,})"), bounded=True, valid=_random_looking),
    TokenRule("detect-secrets:ArtifactoryDetector", KEY, re.compile(r"AKC[a-zA-Z0-9]{10,}"), bounded=True,
              valid=_random_looking),
    TokenRule("detect-secrets:AzureStorageKeyDetector", KEY, re.compile(r"AccountKey=([a-zA-Z0-9+/=]{88})"), group=1),
    TokenRule("detect-secrets:NpmDetector", KEY, re.compile(r":_authToken=\s*([^\s\"']+)"), group=1,
              valid=_no_placeholder),
    TokenRule("detect-secrets:JwtTokenDetector", KEY,
              re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), bounded=True, valid=_jwt_ok),
    # --- what detect-secrets does not cover
    TokenRule("regex:google_api_key", KEY, re.compile(r"AIza[0-9A-Za-z_\-]{35}"), bounded=True),
    TokenRule("regex:github_fine_grained_pat", KEY, re.compile(r"github_pat_[A-Za-z0-9_]{60,100}"), extend=True),
    TokenRule("regex:npm_token", KEY, re.compile(r"npm_[A-Za-z0-9]{36}"), bounded=True),
    TokenRule("regex:private_key_block", KEY,
              re.compile(r"-----BEGIN ((?:[A-Z0-9]+ ){0,2}PRIVATE KEY(?: BLOCK)?)-----"
                         r"((?:(?!-----)[\s\S]){16,}?)-----END \1-----"), group=2,
              valid=lambda body: len(re.findall(r"[A-Za-z0-9+/=]", body)) >= 64),
    TokenRule("regex:bearer_token", KEY, re.compile(r"bearer\s+([a-z0-9_\-.~+/]{20,}=*)(?![\w.~+/-])"), group=1,
              lower=True, valid=_token_ok),
    *(TokenRule("regex:token_assignment", KEY,
                re.compile(word + r"[\w.-]*[\"']?\]?\s*(?::=|=>|[:=])\s*[\"'`]([a-z0-9_\-+/=.~]{16,512})[\"'`]"),
                group=1, lower=True, valid=_token_ok)
      for word in ("token", "credential", "client_secret", "access_key", "api_secret", "app_secret")),
    *(TokenRule("regex:connection_string_password", PASSWORD,
                re.compile(word + r"\s*=\s*([^;\"'`\s]{3,128})(?=;|[\"'`])"), group=1, lower=True,
                head=_SEP_BEFORE_VALUE, head_window=8, valid=_password_ok)
      for word in ("password", "pwd")),
    TokenRule("regex:url_query_password", PASSWORD,
              re.compile(r"[?&](?:password|passwd|pwd|pass)=([^&\s\"'#<>]{3,128})"), group=1, lower=True,
              valid=_password_ok),
    TokenRule("regex:cli_password_flag", PASSWORD,
              re.compile(r"--(?:password|passwd|pass)(?:=|\s+)(?![\"'$-])([^\s\"'`;|&)]{3,128})"), group=1,
              lower=True, valid=_password_ok),
)
_TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def token_findings(text: str, lower: Callable[[], str]) -> Iterator[Finding]:
    """Findings of every token rule (`lower()` gives text lowered with its offsets kept, computed once by
    the caller: scan.same_length_lower)."""
    low: str | None = None
    for rule in TOKEN_RULES:
        haystack = text
        if rule.lower:
            low = lower() if low is None else low
            haystack = low
        for m in rule.pattern.finditer(haystack):
            start, end = m.span(rule.group)
            if start < 0 or end <= start:
                continue
            if rule.head is not None:
                h = rule.head.search(text, max(0, m.start() - rule.head_window), m.start())
                if h is None:
                    continue
                if rule.group == 0:
                    start = h.start()
            if rule.bounded and ((start > 0 and text[start - 1] in _TOKEN_CHARS)
                                 or (end < len(text) and text[end] in _TOKEN_CHARS)):
                continue
            if rule.extend:
                while start > 0 and text[start - 1] in _TOKEN_CHARS:
                    start -= 1
                while end < len(text) and text[end] in _TOKEN_CHARS:
                    end += 1
            if rule.valid is not None and not rule.valid(text[start:end]):
                continue
            yield Finding(start, end, rule.type, rule.name)


# --- keyword assignments (detect-secrets KeywordDetector) ---------------------------------------------

# Corpus language (tasks.crawl.languages) -> the file type the KeywordDetector chooses its regexes by.
_LANG_FILETYPE: dict[str, FileType] = {
    "Python": FileType.PYTHON, "Go": FileType.GO, "Java": FileType.JAVA, "Kotlin": FileType.JAVA,
    "Scala": FileType.JAVA, "Groovy": FileType.JAVA, "JavaScript": FileType.JAVASCRIPT,
    "TypeScript": FileType.JAVASCRIPT, "PHP": FileType.PHP, "Ruby": FileType.PYTHON, "Swift": FileType.SWIFT,
    "C#": FileType.C_SHARP, "C": FileType.C, "C++": FileType.C_PLUS_PLUS, "Objective-C": FileType.OBJECTIVE_C,
    "YAML": FileType.YAML, "TOML": FileType.TOML, "INI": FileType.INI, "Shell": FileType.CONFIG,
    "Dockerfile": FileType.CONFIG, "Makefile": FileType.CONFIG, "PowerShell": FileType.CONFIG,
    "Batchfile": FileType.CONFIG,
}
_CONFIG_NAMES = re.compile(r"(?i)(?:^|/)(?:\.env(?:\.[\w.-]+)?|[\w.-]+\.(?:env|properties|conf|cnf|cfg|ini|toml|ya?ml))$")
KEYWORD_ANCHORS = ("key", "pass", "pwd", "secret", "contrase")
_KEYWORD_IN_LINE = re.compile(keyword.DENYLIST_REGEX)  # the plugin's keyword list, on the lowered line
_PASSWORD_WORDS = re.compile(r"(?i)pass|pwd|contrase")


def keyword_filetype(lang: str | None, path: str | None) -> FileType:
    """The KeywordDetector file type: from the path when it is a config file or a known extension,
    else from the corpus language; QUOTES_REQUIRED (the plugin's default) when neither says."""
    if path:
        if _CONFIG_NAMES.search(path):
            return FileType.CONFIG
        ft = determine_file_type(path)
        if ft is not FileType.OTHER:
            return ft
    return _LANG_FILETYPE.get(lang or "", FileType.OTHER)


def _candidate_lines(text: str, low: str, anchors: tuple[str, ...]) -> list[tuple[int, int]]:
    """(start, end) of each line of `text` holding an anchor of `low`, in order, each once."""
    starts: set[int] = set()
    for a in anchors:
        i = low.find(a)
        while i >= 0:
            starts.add(text.rfind("\n", 0, i) + 1)
            nl = text.find("\n", i)
            if nl < 0:
                break
            i = low.find(a, nl + 1)  # past this line's end: the search always moves on
    out = []
    for s in sorted(starts):
        e = text.find("\n", s)
        out.append((s, len(text) if e < 0 else e))
    return out


def _matches(regex: Pattern[str], line: str) -> Iterator[re.Match[str]]:
    """Every match of `regex` in `line`, left to right: a line may assign two secrets
    (`{'a-password': 'x', 'b-password': 'y'}`), and a rescan of the redacted line must not find the second."""
    pos = 0
    while pos <= len(line):
        m = regex.search(line, pos)
        if m is None:
            return
        yield m
        pos = max(m.end(), pos + 1)


def keyword_findings(text: str, lower: Callable[[], str], lang: str | None, path: str | None,
                     min_password_length: int = 4) -> Iterator[Finding]:
    """KeywordDetector's regexes on the lines that mention a secret keyword, spans exact, values screened."""
    low = lower()
    if not any(a in low for a in KEYWORD_ANCHORS):
        return
    ftype = keyword_filetype(lang, path)
    regexes = keyword.REGEX_BY_FILETYPE.get(ftype, keyword.QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP)
    for ls, le in _candidate_lines(text, low, KEYWORD_ANCHORS):
        line = text[ls:le]
        if len(line) > 1000 or not _KEYWORD_IN_LINE.search(low, ls, le):
            continue  # "key" of a dict, not one of the plugin's keywords: skip its five regexes
        for regex, group in regexes.items():
            for m in _matches(regex, line):
                vs, ve = m.span(group)
                if ds_heuristic.is_indirect_reference(line[:vs] + "v" + line[ve:]):
                    continue  # password = get_password(), secret = request.headers["x"] (the value masked first)
                value = line[vs:ve]
                name = line[:vs]
                password = bool(_PASSWORD_WORDS.search(line[m.start():vs] + line[ve:m.end()]))
                if ftype is FileType.CONFIG or ftype in (FileType.YAML, FileType.INI, FileType.TOML, FileType.PROPERTIES):
                    value = value.rstrip(",;")
                    ve = vs + len(value)
                if not value or guards.is_hash_in_hash_context(value, name) or ds_heuristic.is_prefixed_with_dollar_sign(
                        value) or ds_heuristic.is_likely_id_string(value, line):
                    continue
                if guards.looks_like_credential_value(value, password=password, min_password_length=min_password_length):
                    yield Finding(ls + vs, ls + ve, PASSWORD if password else KEY, "detect-secrets:KeywordDetector")
