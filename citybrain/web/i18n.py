"""Chinese and English for the web: Babel message catalogues, Jinja2's i18n extension, and
which language a request gets.

The language is the user's choice (the `lang` cookie set by /lang), else the best match of the
browser's Accept-Language, else the city's `web.default_language`. Catalogues live in
web/locale/<lang>/LC_MESSAGES/messages.po (English is the source language and needs none);
`make i18n` extracts new strings and compiles the .mo files. A checkout that has not run it
yet compiles the .po in memory at start-up, so the pages never fall back to English silently.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from fastapi import Request
from jinja2 import Environment, pass_context
from jinja2.runtime import Context

log = logging.getLogger(__name__)
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
LANGUAGES = ("zh", "en")  # what the web speaks; the first names the others (中文 / English)
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}
COOKIE = "lang"
HTML_LANG = {"zh": "zh-CN", "en": "en"}


class Named(Protocol):
    """A district, category, department, street or landmark: English and Chinese names."""

    @property
    def name(self) -> str: ...
    @property
    def name_zh(self) -> str: ...


def N_(message: str) -> str:
    """Marks a string for extraction without translating it (translated where it is shown)."""
    return message


@cache
def translations(lang: str) -> NullTranslations:
    """The catalogue for `lang`: the compiled .mo when it is as new as its .po, else the .po
    compiled in memory; English (the source language) needs none."""
    if lang == "en":
        return NullTranslations()
    base = LOCALE_DIR / lang / "LC_MESSAGES"
    po, mo = base / f"{DOMAIN}.po", base / f"{DOMAIN}.mo"
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as f:
            return Translations(f, DOMAIN)
    if not po.exists():
        raise FileNotFoundError(f"no message catalogue for {lang!r} at {po}")
    log.info("compiling %s in memory (run `make i18n` to build the .mo)", po)
    with po.open("rb") as f:
        catalog = read_po(f, locale=lang, domain=DOMAIN)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf, DOMAIN)


def accept_language(header: str) -> list[str]:
    """The languages of an Accept-Language header, most wanted first (q=0 ones dropped)."""
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for p in params.split(";"):
            k, _, v = p.strip().partition("=")
            if k.strip() == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
        if tag and tag != "*" and q > 0:
            ranked.append((-q, i, tag.strip()))
    return [tag for _, _, tag in sorted(ranked)]


def negotiate(preferred: list[str]) -> str | None:
    """The first of `preferred` the web speaks, matched by Babel (zh-CN, zh-Hans, en-US…)."""
    try:
        found = Locale.negotiate(preferred, list(LANGUAGES), sep="-")
    except (UnknownLocaleError, ValueError):
        found = None
    if found is not None:
        return found.language
    for tag in preferred:  # zh-TW, en-GB…: Babel wants the exact tag; the language will do
        lang = tag.split("-", 1)[0].lower()
        if lang in LANGUAGES:
            return lang
    return None


def request_language(request: Request, default: str) -> str:
    """The user's choice, else the browser's, else the city's default."""
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    header = request.headers.get("accept-language", "")
    return negotiate(accept_language(header)) or default


def named(item: Named | None, fallback: str, lang: str) -> str:
    """A city name in `lang`: the config's name_zh in Chinese, its name otherwise."""
    if item is None:
        return fallback
    return item.name_zh if lang == "zh" else item.name


@pass_context
def _gettext(context: Context, message: str) -> str:
    return str(context["translations"].gettext(message))


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return str(context["translations"].ngettext(singular, plural, n))


def install(env: Environment) -> None:
    """Jinja2's i18n extension with per-render catalogues: every template context carries its
    request's `translations`, so concurrent requests in different languages do not mix."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_gettext, ngettext=_ngettext, newstyle=True
    )


@cache
def js_messages(lang: str) -> dict[str, str]:
    """Every translated message, for the page's scripts (they call `_()` with the msgid)."""
    t = translations(lang)
    catalog: Any = getattr(t, "_catalog", {})
    return {k: v for k, v in catalog.items() if isinstance(k, str) and k and v}


class Msg(str):
    """A message with parameters that stays translatable after it is formatted: its value is
    the English text (what the API answers), and pages show `in_language(t)` in their language.
    `Msg` is an extraction keyword (babel.cfg), so its first argument is in the catalogue."""

    msgid: str
    params: dict[str, Any]

    def __new__(cls, msgid: str, **params: Any) -> Msg:
        obj = super().__new__(cls, msgid.format(**params))
        obj.msgid = msgid
        obj.params = params
        return obj

    def __reduce__(self) -> tuple[Any, ...]:  # copies (dataclasses.asdict) keep the message
        return (_msg, (self.msgid, self.params))

    def in_language(self, t: NullTranslations, names: Names | None = None) -> str:
        """The message in t's language; `names` shows parameters by their name (a category
        id by its name in that language, an enumerated value by its translation)."""
        names = names or {}
        params = {k: names[k](v) if k in names else v for k, v in self.params.items()}
        return str(t.gettext(self.msgid)).format(**params)


Names = Mapping[str, Callable[[Any], str]]


def _msg(msgid: str, params: dict[str, Any]) -> Msg:
    return Msg(msgid, **params)


def localize(text: object, t: NullTranslations, names: Names | None = None) -> str:
    """A message for a page: a Msg in the page's language, a marked string translated, any
    other text as it is."""
    if isinstance(text, Msg):
        return text.in_language(t, names)
    s = str(text)
    return str(t.gettext(s)) if s else s
