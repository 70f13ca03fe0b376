# Two entry points on a fresh machine: `make demo` and `make test`.
# Both create or reuse $(VENV) and install torch first, then the package.
# CUDA users: make test TORCH_SPEC="torch==2.13.0" TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cu128"
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
TORCH_PIP_ARGS ?=
PY := $(VENV)/bin/python
# Test processes (pytest-xdist; each runs torch on 1 thread): one per core, at most 8. Whole test modules go to one
# worker (--dist loadscope), so a module's trained fixtures are built once. TEST_WORKERS=0: all in this process.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); echo $$(( n > 8 ? 8 : n )))
STAMP := $(VENV)/.latent-atlas-installed

.PHONY: install demo test lint format bench clean ae

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q "$(TORCH_SPEC)" $(TORCH_PIP_ARGS)
	$(PY) -m pip install -q -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m latent_atlas.demo --workdir outputs/demo

# Remakes the built-in autoencoders (latent_atlas/spaces/weights/) from synthesized data: about 90 minutes on 2 cores.
ae: $(STAMP)
	$(PY) benchmarks/builtin_ae.py --igae-loss-ae 3.0 --install
	$(PY) benchmarks/builtin_ae.py --preset latlas-f4c16-pooled --logvar-init -1.4 --recon-steps 1500 --no-igae --install
	$(PY) benchmarks/builtin_ae.py --preset latlas-f4c16-pooled --plain latlas-f4c16-pooled --igae-loss-ae 1.0 --install
	$(PY) benchmarks/builtin_ae.py --preset latlas-f4c16-slim --plain latlas-f4c16-pooled-igae --decoder-steps 3000 --decoder-lr 1e-3 --decoder-lr-final 5e-5 --no-igae --install
	$(PY) benchmarks/builtin_ae.py --preset latlas-f4c16-slim --plain latlas-f4c16-pooled-igae --decoder-steps 3000 --decoder-lr 1e-3 --decoder-lr-final 5e-5 --igae-loss-ae 1.0 --igae-frozen-encoder --install

test: $(STAMP) lint
	$(PY) -m pytest -q -x --durations=10 -n $(TEST_WORKERS) --dist loadscope

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf outputs .pytest_cache
