"""Write a saved kerasner model as a TensorFlow SavedModel that takes raw text.

Examples:
    kerasner export --model runs/train/best --output serving/ner
    kerasner export --model runs/train/best --output serving/ner --tflite serving/ner-logits.tflite

The SavedModel lands in --output/<version>/, the layout TF Serving reads. It needs TensorFlow and
tensorflow-text only (import tensorflow_text to register its ops), not kerasner or transformers.
Its serving_default signature takes `text`, a batch of UTF-8 strings, and returns, per text, the
entities' `starts` and `ends` (character offsets, as Python string indices), `labels` and
`scores`, padded to [batch, max_entities], and `num_entities`: what `kerasner predict` finds. Its
`logits` signature takes int32 `input_ids` and `attention_mask` of any length.

    import tensorflow as tf, tensorflow_text
    ner = tf.saved_model.load("serving/ner/1").signatures["serving_default"]
    ner(text=tf.constant(["Anna Keller arrived in Lisbon on Monday."]))
"""

import argparse


def build_parser():
    from kerasner.commands.command_line import add_decode_argument

    parser = argparse.ArgumentParser(prog="kerasner export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="Folder of a saved kerasner model (e.g. runs/train/best).")
    parser.add_argument("--output", required=True, help="Serving folder; the SavedModel goes to OUTPUT/VERSION/.")
    parser.add_argument("--version", type=int, help="Version folder to write. Defaults to one more than the highest in --output (1).")
    parser.add_argument("--batch-size", type=int, default=32, help="Windows per model call inside the graph. Defaults to 32.")
    parser.add_argument("--max-length", type=int, help="Longest window in sub-tokens. Defaults to the model's maximum.")
    add_decode_argument(parser)
    parser.add_argument("--tflite", help="Also write the logits signature as a TensorFlow Lite model to this file.")
    return parser


def main(argv=None):
    from kerasner.commands.command_line import run_command

    return run_command(build_parser(), run, argv)


def run(args):
    import kerasner
    from kerasner.export import export_tflite

    if args.version is not None and args.version < 1:
        raise ValueError(f"--version must be a positive int. Received: {args.version}")
    predictor = kerasner.EntityPredictor.from_pretrained(
        args.model, batch_size=args.batch_size, max_length=args.max_length, decode=args.decode
    )
    path = kerasner.export_saved_model(predictor, args.output, version=args.version)
    print(f"SavedModel: {path} (signatures serving_default, logits)")
    if args.tflite:
        print(f"TensorFlow Lite logits model: {export_tflite(path, args.tflite)}")
    return 0
