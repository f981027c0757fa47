"""Chinese and English: every string a page shows is in the catalogue and translated, the
language follows the user's choice, else the browser's, else the city's default, and the
city's own names come from name_zh."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from jinja2 import Environment

from citybrain.core.city import City
from citybrain.core.routing import route
from citybrain.web import i18n
from citybrain.web.reasons import reason_message

from .conftest import ClientFor

WEB = Path(i18n.__file__).parent
TEMPLATES = WEB / "templates"
PO = WEB / "locale" / "zh" / "LC_MESSAGES" / "messages.po"
# Attributes a person reads (or hears, with a screen reader).
HUMAN_ATTRS = {"title", "alt", "placeholder", "aria-label"}
HOLE = "\x00"  # where a Jinja expression or tag was
BRAND = "citybrain"  # the product's name, the same in every language


class _Visible(HTMLParser):
    """Text nodes and human-read attribute values, outside scripts and styles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        self.found += [v for k, v in attrs if k in HUMAN_ATTRS and v]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.found.append(data.strip())


def visible(html: str) -> list[str]:
    p = _Visible()
    p.feed(html)
    return p.found


def template_text(source: str) -> str:
    """The template's literal HTML, with every Jinja construct replaced by a hole (and the
    text inside {% trans %} blocks, which is in the catalogue, dropped)."""
    out: list[str] = []
    depth = 0  # inside a {{ }} or {% %}
    in_trans = False
    block: list[str] = []
    for _, kind, value in Environment(extensions=["jinja2.ext.i18n"]).lex(source):
        if kind in ("variable_begin", "block_begin", "comment_begin"):
            depth += 1
            block = []
            out.append(HOLE)
        elif kind in ("variable_end", "block_end", "comment_end"):
            depth -= 1
            if block[:1] == ["trans"]:
                in_trans = True
            elif block[:1] == ["endtrans"]:
                in_trans = False
        elif depth:
            block.append(value)
        elif kind == "data" and not in_trans:
            out.append(value)
    return "".join(out)


@pytest.mark.parametrize("path", sorted(TEMPLATES.glob("*.html")), ids=lambda p: p.name)
def test_no_untranslated_string_in_templates(path: Path) -> None:
    untranslated = [
        s
        for s in visible(template_text(path.read_text()))
        if re.search(r"[A-Za-z]", s.replace(HOLE, " ").replace(BRAND, ""))
    ]
    assert not untranslated, f"{path.name}: wrap these in _(): {untranslated}"


def test_the_untranslated_string_check_catches_one() -> None:
    bad = '<p title="{{ _(\'ok\') }}">Open {{ n }}</p><input placeholder="reason">'
    assert [s for s in visible(template_text(bad)) if re.search("[A-Za-z]", s)] == [
        "Open " + HOLE,
        "reason",
    ]


def test_every_marked_string_has_a_chinese_translation() -> None:
    """What the code marks (templates, Python, scripts) is what the .po translates: a string
    added without `make i18n` and a translation fails here."""
    method_map = [
        ("citybrain/web/**.py", "python"),
        ("citybrain/web/templates/**.html", "jinja2"),
        ("citybrain/web/static/*.js", "javascript"),
    ]
    root = WEB.parent.parent
    found = {
        msg[2]
        for msg in extract_from_dir(
            root,
            method_map,
            options_map={"citybrain/web/templates/**.html": {"extensions": "jinja2.ext.i18n"}},
            keywords={"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "Msg": None},
        )
        if isinstance(msg[2], str)
    }
    assert len(found) > 150
    with PO.open("rb") as f:
        catalog = read_po(f, locale="zh")
    missing = sorted(m for m in found if not (catalog.get(m) and catalog.get(m).string))
    assert not missing, f"not in {PO.name} or not translated (run `make i18n`): {missing}"
    fuzzy = sorted(m.id for m in catalog if m.id and m.fuzzy)
    assert not fuzzy, f"fuzzy translations to check: {fuzzy}"
    for m in catalog:  # a translation keeps every placeholder of its message
        if m.id and m.string:
            holes = re.compile(r"%\(\w+\)s|\{\w+(?:!r)?\}")
            assert sorted(holes.findall(str(m.id))) == sorted(holes.findall(str(m.string))), m.id


def test_accept_language_is_ranked_and_matched() -> None:
    assert i18n.accept_language("en-US;q=0.5, zh-CN, *;q=0.1, fr;q=0") == ["zh-CN", "en-US"]
    assert i18n.negotiate(["zh-Hans-CN"]) == "zh"
    assert i18n.negotiate(["zh-TW", "en"]) == "zh"
    assert i18n.negotiate(["en-GB"]) == "en"
    assert i18n.negotiate(["fr", "de"]) is None
    assert i18n.accept_language("q=;;,,") == ["q="]  # junk is ignored, never an error


def test_choice_then_browser_then_city_default(client_for: ClientFor, city: City) -> None:
    c = client_for("operator")
    c.headers.pop("accept-language", None)
    page = c.get("/inbox?department=water_drainage")
    # the sample city's default is Chinese
    assert '<html lang="zh-CN">' in page.text and f"citybrain · {city.name_zh}" in page.text
    assert city.department_by_id["water_drainage"].name_zh in page.text
    assert "待办" in page.text and "Inbox" not in visible(page.text)
    # the template summary (stored in English) is rebuilt in Chinese from the incident
    assert "市民反映1件" in page.text and "1 citizen report" not in page.text
    en = c.get("/inbox?department=water_drainage", headers={"accept-language": "en-US,en"})
    assert '<html lang="en">' in en.text and "Inbox" in en.text and city.name in en.text
    assert city.department_by_id["water_drainage"].name in en.text
    assert "1 citizen report" in en.text
    # the user's choice wins over the browser's, and is kept
    r = c.get("/lang/zh?next=/incidents")
    assert r.status_code == 303 and r.headers["location"] == "/incidents"
    again = c.get("/incidents", headers={"accept-language": "en"})
    assert '<html lang="zh-CN">' in again.text and "事件" in again.text
    assert c.get("/lang/fr").status_code == 404
    assert c.get("/lang/zh?next=//evil.example").headers["location"] == "/"


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/incidents",
        "/incidents/flood-2",
        "/inbox?department=water_drainage",
        "/triage",
        "/cameras",
        "/incidents/nope",
        "/incidents?range=9y",
    ],
)
def test_chinese_pages_show_no_english_that_has_a_translation(
    client_for: ClientFor, path: str
) -> None:
    with PO.open("rb") as f:
        english = {str(m.id) for m in read_po(f, locale="zh") if m.id and m.string}
    english -= {"DLQ", "fps"}  # the same in both (the catalogue keeps them for completeness)
    c = client_for("admin")
    c.headers["accept-language"] = "zh-CN,zh;q=0.9"
    c.headers["accept"] = "text/html"
    page = c.get(path)
    shown = visible(page.text)
    leaked = [s for s in shown if s in english]
    assert not leaked, f"{path}: English on a Chinese page: {leaked}"
    assert '<html lang="zh-CN">' in page.text


def test_error_pages_speak_the_users_language(client_for: ClientFor) -> None:
    c = client_for("operator")
    zh = c.get("/incidents/nope", headers={"accept": "text/html", "accept-language": "zh"})
    assert zh.status_code == 404 and "未找到" in zh.text and "没有事件 nope" in zh.text
    en = c.get("/incidents/nope", headers={"accept": "text/html", "accept-language": "en"})
    assert "Not found" in en.text and "no incident nope" in en.text
    # the API stays English whatever the language: its clients are programs
    api = c.get("/api/incidents/nope", headers={"accept-language": "zh"})
    assert api.json() == {"detail": "no incident nope"}


def test_login_page_and_its_refusals_in_chinese(client_for: ClientFor) -> None:
    anon = client_for(None)
    anon.headers["accept-language"] = "zh"
    page = anon.get("/login")
    assert "登录" in page.text and "Sign in" not in visible(page.text)
    bad = anon.post("/login", data={"username": "operator", "password": "nope"})
    assert bad.status_code == 401 and "用户名或密码错误" in bad.text


def test_every_reason_the_responsibility_list_writes_has_a_known_shape(city: City) -> None:
    """web/reasons.py recognises the routing reasons core/routing.py writes; a reworded
    reason fails here instead of showing in English on Chinese pages."""
    for category in [c.id for c in city.categories] + ["unclassified"]:
        for district in [None, *(d.id for d in city.districts)]:
            why = route(city, category, district).reason
            assert isinstance(reason_message(why), i18n.Msg), why
    assert reason_message("something else") == "something else"


def test_a_checkout_without_compiled_catalogues_still_speaks_chinese(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before `make i18n` has built the .mo, the .po is compiled in memory; a missing
    catalogue is an error at start-up, never pages silently in English."""
    (tmp_path / "zh" / "LC_MESSAGES").mkdir(parents=True)
    (tmp_path / "zh" / "LC_MESSAGES" / "messages.po").write_bytes(PO.read_bytes())
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    i18n.translations.cache_clear()
    try:
        assert i18n.translations("zh").gettext("Inbox") == "待办"
        (tmp_path / "zh" / "LC_MESSAGES" / "messages.po").unlink()
        i18n.translations.cache_clear()
        with pytest.raises(FileNotFoundError, match="no message catalogue"):
            i18n.translations("zh")
    finally:
        i18n.translations.cache_clear()
