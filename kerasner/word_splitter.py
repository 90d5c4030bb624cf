"""Raw text to words at the word boundaries of labelled NER corpora, with character offsets."""

import re

SPLITTERS = ("treebank", "whitespace", "pretokenizer")

# The character classes are written with literal characters (and `\xHH` escapes), never `\s`,
# `\w`, `\d` or `\p{..}`, so that Python's `re` and RE2 (`tensorflow_text.regex_split_with_offsets`)
# read every pattern the same way, code point by code point. White space, control characters and
# invisible format marks (zero-width space, text-direction marks, byte-order mark) separate words.
_SPACE = (
    "\\x00-\\x20\\x7f\x85\xa0\u1680\u2000-\u200b\u200e\u200f\u2028\u2029\u202a-\u202f\u205f"
    "\u2066-\u2069\u3000\ufeff"
)
_PUNCTUATION = (
    "!-/:-@\\[-`{-~\xa1\xa7\xab\xb6\xb7\xbb\xbf\xd7\xf7\u037e\u0387\u055a-\u055f\u0589\u058a"
    "\u05be\u05c0\u05c3\u05c6\u05f3\u05f4\u0609\u060a\u060c\u060d\u061b\u061e\u061f\u066a-\u066d"
    "\u06d4\u0964\u0965\u0970\u0e4f\u0e5a\u0e5b\u2010-\u2027\u2030-\u205e\u20a0-\u20cf"
    "\u2e00-\u2e7f\u3001-\u3003\u3008-\u3011\u3014-\u301f\u30fb\ufe10-\ufe19\ufe30-\ufe52"
    "\ufe54-\ufe6b\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"
)
# CJK ideographs, one word each as BERT's normalizer treats them.
_CJK = (
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002a6df\U0002a700-\U0002ceaf"
    "\U0002f800-\U0002fa1f"
)
_EMOJI = "\u2300-\u23ff\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff"
_EMOJI_JOINERS = "\u200d\ufe0f"

_LETTER = f"[^{_SPACE}{_PUNCTUATION}{_CJK}{_EMOJI}]"  # letters, digits, marks, other symbols
_ABBREVIATIONS = (
    "Adm|Ala|Apr|Ariz|Ark|Aug|Ave|Blvd|Brig|Bros|Calif|Capt|Cmdr|Co|Col|Colo|Cong|Conn|Corp|Cpl|"
    "Dec|Dept|Dr|Feb|Fla|Fr|Ft|Ga|Gen|Gov|Ill|Inc|Jan|Jr|Jul|Jun|Kan|Ky|Lt|Ltd|Maj|Mar|Mass|Md|"
    "Messrs|Mich|Minn|Mr|Mrs|Ms|Mt|Nev|No|Nov|Oct|Okla|Ore|Pres|Prof|Rep|Rev|Sen|Sep|Sept|Sgt|Sr|"
    "St|Supt|Tenn|Tex|Vol|Vt|Wis|ca|etc|vs"
)
# One piece of a word: initials ("U.S.", "a.m.", "U.S"), a known abbreviation ("Mr.", "Corp."),
# a single initial ("W."), a number with inner separators ("5,000", "1.5", "10:30"), or a run
# of letters and digits.
_INITIALS = "(?:[A-Za-z]\\.){2,}|(?:[A-Za-z]\\.)+[A-Za-z]"
_NUMBER = f"[0-9]+(?:[.,:][0-9]+)+{_LETTER}*"
_JOINED_PIECE = f"{_INITIALS}|{_NUMBER}|{_LETTER}+"
_PIECE = f"{_INITIALS}|(?:{_ABBREVIATIONS})\\.|[A-Z]\\.|{_NUMBER}|{_LETTER}+"
# Pieces joined by hyphens, slashes, ampersands, underscores or apostrophes stay one word
# ("al-Qaida", "U.S.-led", "1996-12-06", "AT&T", "Shi'ite"); a known abbreviation or a single
# initial only starts a word, so "06-Feb." ends in a period of its own.
_WORD = f"(?:{_PIECE})(?:[-/&_'\u2019](?:{_JOINED_PIECE}))*"
_TREEBANK = "|".join(
    [
        f"(?:[Hh][Tt][Tt][Pp][Ss]?://|[Ww][Ww][Ww]\\.)[^{_SPACE}]*[^{_SPACE}.,;:!?)\\]}}\"'\u2019\u201d]",  # URL
        "[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}",  # e-mail address
        f"[@#](?:{_LETTER}|_)+",  # @handle, #hashtag
        "&(?:[A-Za-z]+|#[0-9]+);",
        # A domain name, with its path ("VOANews.com", "bit.ly/abc")
        f"(?:{_LETTER}+\\.)+(?:com|org|net|gov|edu|mil|int|info|biz|io|ly|me|tv)"
        f"(?:/[^{_SPACE}]*[^{_SPACE}.,;:!?)\\]}}\"'\u2019\u201d])?",  # HTML entity as it stands in scraped text ("&amp;")
        _WORD,
        f"[{_CJK}]",
        f"[{_EMOJI}][{_EMOJI}{_EMOJI_JOINERS}]*",
        "\\.\\.+|--+|!+|\\?+|\\*+|=+|~+|_+|\u2026+",  # runs of one mark ("...", "!!!")
        "[:;=][-^']?[()\\[\\]/\\\\|]+",  # emoticons made of marks (":)", ";-(")
        f"[^{_SPACE}]",  # any other single character
    ]
)
# Clitics split off the end of a word, as PTB, CoNLL and GMB do ("John's", "don't").
_CLITIC = "(?:['\u2019](?:[sSdDmM]|re|RE|ve|VE|ll|LL)|[nN]['\u2019][tT])$"

SPACE_PATTERN = f"[{_SPACE}]+"  # what separates words; no word pattern matches it
PATTERNS = {
    "treebank": (_TREEBANK, _CLITIC),
    "whitespace": (f"[^{_SPACE}]+", None),
}


class WordSplitter:
    """Splits raw text into words, each with its character offsets into the text.

    A model reads a word at its first sub-token, so prediction must split text into the words
    it was trained on. The labelled corpora split text the Penn Treebank way, and so does the
    default `"treebank"` splitter:
    - abbreviations and initials keep their periods ("U.S.", "Mr.", "a.m.");
    - hyphenated, slashed and apostrophe compounds stay one word ("al-Qaida", "U.S.-led",
      "Shi'ite"), and so do numbers with inner separators ("5,000", "1996-12-06", "10:30");
    - URLs, e-mail addresses, @handles, #hashtags and emoji runs are one word each;
    - clitics ("'s", "n't", "'re") and other punctuation are split off; runs of one mark
      ("...", "!!!") stay together;
    - each CJK ideograph is a word, as BERT's normalizer treats it.

    `"whitespace"` splits at white space only, and `"pretokenizer"` uses the tokenizer's own
    pre-tokenizer (every punctuation mark a word). The treebank and whitespace rules are regular
    expressions that Python's `re` and RE2 (`tensorflow_text.regex_split_with_offsets`) read
    alike: `patterns` gives them, a word pattern and a clitic pattern applied to each word
    (`SPACE_PATTERN` matches what lies between words).

    Args:
        kind: one of `"treebank"`, `"whitespace"`, `"pretokenizer"`. Defaults to `"treebank"`.
        tokenizer: a transformers fast tokenizer; needed by `"pretokenizer"` only.

    Example:
    ```python
    splitter = kerasner.WordSplitter()
    splitter("Mr. Obama's U.S.-led talks")
    # [("Mr.", 0, 3), ("Obama", 4, 9), ("'s", 9, 11), ("U.S.-led", 12, 20), ("talks", 21, 26)]
    ```
    """

    def __init__(self, kind="treebank", tokenizer=None):
        if kind not in SPLITTERS:
            raise ValueError(f"Unknown word splitter. Expected one of {set(SPLITTERS)}. Received: kind={kind!r}")
        self.kind = kind
        self._pre_tokenize = None
        if kind == "pretokenizer":
            pre_tokenizer = getattr(getattr(tokenizer, "backend_tokenizer", None), "pre_tokenizer", None)
            if pre_tokenizer is None:
                raise ValueError("The 'pretokenizer' word splitter needs a fast tokenizer with a pre-tokenizer")
            self._pre_tokenize = pre_tokenizer.pre_tokenize_str
            self.patterns = None
        else:
            self.patterns = PATTERNS[kind]
            word_pattern, clitic_pattern = self.patterns
            self._word = re.compile(word_pattern)
            self._clitic = re.compile(clitic_pattern) if clitic_pattern else None

    def __call__(self, text):
        """`[(word, start, end)]` with `text[start:end] == word`."""
        return list(self.iter_words(text))

    def iter_words(self, text):
        """The words of `text` one at a time, as `(word, start, end)`; for texts of any length
        (`"pretokenizer"` reads the whole text at once)."""
        if self._pre_tokenize is not None:
            yield from self._pretokenized(text)
            return
        for match in self._word.finditer(text):
            word, start, end = match.group(), match.start(), match.end()
            clitic = self._clitic.search(word) if self._clitic is not None else None
            if clitic is not None and clitic.start() > 0:
                cut = start + clitic.start()
                yield text[start:cut], start, cut
                yield text[cut:end], cut, end
            else:
                yield word, start, end

    def _pretokenized(self, text):
        # Byte-level (RoBERTa) and Metaspace (SentencePiece) pre-tokenizers count the space
        # before a word as part of it; a word's offsets never include white space.
        for _, (start, end) in self._pre_tokenize(text):
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
            if end > start:
                yield text[start:end], start, end

    def get_config(self):
        return {"kind": self.kind}


_NO_SPACE_BEFORE = re.compile(r"^(?:[.,;:!?%)\]}]+|['\u2019](?:[sSdDmM]|re|RE|ve|VE|ll|LL)|[nN]['\u2019][tT])$")
_NO_SPACE_AFTER = frozenset("([{$")


def detokenize(words):
    """Joins a sentence's words into ordinary text, as a person would type it.

    There is no space before `. , ; : ! ? % ) ] }` or a clitic (`'s`, `n't`), and none after
    `( [ { $`; every other pair of words is separated by one space.

    Returns:
        `(text, offsets)`: the text and each word's `(start, end)` in it.

    Example:
    ```python
    kerasner.detokenize(["Mr.", "Obama", "'s", "visit", "(", "$", "5", ")", "."])
    # ("Mr. Obama's visit ($5).", [(0, 3), (4, 9), ...])
    ```
    """
    pieces, offsets, position, previous = [], [], 0, None
    for word in words:
        if previous is not None and previous not in _NO_SPACE_AFTER and not _NO_SPACE_BEFORE.match(word):
            pieces.append(" ")
            position += 1
        offsets.append((position, position + len(word)))
        pieces.append(word)
        position += len(word)
        previous = word
    return "".join(pieces), offsets
