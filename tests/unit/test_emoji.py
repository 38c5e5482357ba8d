"""Reaction emoji: exactly one emoji of Unicode's list, in any of its spellings, and nothing else."""

import emoji as emoji_package
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.emoji import qualified_emoji, reaction_emoji
from shared.domain.errors import BadRequestError
from tests.support import emoji_table

pytestmark = pytest.mark.unit

FULLY, OTHERS = emoji_table.emoji_forms()
EVERY_FORM = [*FULLY, *OTHERS]
any_emoji = st.sampled_from(EVERY_FORM)


@pytest.mark.parametrize(
    "text",
    [
        "👍",
        "👍🏽",  # skin tone
        "👩🏾‍💻",  # ZWJ sequence with a skin tone
        "👨‍👩‍👧‍👦",  # family
        "🧑🏻‍❤️‍💋‍🧑🏿",  # the longest: two skin tones
        "🇯🇵",  # flag
        "🏴󠁧󠁢󠁳󠁣󠁴󠁿",  # subdivision flag (tag sequence)
        "#️⃣",  # keycap
        "❤️",
        "🏳️‍🌈",
    ],
)
def test_one_emoji_is_accepted_as_it_is(text):
    assert reaction_emoji(text) == text


@pytest.mark.parametrize("text, qualified", [("❤", "❤️"), ("#⃣", "#️⃣"), ("👁‍🗨", "👁️‍🗨️"), ("☺", "☺️")])
def test_a_spelling_without_variation_selectors_becomes_the_fully_qualified_one(text, qualified):
    assert reaction_emoji(text) == qualified


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "a",
        "1",  # a digit alone is not an emoji, its keycap is
        ":)",
        "👍 ",
        " 👍",
        "👍👍",
        "👍\u200d",
        "🏽",  # a skin tone alone is part of an emoji
        "🇦🇦",  # two regional indicators that name no country
        "🇯",  # half a flag
        "\ufe0f",
        "👍x",
        "\ud83d",  # a lone surrogate
        "👍" * 100,
        None,
        7,
        ["👍"],
    ],
)
def test_anything_else_is_a_400(text):
    with pytest.raises(BadRequestError, match="emoji"):
        reaction_emoji(text)


def test_every_listed_emoji_in_every_spelling_is_accepted():
    assert all(qualified_emoji(text) in FULLY for text in EVERY_FORM)


def test_the_generated_table_matches_the_emoji_package():
    assert emoji_table.TABLE_PATH.read_text(encoding="utf-8") == emoji_table.render(), (
        "regenerate it: .venv/bin/python -m tests.support.emoji_table"
    )


@settings(max_examples=500)
@given(st.text(max_size=20))
def test_arbitrary_text_is_accepted_only_if_it_is_exactly_one_listed_emoji(text):
    listed = text in emoji_package.EMOJI_DATA and emoji_package.EMOJI_DATA[text]["status"] != emoji_package.STATUS["component"]
    assert (qualified_emoji(text) is not None) == listed


@given(any_emoji, any_emoji)
def test_two_emoji_together_are_refused_unless_they_spell_one(first, second):
    joined = first + second
    assert (qualified_emoji(joined) is not None) == (joined in FULLY or joined in OTHERS)


@given(any_emoji, st.text(min_size=1, max_size=3), st.booleans())
def test_an_emoji_with_anything_around_it_is_refused_unless_that_spells_one_emoji(emoji, extra, before):
    text = extra + emoji if before else emoji + extra
    assert (qualified_emoji(text) is not None) == (text in FULLY or text in OTHERS)


@given(any_emoji)
def test_the_qualified_form_is_stable_and_names_the_same_emoji(emoji):
    qualified = reaction_emoji(emoji)
    assert reaction_emoji(qualified) == qualified
    assert emoji_package.demojize(qualified) == emoji_package.demojize(emoji)
