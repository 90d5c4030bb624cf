"""Writes kerasner's embedded sample corpus: original sentences with IOB2 tags (per, geo, org, tim).

The sentences are made from templates and name lists written for this project, so the corpus is
free to ship. `make train` trains on it when no data is given.

    python scripts/make_sample_data.py --output kerasner/data/sample.conll --sentences 400
"""

import argparse
import random
import sys
from pathlib import Path

PERSONS = [
    "Anna Keller", "Tomas Varga", "Mei Lin", "Rafael Ortiz", "Ingrid Holm", "Samuel Okafor", "Lena Brandt",
    "Arjun Mehta", "Sofia Rossi", "Jonas Berg", "Amara Diallo", "Victor Hale", "Nadia Petrova", "Omar Haddad",
    "Clara Nunes", "Kenji Sato", "Elena Marsh", "David Kowalski", "Fatima Zahra", "Lucas Moreau",
]
PLACES = [
    "Lisbon", "Nairobi", "Oslo", "Lima", "Hanoi", "Montreal", "Krakow", "Valparaiso", "Tbilisi", "Dakar",
    "Brisbane", "Riverton", "the Andes", "the Baltic Sea", "Lake Victoria", "the Sahara", "Northbridge",
    "Port Elias", "Greenhill", "the Danube valley",
]
ORGS = [
    "the Harbor Trust", "Norlund Energy", "the Civic Data Office", "Blue Ridge Bank", "the River Council",
    "Atlas Rail", "the Coastal Guard", "Meridian Health", "the Open Seed Network", "Kestrel Airlines",
    "the National Weather Bureau", "Solace Pharmaceuticals", "the Union of Teachers", "Tidewater Press",
]
TIMES = [
    "Monday", "Tuesday", "Friday", "last week", "in March", "on Sunday", "in 2019", "in 2024",
    "early on Thursday", "in the spring", "on 12 October", "in late 2021",
]
TEMPLATES = [
    "{per} arrived in {geo} {tim} .",
    "{org} opened a new office in {geo} .",
    "{per} , who leads {org} , spoke to reporters {tim} .",
    "Officials in {geo} said {org} would pay the fine .",
    "{tim} , {per} met {per2} in {geo} .",
    "Heavy rain closed roads near {geo} {tim} .",
    "{org} hired {per} as its new director .",
    "The talks between {org} and {org2} ended {tim} without a deal .",
    "{per} grew up in {geo} and later moved to {geo2} .",
    "Shares of {org} fell sharply {tim} .",
    "A report by {org} warned of drought in {geo} .",
    "{per} won the regional chess final in {geo} .",
    "Police in {geo} arrested two men {tim} .",
    "{org} said it will cut 300 jobs {tim} .",
    "Flights from {geo} to {geo2} were cancelled {tim} .",
    "{per} thanked the volunteers of {org} .",
    "The museum in {geo} reopened {tim} after repairs .",
    "{per} and {per2} signed the agreement for {org} .",
    "Farmers near {geo} expect a poor harvest this year .",
    "{org} plans to build a bridge across {geo} .",
    "Students marched through {geo} {tim} to demand cleaner air .",
    "{per} said the budget would be published {tim} .",
    "Nobody was hurt when the ferry ran aground off {geo} .",
    "The new library was designed by {per} .",
]
SLOTS = {"per": ("per", PERSONS), "geo": ("geo", PLACES), "org": ("org", ORGS), "tim": ("tim", TIMES)}
# Words of a filler that stay outside the entity (e.g. "the" of "the Baltic Sea" is part of the name here,
# but "in"/"on" of a time phrase is not).
TIME_PREPOSITIONS = {"in", "on"}


def tag_phrase(words, kind):
    tags = []
    for word in words:
        if kind == "tim" and not tags and word in TIME_PREPOSITIONS:
            tags.append("O")
            continue
        tags.append(("I-" if tags and tags[-1] != "O" else "B-") + kind)
    return tags


def make_sentence(rng):
    template = rng.choice(TEMPLATES)
    words, tags = [], []
    chosen = {}
    for token in template.split():
        if token.startswith("{") and token.endswith("}"):
            slot = token[1:-1]
            kind, pool = SLOTS[slot.rstrip("2")]
            filler = rng.choice([item for item in pool if item not in chosen.values()])
            chosen[slot] = filler
            phrase = filler.split()
            words.extend(phrase)
            tags.extend(tag_phrase(phrase, kind))
        else:
            words.append(token)
            tags.append("O")
    words[0] = words[0][0].upper() + words[0][1:]
    return words, tags


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=Path("kerasner/data/sample.conll"), help="CoNLL file to write.")
    parser.add_argument("--sentences", type=int, default=400, help="Number of sentences. Defaults to 400.")
    parser.add_argument("--seed", type=int, default=7, help="Random seed. Defaults to 7.")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    rng = random.Random(args.seed)
    blocks = []
    for _ in range(args.sentences):
        words, tags = make_sentence(rng)
        blocks.append("\n".join(f"{word}\t{tag}" for word, tag in zip(words, tags)))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n\n".join(blocks) + "\n")
    print(f"wrote {args.sentences} sentences to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
