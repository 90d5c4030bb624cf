import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tf_keras

import kerasner

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
sys.path.insert(0, str(SCRIPTS))

import benchmark  # noqa: E402
from kerasner.commands import evaluate  # noqa: E402
import make_sample_data  # noqa: E402
from kerasner.commands import predict  # noqa: E402
from kerasner.commands import train  # noqa: E402
from kerasner.commands import tune  # noqa: E402
from kerasner.commands import convert  # noqa: E402


@pytest.mark.parametrize("module", [train, tune, evaluate, predict, convert, benchmark, make_sample_data])
def test_every_flag_is_documented(module):
    parser = module.build_parser()
    parsers = [parser] + [
        sub for action in parser._actions if hasattr(action, "choices") and isinstance(action.choices, dict)
        for sub in action.choices.values()
    ]
    for each in parsers:
        for action in each._actions:
            if action.option_strings and action.dest != "help":
                assert action.help and len(action.help) > 10, f"{module.__name__} {action.option_strings}"


def test_train_writes_model_metrics_and_report(tmp_path, capsys):
    config = tmp_path / "best.json"
    config.write_text(json.dumps({"learning_rate": 2e-3, "epochs": 4, "_search": {"trial_id": "0"}}))
    status = train.main(["--output", str(tmp_path / "run"), "--epochs", "2", "--config", str(config), "--verbose", "0"])
    assert status == 0
    out = tmp_path / "run"
    for name in ["best/kerasner.json", "history.csv", "report.txt", "training.png", "per_type_f1.png"]:
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 2  # the command line wins over --config
    plan = metrics["training_plan"]
    assert (plan["epochs"], plan["patience"], plan["stop"]) == (2, None, "trained all 2 planned epochs")
    assert metrics["learning_rate"] == 2e-3  # --config wins over the default
    assert {"precision", "recall", "f1", "per_type"} <= set(metrics["entity"])
    assert metrics["train_sentences"] == 320 and metrics["validation_sentences"] == 80
    assert metrics["train_tokens_per_second"] > 0
    assert "validation entity F1" in capsys.readouterr().out


def test_train_and_evaluate_with_document_context(tmp_path, capsys):
    run = tmp_path / "run"
    assert train.main(["--output", str(run), "--epochs", "1", "--verbose", "0", "--context", "8"]) == 0
    assert "8 sub-tokens of context a side" in capsys.readouterr().out
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["config"]["context"] == 8 and kerasner.BertTokenClassifier.from_pretrained(run / "best").context == 8
    assert all(len(record["context"]) == 2 for record in map(json.loads, (run / "validation.jsonl").read_text().splitlines()))
    argv = ["--model", str(run / "best"), "--data", str(run / "validation.jsonl"), "--raw-text", "--output", str(tmp_path / "eval")]
    assert evaluate.main(argv) == 0
    scores = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert scores["entity"]["f1"] == pytest.approx(metrics["entity"]["f1"])  # the validation sentences read with their context
    assert scores["raw_text"]["entity"]["f1"] == pytest.approx(metrics["raw_text"]["entity"]["f1"])


def test_train_oversamples_rare_types_and_says_so(tmp_path, capsys):
    assert train.main(["--output", str(tmp_path / "run"), "--epochs", "1", "--verbose", "0", "--oversample", "200"]) == 0
    out = capsys.readouterr().out
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    oversampled = metrics["data"]["oversampled"]
    assert set(oversampled["types"]) == {"org", "per", "tim"}  # geo has 200 or more entities in the training split
    assert all(value["entities_after"] >= 200 > value["entities"] for value in oversampled["types"].values())
    assert f"{oversampled['added_sentences']:,} training sentences added" in out and oversampled["added_sentences"] > 0
    assert metrics["train_sentences"] == 320 and metrics["validation_sentences"] == 80  # validation as it is


def test_train_puts_the_crf_head_on_an_encoder_and_keeps_a_saved_model_s_head(tmp_path, capsys):
    first = tmp_path / "first"
    assert train.main(["--output", str(first), "--epochs", "1", "--verbose", "0"]) == 0
    assert "crf head" in capsys.readouterr().out  # the default on a new encoder
    assert json.loads((first / "metrics.json").read_text())["head"] == "crf"
    softmax = tmp_path / "softmax"
    assert train.main(["--output", str(softmax), "--epochs", "1", "--verbose", "0", "--head", "softmax"]) == 0
    more = ["--model", str(softmax / "best"), "--epochs", "1", "--verbose", "0"]
    assert train.main([*more, "--output", str(tmp_path / "more")]) == 0  # trained further with its own head
    assert "softmax head" in capsys.readouterr().out
    assert kerasner.BertTokenClassifier.from_pretrained(tmp_path / "more" / "best").head == "softmax"
    assert train.main([*more, "--head", "crf", "--output", str(tmp_path / "other")]) == 2
    assert "has the softmax head. Received: head='crf'" in capsys.readouterr().err


def test_train_plans_its_length_and_says_why(tmp_path, capsys):
    assert train.main(["--output", str(tmp_path / "run"), "--max-epochs", "3", "--verbose", "0"]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    plan = metrics["training_plan"]
    assert (plan["epochs"], plan["steps"], plan["patience"], plan["start_from_epoch"]) == (3, 60, 2, 3)
    assert plan["reason"].startswith("planned 3 epochs of 20 steps (60 steps): capped by max_epochs 3")
    assert plan["stop"] in ("trained all 3 planned epochs", f"stopped after epoch 3 of 3: no better validation entity F1 since epoch {metrics['best_epoch']}")
    assert f"training: {plan['stop']}; best epoch {metrics['best_epoch']}" in capsys.readouterr().out
    assert metrics["learning_rate"] == 1e-3  # tiny is trained from scratch


@pytest.mark.parametrize("head", ["softmax", "crf"])
def test_train_with_accumulation_mixed_precision_and_a_strategy(head, tmp_path, capsys):
    argv = ["--output", str(tmp_path / "run"), "--epochs", "1", "--verbose", "0", "--gradient-accumulation", "2"]
    argv += ["--mixed-precision", "bfloat16", "--strategy", "mirrored", "--pool-batches", "1", "--head", head]
    try:
        assert train.main(argv) == 0
    finally:
        tf_keras.mixed_precision.set_global_policy("float32")
    out = capsys.readouterr().out
    assert "mixed precision: mixed_bfloat16" in out and "MirroredStrategy, 1 replicas" in out
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert 0.0 <= metrics["entity"]["f1"] <= 1.0
    assert metrics["config"]["head"] == head and kerasner.BertTokenClassifier.from_pretrained(tmp_path / "run" / "best").head == head


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--data", "missing.csv"], "missing.csv: no such file"),
        (["--config", "missing.json"], "missing.json: no such config file"),
        (["--train", "a.conll"], "Pass both `train` and `validation`"),
        (["--pool-batches", "0"], "Received: pool_batches=0"),
        (["--max-epochs", "0"], "Received: max_epochs=0"),
        (["--epochs", "2", "--max-epochs", "5"], "Pass `epochs` or `max_epochs`, not both"),
        (["--label-all-subtokens"], "--label-all-subtokens trains the softmax head; add --head softmax"),
        (["--head", "crf", "--label-all-subtokens"], "--label-all-subtokens trains the softmax head"),
        (["--oversample", "-1"], "--oversample must be a count of entities, 0 or more. Received: -1"),
    ],
)
def test_train_bad_input_is_one_line(argv, message, tmp_path, capsys):
    assert train.main(argv + ["--output", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_train_bad_data_names_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.conll"
    bad.write_text("John B-per\nruns O\n\nMary X-PER\n")
    assert train.main(["--data", str(bad), "--output", str(tmp_path / "x")]) == 2
    assert "bad.conll, line 4: unknown tag shape" in capsys.readouterr().err


def test_unknown_format_exits_non_zero_without_traceback():
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "train.py"), "--format", "tsv"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "invalid choice: 'tsv'" in result.stderr and "Traceback" not in result.stderr


def test_benchmark_speed_runs_its_recipes_on_a_tiny_encoder(tmp_path, capsys):
    output = tmp_path / "speed.json"
    status = benchmark.main(
        ["speed", "--data", str(kerasner.sample_data_path()), "--sentences", "64", "--batch-size", "8",
         "--warmup-batches", "2", "--layers", "1", "--hidden", "32", "--heads", "2", "--intermediate", "64",
         "--recipes", "hf", "kerasner-pools-1", "kerasner", "kerasner-keras-adamw", "kerasner-keras-decay", "kerasner-tf-malloc",
         "kerasner-pools-16", "kerasner-autotune", "kerasner-relu", "kerasner-bound", "kerasner-crf", "--inference-sentences", "0", "--rounds", "3", "--output", str(output)]
    )
    assert status == 0
    assert "(best of 3 rounds)" in capsys.readouterr().out
    results = json.loads(output.read_text())
    assert set(results["recipes"]) == {
        "hf", "kerasner", "kerasner-keras-adamw", "kerasner-keras-decay", "kerasner-tf-malloc", "kerasner-pools-1", "kerasner-pools-16",
        "kerasner-autotune", "kerasner-relu", "kerasner-bound", "kerasner-crf",
    }
    assert all(r["real_tokens_per_second"] > 0 for r in results["recipes"].values())
    where = results["provenance"]  # every result file says where it comes from
    assert len(where["commit"].removesuffix("-dirty")) == 40 and where["date"] and where["command"].startswith("python")
    assert where["machine"]["cpu"] and where["machine"]["simd_flags"] and where["threads"]
    assert where["versions"]["tensorflow"] and results["settings"]["recipes"][0] == "hf"
    assert "kerasner-tf-malloc_vs_hf" in results["ratios"]
    bound = results["training_matmuls"]
    assert bound["flops_per_second"] > 0 and bound["share_of_ceiling"] > 0
    kerasner_run = results["recipes"]["kerasner"]  # 64 // 8 - 2 = 6 timed batches; the default's, though listed after pools-1
    assert bound["rows"] == round(kerasner_run["real_tokens"] * kerasner_run["padding_overhead"] / 6)
    assert benchmark.main(["speed", "--data", str(kerasner.sample_data_path()), "--rounds", "0"]) == 2
    assert "--rounds must be at least 1" in capsys.readouterr().err
    # kerasner packs random batches; the same batches a sentence a row (pools of one batch) pad
    # more, and so do length-grouped pools of 16 here.
    pools = {n: results["recipes"][f"kerasner-pools-{n}"]["padding_overhead"] for n in (1, 16)}
    assert pools[1] > pools[16] and pools[1] > kerasner_run["padding_overhead"]
    with pytest.raises(SystemExit):
        benchmark.main(["speed", "--data", str(kerasner.sample_data_path()), "--recipes", "kerasner-pools-0"])
    assert "invalid choice: 'kerasner-pools-0'" in capsys.readouterr().err


def test_benchmark_recipes_are_a_table_of_settings(capsys):
    assert benchmark.main(["recipes"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in benchmark.SPEED_RECIPES) and "kerasner-pools-N" in listed
    assert benchmark.speed_recipe("kerasner-pools-4") == benchmark.Recipe(
        benchmark.speed_recipe("kerasner-pools-4").about, pack=False, pool_batches=4
    )
    assert benchmark.speed_recipe("kerasner-bound").optimizer == "sgd"
    for name in ("kerasner-pools-0", "kerasner-fast"):
        with pytest.raises(argparse.ArgumentTypeError, match="invalid choice"):
            benchmark.speed_recipe(name)


def test_benchmark_help_fits_on_a_screen(capsys):
    for argv in (["--help"], ["speed", "--help"], ["quality", "--help"]):
        with pytest.raises(SystemExit):
            benchmark.main(argv)
        assert len(capsys.readouterr().out.splitlines()) <= 50


def test_benchmark_rounds_are_fed_without_tf_data_autotuning():
    class Model:
        def fit(self, dataset, callbacks=(), **kwargs):
            self.autotune = dataset.options().autotune.enabled
            for callback in callbacks:
                callback.on_train_batch_begin(0)
                callback.on_train_batch_end(0)

    model = Model()
    batches = [({"input_ids": np.ones((2, 3), np.int32)}, np.zeros((2, 3), np.int32))]
    benchmark.fit_seconds(model, batches)
    assert model.autotune is False
    benchmark.fit_seconds(model, batches, autotune=True)  # the kerasner-autotune recipe
    assert model.autotune is True


def test_benchmark_profile_adds_op_time_up_by_type_and_part(tmp_path):
    import tensorflow as tf

    a, b = tf.Variable(tf.random.normal((256, 256))), tf.Variable(tf.random.normal((256, 256)))
    step = tf.function(lambda: tf.reduce_sum(tf.nn.gelu(tf.matmul(a, b), approximate=False)))
    step()
    tf.profiler.experimental.start(str(tmp_path))
    for _ in range(5):
        step().numpy()
    tf.profiler.experimental.stop()
    profile = benchmark.op_time_profile(tmp_path)
    assert any("MatMul" in op_type for op_type in profile["by_type"])
    assert profile["by_part"]["matmuls"]["seconds"] > 0
    assert sum(part["share"] for part in profile["by_part"].values()) == pytest.approx(1.0)
    assert 0 < profile["matmul_busy_seconds"] <= profile["op_busy_seconds"] <= profile["wall_seconds"] + 1e-9
    with pytest.raises(ValueError, match="No profiler trace"):
        benchmark.op_time_profile(tmp_path / "empty")


def test_benchmark_profile_parts_and_spans():
    assert benchmark.step_part("bert_token_classifier/encoder/layer_._0/attention/self/dropout_1/dropout/Mul") == "dropout"
    assert benchmark.step_part("gradient_tape/bert/encoder/layer_._3/intermediate/Gelu/mul") == "GELU"
    assert benchmark.step_part("AdamW/ResourceApplyAdam_12") == "optimizer"
    assert benchmark.step_part("bert/encoder/layer_._1/output/LayerNorm/batchnorm/mul") == "layer norm"
    assert benchmark.step_part("something/else") == "other"
    assert benchmark.covered_seconds([(0, 2), (1, 3), (5, 6), (5.5, 5.7)]) == pytest.approx(4.0)


def test_benchmark_one_shape_and_keras_layers(tiny_encoder_dir):
    batches = [
        ({"input_ids": np.ones((2, 3), np.int32), "attention_mask": np.ones((2, 3), np.int32)}, np.zeros((2, 3), np.int32)),
        ({"input_ids": np.ones((1, 5), np.int32), "attention_mask": np.ones((1, 5), np.int32)}, np.zeros((1, 5), np.int32)),
    ]
    padded = benchmark.padded_to_one_shape(batches)
    assert {x["input_ids"].shape for x, _ in padded} == {(2, 5)}
    assert [int(x["attention_mask"].sum()) for x, _ in padded] == [6, 5]
    assert (padded[1][1][1] == -100).all() and (padded[0][1][:, 3:] == -100).all()

    from kerasner.fast_layers import BitDropout, FlatDense

    model = kerasner.BertTokenClassifier.from_pretrained(tiny_encoder_dir, labels=["O", "B-x", "I-x"])
    x = {"input_ids": np.array([[2, 7, 9, 3]], np.int32), "attention_mask": np.ones((1, 4), np.int32)}
    before = model(x).numpy()
    benchmark.restore_keras_layers(model)
    kinds = {type(layer) for layer in model._flatten_layers()}
    assert not kinds & {BitDropout, FlatDense} and tf_keras.layers.Dense in kinds
    np.testing.assert_allclose(model(x).numpy(), before, atol=1e-5)


@pytest.mark.parametrize("command", [["speed", "--inference-sentences", "0"], ["profile"], ["profile", "--steps", "0"]])
def test_benchmark_too_few_batches_is_one_line(command, capsys):
    argv = [*command, "--data", str(kerasner.sample_data_path()), "--sentences", "64", "--recipes", "kerasner",
            "--layers", "1", "--hidden", "32", "--heads", "2", "--intermediate", "64"]
    if "--steps" not in command:
        argv += ["--warmup-batches", "2"]
    assert benchmark.main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert ("--steps must be at least 1" if "--steps" in command else "none left to time after --warmup-batches 2") in error


def test_benchmark_times_the_steps_not_fits_setup():
    class Model:
        def fit(self, dataset, callbacks=(), **kwargs):
            time.sleep(0.3)  # fit's setup: its data adapter, callbacks and iterator
            for step in range(3):
                for callback in callbacks:
                    callback.on_train_batch_begin(step)
                time.sleep(0.02)
                for callback in callbacks:
                    callback.on_train_batch_end(step)
            time.sleep(0.3)  # and its teardown

    batches = [({"input_ids": np.ones((2, 3), np.int32)}, np.zeros((2, 3), np.int32))]
    assert 0.06 <= benchmark.fit_seconds(Model(), batches) < 0.25


def test_benchmark_quality_scores_both_recipes_reproducibly(tiny_encoder_dir, tmp_path):
    data = tmp_path / "data"
    (data / "gmb").mkdir(parents=True)
    shutil.copy(kerasner.sample_data_path(), data / "gmb" / "ner_dataset.csv")  # the format is read from the content
    runs = []
    for name, recipes in (("both", ["kerasner", "hf"]), ("again", ["kerasner"])):
        output = tmp_path / f"{name}.json"
        argv = ["quality", "--data-dir", str(data), "--model", str(tiny_encoder_dir), "--datasets", "gmb",
                "--recipes", *recipes, "--limit", "48", "--batch-size", "16", "--seed", "7",
                "--work-dir", str(tmp_path / name), "--output", str(output)]
        assert benchmark.main(argv) == 0
        runs.append(json.loads(output.read_text())["results"])
    assert set(runs[0]) == {"gmb/kerasner", "gmb/hf"}
    for result in runs[0].values():
        assert result["train_sentences"] == 48 and result["validation_sentences"] == 80
        assert 0.0 <= result["entity"]["f1"] <= 1.0 and result["peak_memory_gb_so_far"] > 0
        assert set(result["entity_by_decode"]) == {"argmax", "viterbi"}  # the same logits read both ways
        assert result["entity"] == result["entity_by_decode"][result["decode"]]
    # Each recipe's own reading: kerasner's Viterbi decoding, the transformers example's argmax.
    assert (runs[0]["gmb/kerasner"]["decode"], runs[0]["gmb/hf"]["decode"]) == ("viterbi", "argmax")
    # --seed fixes the new head's weights, dropout and the batch order: the same scores again.
    assert runs[1]["gmb/kerasner"]["entity"] == runs[0]["gmb/kerasner"]["entity"]
    assert runs[0]["gmb/kerasner"]["batching"] == {"pack": True, "pool_batches": 1, "head": "softmax", "context": 0}  # kerasner's defaults
    # What a user receives is scored too: the validation sentences as text, through the predictor.
    raw = runs[0]["gmb/kerasner"]["raw_text"]
    assert raw["sentences"] == 80 and 0.0 <= raw["entity"]["f1"] <= 1.0 and runs[0]["gmb/hf"]["raw_text"] is None
    # The scored sentences are kept next to the models, for scripts/evaluate.py.
    assert len(kerasner.read_sentences(tmp_path / "both" / "gmb-validation.jsonl")) == 80


def test_benchmark_data_compares_padding_overheads(tiny_encoder_dir, tmp_path):
    output = tmp_path / "data.json"
    argv = ["data", "--data", str(kerasner.sample_data_path()), "--model", str(tiny_encoder_dir), "--batch-size", "16",
            "--output", str(output)]
    assert benchmark.main(argv) == 0
    padding = json.loads(output.read_text())["padding_overhead"]
    packed, random = padding["kerasner_packed_random_batch16"], padding["random_batch16"]
    assert 1.0 <= packed < random < padding["fixed_length_128"]
    assert padding["ratio"] == round(padding["fixed_length_128"] / packed, 2)
