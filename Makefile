# Every target bootstraps .venv itself, so a fresh clone needs only python3 and make.
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch that lies on these machines' local disk (an unpinned torch pulls a
# ~5 GB CUDA build). Set TORCH_SPEC= (empty) to keep a torch you brought yourself.
TORCH_SPEC ?= torch==2.13.0
EXTRAS ?= local,transformers,ui,dev
# An OpenAI-compatible embedding server (infinity-emb), in its own venv: tests start it on the
# bundled model's folder (tests/test_embed_server.py); see docs/deployment.md.
EMBED_VENV ?= .venv-embed
STORE ?= store
HOST ?= 127.0.0.1
PORT ?= 7860

.PHONY: install embed-server demo test test-fast chromium lint format typecheck bench eval-quick clean

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml | $(PY)
	@if [ -n "$(TORCH_SPEC)" ]; then $(PY) -m pip install "$(TORCH_SPEC)"; fi
	$(PY) -m pip install -e ".[$(EXTRAS)]"
	$(VENV)/bin/assistant model prepare
	touch $@

embed-server: $(EMBED_VENV)/.installed

$(EMBED_VENV)/.installed: pyproject.toml
	python3 -m venv $(EMBED_VENV)
	$(EMBED_VENV)/bin/python -m pip install -q --upgrade pip
	$(EMBED_VENV)/bin/python -m pip install -q --group embed-server
	touch $@

demo: install
	$(VENV)/bin/assistant --store $(STORE) ingest data/sample --year 2024  # the sample pages are from 2024
	$(VENV)/bin/assistant --store $(STORE) stats
	@# The sample's weeks, once and quickly (keyword theme names, no paragraphs: writing them
	@# with the local model takes minutes per week on 2 cores). Exit 3 = already there.
	$(VENV)/bin/assistant --store $(STORE) weekly --all --no-llm || [ $$? -eq 3 ]
	$(VENV)/bin/assistant --store $(STORE) ui --host $(HOST) --port $(PORT)

test: install chromium embed-server
	$(VENV)/bin/pytest

# The browser tests drive Debian's Chromium (never a browser downloaded by playwright).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		apt-get update && apt-get install -y chromium chromium-driver; \
	fi

test-fast: install
	$(VENV)/bin/pytest -m "not llm and not server and not browser and not slow"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

typecheck: install
	$(VENV)/bin/mypy

bench: install
	$(PY) bench/startup.py
	$(PY) bench/ingest.py
	$(PY) bench/retrieval.py
	$(PY) bench/llm.py
	$(PY) bench/digest.py

# The CI quality floor by hand: quick.jsonl, retrieval only, over $(STORE) (tests/test_eval.py
# checks hybrid hit@5 on the sample corpus in CI).
eval-quick: install
	$(VENV)/bin/assistant --store $(STORE) eval run eval/suites/quick.jsonl --no-llm

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache bench/results
