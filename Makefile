# Two entry points: `make run` (install, then the chat page on the sample articles) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False ANONYMIZED_TELEMETRY=False

.PHONY: install browser run test bench

install: $(VENV)/.installed

# torch first and pinned: it takes the local CPU build; an unpinned torch would pull GBs of CUDA.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[app,slack,test]'
	touch $@

# Debian's chromium for the browser tests (Playwright cannot download its own browser here).
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

run: install
	$(PY) app.py

test: install browser
	$(PY) -m pytest -q

bench: install
	$(PY) bench/ingest_query.py
