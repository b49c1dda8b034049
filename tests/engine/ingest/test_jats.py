"""engine.ingest.jats: figures everywhere, captions, ids, dates, licences, and a parser that cannot be abused."""

from __future__ import annotations

import pytest

from engine.errors import ArticleParseError
from engine.ingest.jats import normalize_pmcid, parse_jats
from engine.ingest.licenses import license_from_text, license_from_url

from .fixtures import ARTICLE_NXML, DOCTYPE


def minimal(front: str = "", body: str = "") -> bytes:
    return (
        DOCTYPE + '<article xmlns:xlink="http://www.w3.org/1999/xlink"><front><journal-meta/>'
        f"<article-meta>{front}</article-meta></front><body>{body}</body></article>"
    ).encode()


def test_metadata_of_the_sample_article():
    meta, _ = parse_jats(ARTICLE_NXML.encode(), "pone.0046493.nxml")
    assert meta.pmcid == "PMC3460867"
    assert meta.pmid == "23029536"
    assert meta.doi == "10.1371/journal.pone.0046493"
    assert meta.title == "Inhibition of lipase by THL \u03bb analogues"
    assert meta.journal == "PLoS ONE"
    assert meta.year == 2012  # epub beats collection; the commented-out 1999 date is ignored
    assert meta.license == "CC BY 4.0"
    assert meta.license_url == "https://creativecommons.org/licenses/by/4.0/"


def test_every_fig_is_found_with_label_caption_and_href():
    _, figs = parse_jats(ARTICLE_NXML.encode(), "x.nxml")
    by_id = {f.fig_id: f for f in figs}
    assert list(by_id) == ["pone-0046493-g001", "F2", "F3A", "F3B", "F4", "F5", "F6", "F7"]
    f1 = by_id["pone-0046493-g001"]
    assert f1.label == "Figure 1"
    assert f1.caption == "Chemical structure of inhibitors. Chemical structures of A, THL and 28 analogues."
    assert f1.href == "pone.0046493.g001"
    f2 = by_id["F2"]
    assert f2.href == "Images/pone.0046493.G002.JPG"  # the main graphic, not the inline-graphic in the caption
    assert f2.caption == "Holin monomers. Topology of the hol gene."
    assert by_id["F3A"].group_label == "Figure 3" and by_id["F3A"].group_caption == "Western blots of liver tissue."
    assert by_id["F3B"].caption is None and by_id["F3B"].group_caption == "Western blots of liver tissue."
    assert by_id["F4"].caption is None
    assert by_id["F5"].href is None and by_id["F5"].media_href == "pone.0046493.s001.mov"
    assert by_id["F7"].caption == "Dose response. Mean of three runs."  # from floats-group
    assert "pone.0046493.t001" not in {f.href for f in figs}  # tables are not figures


@pytest.mark.parametrize(
    "ids,expected",
    [
        ('<article-id pub-id-type="pmcid">PMC11293181</article-id>', "PMC11293181"),
        ('<article-id pub-id-type="pmcaid">11293181</article-id>', "PMC11293181"),
        ('<article-id pub-id-type="pmcid-ver">PMC11293181.2</article-id>', "PMC11293181"),
        ('<article-id pub-id-type="publisher-id">X1</article-id>', None),
    ],
)
def test_pmcid_forms_are_normalised(ids, expected):
    meta, _ = parse_jats(minimal(front=ids), "a.xml")
    assert meta.pmcid == expected


def test_normalize_pmcid():
    assert normalize_pmcid(" pmc123 ") == "PMC123"
    assert normalize_pmcid("123.4") == "PMC123"
    assert normalize_pmcid("abc") is None and normalize_pmcid(None) is None


@pytest.mark.parametrize(
    "dates,year",
    [
        ('<pub-date pub-type="ppub"><year>2010</year></pub-date>'
         '<pub-date iso-8601-date="2009-05-01" date-type="pub"><year>2009</year></pub-date>', 2009),
        ('<pub-date pub-type="collection"><year>2013</year></pub-date>'
         '<pub-date pub-type="ppub"><month>2</month><year>2014</year></pub-date>', 2014),
        ('<pub-date date-type="pub" publication-format="print"><year>2020</year></pub-date>'
         '<pub-date date-type="pub" publication-format="electronic"><year>2019</year></pub-date>', 2019),
        ('<pub-date pub-type="pmc-release"><year>2016</year></pub-date>', 2016),
        ('<pub-date pub-type="collection"><season>Spring</season></pub-date>', None),
    ],
)
def test_year_preference(dates, year):
    meta, _ = parse_jats(minimal(front=dates), "a.xml")
    assert meta.year == year


@pytest.mark.parametrize(
    "permissions,code,url",
    [
        ('<license license-type="open-access" xlink:href="http://creativecommons.org/licenses/by/2.0">'
         '<license-p>See <ext-link xlink:href="http://example.org">x</ext-link></license-p></license>',
         "CC BY 2.0", "http://creativecommons.org/licenses/by/2.0"),
        ('<license><license-p>Distributed under <ext-link ext-link-type="uri" '
         'xlink:href="https://creativecommons.org/licenses/by-nc-nd/4.0/">CC BY-NC-ND</ext-link></license-p></license>',
         "CC BY-NC-ND 4.0", "https://creativecommons.org/licenses/by-nc-nd/4.0/"),
        ("<license><license-p>This is an open-access article distributed under the terms of the Creative Commons "
         "Attribution License, which permits unrestricted use.</license-p></license>", "CC BY", None),
        ('<license license-type="public-domain" xlink:href="http://creativecommons.org/publicdomain/mark/1.0/">'
         "<license-p>Public domain.</license-p></license>", "Public Domain Mark 1.0",
         "http://creativecommons.org/publicdomain/mark/1.0/"),
        ("<license><license-p>All rights reserved by the society.</license-p></license>",
         "All rights reserved by the society.", None),
    ],
)
def test_license_shapes(permissions, code, url):
    meta, _ = parse_jats(minimal(front=f"<permissions>{permissions}</permissions>"), "a.xml")
    assert (meta.license, meta.license_url) == (code, url)


def test_ali_namespace_without_trailing_slash():
    xml = minimal(front='<permissions><license><ali:license_ref xmlns:ali="http://www.niso.org/schemas/ali/1.0">'
                        "https://creativecommons.org/publicdomain/zero/1.0/</ali:license_ref></license></permissions>")
    assert parse_jats(xml, "a.xml")[0].license == "CC0 1.0"


def test_license_helpers():
    assert license_from_url("https://creativecommons.org/licenses/by-sa/3.0/igo/") == "CC BY-SA 3.0"
    assert license_from_url("https://example.org/terms") is None
    assert license_from_text("Creative Commons Attribution-NonCommercial License") == "CC BY-NC"


def test_article_without_xlink_namespace_and_without_front():
    xml = b'<article article-type="research-article"><body><fig id="f1"><label>Fig 1</label></fig></body></article>'
    meta, figs = parse_jats(xml, "bare.xml")
    assert meta.pmcid is None and meta.title is None
    assert len(figs) == 1 and figs[0].href is None and figs[0].caption is None


def test_pmc_articleset_wrapper_is_accepted():
    xml = b"<pmc-articleset><article><front><article-meta><article-id pub-id-type='pmc'>5</article-id>" \
          b"</article-meta></front></article></pmc-articleset>"
    assert parse_jats(xml, "a.xml")[0].pmcid == "PMC5"


def test_not_xml_or_not_jats_raises():
    with pytest.raises(ArticleParseError, match="broken.nxml"):
        parse_jats(b"<article><front>", "broken.nxml")
    with pytest.raises(ArticleParseError, match="not a JATS article"):
        parse_jats(b"<html><body/></html>", "page.xml")


def test_entity_bomb_is_refused():
    bomb = b"""<?xml version="1.0"?>
<!DOCTYPE article [
 <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
]>
<article><front><article-meta><title-group><article-title>&d;&d;&d;&d;</article-title></title-group>
</article-meta></front></article>"""
    with pytest.raises(ArticleParseError, match="entit"):
        parse_jats(bomb, "bomb.nxml")


def test_external_entity_is_refused_and_never_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    for target in ("file:///etc/passwd", secret.as_uri()):
        xxe = f"""<?xml version="1.0"?>
<!DOCTYPE article [ <!ENTITY xxe SYSTEM "{target}"> ]>
<article><front><article-meta><title-group><article-title>&xxe;</article-title></title-group>
</article-meta></front></article>""".encode()
        with pytest.raises(ArticleParseError, match="entit"):
            parse_jats(xxe, "xxe.nxml")


def test_utf16_entity_declaration_is_refused_too():
    xml = ('<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE article [ <!ENTITY x "y"> ]>'
           "<article><front/></article>").encode("utf-16")
    with pytest.raises(ArticleParseError):
        parse_jats(xml, "u16.xml")


def test_undeclared_entity_is_kept_literally_not_resolved_from_the_dtd():
    # The external DTD is never loaded, so a named entity it would define stays an unresolved reference.
    xml = (DOCTYPE + "<article><front><article-meta><title-group><article-title>a&nbsp;b</article-title>"
           "</title-group></article-meta></front></article>").encode()
    assert parse_jats(xml, "nbsp.nxml")[0].title == "a&nbsp;b"


def test_graphic_inside_alternatives_and_figures_in_back_and_sub_article():
    body = ('<fig id="f1"><caption><p>One.</p></caption><alternatives><graphic xlink:href="a.tif"/>'
            '<graphic xlink:href="a.jpg"/></alternatives></fig>')
    xml = minimal(body=body).replace(
        b"</body>", b'</body><back><fig id="f2"><caption><p>Two.</p></caption><graphic xlink:href="b"/></fig></back>'
    )
    _, figs = parse_jats(xml, "a.xml")
    assert [(f.fig_id, f.href, f.caption) for f in figs] == [("f1", "a.tif", "One."), ("f2", "b", "Two.")]


def test_authors_volume_issue_and_pages_for_a_complete_citation():
    front = (
        '<contrib-group><contrib contrib-type="author"><name><surname>Smith</surname>'
        "<given-names>Jane A</given-names></name></contrib>"
        '<contrib contrib-type="author"><name-alternatives><name name-style="eastern"><surname>李</surname>'
        '<given-names>明</given-names></name><name name-style="western"><surname>Li</surname>'
        "<given-names>Ming</given-names></name></name-alternatives></contrib>"
        '<contrib contrib-type="author"><collab>The ABC Trial Group</collab></contrib>'
        '<contrib contrib-type="editor"><name><surname>Editor</surname><given-names>E</given-names></name></contrib>'
        "</contrib-group><volume>12</volume><issue>3</issue><fpage>145</fpage><lpage>152</lpage>"
    )
    meta, _ = parse_jats(minimal(front), "a.nxml")
    assert meta.authors == ("Smith, Jane A", "Li, Ming", "The ABC Trial Group")
    assert (meta.volume, meta.issue, meta.pages) == ("12", "3", "145-152")
    meta, _ = parse_jats(minimal("<volume>7</volume><elocation-id>e46493</elocation-id>"), "b.nxml")
    assert (meta.volume, meta.issue, meta.pages, meta.authors) == ("7", None, "e46493", ())
