"""Fixtures written in the real formats (datasets.md): a JATS article, PMC packages, images."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from PIL import Image

DOCTYPE = (
    '<!DOCTYPE article PUBLIC "-//NLM//DTD JATS (Z39.96) Journal Archiving and Interchange DTD v1.0 20120330//EN"'
    ' "JATS-archivearticle1.dtd">'
)

# Shaped after PP pone.0046493.nxml / 1471-2180-11-174.nxml / ehp-116-1694.nxml: figures in body, in a fig-group
# and in floats-group, plus the irregular cases a reader must report rather than invent.
ARTICLE_NXML = DOCTYPE + """
<article xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:mml="http://www.w3.org/1998/Math/MathML"
 xmlns:ali="http://www.niso.org/schemas/ali/1.0/" article-type="research-article"><?properties open_access?>
<front>
<journal-meta><journal-id journal-id-type="nlm-ta">PLoS ONE</journal-id>
<journal-title-group><journal-title>PLoS ONE</journal-title></journal-title-group>
<issn pub-type="epub">1932-6203</issn></journal-meta>
<article-meta>
<article-id pub-id-type="pmid">23029536</article-id>
<article-id pub-id-type="pmc">3460867</article-id>
<article-id pub-id-type="publisher-id">PONE-D-12-16683</article-id>
<article-id pub-id-type="doi">10.1371/journal.pone.0046493</article-id>
<title-group><article-title>Inhibition of <italic>lipase</italic> by
   THL &#x003bb; analogues</article-title></title-group>
<!-- PMC Release delay is 0 months <pub-date pub-type="epub"><year>1999</year></pub-date> -->
<pub-date pub-type="collection"><year>2011</year></pub-date>
<pub-date pub-type="epub"><day>28</day><month>9</month><year>2012</year></pub-date>
<permissions><copyright-year>2012</copyright-year>
<license><ali:license_ref specific-use="textmining" content-type="ccbylicense">
  https://creativecommons.org/licenses/by/4.0/
</ali:license_ref><license-p>This is an open-access article.</license-p></license></permissions>
</article-meta></front>
<body><sec><title>Results</title>
<fig id="pone-0046493-g001" orientation="portrait" position="float">
<object-id pub-id-type="doi">10.1371/journal.pone.0046493.g001</object-id><label>Figure 1</label>
<caption><title>Chemical structure of inhibitors</title><p>Chemical structures of <bold>A</bold>, THL and
  <xref ref-type="bibr" rid="B28">28</xref>   analogues.</p></caption>
<graphic xlink:href="pone.0046493.g001"/></fig>
<p>Text between figures.</p>
<fig id="F2" position="float"><label>Figure 2</label><caption><p><bold>Holin monomers.</bold> Topology
<inline-graphic xlink:href="pone.0046493.e001.jpg"/> of the <italic>hol</italic> gene.</p></caption>
<graphic xlink:href="Images/pone.0046493.G002.JPG"/></fig>
<fig-group id="G1"><label>Figure 3</label><caption><p>Western blots of liver tissue.</p></caption>
<fig id="F3A"><label>A</label><caption><p>Control lanes.</p></caption><graphic xlink:href="pone.0046493.g003a"/></fig>
<fig id="F3B"><label>B</label><graphic xlink:href="pone.0046493.g003b"/></fig>
</fig-group>
<fig id="F4"><label>Figure 4</label><graphic xlink:href="pone.0046493.g004"/></fig>
<fig id="F5"><label>Video 1</label><caption><p>A beating heart.</p></caption>
<media xlink:href="pone.0046493.s001.mov"/></fig>
<fig id="F6"><label>Figure 6</label><caption><p>A figure whose file is missing.</p></caption>
<graphic xlink:href="pone.0046493.g006"/></fig>
<table-wrap id="pone-0046493-t001"><alternatives><graphic xlink:href="pone.0046493.t001"/>
<table><tr><td>1</td></tr></table>
</alternatives></table-wrap>
</sec></body>
<floats-group>
<fig id="F7" position="float"><label>Figure 7</label><caption><title>Dose response.</title><p>Mean of
three runs.</p></caption><graphic xlink:href="pone.0046493.g007"/></fig>
</floats-group>
</article>
"""

# The figure files of ARTICLE_NXML, as a PMC package holds them: full-size .jpg and a .gif thumbnail.
ARTICLE_IMAGES = {
    "pone.0046493.g001.jpg": (200, 10, 10),
    "pone.0046493.g001.gif": (0, 0, 0),
    "pone.0046493.g002.jpg": (10, 200, 10),
    "pone.0046493.g003a.jpg": (10, 10, 200),
    "pone.0046493.g003b.png": (50, 50, 50),
    "pone.0046493.g004.jpg": (70, 70, 70),
    "pone.0046493.g007.gif": (90, 90, 90),
    "pone.0046493.t001.gif": (1, 1, 1),
}


def image_bytes(color=(128, 64, 32), fmt: str | None = "JPEG", size=(8, 8)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format=fmt)
    return buf.getvalue()


def format_for(name: str) -> str:
    return {".jpg": "JPEG", ".gif": "GIF", ".png": "PNG"}[Path(name).suffix.lower()]


def write_article_folder(folder: Path, nxml_name: str = "pone.0046493.nxml", xml: str = ARTICLE_NXML) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / nxml_name).write_text(xml, encoding="utf-8")
    for name, color in ARTICLE_IMAGES.items():
        (folder / name).write_bytes(image_bytes(color, format_for(name)))
    return folder / nxml_name


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes, **attrs) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in attrs.items():
        setattr(info, key, value)
    tar.addfile(info, io.BytesIO(data))


def write_package(path: Path, top: str = "PMC3460867", xml: str = ARTICLE_NXML) -> Path:
    """A legacy oa_package `.tar.gz`: one top folder with the .nxml, the images, a PDF and a supplement."""
    with tarfile.open(path, "w:gz") as tar:
        dir_info = tarfile.TarInfo(top)
        dir_info.type = tarfile.DIRTYPE
        tar.addfile(dir_info)
        add_bytes(tar, f"{top}/pone.0046493.nxml", xml.encode("utf-8"))
        for name, color in ARTICLE_IMAGES.items():
            add_bytes(tar, f"{top}/{name}", image_bytes(color, format_for(name)))
        add_bytes(tar, f"{top}/pone.0046493.pdf", b"%PDF-1.4 not really")
        add_bytes(tar, f"{top}/pone.0046493.s001.doc", b"doc")
    return path
