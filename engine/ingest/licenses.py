"""Turn the many ways an article states its licence into a short code ("CC BY 4.0") and a URL.

Order of evidence (datasets.md §1.6): `ali:license_ref` → `license/@xlink:href` → an `ext-link` href inside
`license-p` → a Creative Commons URL in the text → words in the text ("Creative Commons Attribution License").
When nothing is recognised the licence text itself is kept, so a user still sees what the article says.
"""

from __future__ import annotations

import re

from lxml import etree

XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
ALI_NAMESPACES = ("http://www.niso.org/schemas/ali/1.0/", "http://www.niso.org/schemas/ali/1.0")
MAX_LICENSE_TEXT = 500

_CC_URL = re.compile(
    r"creativecommons\.org/(?:licenses/(?P<kind>[a-z\-]+)(?:/(?P<ver>\d+(?:\.\d+)?))?"
    r"|publicdomain/(?P<pd>zero|mark)(?:/(?P<pdver>\d+(?:\.\d+)?))?)",
    re.IGNORECASE,
)
_URL = re.compile(r"https?://\S+", re.IGNORECASE)

# Longest phrases first: "Attribution-NonCommercial-NoDerivatives" must not match as plain "Attribution".
_TEXT_PHRASES = (
    (r"attribution[\s\-]+non[\s\-]?commercial[\s\-]+no[\s\-]?deriv", "CC BY-NC-ND"),
    (r"attribution[\s\-]+non[\s\-]?commercial[\s\-]+share[\s\-]?alike", "CC BY-NC-SA"),
    (r"attribution[\s\-]+non[\s\-]?commercial", "CC BY-NC"),
    (r"attribution[\s\-]+no[\s\-]?deriv", "CC BY-ND"),
    (r"attribution[\s\-]+share[\s\-]?alike", "CC BY-SA"),
    (r"creative commons (?:\w+ )?attribution", "CC BY"),
    (r"\bCC0\b|public domain dedication", "CC0"),
)


def license_from_url(url: str | None) -> str | None:
    """"https://creativecommons.org/licenses/by-nc/3.0/" → "CC BY-NC 3.0"; None for a non-CC URL."""
    if not url:
        return None
    match = _CC_URL.search(url)
    if not match:
        return None
    if match.group("pd"):
        name = "CC0" if match.group("pd").lower() == "zero" else "Public Domain Mark"
        version = match.group("pdver")
    else:
        name = "CC " + match.group("kind").upper()
        version = match.group("ver")
    return f"{name} {version}" if version else name


def license_from_text(text: str | None) -> str | None:
    if not text:
        return None
    code = license_from_url(text)
    if code:
        return code
    for pattern, name in _TEXT_PHRASES:
        if re.search(pattern, text, re.IGNORECASE):
            return name
    return None


def license_from_permissions(permissions: etree._Element | None) -> tuple[str | None, str | None]:
    """(code, url) from a JATS `<permissions>` element; (None, None) when it states no licence."""
    if permissions is None:
        return None, None
    licenses = permissions.findall("license")
    urls: list[str] = []
    for ns in ALI_NAMESPACES:
        urls += [(el.text or "").strip() for el in permissions.iter(f"{{{ns}}}license_ref")]
    urls += [(el.get(XLINK_HREF) or "").strip() for el in licenses]
    for lic in licenses:
        urls += [(el.get(XLINK_HREF) or "").strip() for el in lic.iter("ext-link")]
    text = " ".join(" ".join("".join(lic.itertext()).split()) for lic in licenses).strip()
    urls += _URL.findall(text)
    urls = [u for u in urls if u]
    for url in urls:
        code = license_from_url(url)
        if code:
            return code, url
    code = license_from_text(text)
    if code:
        return code, (urls[0] if urls else None)
    if licenses and (licenses[0].get("license-type") or "").lower() == "public-domain":
        return "Public Domain", (urls[0] if urls else None)
    if text:
        return text[:MAX_LICENSE_TEXT], (urls[0] if urls else None)
    return None, (urls[0] if urls else None)
