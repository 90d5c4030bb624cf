"""A small BERT built from scratch, with a WordPiece vocabulary made from the training words.

It needs no download, so `kerasner train --model tiny` and `make train` run fully offline.
"""

import collections

import tf_keras as keras
import transformers
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from kerasner.bert_token_classifier import BertTokenClassifier

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def train_wordpiece_tokenizer(sentences, vocab_size=4000, lowercase=False):
    """Builds a BERT-style fast WordPiece tokenizer from the words of `sentences`.

    The vocabulary is the special tokens, every character seen (alone and as a `##`
    continuation), then the most frequent words, ties broken alphabetically. Any word can be
    tokenized, frequent words are single tokens, and the same sentences always give the same
    vocabulary (the `tokenizers` WordPiece trainer orders tied merges differently from run to run,
    which would make `--seed` meaningless).

    Args:
        sentences: sentences (with `.words`) or lists of words.
        vocab_size: int. Largest vocabulary, special tokens included; every character seen is kept
            even past it. Defaults to `4000`.
        lowercase: bool. Lower-case and strip accents. Defaults to False.

    Returns:
        A `transformers.BertTokenizerFast`.
    """
    normalizer = normalizers.BertNormalizer(lowercase=lowercase, strip_accents=lowercase)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    counts = collections.Counter()
    for sentence in sentences:
        text = normalizer.normalize_str(" ".join(getattr(sentence, "words", sentence)))
        counts.update(word for word, _ in pre_tokenizer.pre_tokenize_str(text))
    characters = sorted({character for word in counts for character in word})
    vocabulary = SPECIAL_TOKENS + characters + ["##" + character for character in characters]
    known = set(vocabulary)
    for word, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        if len(vocabulary) >= vocab_size:
            break
        if word not in known:
            vocabulary.append(word)
            known.add(word)
    tokenizer = Tokenizer(models.WordPiece({token: i for i, token in enumerate(vocabulary)}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizer
    tokenizer.pre_tokenizer = pre_tokenizer
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    tokenizer.decoder = decoders.WordPiece()
    return transformers.BertTokenizerFast(
        tokenizer_object=tokenizer,
        do_lower_case=lowercase,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=512,
    )


def build_tiny_model(
    sentences,
    labels,
    vocab_size=4000,
    hidden_size=128,
    num_layers=2,
    num_heads=2,
    intermediate_size=256,
    max_length=256,
    dropout=0.1,
    seed=0,
    head="softmax",
):
    """A randomly initialised small BERT token classifier with its own tokenizer.

    Args:
        sentences: training sentences; their words train the vocabulary.
        labels: list of str, the tag names.
        vocab_size: int. Defaults to `4000`.
        hidden_size, num_layers, num_heads, intermediate_size: encoder size. Default to a
            2-layer, 128-wide encoder.
        max_length: int. Longest input (position embeddings). Defaults to `256`.
        dropout: float. Defaults to `0.1`.
        seed: int. Seeds the weights. Defaults to `0`.
        head: `"softmax"` or `"crf"` (see `BertTokenClassifier`). Defaults to `"softmax"`.

    Returns:
        A `BertTokenClassifier` whose `tokenizer` is set.

    Example:
    ```python
    model = kerasner.build_tiny_model(train_sentences, labels)
    ```
    """
    tokenizer = train_wordpiece_tokenizer(sentences, vocab_size)
    tokenizer.model_max_length = max_length
    config = transformers.BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        intermediate_size=intermediate_size,
        max_position_embeddings=max_length,
        pad_token_id=tokenizer.pad_token_id,
    )
    keras.utils.set_random_seed(seed)
    model = BertTokenClassifier(transformers.TFBertModel(config), labels=labels, dropout=dropout, head=head)
    model.tokenizer = tokenizer
    return model
