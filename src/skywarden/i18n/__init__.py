"""One message catalogue for every user-facing string, in English and Korean.

The catalogues (``en.json`` and ``ko.json`` beside this module) map dotted keys
to templates: plain text with ``{name}`` placeholders, or, for a message that
counts, an object of CLDR plural forms (``one``, ``other``) chosen by the
``count`` parameter. Both hold the same keys with the same placeholders
(``tests/test_i18n.py``). The map gets a catalogue from ``/i18n/<lang>.json``
(:mod:`skywarden.web.app`); CAP messages are worded here (:mod:`skywarden.sinks.cap_encode`).

Substitution is a single pass of plain text: a parameter's value is never read
as a template, nor as markup (the map sets every result with ``textContent``;
CAP goes through an XML serializer that escapes it).

A site may word its own messages (``messages:`` in the site config, per
language, keys as here): :func:`check_overrides` refuses unknown languages,
keys and placeholders, so a typo fails at startup instead of reaching the public.
"""

from __future__ import annotations

import difflib
import json
import logging
import re
from collections.abc import Callable, Mapping
from functools import cache
from importlib.resources import files
from types import MappingProxyType
from typing import Annotated

import msgspec

log = logging.getLogger(__name__)

#: The languages with a catalogue, by code, each named in itself (for the map's selector).
LANGUAGES: Mapping[str, str] = MappingProxyType({"en": "English", "ko": "한국어"})
DEFAULT_LANGUAGE = "en"
#: The CAP ``language`` (RFC 3066) of a bare language code.
CAP_LANGUAGE: Mapping[str, str] = MappingProxyType({"en": "en-US", "ko": "ko-KR"})
#: CLDR plural categories each language uses for whole numbers (``other`` always last).
PLURAL_FORMS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"en": ("one", "other"), "ko": ("other",)}
)
_PLURAL_RULE: Mapping[str, Callable[[int], str]] = MappingProxyType(
    {"en": lambda n: "one" if n == 1 else "other", "ko": lambda n: "other"}
)

#: One template as a site may write it: bounded, never empty.
MessageText = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
#: A catalogue entry: a template, or plural forms of one.
Template = str | dict[str, str]
#: The ``messages:`` section of a site config: language -> key -> template.
Overrides = dict[str, dict[str, MessageText | dict[str, MessageText]]]

#: Parameters a message is given beyond those its built-in wording uses, so that a
#: site's own wording may use them as well (docs/cap.md, "Texts and languages").
EXTRA_PARAMS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "cap.instruction.critical": frozenset({"minutes"}),
        "cap.instruction.warning": frozenset({"minutes"}),
        "cap.instruction.info": frozenset({"minutes", "when"}),
        "cap.instruction.cleared": frozenset({"zone"}),
    }
)

_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")
# Anything brace-delimited: what a site override may hold only as a known placeholder.
_BRACED = re.compile(r"\{([^{}]*)\}")
# An xs:language tag (CAP info/language): primary subtag, then optional subtags.
_LANG_TAG = re.compile(r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")


class MessageError(ValueError):
    """A site message override that cannot be used; ``path`` names it in the config."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@cache
def builtin(lang: str) -> Mapping[str, Template]:
    """The built-in catalogue of ``lang`` (one of :data:`LANGUAGES`), read once."""
    if lang not in LANGUAGES:
        raise KeyError(f"no catalogue for language {lang!r}")
    raw = json.loads(files(__package__).joinpath(f"{lang}.json").read_text(encoding="utf-8"))
    return MappingProxyType(raw)


def placeholders(template: Template) -> frozenset[str]:
    """The placeholder names in ``template`` (over all plural forms)."""
    texts = template.values() if isinstance(template, dict) else (template,)
    return frozenset(name for s in texts for name in _PLACEHOLDER.findall(s))


def allowed_placeholders(key: str) -> frozenset[str]:
    """The placeholders a site's wording of ``key`` may use."""
    return placeholders(builtin(DEFAULT_LANGUAGE)[key]) | EXTRA_PARAMS.get(key, frozenset())


def plural_form(lang: str, n: int) -> str:
    """The CLDR plural category of the whole number ``n`` in ``lang``."""
    return _PLURAL_RULE.get(lang, _PLURAL_RULE[DEFAULT_LANGUAGE])(n)


def render(lang: str, template: Template, params: Mapping[str, object]) -> str:
    """``template`` with its placeholders replaced by ``str(params[name])``, in one pass.

    A plural template picks its form by ``params["count"]`` (``other`` without it).
    A placeholder with no parameter stays as written, visible rather than lost.
    """
    if isinstance(template, dict):
        count = params.get("count")
        form = plural_form(lang, count) if isinstance(count, int) else "other"
        template = template.get(form) or template["other"]

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        return str(params[name]) if name in params else m.group(0)

    return _PLACEHOLDER.sub(sub, template)


def _lookup(catalogue: Mapping[str, Template] | None, key: str) -> Template:
    if catalogue is not None and key in catalogue:
        return catalogue[key]
    fallback = builtin(DEFAULT_LANGUAGE)
    if key in fallback:
        return fallback[key]
    log.warning("no message %r in any catalogue", key)
    return key


def t(lang: str, key: str, **params: object) -> str:
    """The built-in message ``key`` in ``lang``, English when ``lang`` lacks it."""
    own = builtin(lang) if lang in LANGUAGES else None
    return render(lang, _lookup(own, key), params)


def language_of(tag: str) -> str | None:
    """The catalogue language of a language tag (``ko-KR`` -> ``ko``), or ``None``."""
    primary = tag.split("-", 1)[0].lower()
    return primary if _LANG_TAG.match(tag) and primary in LANGUAGES else None


def cap_language(tag: str) -> str:
    """The CAP ``language`` for a configured tag: a bare code gets its usual region."""
    return CAP_LANGUAGE.get(tag, tag)


def check_language(tag: str, path: str) -> None:
    """Raise :class:`MessageError` unless ``tag`` names a language with a catalogue."""
    if language_of(tag) is None:
        known = ", ".join(LANGUAGES)
        raise MessageError(path, f"{tag!r} is not a language with a message catalogue ({known})")


def check_overrides(overrides: Mapping[str, Mapping[str, Template]], path: str) -> None:
    """Raise :class:`MessageError` at the first override that is not a known
    language and key, or holds a placeholder its key does not take, or plural
    forms where none are counted (or forms the language has not)."""
    base = builtin(DEFAULT_LANGUAGE)
    for lang, messages in overrides.items():
        if lang not in LANGUAGES:
            known = ", ".join(LANGUAGES)
            raise MessageError(f"{path}.{lang}", f"no message catalogue for {lang!r} ({known})")
        for key, template in messages.items():
            where = f'{path}.{lang}["{key}"]'
            if key not in base:
                near = difflib.get_close_matches(key, list(base), n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                raise MessageError(where, f"unknown message key{hint}")
            _check_template(lang, template, builtin(lang)[key], allowed_placeholders(key), where)


def _check_template(
    lang: str, template: Template, own: Template, allowed: frozenset[str], where: str
) -> None:
    if isinstance(template, dict):
        if not isinstance(own, dict):
            raise MessageError(
                where, "this message counts nothing: give one text, not plural forms"
            )
        forms = PLURAL_FORMS[lang]
        extra = sorted(set(template) - set(forms))
        if extra or "other" not in template:
            raise MessageError(
                where, f"plural forms in {lang!r} are {', '.join(forms)} ('other' required)"
            )
        texts = list(template.values())
    else:
        texts = [template]
    for text in texts:
        for name in _BRACED.findall(text):
            if name not in allowed:
                takes = ", ".join(f"{{{p}}}" for p in sorted(allowed)) or "no placeholders"
                raise MessageError(
                    where, f"unknown placeholder {{{name}}}; this message takes {takes}"
                )


class Messages:
    """The catalogues with a site's overrides laid over them (validated here)."""

    def __init__(self, overrides: Mapping[str, Mapping[str, Template]] | None = None) -> None:
        overrides = overrides or {}
        check_overrides(overrides, "$.messages")
        self._catalogues: dict[str, dict[str, Template]] = {
            lang: {**builtin(DEFAULT_LANGUAGE), **builtin(lang), **overrides.get(lang, {})}
            for lang in LANGUAGES
        }

    def catalogue(self, lang: str) -> dict[str, Template]:
        """Every message in ``lang``, complete (English where ``lang`` has none)."""
        return dict(self._catalogues[lang if lang in LANGUAGES else DEFAULT_LANGUAGE])

    def t(self, lang: str, key: str, **params: object) -> str:
        """Message ``key`` in ``lang`` (English for an unknown language or key)."""
        return render(lang, _lookup(self._catalogues.get(lang), key), params)
