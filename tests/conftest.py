"""Suite-wide settings: each pytest-xdist worker runs torch on one thread (two workers share the two cores)."""

import os

import torch

if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)
