# Set-up and entry points. Everything goes into a virtual environment in .venv.
#   make demo   install what is missing, then run the quickstart (README)
#   make test   install what is missing, then run the whole test suite
# DEVICE=cpu|gpu picks mmcv-lite + faiss-cpu or mmcv + faiss-gpu (auto-detected).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEVICE ?= $(shell nvidia-smi -L >/dev/null 2>&1 && echo gpu || echo cpu)
FASHION_MNIST_DIR ?= /usr/share/datasets/fashion-mnist
DEMO_CONFIG ?= configs/quickstart/mocov2_resnet18-w16_1xb256-4e_fashionmnist.py
DEMO_WORK_DIR ?= work_dirs/quickstart
PYTEST_ARGS ?= -n 2

STAMP := $(VENV)/.installed-$(DEVICE)
APT_CMD := apt-get update && apt-get install -y --no-install-recommends dataset-fashion-mnist

.PHONY: install data demo test clean

install: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements/runtime.txt requirements/tests.txt requirements/$(DEVICE).txt setup.py | $(PY)
	$(PY) -m pip install --quiet --upgrade "pip<25" wheel
	$(PY) -m pip install --quiet -r requirements/runtime.txt -r requirements/$(DEVICE).txt -r requirements/tests.txt
	if [ "$(DEVICE)" = gpu ]; then $(PY) -m pip install --no-build-isolation "mmcv>=2.0.0,<2.4.0"; fi
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	rm -f $(VENV)/.installed-*
	touch $@

# Fashion-MNIST from Debian's dataset-fashion-mnist package.
data:
	@if [ -f $(FASHION_MNIST_DIR)/train-images-idx3-ubyte.gz ] || [ -f $(FASHION_MNIST_DIR)/train-images-idx3-ubyte ]; then \
		exit 0; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Fashion-MNIST: $(APT_CMD)"; \
		$(APT_CMD) || { echo "Could not install Fashion-MNIST; run: $(APT_CMD)"; exit 1; }; \
	else \
		echo "Fashion-MNIST is missing in $(FASHION_MNIST_DIR). Run as root:"; \
		echo "  $(APT_CMD)"; \
		exit 1; \
	fi

demo: install data
	$(PY) tools/train.py $(DEMO_CONFIG) --work-dir $(DEMO_WORK_DIR)
	$(PY) tools/analysis/knn_summary.py $(DEMO_WORK_DIR)/knn_summary.json

test: install data
	$(PY) -m pytest tests $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) work_dirs .pytest_cache
