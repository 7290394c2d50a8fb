"""Free-text licence names (trove classifiers, `License:` fields, npm strings) to SPDX identifiers.

Registry metadata often names a licence instead of giving its SPDX id: "MIT License", "Apache
Software License", "new BSD", "GNU General Public License v2 or later (GPLv2+)". This table maps the
names seen in PyPI classifiers and common package metadata; a name that does not say which version
of a family it means ("BSD License", "GPL") maps to the family's `LicenseRef-<family>`, which
`licenses.same_license` treats as matching any member of the family.
"""
from __future__ import annotations

import re

FAMILY_REFS: dict[str, str] = {f: f"LicenseRef-{f}" for f in ("BSD", "GPL", "LGPL", "AGPL", "Apache", "MPL",
                                                               "public-domain")}

# lower-cased, whitespace-collapsed name -> SPDX id
_NAMES: dict[str, str] = {
    "mit": "MIT", "mit license": "MIT", "the mit license": "MIT", "mit/x11": "MIT", "x11": "X11", "expat": "MIT",
    "expat license": "MIT", "mit no attribution license (mit-0)": "MIT-0",
    "apache software license": "Apache-2.0", "apache license": "Apache-2.0", "apache 2.0": "Apache-2.0",
    "apache 2": "Apache-2.0", "apache-2": "Apache-2.0", "apache license 2.0": "Apache-2.0", "asl 2.0": "Apache-2.0",
    "apache license, version 2.0": "Apache-2.0", "apache license version 2.0": "Apache-2.0",
    "apache software license 2.0": "Apache-2.0", "apache 2.0 license": "Apache-2.0",
    "bsd license": FAMILY_REFS["BSD"], "bsd": FAMILY_REFS["BSD"],
    "new bsd": "BSD-3-Clause", "new bsd license": "BSD-3-Clause", "modified bsd": "BSD-3-Clause",
    "revised bsd": "BSD-3-Clause", "3-clause bsd": "BSD-3-Clause", "bsd 3-clause": "BSD-3-Clause",
    "bsd-3": "BSD-3-Clause", "3-clause bsd license": "BSD-3-Clause", "bsd 3-clause license": "BSD-3-Clause",
    "simplified bsd": "BSD-2-Clause", "freebsd": "BSD-2-Clause", "bsd 2-clause": "BSD-2-Clause",
    "2-clause bsd": "BSD-2-Clause", "bsd-2": "BSD-2-Clause", "bsd 2-clause license": "BSD-2-Clause",
    "isc license (iscl)": "ISC", "isc license": "ISC", "iscl": "ISC",
    "python software foundation license": "PSF-2.0", "psf": "PSF-2.0", "psfl": "PSF-2.0", "psf license": "PSF-2.0",
    "the unlicense (unlicense)": "Unlicense", "unlicense": "Unlicense", "the unlicense": "Unlicense",
    "zlib/libpng license": "Zlib", "zlib license": "Zlib", "zlib": "Zlib",
    "boost software license 1.0 (bsl-1.0)": "BSL-1.0", "boost software license": "BSL-1.0",
    "cc0 1.0 universal (cc0 1.0) public domain dedication": "CC0-1.0", "cc0": "CC0-1.0",
    "public domain": FAMILY_REFS["public-domain"],
    "mozilla public license 2.0 (mpl 2.0)": "MPL-2.0", "mpl 2.0": "MPL-2.0", "mpl-2": "MPL-2.0",
    "mozilla public license 1.1 (mpl 1.1)": "MPL-1.1", "mozilla public license": FAMILY_REFS["MPL"],
    "eclipse public license 2.0 (epl-2.0)": "EPL-2.0", "eclipse public license 1.0 (epl-1.0)": "EPL-1.0",
    "zope public license": "ZPL-2.1", "historical permission notice and disclaimer (hpnd)": "HPND",
    "artistic license": "Artistic-2.0", "academic free license (afl)": "AFL-3.0",
    "gnu general public license (gpl)": FAMILY_REFS["GPL"], "gpl": FAMILY_REFS["GPL"],
    "gnu general public license v2 (gplv2)": "GPL-2.0-only", "gplv2": "GPL-2.0-only",
    "gnu general public license v2 or later (gplv2+)": "GPL-2.0-or-later", "gplv2+": "GPL-2.0-or-later",
    "gnu general public license v3 (gplv3)": "GPL-3.0-only", "gplv3": "GPL-3.0-only",
    "gnu general public license v3 or later (gplv3+)": "GPL-3.0-or-later", "gplv3+": "GPL-3.0-or-later",
    "gnu lesser general public license v2 (lgplv2)": "LGPL-2.0-only",
    "gnu lesser general public license v2 or later (lgplv2+)": "LGPL-2.0-or-later",
    "gnu lesser general public license v3 (lgplv3)": "LGPL-3.0-only",
    "gnu lesser general public license v3 or later (lgplv3+)": "LGPL-3.0-or-later",
    "gnu library or lesser general public license (lgpl)": FAMILY_REFS["LGPL"], "lgpl": FAMILY_REFS["LGPL"],
    "gnu affero general public license v3": "AGPL-3.0-only",
    "gnu affero general public license v3 or later (agplv3+)": "AGPL-3.0-or-later",
}
_FAMILY_OF = ((re.compile(r"^BSD-\d-Clause"), "BSD"), (re.compile(r"^0BSD$"), "0BSD"),
              (re.compile(r"^GPL-"), "GPL"), (re.compile(r"^LGPL-"), "LGPL"), (re.compile(r"^AGPL-"), "AGPL"),
              (re.compile(r"^Apache-"), "Apache"), (re.compile(r"^MPL-"), "MPL"))


def family_of(key: str) -> str:
    """`BSD-3-Clause` -> `BSD`, `LicenseRef-BSD` -> `BSD`, `MIT` -> `MIT`."""
    if key.startswith("LicenseRef-"):
        return key[len("LicenseRef-"):]
    for pattern, family in _FAMILY_OF:
        if pattern.match(key):
            return family
    return key


def spdx_from_name(name: str) -> str | None:
    """The SPDX expression for a free-text name (or `A OR B` of names), or None if it is not in the table."""
    parts = [p.strip() for p in re.split(r"\s+OR\s+|\s*;\s*", name) if p.strip()]
    ids = [_NAMES.get(" ".join(p.lower().split())) for p in parts]
    if not parts or any(i is None for i in ids):
        return None
    unique = list(dict.fromkeys(ids))
    return unique[0] if len(unique) == 1 else " OR ".join(unique)
