"""Saved folders that transformers loads as they are, and checkpoints that hold only PyTorch-format safetensors."""

import json

import numpy as np
import pytest
import safetensors.numpy
import tf_keras
import transformers
from transformers.modeling_tf_pytorch_utils import TransposeType, convert_tf_weight_name_to_pt_weight_name

import kerasner
from conftest import LABELS, random_batch


@pytest.fixture
def saved(tiny_encoder_dir, tmp_path):
    model = kerasner.BertTokenClassifier.from_pretrained(tiny_encoder_dir, labels=LABELS)
    model(model.dummy_inputs())
    kernel = model.classifier.weights[0]
    kernel.assign(kernel * 20.0)  # a head that tags decisively, for the pipeline below
    model.save_pretrained(tmp_path / "model")
    return model, tmp_path / "model"


def test_transformers_loads_the_folder_whole_with_the_same_logits(saved):
    model, folder = saved
    loaded, info = transformers.TFAutoModelForTokenClassification.from_pretrained(folder, output_loading_info=True)
    assert isinstance(loaded, transformers.TFBertForTokenClassification)
    assert info == {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": []}
    assert loaded.config.id2label == dict(enumerate(LABELS)) and loaded.config.label2id == {l: i for i, l in enumerate(LABELS)}
    x, _ = random_batch(batch=3, seq_len=11, vocab_size=model.tokenizer.vocab_size)
    np.testing.assert_allclose(loaded(x).logits.numpy(), model(x).numpy(), atol=1e-5)


def test_the_token_classification_pipeline_runs_on_the_folder(saved):
    _, folder = saved
    # dtype=None: transformers 4.57's pipeline looks dtype "auto" up in torch, which is not installed
    ner = transformers.pipeline("token-classification", model=str(folder), aggregation_strategy="first", framework="tf", dtype=None)
    found = ner("john smith visited paris on monday")
    assert isinstance(found, list) and all(e["entity_group"] in {"per", "geo", "org", "tim"} for e in found)


def test_kerasner_loads_the_new_and_the_old_layout_weight_for_weight(saved):
    model, folder = saved
    again = kerasner.BertTokenClassifier.from_pretrained(folder)
    assert all(np.array_equal(a, b) for a, b in zip(again.get_weights(), model.get_weights()))  # the pooler too
    model.encoder.save_pretrained(folder)  # the layout of kerasner 0.1: the encoder alone in tf_model.h5
    old = kerasner.BertTokenClassifier.from_pretrained(folder)
    assert all(np.array_equal(a, b) for a, b in zip(old.get_weights(), model.get_weights()))


def test_the_folder_has_a_model_card(saved):
    _, folder = saved
    card = (folder / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: transformers\npipeline_tag: token-classification")
    assert "`geo`, `org`, `per`, `tim`" in card and "tensorflow-text" in card and "Intended use and limits" in card


def write_pytorch_safetensors(encoder, folder, shards=1):
    """The encoder's weights in PyTorch's names and layout, as the hub's safetensors-only checkpoints hold them."""
    state = {}
    for weight in encoder.weights:
        name, transpose = convert_tf_weight_name_to_pt_weight_name(
            weight.name, start_prefix_to_remove=weight.name.split("/")[0] + "/", tf_weight_shape=weight.shape
        )
        value = weight.numpy()
        state[name] = np.ascontiguousarray(value.T if transpose is TransposeType.SIMPLE else value)
    names = sorted(state)
    if shards == 1:
        safetensors.numpy.save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
        return
    weight_map = {}
    for shard in range(shards):
        file = f"model-{shard + 1:05d}-of-{shards:05d}.safetensors"
        safetensors.numpy.save_file({n: state[n] for n in names[shard::shards]}, folder / file, metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(names[shard::shards], file))
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))


@pytest.mark.parametrize("shards", [1, 3])
def test_a_pytorch_safetensors_checkpoint_loads_and_trains_without_torch(tiny_encoder_dir, tmp_path, shards):
    source = transformers.TFBertModel.from_pretrained(tiny_encoder_dir)
    folder = tmp_path / "hub-checkpoint"
    folder.mkdir()
    write_pytorch_safetensors(source, folder, shards)
    for name in ("config.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (tiny_encoder_dir / name).is_file():
            (folder / name).write_bytes((tiny_encoder_dir / name).read_bytes())
    assert not (folder / "tf_model.h5").exists()
    model = kerasner.BertTokenClassifier.from_pretrained(str(folder), labels=LABELS)
    expected = {w.name.split("/", 1)[1]: w.numpy() for w in source.weights}
    loaded = {w.name.split("/", 1)[1]: w.numpy() for w in model.encoder.weights}
    assert loaded.keys() == expected.keys() and all(np.array_equal(loaded[k], expected[k]) for k in expected)
    model.compile(optimizer=tf_keras.optimizers.Adam(1e-3))
    x, y = random_batch(vocab_size=model.tokenizer.vocab_size)
    before = model.evaluate(x, y, verbose=0)[0]
    model.fit(x, y, epochs=5, verbose=0)
    assert model.evaluate(x, y, verbose=0)[0] < before  # it fine-tunes
