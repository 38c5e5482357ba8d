"""Reactions take exactly one emoji: one entry of Unicode's emoji list (skin tones, ZWJ sequences, flags,
keycaps included), spelled with or without its variation selectors, and nothing else.

A dictionary lookup in a generated table (shared/domain/emoji_table.py) rather than a grammar: the grammar of
emoji sequences also admits strings no platform draws as one emoji (an unlisted ZWJ pair, two regional
indicators that name no country). Emoji added to Unicode after the table was generated are refused until
it is regenerated (tests/support/emoji_table.py).
"""

from __future__ import annotations

import functools

from shared.domain.errors import BadRequestError

# The longest listed emoji (a kiss with two skin tones) has 10 code points; anything longer is refused
# before a lookup.
MAX_EMOJI_CODE_POINTS = 16


@functools.cache
def _qualified_forms() -> dict[str, str]:
    """Every accepted spelling -> its fully-qualified form (built on first use: ~1 ms)."""
    from shared.domain.emoji_table import FULLY_QUALIFIED, OTHER_FORMS, OTHER_FORMS_QUALIFIED

    fully = FULLY_QUALIFIED.split(" ")
    forms = dict(zip(fully, fully, strict=True))
    forms.update(zip(OTHER_FORMS.split(" "), OTHER_FORMS_QUALIFIED.split(" "), strict=True))
    return forms


def qualified_emoji(value: str) -> str | None:
    """The fully-qualified form of `value` if it is exactly one emoji, else None."""
    if len(value) > MAX_EMOJI_CODE_POINTS:
        return None
    return _qualified_forms().get(value)


def reaction_emoji(value: object) -> str:
    """A reaction's emoji, fully qualified (so "❤" and "❤️" are the same reaction); 400 otherwise."""
    emoji = qualified_emoji(value) if isinstance(value, str) else None
    if emoji is None:
        raise BadRequestError("emoji must be exactly one emoji")
    return emoji
