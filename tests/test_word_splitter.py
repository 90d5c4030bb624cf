"""The word splitter against corpus conventions, its offsets, and its rules run by RE2 in a graph."""

import pytest
import tensorflow as tf

import kerasner
from kerasner.word_splitter import PATTERNS, SPACE_PATTERN

# (raw text, words) in the conventions of GMB, CoNLL-2003 (PTB) and WNUT-17.
CORPUS_CASES = [
    ("The U.S. and the U.N. met in Washington, D.C.", ["The", "U.S.", "and", "the", "U.N.", "met", "in", "Washington", ",", "D.C."]),
    ("Mr. Obama met Mrs. Clinton and Dr. Rice.", ["Mr.", "Obama", "met", "Mrs.", "Clinton", "and", "Dr.", "Rice", "."]),
    ("George W. Bush spoke at 10:30 a.m. on Jan. 5.", ["George", "W.", "Bush", "spoke", "at", "10:30", "a.m.", "on", "Jan.", "5", "."]),
    ("Al-Qaida claimed the U.S.-led raid in AL-AIN.", ["Al-Qaida", "claimed", "the", "U.S.-led", "raid", "in", "AL-AIN", "."]),
    ("Shi'ite and pro-Syrian groups, the so-called rebels", ["Shi'ite", "and", "pro-Syrian", "groups", ",", "the", "so-called", "rebels"]),
    ("About 5,000 people died on 1996-12-06; 1.5 million fled.", ["About", "5,000", "people", "died", "on", "1996-12-06", ";", "1.5", "million", "fled", "."]),
    ("It cost $5 (about 5%) in 06-Feb.", ["It", "cost", "$", "5", "(", "about", "5", "%", ")", "in", "06-Feb", "."]),
    ("Iran's leader said they don't know.", ["Iran", "'s", "leader", "said", "they", "do", "n't", "know", "."]),
    ("Obama’s aides can’t say", ["Obama", "’s", "aides", "ca", "n’t", "say"]),
    ("AT&T and S&P rose 1/2 point", ["AT&T", "and", "S&P", "rose", "1/2", "point"]),
    ("See http://bit.ly/abc12, www.voanews.com or VOANews.com.", ["See", "http://bit.ly/abc12", ",", "www.voanews.com", "or", "VOANews.com", "."]),
    ("Mail a.b@example.org now", ["Mail", "a.b@example.org", "now"]),
    ("@justinbieber loves #BeliebersForever !!! :) ...", ["@justinbieber", "loves", "#BeliebersForever", "!!!", ":)", "..."]),
    ("RT @user_1: watch &amp; share", ["RT", "@user_1", ":", "watch", "&amp;", "share"]),
    ("I love it 😂😂 so much 👍🏽!", ["I", "love", "it", "😂😂", "so", "much", "👍🏽", "!"]),
    ("张伟住在北京。", ["张", "伟", "住", "在", "北", "京", "。"]),
    ("Émile Zola visited Zürich and São Paulo", ["Émile", "Zola", "visited", "Zürich", "and", "São", "Paulo"]),
    ("مرحبا بالعالم في القاهرة", ["مرحبا", "بالعالم", "في", "القاهرة"]),
    ("“Quoted” — said «him»", ["“", "Quoted", "”", "—", "said", "«", "him", "»"]),
    ("tab\tand\u00a0nbsp\u2009thin\u200bzero\x00nul", ["tab", "and", "nbsp", "thin", "zero", "nul"]),
]


@pytest.mark.parametrize("text, words", CORPUS_CASES)
def test_treebank_splits_as_the_corpora_do(text, words):
    split = kerasner.WordSplitter()(text)
    assert [word for word, _, _ in split] == words
    assert all(text[start:end] == word for word, start, end in split)


@pytest.mark.parametrize(
    "words, text",
    [
        (["Mr.", "Obama", "'s", "visit", "(", "$", "5", ")", "."], "Mr. Obama's visit ($5)."),
        (["They", "do", "n't", "know", ",", "he", "said", "..."], "They don't know, he said..."),
        (["It", "rose", "5", "%", "in", "2008", "!"], "It rose 5% in 2008!"),
    ],
)
def test_detokenize_joins_words_as_text(words, text):
    joined, offsets = kerasner.detokenize(words)
    assert joined == text
    assert [joined[a:b] for a, b in offsets] == words


@pytest.mark.parametrize("text, words", CORPUS_CASES[:14])
def test_detokenized_corpus_words_split_back_into_the_same_words(text, words):
    joined, offsets = kerasner.detokenize(words)
    assert [(start, end) for _, start, end in kerasner.WordSplitter()(joined)] == offsets


def test_whitespace_and_pretokenizer_splitters(tokenizer):
    text = "  Mr. Obama's U.S.-led\ttalks "
    assert kerasner.WordSplitter("whitespace")(text) == [("Mr.", 2, 5), ("Obama's", 6, 13), ("U.S.-led", 14, 22), ("talks", 23, 28)]
    pieces = kerasner.WordSplitter("pretokenizer", tokenizer=tokenizer)(text)
    assert [w for w, _, _ in pieces] == ["Mr", ".", "Obama", "'", "s", "U", ".", "S", ".", "-", "led", "talks"]
    assert all(text[a:b] == w for w, a, b in pieces)


def test_unknown_splitter_is_a_clear_error(tokenizer):
    with pytest.raises(ValueError, match="Unknown word splitter"):
        kerasner.WordSplitter("spacy")
    with pytest.raises(ValueError, match="needs a fast tokenizer"):
        kerasner.WordSplitter("pretokenizer")


def graph_split(texts, kind):
    """The splitter's rules run by tensorflow_text's RE2 ops, offsets turned into code points."""
    import tensorflow_text as text_ops

    word_pattern, clitic_pattern = PATTERNS[kind]
    # regex_split_with_offsets stops reading a text at a NUL character; NUL separates words anyway.
    graph_texts = tf.strings.regex_replace(tf.constant(texts), "\\x00", " ")
    words, starts, _ = text_ops.regex_split_with_offsets(graph_texts, f"{word_pattern}|{SPACE_PATTERN}", word_pattern)
    if clitic_pattern is not None:  # a second split of every word, its clitic kept as a piece
        pieces, piece_starts, _ = text_ops.regex_split_with_offsets(words.flat_values, clitic_pattern, clitic_pattern)
        by_text = tf.gather(pieces.row_splits, words.row_splits)
        starts = tf.RaggedTensor.from_row_splits((piece_starts + starts.flat_values[:, None]).flat_values, by_text)
        words = tf.RaggedTensor.from_row_splits(pieces.flat_values, by_text)
    result = []
    for text, row_words, row_starts in zip(texts, words.to_list(), starts.to_list()):
        encoded = text.encode("utf-8")
        row = []
        for word, start in zip(row_words, row_starts):
            start = len(encoded[:start].decode("utf-8"))
            row.append((word.decode("utf-8"), start, start + len(word.decode("utf-8"))))
        result.append(row)
    return result


@pytest.mark.parametrize("kind", ["treebank", "whitespace"])
def test_rules_give_the_same_words_and_offsets_in_a_tensorflow_graph(kind):
    texts = [text for text, _ in CORPUS_CASES] + [
        "Café naïve coöperate ﬁ ǅ", "a\u200fb\u202ec \ufeffd", "x\u2028y\u2029z\x85w", "", "   ",
        "🇫🇷 flag 👨‍👩‍👧 family", "ภาษาไทย 한국어 日本語です", "don'T O'NEILL'S 'tis n't",
    ]
    python = [kerasner.WordSplitter(kind)(text) for text in texts]
    assert graph_split(texts, kind) == python
