# Two entry points: `make run` (install, then the chat page on the sample articles) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False ANONYMIZED_TELEMETRY=False

.PHONY: install run test bench

install: $(VENV)/.installed

# torch first and pinned: it takes the local CPU build; an unpinned torch would pull GBs of CUDA.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[app,slack,test]'
	touch $@

run: install
	$(VENV)/bin/qa ask "What did Sullivan convey?"

test: install
	$(PY) -m pytest -q

bench: install
	$(PY) bench/ingest_query.py
