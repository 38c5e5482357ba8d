"""The per-user search index: what a query finds, in which order, and that no query text can break it."""

import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.storage.search_index import IndexEntry, SearchIndex, match_expression, query_terms

pytestmark = pytest.mark.unit


@pytest.fixture
def index():
    with SearchIndex(":memory:") as index:
        yield index


def entry(seq, text, *, conversation="dm_a", at=None):
    return IndexEntry(conversation, seq, 1_700_000_000_000 + (seq if at is None else at), text)


def found(index, query, **kwargs):
    return [(hit.conversation_id, hit.seq) for hit in index.search(query, limit=100, **kwargs)]


def test_case_and_accents_do_not_matter(index):
    index.add([entry(1, "Rendez-vous au Café Müller à 8h"), entry(2, "ÉCOLE")])
    assert found(index, "cafe") == [("dm_a", 1)]
    assert found(index, "CAFÉ MULLER") == [("dm_a", 1)]
    assert found(index, "école") == [("dm_a", 2)]
    assert found(index, "a") == [("dm_a", 1)]  # "à" and "au"


def test_whole_words_and_prefixes_of_every_term(index):
    index.add([entry(1, "see you tomorrow at the station"), entry(2, "tomorrow then"), entry(3, "stationary")])
    assert found(index, "tomorrow") == [("dm_a", 2), ("dm_a", 1)]
    assert found(index, "tom stat") == [("dm_a", 1)]  # several terms: all of them
    assert found(index, "station") == [("dm_a", 3), ("dm_a", 1)]
    assert found(index, "morrow") == []  # prefixes, not substrings


def test_newest_first_by_creation_time_whatever_order_they_were_indexed_in(index):
    index.add([entry(2, "lunch?", at=200), entry(1, "lunch!", at=100, conversation="dm_b"), entry(3, "lunch.", at=300)])
    assert found(index, "lunch") == [("dm_a", 3), ("dm_a", 2), ("dm_b", 1)]


def test_same_millisecond_entries_all_get_their_own_position(index):
    index.add([entry(seq, "same", at=5) for seq in range(1, 1201)])
    hits = index.search("same", limit=2000)
    assert len(hits) == 1200 and len({hit.position for hit in hits}) == 1200


def test_adding_twice_and_removing_twice_change_nothing(index):
    assert index.add([entry(1, "hello"), entry(1, "hello")]) == 1
    assert index.add([entry(1, "hello")]) == 0
    assert index.count() == 1
    assert index.remove([("dm_a", 1)]) == {("dm_a", 1)}
    assert index.remove([("dm_a", 1), ("dm_a", 9)]) == set()
    assert found(index, "hello") == [] and index.count() == 0


def test_a_removed_entry_is_found_by_none_of_its_words(index):
    index.add([entry(1, "the secret plan is ready"), entry(2, "plan b")])
    index.remove([("dm_a", 1)])
    for query in ("secret", "plan", "ready", "the secret plan is ready"):
        assert ("dm_a", 1) not in found(index, query)
    assert found(index, "plan") == [("dm_a", 2)]


@pytest.mark.parametrize(
    "query",
    ['"', '""', "*", "a*", "NOT", "hello NOT world", "a OR b", "NEAR(a b)", "text:hello", "^hello", "(", ")",
     "-", "+", "{text}: x", "'; DROP TABLE entries; --", "\x00", "\ud800", "🙂", "   ", "AND AND", "x" * 5000],
)
def test_operators_and_punctuation_are_plain_text(index, query):
    index.add([entry(1, "hello world NOT OR AND NEAR text")])
    index.search(query, limit=10)  # never raises
    assert not re.search(r'(^|[^"])\b(AND|OR|NOT|NEAR)\b', match_expression(query_terms(query)).replace(" AND ", " "))


def test_operator_words_are_searched_as_words(index):
    index.add([entry(1, "do NOT panic"), entry(2, "panic")])
    assert found(index, "not panic") == [("dm_a", 1)]
    assert found(index, "panic OR") == []  # "or" is a term here, and no message has it


def test_query_terms_are_folded_deduplicated_and_bounded():
    assert query_terms("Héllo, HELLO! wörld") == ["hello", "world"]
    assert len(query_terms(" ".join(f"w{i}" for i in range(100)))) == 16
    assert query_terms("?!… ¿") == []
    assert query_terms("see you 🙂") == ["see", "you", "🙂"]  # the tokenizer keeps emoji as words


# -- properties ------------------------------------------------------------------------------------------

texts = st.text(max_size=60)


@given(st.lists(texts, max_size=5), texts)
def test_no_text_and_no_query_raises(messages, query):
    with SearchIndex(":memory:") as index:
        index.add([entry(seq, text) for seq, text in enumerate(messages, 1)])
        index.search(query, limit=10)
        index.search(query, limit=10, before=0)


@given(texts)
def test_a_message_is_found_by_its_own_text(text):
    with SearchIndex(":memory:") as index:
        index.add([entry(1, text)])
        assert found(index, text) == ([("dm_a", 1)] if query_terms(text) else [])


@given(texts, st.data())
def test_a_message_is_found_by_a_prefix_of_any_of_its_words(text, data):
    terms = query_terms(text)
    if not terms:
        return
    term = data.draw(st.sampled_from(terms))
    prefix = term[: data.draw(st.integers(1, len(term)))]
    with SearchIndex(":memory:") as index:
        index.add([entry(1, text)])
        assert found(index, prefix) == [("dm_a", 1)]


# A model of the index for ASCII text: a message matches when each query word is a prefix of one of its words.
ascii_words = st.text(alphabet="abcAB", min_size=1, max_size=4)
ascii_text = st.lists(ascii_words, max_size=6).map(" ".join)
ascii_query = st.lists(st.one_of(ascii_words, st.sampled_from(['"', "*", "-", "OR", "NOT", "(", ":"])), max_size=4).map(" ".join)


def model_words(text):
    return re.findall(r"[a-z0-9]+", text.lower())


@given(st.lists(ascii_text, max_size=8), ascii_query)
def test_results_are_exactly_what_the_model_finds_newest_first(messages, query):
    terms = model_words(query)
    expected = [
        ("dm_a", seq)
        for seq, text in reversed(list(enumerate(messages, 1)))
        if terms and all(any(word.startswith(term) for word in model_words(text)) for term in terms)
    ]
    with SearchIndex(":memory:") as index:
        index.add([entry(seq, text) for seq, text in enumerate(messages, 1)])
        assert found(index, query) == expected


@given(st.lists(st.sampled_from(["tea", "tea time", "coffee", "teapot"]), max_size=30), st.integers(1, 7))
def test_pages_cover_every_result_once_in_order(messages, page_size):
    with SearchIndex(":memory:") as index:
        index.add([entry(seq, text, at=seq // 3) for seq, text in enumerate(messages, 1)])
        everything = index.search("tea", limit=1000)
        paged, before = [], None
        while True:
            page = index.search("tea", limit=page_size, before=before)
            paged += page
            if len(page) < page_size:
                break
            before = page[-1].position
        assert paged == everything
        assert [hit.position for hit in everything] == sorted((hit.position for hit in everything), reverse=True)
        assert len(everything) == sum("tea" in text for text in messages)


def test_string_module_punctuation_alone_finds_nothing(index):
    index.add([entry(1, string.punctuation + " word")])
    assert found(index, string.punctuation) == []


def test_the_index_runs_on_sqleans_sqlite_with_its_extensions_off():
    import shared.storage.search_index as module

    assert module.sqlite3.__name__ == "sqlean"  # the build the layer ships, FTS5 compiled in
    db = module.sqlite3.connect(":memory:")
    with pytest.raises(module.sqlite3.OperationalError, match="no such function"):
        db.execute("SELECT fileio_read('/etc/passwd')")  # sqlean's extensions stay off: SQLite alone


def test_a_sqlite_without_fts5_fails_at_import_with_the_reason():
    import sqlite3

    from shared.storage.search_index import SqliteWithoutFts5Error, require_fts5

    class WithoutFts5:  # what a SQLite built without FTS5 answers
        __name__, sqlite_version, Error = "sqlite3", "3.7.17", sqlite3.Error

        @staticmethod
        def connect(path):
            db = sqlite3.connect(path)
            return type("Db", (), {"execute": lambda self, sql: db.execute(sql.replace("fts5", "no_such_module")),
                                   "close": lambda self: db.close()})()

    with pytest.raises(SqliteWithoutFts5Error, match=r"FTS5 .*SQLite 3\.7\.17 answered: no such module.*sqlean\.py"):
        require_fts5(WithoutFts5)
    require_fts5(sqlite3)  # this machine's standard library has it (the fallback where sqlean.py has no wheel)
