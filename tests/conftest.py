"""Suite-wide settings: each pytest-xdist worker runs torch on one thread (two workers share the two cores), and
hypothesis keeps its example database in a temporary folder rather than in the checkout."""

import atexit
import os
import shutil
import tempfile

import torch
from hypothesis.configuration import set_hypothesis_home_dir

if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)
_HYPOTHESIS_HOME = tempfile.mkdtemp(prefix="archspec-hypothesis-")
set_hypothesis_home_dir(_HYPOTHESIS_HOME)
atexit.register(shutil.rmtree, _HYPOTHESIS_HOME, ignore_errors=True)
