"""The installed `kerasner` command: subcommands, a quick --help, and output without TensorFlow's log lines."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kerasner.cli import COMMANDS
from kerasner.commands.command_line import NATIVE_LOG, _forward

KERASNER = Path(sys.executable).with_name("kerasner")  # the venv's entry point


def run(*args, env=None):
    return subprocess.run([str(KERASNER), *args], capture_output=True, text=True, timeout=300, env=env)


def test_the_command_is_installed_with_its_subcommands():
    assert KERASNER.is_file(), "pip install -e . installs the kerasner command"
    result = run("--version")
    assert result.returncode == 0 and result.stdout.startswith("kerasner ")
    listing = run("--help").stdout
    assert all(name in listing for name in ("train", "evaluate", "predict", "tune", "export"))
    unknown = run("fly")
    assert unknown.returncode == 2 and "unknown command 'fly'" in unknown.stderr


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_answers_without_importing_tensorflow(command):
    code = (
        "import sys\nfrom kerasner.cli import main\n"
        f"try:\n    main([{command!r}, '--help'])\nexcept SystemExit:\n    pass\n"
        "print('TENSORFLOW' if 'tensorflow' in sys.modules else 'NO TENSORFLOW')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert f"kerasner {command}" in result.stdout and result.stdout.strip().endswith("NO TENSORFLOW")


def test_scripts_are_thin_wrappers_of_the_subcommands():
    scripts = Path(__file__).resolve().parents[1] / "scripts"
    for command in COMMANDS:
        result = subprocess.run([sys.executable, str(scripts / f"{command}.py"), "--help"], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and f"usage: kerasner {command}" in result.stdout


def test_tensorflow_log_lines_stay_out_unless_verbose(tiny_saved_model):
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    quiet = run("predict", "--model", str(tiny_saved_model), "--text", "john smith visited paris", env=env)
    assert quiet.returncode == 0 and quiet.stdout.startswith('{"text": "john smith visited paris"')
    assert quiet.stderr == ""
    verbose = run("--verbose", "predict", "--model", str(tiny_saved_model), "--text", "john smith", env=env)
    assert verbose.returncode == 0 and any(NATIVE_LOG.match(line.encode()) for line in verbose.stderr.splitlines())


def test_the_filter_drops_log_lines_and_passes_the_rest_as_it_comes():
    reader, writer = os.pipe()
    target_reader, target = os.pipe()
    chunks = [
        b"I0000 00:00:1796175224.403151   20632 port.cc:153] oneDNN custom operations are on.\nEpoch 1/3\n",
        b"aligning:  50%|####",  # a progress bar's line in the making passes at once
        b"\raligning: 100%|########|\n",
        b"E0000 00:00:1796175224.403151   20632 cuda_executor.cc:1309] failed call to cuInit\n",
        b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\nerror: bad file\n",
    ]
    for chunk in chunks:
        os.write(writer, chunk)
    os.close(writer)
    _forward(reader, target)
    os.close(target)
    with os.fdopen(target_reader, "rb") as out:
        assert out.read() == b"Epoch 1/3\naligning:  50%|####\raligning: 100%|########|\nerror: bad file\n"


@pytest.fixture(scope="module")
def tiny_saved_model(tmp_path_factory):
    import kerasner

    sentences = kerasner.read_sentences(kerasner.sample_data_path())[:40]
    labels = kerasner.labels_from_tags(s.tags for s in sentences)
    model = kerasner.build_tiny_model(sentences, labels, vocab_size=200, hidden_size=32, intermediate_size=64, max_length=64)
    folder = tmp_path_factory.mktemp("cli") / "model"
    model.save_pretrained(folder)
    return folder
