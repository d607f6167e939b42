"""The command-line reference page, from the argument parser it is given: every subcommand and its options."""

from __future__ import annotations

import argparse

from archspec.docs import markdown as md


def _usage(name: str, parser: argparse.ArgumentParser) -> str:
    words = [f"archspec {name}"]
    for action in parser._actions:
        if action.option_strings:
            continue
        word = action.metavar or action.dest
        word = word if isinstance(word, str) else " ".join(word)
        forms = {"?": f"[{word}]", "+": f"{word} [{word} ...]", "*": f"[{word} ...]"}
        words.append(forms.get(action.nargs, word) if isinstance(action.nargs, str) else word)
    if any(a.option_strings and not isinstance(a, argparse._HelpAction) for a in parser._actions):
        words.append("[options]")
    return " ".join(words)


def _argument_rows(parser: argparse.ArgumentParser) -> list[list[str]]:
    rows = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        name = ", ".join(f"`{s}`" for s in action.option_strings) or f"`{action.metavar or action.dest}`"
        if action.nargs == 0 or not action.option_strings:
            value = ""
        elif action.choices:
            value = " or ".join(f"`{choice}`" for choice in action.choices)
        else:
            value = f"`{action.metavar or action.dest.upper()}`"
        default = "required" if action.required else ""
        if action.option_strings and action.default not in (None, False, [], argparse.SUPPRESS):
            default = f"`{action.default}`"
        rows.append([name, value, default, action.help or ""])
    return rows


def cli_reference(parser: argparse.ArgumentParser) -> str:
    """The command-line reference page, from the argument parser: every subcommand and its options."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {action.dest: action.help or "" for action in sub._choices_actions}
    lines = ["# Command line", "", md.NOTE.format(source="archspec/cli.py"), "",
             f"`archspec COMMAND ...`: {parser.description} Errors in a spec are one line on stderr naming "
             "file, line, column and field path, with exit status 2. Every command also takes `-h` (`--help`).", "",
             *md.table(["command", "what it does"], [[f"[`{name}`](#{name})", helps[name]] for name in sub.choices]),
             "", "Options of `archspec` itself:", "", *md.table(["option", "value", "default", "meaning"],
                                                               _argument_rows(parser)), ""]
    for name, command in sub.choices.items():
        lines += [f"## archspec {name} {{#{name}}}", "", helps[name][:1].upper() + helps[name][1:] + ".", "",
                  "```", _usage(name, command), "```", "",
                  *md.table(["argument", "value", "default", "meaning"], _argument_rows(command)), ""]
    return "\n".join(lines).rstrip() + "\n"
