"""False-positive guards: look-alikes of secrets and personal data that must stay in the code.

Each guard is a small predicate on a candidate value (and, where the decision needs it, the text
around it). They encode what real code is full of and what a redactor must not touch: hex digests,
UUIDs, documentation values (example.com, RFC 2606 / 5737 / 3849 reserved names and addresses,
AWS's `...EXAMPLE` keys, the jwt.io sample token), placeholders (`your-api-key`, `xxx`, `${VAR}`),
version strings that look like IPv4 addresses, identifiers and sentences assigned to variables whose
name merely mentions a password. detect-secrets' own heuristic filters are reused where they exist.
"""
from __future__ import annotations

import base64
import ipaddress
import json
import math
import re
from collections import Counter

from detect_secrets.filters import heuristic as _ds_heuristic

# --- generic value shape -----------------------------------------------------------------------------

HEX_DIGEST_LENGTHS = frozenset({32, 40, 56, 64, 96, 128})  # MD5, SHA-1, SHA-224, SHA-256, SHA-384, SHA-512
_HEX = re.compile(r"[0-9a-fA-F]+")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HASH_CONTEXT = re.compile(r"(?i)hash|sha\d*|md5|digest|checksum|fingerprint|integrity|etag|commit|revision|\brev\b")
_PLACEHOLDER_WORDS = re.compile(
    r"(?i)example|sample|dummy|placeholder|redacted|replace|your[\W_]|^your|<[^>]*>|changeme|change[_-]me|"
    r"fixme|todo|insert[\W_]|enter[\W_]|^fake|^mock|^test$|^none$|^null$|^nil$|^undefined$|^true$|^false$|"
    r"^secret$|^password$|^passwd$|^pass$|^pwd$|^token$|^key$|^api[_-]?key$|^default$|^string$|^value$")
_REPEATED = re.compile(r"^(.)\1*$")  # xxxxxxxx, ********, 00000000
_TEMPLATE = re.compile(r"\$\{[^}]*\}|\{\{[^}]*\}\}|%\(\w+\)s|%s\b|^\$[A-Za-z_]\w*$|^\$\w+|^@[A-Za-z_]\w*@$|^\{\w*\}$")
_DOTTED_IDENTIFIER = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$")  # module.path, i18n.message.key
_SNAKE_WORDS = re.compile(r"^[a-z]+(?:[_\-.][a-z]+)*$")  # db_password, user-secret: names, not values
_REGEX_LIKE = re.compile(r"\(\?[=!:<]|\\[dwsSbD]|\.\*|\[[^\]]*-[^\]]*\]|\{\d+,\d*\}|^\^|\$$")
_URL_LIKE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.I)
# "password" in other languages: values of translation catalogues, not passwords
_PASSWORD_WORDS_I18N = frozenset({"passwort", "kennwort", "contraseña", "contrasena", "senha", "wachtwoord",
                                  "lösenord", "losenord", "salasana", "parola", "hasło", "haslo", "heslo", "jelszó",
                                  "пароль", "密码", "密碼", "パスワード", "비밀번호", "mật khẩu", "şifre", "sifre",
                                  "adgangskode", "passord", "geslo", "lozinka", "parolă", "κωδικός", "סיסמה", "كلمة المرور"})
_PATH_LIKE = re.compile(r"^(?:/|\./|\.\./|~/|[A-Za-z]:\\)|^[\w.-]+/[\w./-]*$")


def shannon_entropy(value: str) -> float:
    """Bits per character of the value's own character distribution."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def is_hex_digest(value: str) -> bool:
    """A hexadecimal string of a standard digest length (MD5 ... SHA-512)."""
    return len(value) in HEX_DIGEST_LENGTHS and _HEX.fullmatch(value) is not None


def is_uuid(value: str) -> bool:
    """The canonical dashed form only: 32 bare hex digits under a secret's name are a key, not an id."""
    return _UUID.fullmatch(value.strip("{}")) is not None


# keyboard walks and classic demo passwords of tutorials and READMEs (exact values only)
DEMO_PASSWORDS = frozenset({"asdf", "asdfgh", "asdfghjkl", "qwerty", "qwertyuiop", "qwer1234", "123456", "1234567",
                            "12345678", "123456789", "abc123", "foobar", "foobarbaz", "letmein", "password1",
                            "passw0rd", "p@ssw0rd", "s3cr3t", "hunter2", "admin123"})


def is_placeholder(value: str) -> bool:
    """Placeholders and templates people leave where a secret would go: xxx, ****, <token>, ${VAR},
    {{ var }}, %s, your-api-key, changeme, EXAMPLE values, an empty or one-character value."""
    v = value.strip()
    if len(v) <= 1 or _REPEATED.match(v) or _PLACEHOLDER_WORDS.search(v) or _TEMPLATE.search(v) \
            or v.lower() in DEMO_PASSWORDS:
        return True
    if "EXAMPLE" in v:  # AWS documentation keys: AKIAIOSFODNN7EXAMPLE, wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
        return True
    return (_ds_heuristic.is_templated_secret(v) or _ds_heuristic.is_sequential_string(v)
            or _ds_heuristic.is_not_alphanumeric_string(v))


def is_hash_in_hash_context(value: str, name: str) -> bool:
    """A hex digest assigned to something named like a hash (sha256, checksum, integrity, commit)."""
    return is_hex_digest(value) and _HASH_CONTEXT.search(name) is not None


def looks_like_credential_value(value: str, *, password: bool, min_password_length: int = 4) -> bool:
    """Whether a value assigned to a secret-sounding name is plausibly the secret itself.

    Passwords may be short and low-entropy (`hunter2`); keys and tokens are long and varied. Neither
    is a sentence, a path, a dotted identifier or a lowercase name like `db_password`."""
    v = value.strip()
    if v != value or not v or is_placeholder(v) or is_uuid(v):
        return False
    if v.count(" ") >= 1 or "\\n" in v or _PATH_LIKE.match(v) or _DOTTED_IDENTIFIER.match(v) or _URL_LIKE.match(v):
        return False
    if _REGEX_LIKE.search(v) or v.lower() in _PASSWORD_WORDS_I18N:
        return False
    if _SNAKE_WORDS.match(v) and ("_" in v or "-" in v or "." in v):
        return False
    if password:
        return len(v) >= min_password_length
    if not v.isascii():  # keys and tokens are ASCII; "API-Schlüssel" is a label in a translation file
        return False
    return len(v) >= 8 and (shannon_entropy(v) >= 3.0 or (any(c.isdigit() for c in v) and any(c.isalpha() for c in v)))


# --- JWT --------------------------------------------------------------------------------------------

# The jwt.io sample payload ({"sub": "1234567890", "name": "John Doe", "iat": 1516239022}): in every
# tutorial and test suite, signed with the public sample secret; it is documentation, not a credential.
_SAMPLE_JWT_PAYLOADS = ({"sub": "1234567890", "name": "John Doe", "iat": 1516239022},
                        {"sub": "1234567890", "name": "John Doe", "admin": True, "iat": 1516239022})


def _b64url_json(part: str) -> object | None:
    try:
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None


def is_valid_jwt(token: str) -> bool:
    """Three base64url parts whose first two decode to JSON objects, the header naming an algorithm."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[2]:
        return False
    header, payload = _b64url_json(parts[0]), _b64url_json(parts[1])
    return isinstance(header, dict) and "alg" in header and isinstance(payload, dict)


def is_sample_jwt(token: str) -> bool:
    parts = token.split(".")
    return len(parts) == 3 and _b64url_json(parts[1]) in _SAMPLE_JWT_PAYLOADS


# --- e-mail -----------------------------------------------------------------------------------------

# RFC 2606 / RFC 6761 reserved names and the usual documentation domains.
RESERVED_EMAIL_DOMAINS = frozenset({"example.com", "example.org", "example.net", "example.edu", "localhost",
                                    "localhost.localdomain", "domain.com", "email.com", "mail.com",
                                    "yourdomain.com", "yourcompany.com", "company.com", "host.com"})
RESERVED_EMAIL_TLDS = frozenset({"example", "test", "invalid", "localhost", "local", "internal", "lan"})
# Common generic TLDs; every two-letter TLD (country codes) is accepted too. A longer TLD outside this
# list is taken for code (`x@self.weight`, `inputs@layer.kernel`) rather than an address.
COMMON_TLDS = frozenset("""
com org net edu gov mil int info biz name pro aero coop museum mobi asia jobs tel travel xxx arpa
io ai app dev tech xyz online site store cloud email systems software digital network solutions
agency media news blog shop company team group global world today space host website codes
engineering services consulting studio design center academy science technology support works
""".split())
# two-letter file extensions that are not country codes (py, sh, md, rs, pl, in ... are real ccTLDs)
_NOT_TLDS = frozenset({"js", "ts", "rb", "go", "cs", "db", "gz", "xz", "hh", "mm", "kt", "rc", "el", "ml"})
_FILE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "css", "scss", "html", "json",
                              "yaml", "yml", "xml", "txt", "pdf", "tsx", "jsx", "vue", "java", "class", "jar",
                              "lock", "min", "map", "wasm", "zip", "tar", "bz2", "mp3", "mp4", "woff", "woff2",
                              "ttf", "eot", "cpp", "hpp", "php", "swift", "kt", "scala", "toml", "ini", "cfg"})


def email_domain_is_real(domain: str) -> bool:
    """Whether `domain` can be a mailbox's domain on the public internet (not reserved, not code)."""
    d = domain.lower().rstrip(".")
    labels = d.split(".")
    tld = labels[-1]
    if len(labels) < 2 or not tld.isalpha() or tld in _FILE_EXTENSIONS or tld in RESERVED_EMAIL_TLDS:
        return False
    if d in RESERVED_EMAIL_DOMAINS or any(d.endswith("." + r) for r in ("example.com", "example.org", "example.net")):
        return False
    if len(tld) == 2:
        return tld not in _NOT_TLDS
    return tld in COMMON_TLDS


def is_documentation_email(local: str, domain: str) -> bool:
    """user@localhost, noreply-style addresses at reserved domains, template locals like {user}."""
    return not email_domain_is_real(domain) or is_placeholder(local) and local.lower() not in ("info", "admin")


# --- IP addresses -----------------------------------------------------------------------------------

# Public resolvers, well-known service addresses and the classic placeholder 1.2.3.4: not personal data.
WELL_KNOWN_PUBLIC_IPS = frozenset({"1.2.3.4", "4.3.2.1", "8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9", "149.112.112.112",
                                   "208.67.222.222", "208.67.220.220", "2001:4860:4860::8888",
                                   "2001:4860:4860::8844", "2606:4700:4700::1111", "2606:4700:4700::1001"})
_VERSION_BEFORE = re.compile(
    r"(?i)(?:\b(?:version|ver|release|rev|build|tag|python|node|sdk|firmware|section|sections|chapter|rfc|figure|table|step|"
    r"item|paragraph)\b\s*[:=#-]?\s*[\"'(]?\s*"
    r"|(?:==|>=|<=|~=|!=|\^|~|@)\s*[\"']?|\bv)$")
_URL_USERINFO = re.compile(r"://[^\s/@]*@$")
_VERSION_NAME = re.compile(r"(?i)version|__version__|release|build|semver|tag")


def ip_is_sensitive(value: str, *, public_only: bool = True) -> bool:
    """A valid address that is personal/infrastructure data: global unicast unless `public_only` is off
    (then everything but loopback, unspecified, broadcast, multicast, documentation and link-local)."""
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return False
    if value in WELL_KNOWN_PUBLIC_IPS or ip.is_loopback or ip.is_unspecified or ip.is_multicast or ip.is_link_local:
        return False
    if ip.version == 4 and (ip == ipaddress.IPv4Address("255.255.255.255") or str(ip).startswith("255.")):
        return False  # broadcast and netmasks (255.255.255.0)
    documentation = (ipaddress.ip_network("192.0.2.0/24"), ipaddress.ip_network("198.51.100.0/24"),
                     ipaddress.ip_network("203.0.113.0/24"), ipaddress.ip_network("2001:db8::/32"))
    if any(ip.version == net.version and ip in net for net in documentation):
        return False
    return ip.is_global if public_only else True


def ipv4_in_version_context(text: str, start: int, end: int) -> bool:
    """1.2.3.4 that is a version: a version word or operator just before it, a longer dotted run
    (OIDs 1.3.6.1.4.1), a pre-release suffix (1.2.3.4-beta) or a `version`-named variable on its line."""
    before = text[max(0, start - 24):start]
    line_start = text.rfind("\n", 0, start) + 1
    if before.endswith("@") and _URL_USERINFO.search(text[max(line_start, start - 200):start]):
        return False  # scheme://user:pass@1.2.3.4 is a host, not pkg@1.2.3.4
    if _VERSION_BEFORE.search(before):
        return True
    after = text[end:end + 2]
    if after[:1] in (".", "-", "+") and after[1:2].isalnum() or text[start - 1:start] in (".", "§") and start > 0:
        return True
    return _VERSION_NAME.search(text[line_start:start]) is not None
