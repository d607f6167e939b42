# Two entry points (see README): `make demo` and `make test`. Both set up everything they need.
VENV  := .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
SUDO  := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test bench properties fuzz gallery docs schema

$(STAMP): pyproject.toml Makefile
	@command -v dot >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq graphviz; }
	@[ -x $(PY) ] || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch/torchvision pinned to the builds this machine's pip serves from local disk (CPU use only).
	$(PY) -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -q -e '.[test,docs]'
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/archspec build specs/efficientnet_b0.yaml

# the suite on two pytest-xdist workers (the two cores); the networks above 60 M parameters share one worker, one
# after the other, so that two of them never share the memory (tests/library.py: by_network)
test: $(STAMP)
	$(VENV)/bin/ruff check archspec tests benchmarks examples
	$(PY) -m mypy
	$(PY) -m pytest -q -n 2 --dist loadgroup --durations=10

bench: $(STAMP)
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) -m benchmarks

# specs/schema.json, blocks.schema.json and variant.schema.json (JSON Schemas for YAML editors), after a change to the language
schema: $(STAMP)
	$(VENV)/bin/archspec schema > specs/schema.json
	$(VENV)/bin/archspec schema --blocks > specs/blocks.schema.json
	$(VENV)/bin/archspec schema --variant > specs/variant.schema.json

# docs/gallery/<name>.svg (block level) for every spec, and docs/gallery.md listing them
gallery: $(STAMP)
	$(VENV)/bin/archspec gallery

# every generated page (gallery, references, library; tests/test_docs.py fails when one drifts), then the
# site in build/site (make test builds it too, in tests/test_docs.py)
docs: gallery
	$(VENV)/bin/archspec docs
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# larger hypothesis budget than CI's (5000 examples per property)
properties: $(STAMP)
	ARCHSPEC_HYPOTHESIS_PROFILE=large $(PY) -m pytest -q tests/test_properties.py tests/test_hostile.py

# coverage-guided; crashes, minimised, go to fuzz-crashes/ (keep each one as a test in tests/fuzz_crashes/)
MINUTES ?= 5
SEED ?= 0
fuzz: $(STAMP)
	$(PY) -m tests.fuzz --minutes $(MINUTES) --seed $(SEED)
