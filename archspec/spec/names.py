"""Names a spec may give items and stages: each becomes an attribute of a compiled torch module."""

from __future__ import annotations

import keyword
import re

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]*")
# Public attributes of torch.nn.Module, and those torch.fx.GraphModule (the compiled network's class) adds: a
# submodule of one of these names would replace a method, or fail to register. Kept here, without importing torch,
# because the spec language must not depend on the backend; tests compare them with the installed torch. Names
# starting with an underscore (torch's private attributes) are refused by the pattern.
MODULE_ATTRIBUTES = frozenset({
    "T_destination", "add_module", "apply", "bfloat16", "buffers", "call_super_init", "children", "compile", "cpu",
    "cuda", "double", "dump_patches", "eval", "extra_repr", "float", "forward", "get_buffer", "get_extra_state",
    "get_parameter", "get_submodule", "half", "ipu", "load_state_dict", "modules", "mtia", "named_buffers",
    "named_children", "named_modules", "named_parameters", "parameters", "register_backward_hook",
    "register_buffer", "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook",
    "register_full_backward_pre_hook", "register_load_state_dict_post_hook", "register_load_state_dict_pre_hook",
    "register_module", "register_parameter", "register_state_dict_post_hook", "register_state_dict_pre_hook",
    "requires_grad_", "set_extra_state", "set_submodule", "share_memory", "state_dict", "to", "to_empty", "train",
    "training", "type", "xpu", "zero_grad",
})
GRAPH_MODULE_ATTRIBUTES = frozenset({
    "add_submodule", "code", "delete_all_unused_submodules", "delete_submodule", "graph", "meta", "print_readable",
    "recompile", "shape_env", "to_folder",
})


def check_name(name: str) -> str:
    """``name`` itself if it can name a torch submodule; otherwise a ValueError saying why not."""
    if not NAME_PATTERN.fullmatch(name):
        raise ValueError(f"{name!r} is not a module name (letters, digits and _, starting with a letter or digit)")
    for words, what in ((MODULE_ATTRIBUTES, "an attribute of torch.nn.Module"),
                        (GRAPH_MODULE_ATTRIBUTES, "an attribute of torch.fx.GraphModule"),
                        (keyword.kwlist, "a Python keyword")):
        if name in words:
            raise ValueError(f"{name!r} is reserved ({what}); choose another name")
    return name
