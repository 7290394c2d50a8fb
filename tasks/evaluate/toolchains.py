"""Compilers and runtimes of the multilingual HumanEval (DeepSeek-Coder §4.1): which ones a language
needs, whether this machine has them, the sandboxed command that builds and runs a program, and how the
project installs them (`make toolchains` = `python -m tasks.evaluate.toolchains install`).

The commands are those of DeepSeek-Coder's Evaluation/HumanEval/human_eval/execution.py (g++ -std=c++17,
javac/java -ea with javatuples, php -f, tsc then node, mcs -d:DEBUG then mono, bash, node), run by
`sandbox.run_program` after its lockdown. Where the paper's harness was lenient, we are not (said per
language below). A language whose toolchain is missing is reported `skipped` with the reason, never scored.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

from tasks.evaluate.sandbox import Command

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLCHAINS_DIR = REPO_ROOT / ".toolchains"          # project-local installs (npm), ignored by git
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"        # the PATH programs see (sandbox._ENV)
TYPESCRIPT = "typescript@5.9.3"                      # pinned: type-check results depend on the version
TSC = TOOLCHAINS_DIR / "typescript" / "node_modules" / "typescript" / "bin" / "tsc"
JAVATUPLES = "javatuples-1.2.jar"

# C#: Mono's Debug.Assert prints "Fail:" to stderr and carries on (exit 0); DeepSeek scores a run passed when
# its stderr has no "Fail". We also require exit status 0 (DeepSeek passed crashed programs).
_CS_SCRIPT = """mcs -d:DEBUG Program.cs || exit 1
MONO_TRACE_LISTENER=Console.Error mono Program.exe 2>run.err
status=$?
cat run.err >&2
if grep -q Fail run.err; then exit 1; fi
exit $status
"""
# TypeScript: DeepSeek compiles with ES2015 libs and, when that build or its run fails, once more with tsc's
# defaults; a type error fails the build (tsc exits non-zero), as in the paper. --skipLibCheck only skips
# re-checking TypeScript's own lib .d.ts files (a third of the time; the program is checked as before).
_TS_SCRIPT = """{ node "{tsc}" --skipLibCheck --target ES2015 --lib ES2015,DOM test.ts && node test.js; } || \\
{ node "{tsc}" --skipLibCheck test.ts && node test.js; }
"""
# Java: DeepSeek's javac / java -ea with javatuples on the class path. The JVM flags only make the short-lived
# JVMs start faster (C1 JIT only, serial GC), they change no verdict.
_JVM = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
_JAVA_SCRIPT = (f"javac {' '.join('-J' + f for f in _JVM.split())} -cp \"{{jar}}\" Problem.java && "
                f"java {_JVM} -ea -cp \".:{{jar}}\" Problem\n")
# C++: DeepSeek links OpenSSL only for HumanEval/162 (md5); we link it for any program that includes it.
_CPP_SCRIPT = """libs=""
if grep -q 'openssl/' test.cpp; then libs="-lcrypto -lssl"; fi
g++ -std=c++17 -o a.out test.cpp $libs && ./a.out
"""


@dataclass(frozen=True)
class Toolchain:
    language: str                 # MultiPL-E's code: cpp, java, php, ts, cs, sh, js
    name: str                     # the paper's column name
    filename: str                 # the program's file name (Java and C# need theirs)
    script: str                   # POSIX sh, run in the program's directory; {tsc} / {jar} filled in
    binaries: tuple[str, ...]     # on SANDBOX_PATH
    apt: tuple[str, ...]          # Debian packages that provide them
    version: tuple[str, ...]      # command printing the version (first line kept)
    nproc: int = 64               # JVM, Mono and V8 start a dozen threads each


TOOLCHAINS: dict[str, Toolchain] = {t.language: t for t in (
    Toolchain("cpp", "C++", "test.cpp", _CPP_SCRIPT, ("g++",), ("g++", "libssl-dev"), ("g++", "--version")),
    Toolchain("java", "Java", "Problem.java", _JAVA_SCRIPT, ("javac", "java"), ("openjdk-17-jdk-headless",),
              ("javac", "-version")),
    Toolchain("php", "PHP", "test.php", "php -f test.php\n", ("php",), ("php-cli",), ("php", "--version")),
    Toolchain("ts", "TypeScript", "test.ts", _TS_SCRIPT, ("node",), ("nodejs", "npm"), ("node", "{tsc}", "--version")),
    Toolchain("cs", "C#", "Program.cs", _CS_SCRIPT, ("mcs", "mono"), ("mono-mcs", "mono-runtime"), ("mono", "--version")),
    Toolchain("sh", "Bash", "test.sh", "bash test.sh\n", ("bash",), ("bash",), ("bash", "--version")),
    Toolchain("js", "JavaScript", "test.js", "node test.js\n", ("node",), ("nodejs",), ("node", "--version")),
)}


@dataclass(frozen=True)
class Availability:
    ok: bool
    detail: str                   # the version line when ok, else why not and how to install


def _fill(text: str, jar: Path) -> str:
    return text.replace("{tsc}", str(TSC)).replace("{jar}", str(jar))


def javatuples_jar(multilingual_dir: str | os.PathLike) -> Path:
    base = Path(multilingual_dir)
    return (base if base.is_absolute() else REPO_ROOT / base).resolve() / JAVATUPLES


@lru_cache(maxsize=None)
def probe(language: str, jar: Path | None = None) -> Availability:
    """Whether `language` can run here; probed once per process (a version call of a few ms to 0.5 s)."""
    tc = TOOLCHAINS.get(language)
    if tc is None:
        return Availability(False, f"unknown language {language!r}; known: {', '.join(TOOLCHAINS)}")
    missing = [b for b in tc.binaries if shutil.which(b, path=SANDBOX_PATH) is None]
    if language == "ts" and not TSC.is_file():
        missing.append(f"tsc ({TSC.relative_to(REPO_ROOT)})")
    if language == "java" and jar is not None and not jar.is_file():
        missing.append(str(jar))
    if missing:
        return Availability(False, f"{', '.join(missing)} not found: run `make toolchains` "
                                   f"(apt: {' '.join(tc.apt)}{'; npm: ' + TYPESCRIPT if language == 'ts' else ''})")
    argv = [_fill(a, jar or Path()) for a in tc.version]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                              env={"PATH": SANDBOX_PATH, "LANG": "C.UTF-8"})
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Availability(False, f"{' '.join(argv)} failed: {exc}")
    text = (proc.stdout or proc.stderr).strip()
    if proc.returncode != 0:
        return Availability(False, f"{' '.join(argv)} exited {proc.returncode}: {text[-300:]}")
    return Availability(True, text.splitlines()[0] if text else "?")


def command(language: str, jar: Path) -> Command:
    """The sandbox command that builds and runs one program of `language`."""
    tc = TOOLCHAINS[language]
    return Command(filename=tc.filename, script=_fill(tc.script, jar))


# ---------------------------------------------------------------- installation (make toolchains)
def missing_apt_packages(languages: Sequence[str]) -> list[str]:
    packages: list[str] = []
    for lang in languages:
        tc = TOOLCHAINS[lang]
        needs = [b for b in tc.binaries if shutil.which(b, path=SANDBOX_PATH) is None]
        if lang == "cpp" and not Path("/usr/include/openssl/md5.h").is_file():
            needs.append("openssl headers")
        if lang == "ts" and not TSC.is_file() and shutil.which("npm", path=SANDBOX_PATH) is None:
            needs.append("npm")
        if needs:
            packages += [p for p in tc.apt if p not in packages]
    return packages


def install(languages: Sequence[str]) -> int:
    """apt-get the missing system toolchains (root only) and npm-install TypeScript into .toolchains/."""
    packages = missing_apt_packages(languages)
    if packages:
        if os.geteuid() == 0 and shutil.which("apt-get"):
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
            proc = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages], env=env)
            if proc.returncode != 0:
                print(f"note: apt-get install {' '.join(packages)} failed (exit {proc.returncode})")
        else:
            print(f"note: not root or no apt-get: install {' '.join(packages)} yourself; those languages are skipped")
    if "ts" in languages and not TSC.is_file():
        npm = shutil.which("npm")
        if npm is None:
            print("note: npm not found: TypeScript is skipped")
        else:
            (TOOLCHAINS_DIR / "typescript").mkdir(parents=True, exist_ok=True)
            subprocess.run([npm, "install", "--prefix", str(TOOLCHAINS_DIR / "typescript"), "--no-audit",
                            "--no-fund", "--loglevel=error", TYPESCRIPT], check=False)
    probe.cache_clear()
    report = status(languages)
    print(json.dumps(report, indent=2))
    return 0


def status(languages: Sequence[str]) -> dict[str, dict[str, object]]:
    return {lang: {"name": TOOLCHAINS[lang].name, "ok": (a := probe(lang)).ok, "detail": a.detail}
            for lang in languages}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Toolchains of the multilingual HumanEval")
    ap.add_argument("action", choices=("install", "status"))
    ap.add_argument("--languages", nargs="*", default=list(TOOLCHAINS))
    args = ap.parse_args(argv)
    unknown = [lang for lang in args.languages if lang not in TOOLCHAINS]
    if unknown:
        ap.error(f"unknown languages {unknown}; known: {', '.join(TOOLCHAINS)}")
    if args.action == "install":
        return install(args.languages)
    report = status(args.languages)
    print(json.dumps(report, indent=2))
    return 0 if all(v["ok"] for v in report.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
