import json

import pytest

from kerasner import DataFormatError, detect_format, read_sentences

GMB_CSV = (
    "Sentence #,Word,POS,Tag\r\n"
    "Sentence: 1,Thousands,NNS,O\r\n"
    ",of,IN,O\r\n"
    ",None,NN,O\r\n"
    ",London,NNP,B-geo\r\n"
    "Sentence: 2,Iranian,JJ,B-gpe\r\n"
    ",officials,NNS,O\r\n"
    ',\x93quote\x94,NN,O\r\n'
)


def write(tmp_path, name, content, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(content.encode(encoding) if isinstance(content, str) else content)
    return path


def test_gmb_csv(tmp_path):
    path = write(tmp_path, "ner_dataset.csv", GMB_CSV, encoding="latin1")  # raw 0x93/0x94 bytes
    sentences = read_sentences(path)
    assert [s.words for s in sentences] == [
        ("Thousands", "of", "None", "London"),
        ("Iranian", "officials", "\u201cquote\u201d"),
    ]
    assert sentences[0].tags == ("O", "O", "O", "B-geo")
    assert sentences[1].line == 6
    assert sentences.stats == {
        "path": str(path), "format": "csv", "encoding": "cp1252", "scheme": "iob2", "sentences": 2,
        "words": 7, "repaired": 0, "converted_sentences": 0, "stripped_cells": 0,
    }


def test_gmb_csv_with_explicit_latin1_keeps_c1_characters_inside_words(tmp_path):
    path = write(tmp_path, "ner.csv", "Sentence #,Word,POS,Tag\r\nSentence: 1,a\x85b,NN,O\r\n,x,NN,O\r\n", "latin1")
    sentences = read_sentences(path, encoding="latin1")
    assert sentences[0].words == ("a\x85b", "x")


def test_csv_missing_column(tmp_path):
    path = write(tmp_path, "bad.csv", "Sentence #,Word,POS\nSentence: 1,a,DT\n")
    with pytest.raises(DataFormatError, match=r"bad.csv, line 1: missing tag column 'Tag'.*Received: 'Sentence #,Word,POS'"):
        read_sentences(path)


def test_csv_empty_cell_and_missing_first_id(tmp_path):
    path = write(tmp_path, "bad.csv", "Sentence #,Word,POS,Tag\nSentence: 1,a,DT,O\n,,NN,O\n")
    with pytest.raises(DataFormatError, match=r"line 3: empty cell in column 'Word'. Received: ',,NN,O'"):
        read_sentences(path)
    path = write(tmp_path, "bad2.csv", "Sentence #,Word,POS,Tag\n,a,DT,O\n")
    with pytest.raises(DataFormatError, match="line 2: the first row has no sentence id"):
        read_sentences(path)


def test_csv_ragged_row(tmp_path):
    path = write(tmp_path, "bad.csv", "Sentence #,Word,POS,Tag\nSentence: 1,a,DT,O\n,b,c,NN,O\n")
    with pytest.raises(DataFormatError, match="bad.csv, line 3: malformed CSV"):
        read_sentences(path)


def test_unknown_tag_shape_names_file_line_and_value(tmp_path):
    path = write(tmp_path, "bad.csv", "Sentence #,Word,POS,Tag\nSentence: 1,a,DT,O\n,John,NNP,X-PER\n")
    with pytest.raises(DataFormatError, match=r"bad.csv, line 3: unknown tag shape.*Received: 'X-PER'"):
        read_sentences(path)
    path = write(tmp_path, "bad.conll", "a O\n\nb O\nJohn X-PER\n")
    with pytest.raises(DataFormatError, match=r"bad.conll, line 4: unknown tag shape.*'X-PER'"):
        read_sentences(path)


def test_wrong_encoding(tmp_path):
    path = write(tmp_path, "latin.conll", "a O\ncaf\xe9 O\n", "latin1")
    with pytest.raises(DataFormatError, match=r"latin.conll, line 2: bytes that are not utf-8.*Received: b'\\xe9'"):
        read_sentences(path, encoding="utf-8")
    assert read_sentences(path, encoding="latin1")[0].words == ("a", "caf\xe9")


def test_empty_file(tmp_path):
    with pytest.raises(DataFormatError, match="empty.conll: the file is empty"):
        read_sentences(write(tmp_path, "empty.conll", "\n \n"))


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        read_sentences(tmp_path / "nope.csv")
    with pytest.raises(ValueError, match=r"Unknown format. Expected one of .*Received: format='tsv'"):
        read_sentences(tmp_path / "nope.csv", format="tsv")


def test_conll_quirks(tmp_path):
    content = (
        "-DOCSTART- -X- -X- O\n\n"
        "EU\tB-org\nrejects\tO\n\t\n"  # a TAB-only separator line
        "German\tB-misc\ncall\tO\n \n"
        "Peter\tB-per\nBlackburn\tI-per"  # no final newline
    )
    sentences = read_sentences(write(tmp_path, "x.conll", content))
    assert [s.words for s in sentences] == [("EU", "rejects"), ("German", "call"), ("Peter", "Blackburn")]
    assert sentences[2].tags == ("B-per", "I-per")
    assert sentences.stats["format"] == "conll"


def test_conll_tag_column_and_ragged_line(tmp_path):
    content = "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\nGerman JJ B-NP B-MISC\n"
    sentences = read_sentences(write(tmp_path, "c.txt", content), format="conll", tag_column=3)
    assert sentences[0].tags == ("B-ORG", "O")
    pos = read_sentences(write(tmp_path, "c2.txt", "EU NNP O\nx NN O\n"), format="conll", tag_column=-1)
    assert pos[0].words == ("EU", "x")
    with pytest.raises(DataFormatError, match=r"line 2: expected 4 columns like the first token line, found 3. Received: 'rejects VBZ O'"):
        read_sentences(write(tmp_path, "r.txt", "EU NNP B-NP B-ORG\nrejects VBZ O\n"))
    with pytest.raises(DataFormatError, match="tag_column=5 is out of range"):
        read_sentences(write(tmp_path, "c3.txt", content), tag_column=5)


def test_jsonl(tmp_path):
    lines = [json.dumps({"tokens": ["John", "lives"], "tags": ["B-per", "O"]}), "", json.dumps({"tokens": ["Paris"], "tags": ["B-geo"]})]
    sentences = read_sentences(write(tmp_path, "x.jsonl", "\n".join(lines) + "\n"))
    assert [s.words for s in sentences] == [("John", "lives"), ("Paris",)]
    assert sentences.stats["format"] == "jsonl"
    with pytest.raises(DataFormatError, match="bad.jsonl, line 2: 'tokens' and 'tags' must be non-empty lists of equal length"):
        read_sentences(write(tmp_path, "bad.jsonl", lines[0] + '\n{"tokens": ["a"], "tags": []}\n'))
    with pytest.raises(DataFormatError, match="bad2.jsonl, line 1: not valid JSON"):
        read_sentences(write(tmp_path, "bad2.jsonl", "{oops\n"), format="jsonl")


def test_unknown_reader_option(tmp_path):
    with pytest.raises(ValueError, match=r"Unknown option for format 'conll'.*Received: \['tokens_key'\]"):
        read_sentences(write(tmp_path, "x.conll", "a O\n"), tokens_key="words")


def test_detect_format():
    assert detect_format('{"tokens": []}\n') == "jsonl"
    assert detect_format("Sentence #,Word,POS,Tag\nSentence: 1,a,DT,O\n") == "csv"
    assert detect_format("EU\tB-ORG\n,\tO\n") == "conll"
    assert detect_format("EU NNP B-NP B-ORG\n") == "conll"


def test_scheme_conversion_on_read(tmp_path, caplog):
    iob1 = "Peter I-PER\nBlackburn I-PER\nMary B-PER\nand O\nEU I-ORG\n"
    sentences = read_sentences(write(tmp_path, "iob1.conll", iob1))
    assert sentences.stats["scheme"] == "iob1" and sentences.stats["repaired"] == 0
    assert sentences[0].tags == ("B-PER", "I-PER", "B-PER", "O", "B-ORG")
    iobes = "New B-LOC\nYork E-LOC\nin O\nMay S-TIM\n"
    assert read_sentences(write(tmp_path, "e.conll", iobes))[0].tags == ("B-LOC", "I-LOC", "O", "B-TIM")
    broken = "John B-per\nand O\nSmith I-per\n"
    with caplog.at_level("WARNING"):
        repaired = read_sentences(write(tmp_path, "b.conll", broken))
    assert repaired[0].tags == ("B-per", "O", "B-per")
    assert repaired.stats["repaired"] == 1
    assert "repaired 1 I- tags" in caplog.text
