"""Mutations of spec texts and command lines for tests/fuzz.py: text edits, and hostile values from issue 14's
classes planted in the parsed document (huge and base-60 integers, YAML booleans, infinities, growing expressions,
reserved names, odd imports, alias bombs, deep nesting, huge repeats)."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from typing import Any

import yaml

WORDS = ["conv", "block", "op", "n", "s", "stride", "$in_channels", "$c * 2", "-1", "0", "1e9", "null", "[", "]",
         "{", "}", ":", "- ", "&a", "*a", "!!python/object:os.system", "residual", "parallel", "merge", "concat",
         "when", "repeat", "$index", "fixed", "side", "imports", "'", '"', "\t", "\\", "1.5", "true"]
HUGE = "9" * 5000  # past Python's 4,300-digit limit for int <-> str
HOSTILE = [  # one-line YAML values, valid in block and flow context
    "true", "false", "yes", "off", ".inf", "-.inf", ".nan", "0x7fffffff", "0o777", "0b101", "1:2:3", "190:20:30",
    "1e400", "-1", "0", "2147483648", "10000", "1000000", "1e9", "10000000000", HUGE, "1:" + "5" * 4400, "null",
    "[]", "{}", "''", "'$round(1, -10**9)'", "'$round(1.5, 10**9)'", "'$2**64'", "'$int(1e308)'",
    "'$" + "*".join(["int(1e308)"] * 15) + "'", "'$" + HUGE[:400] + "'", "'$1e308 * 10'", "'$-(2**63)'",
    "'$[c, c, c, c, c, c, c, c, c, c]'", "'$index'", "'$in_channels * 10**6'", "'$1/0'", "'$max()'",
    "[&a [x, x, x, x, x, x, x, x, x, x], *a, *a, *a, *a, *a, *a, *a, *a, *a]", "[" * 200 + "]" * 200,
    "{a: " * 80 + "1" + "}" * 80, "'forward'", "'training'", "'x.'", "'a:b\\\\'", "'__init__'", "'1x'",
    "'a b'", "'state_dict'", "''", "'x' ", "'" + "x" * 300 + "'", "!!binary aGVsbG8=", "!!set {a}", "2001-12-14",
]
INT_FIELDS = ["out", "channels", "resolution", "n", "repeat", "kernel", "stride", "s", "groups", "padding", "c",
              "num_classes", "heads", "dim", "expand", "p", "dilation", "layers", "divisor"]
NAMES = ["forward", "training", "x.", "a:b\\", "__init__", "1x", "a b", "state_dict", "", "add_module", "x" * 300,
         "a.b", "T_destination", "_modules", "cuda", "stem"]
IMPORTS = ["../outside.yaml", "../../../../../../../../etc/passwd", "/etc/passwd", "/dev/zero", "/proc/self/status",
           "blocks", "fifo.yaml", "linked.yaml", "big.yaml", "missing.yaml", "", "blocks/../blocks/resnet.yaml",
           "./blocks/resnet.yaml", "blocks//resnet.yaml", "blocks/./resnet.yaml", "blocks/resnet.yaml",
           "{library}/blocks/resnet.yaml", "{library}/../outside.yaml"]
SEEDS = [  # the shapes, small
    "name: g\ninput: {channels: 3, resolution: 8}\nblocks:\n  grow:\n    params: {a: 1, "
    + ", ".join(f"{y}: '$[{', '.join([x] * 10)}]'" for x, y in zip("abcdef", "bcdefg", strict=True))
    + "}\n    body: [{op: relu}]\nstages:\n  - {block: grow, n: 1}\n",
    "name: r\ninput: {channels: 3, resolution: 8}\nstem:\n  - repeat: 10000\n    body:\n      repeat: 10000\n"
    "      body: {repeat: 10000, body: []}\n",
    "name: p\ninput: {channels: 3, resolution: 8}\nstages:\n  - &r {op: relu, n: 10000}\n" + "  - *r\n" * 30,
    "name: o\ninput: {channels: 3, resolution: 8}\nstem:\n  - {op: conv, out: '$round(1, -10**9)', kernel: 3}\n",
    "name: s\ninput: {channels: 3, resolution: 4096}\nstem:\n  - repeat: 9000\n    body: {op: maxpool, kernel: 1, "
    "stride: 2, padding: 0}\n",
    "name: f\nimports: [blocks/resnet.yaml, blocks/../blocks/resnet.yaml, ./blocks/resnet.yaml]\n"
    "input: {channels: 3, resolution: 32}\nstages:\n  - {name: forward, block: basic, c: 8, n: 1}\n",
]
NUMBER = re.compile(r"\b\d+\b")


def mutate(text: str, rng: random.Random) -> str:
    """Apply one to four random edits to the text."""
    lines = text.split("\n")
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(8)
        i = rng.randrange(len(lines)) if lines else 0
        if choice == 0 and lines:
            del lines[i]
        elif choice == 1 and lines:
            lines.insert(i, lines[rng.randrange(len(lines))])
        elif choice == 2 and len(lines) > 1:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif choice == 3 and lines:
            lines[i] = NUMBER.sub(lambda _: rng.choice(["0", "-1", "1", "7", "10**6", "10**12", "true", ".inf",
                                                        "1:2:3", "0x10", HUGE]), lines[i], count=1)
        elif choice == 4 and lines:
            words = lines[i].split(" ")
            words[rng.randrange(len(words))] = rng.choice(WORDS + HOSTILE)
            lines[i] = " ".join(words)
        elif choice == 5 and lines:
            at = rng.randrange(len(lines[i]) + 1)
            lines[i] = lines[i][:at] + "".join(chr(rng.randrange(32, 0x250)) for _ in range(rng.randint(1, 3))) \
                + lines[i][at:]
        elif choice == 6:
            lines = lines[: rng.randrange(len(lines) + 1)]
        else:
            lines[i:i] = rng.choice(SEEDS).split("\n")[rng.randrange(2, 5):]
    return "\n".join(lines)


def _slots(data: Any) -> Iterator[tuple[dict | list, Any]]:
    """Every (container, key) of a parsed document, depth first."""
    stack = [data]
    while stack:
        node = stack.pop()
        keys = list(node) if isinstance(node, dict) else range(len(node)) if isinstance(node, list) else []
        for key in keys:
            yield node, key
            stack.append(node[key])


def mutate_document(text: str, rng: random.Random) -> str | None:
    """Parse the text and plant one to three hostile values in it; None when the text is no mapping."""
    try:
        data = yaml.safe_load(text)
    except Exception:  # whatever the text is, the text mutations take over
        return None
    if not isinstance(data, dict):
        return None
    planted: dict[str, str] = {}

    def plant(raw: str) -> str:
        planted[f"__fuzz{len(planted)}__"] = raw
        return f"__fuzz{len(planted) - 1}__"

    for _ in range(rng.randint(1, 3)):
        slots = list(_slots(data))
        mappings = [node for node, _ in slots if isinstance(node, dict)] or [data]
        choice = rng.randrange(7)
        if choice == 0 and slots:
            node, key = rng.choice(slots)
            node[key] = plant(rng.choice(HOSTILE))
        elif choice == 1:
            rng.choice(mappings)[rng.choice(INT_FIELDS)] = plant(rng.choice(HOSTILE))
        elif choice == 2:
            rng.choice(mappings)["name"] = rng.choice(NAMES)
        elif choice == 3:
            data["imports"] = rng.sample(IMPORTS, rng.randint(1, 3))
        elif choice == 4:
            row = {"op": rng.choice(["relu", "identity", "batchnorm", "dropout"]), "n": rng.choice([10**4, 10**6])}
            data["stages"] = [row] * rng.choice([2, 100, 1000])  # one object: dumped as an anchor and aliases
        elif choice == 5:
            body: Any = rng.choice([[], {"seq": []}, {"op": "identity"}])
            for _ in range(rng.randint(1, 4)):
                body = {"repeat": rng.choice([2, 10000, "$10**4"]), "body": body}
            data.setdefault("stem", [])
            data["stem"] = [*data["stem"], body] if isinstance(data["stem"], list) else [body]
        else:
            variables = data["variables"] if isinstance(data.get("variables"), dict) else {}
            variables[rng.choice(["num_classes", "width", "depth"])] = plant(rng.choice(HOSTILE))
            data["variables"] = variables
    try:
        out = yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=10**4, allow_unicode=True)
    except Exception:  # an unrepresentable value from an earlier mutation
        return None
    for placeholder, raw in planted.items():
        out = out.replace(f"'{placeholder}'", raw).replace(placeholder, raw)
    return out


def mutate_arguments(rng: random.Random) -> tuple[str, ...]:
    """Command-line overrides: most inputs have none."""
    choice = rng.randrange(12)
    if choice == 0:
        return ("--set", f"num_classes={rng.choice(HOSTILE)}")
    if choice == 1:
        return ("--set", "num_classes=" + rng.choice(["[&a [&b [x, x, x, x, x, x, x, x], *b, *b, *b, *b, *b, *b,"
                                                      " *b], *a, *a, *a, *a, *a, *a, *a]", "[" * 30000]))
    if choice == 2:
        return ("--head", rng.choice(["{library}/fifo.yaml", "/dev/zero", "{library}/big.yaml", "{library}/blocks",
                                      "{library}/head.yaml"]))
    if choice == 3:
        return (rng.choice(["--num-classes", "--image-size"]), rng.choice(["0", "-1", "10000000000", HUGE]))
    return ()
