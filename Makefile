# saliency: build, set-up and test entry points. `make help` lists them.
#
# The TensorFlow C library comes from the tensorflow-cpu wheel in .venv (its
# libtensorflow_cc.so.2 exports the C API); the Go binding is generated into
# build/tf by tools/tfbinding/generate.sh. The cgo flags that tie them together
# live here and nowhere else.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

PYTHON ?= python3
# tensorflow-cpu 2.21 has wheels for these only (none for 3.10, end of life since
# October 2026, nor 3.14); `make setup PYTHON=python3.13` picks one.
PYTHON_VERSIONS := 3.11 3.12 3.13
VENV := $(CURDIR)/.venv
VPY := $(VENV)/bin/python
MODELS := $(CURDIR)/models
GO ?= go

# Resolved when a recipe runs, after .venv exists.
TF_LIB = $(firstword $(wildcard $(VENV)/lib/python3*/site-packages/tensorflow))
CGO_ENV = CGO_ENABLED=1 \
	CGO_CFLAGS="$(CGO_CFLAGS) -I$(TF_LIB)/include" \
	CGO_LDFLAGS="$(CGO_LDFLAGS) -L$(CURDIR)/build/lib -L$(TF_LIB) -l:libtensorflow_framework.so.2 -Wl,-rpath,$(TF_LIB)"
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GO_LDFLAGS := -X main.version=$(VERSION)

GO_SOURCES := $(shell find cmd internal -name '*.go' -not -name '*_test.go' 2>/dev/null) go.mod go.sum

.PHONY: help python setup build test test-go test-python demo bench scaling compare clean distclean apt venv binding models peers \
	install uninstall dist

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14

setup: python apt venv binding build models ## install everything a fresh machine lacks, build bin/saliency and the models

# Before anything is installed: a python3 TensorFlow 2.21 has no wheel for stops here.
python:
	@test -x $(VPY) || tools/check-python.sh "$(PYTHON)" $(PYTHON_VERSIONS)

# protoc generates the binding's protobuf code; Fashion-MNIST trains the demo
# model; the report's test opens the page in headless Chromium.
APT_PACKAGES := protobuf-compiler dataset-fashion-mnist chromium
FASHION_MNIST := /usr/share/datasets/fashion-mnist

apt: ## Debian packages: protoc, Fashion-MNIST, Chromium
	@command -v protoc >/dev/null && test -d $(FASHION_MNIST) && command -v chromium >/dev/null || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES) >/dev/null; }

venv: $(VENV)/.stamp ## the Python environment (exporter and reference tests)
$(VENV)/.stamp: requirements.txt requirements-nodeps.txt
	test -x $(VPY) || tools/check-python.sh "$(PYTHON)" $(PYTHON_VERSIONS)
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q -r requirements.txt
	$(VPY) -m pip install -q --no-deps -r requirements-nodeps.txt
	touch $@

binding: apt venv ## generate TensorFlow's Go binding and link the C library into build/
	tools/tfbinding/generate.sh build/tf
	mkdir -p build/lib
	ln -sf $(TF_LIB)/libtensorflow_cc.so.2 build/lib/libtensorflow.so

build: bin/saliency ## build bin/saliency
bin/saliency: $(GO_SOURCES) | venv binding
	$(CGO_ENV) $(GO) build -trimpath -ldflags '$(GO_LDFLAGS)' -o $@ ./cmd/saliency

# The installed program: the same code, linked to find TensorFlow beside itself
# (RUNPATH $ORIGIN) and nowhere else (a caller's CGO_LDFLAGS, which may hold an
# -rpath into a checkout, is left out), without Go's symbol table.
build/install/saliency: $(GO_SOURCES) | venv binding
	mkdir -p $(@D)
	CGO_ENABLED=1 CGO_CFLAGS="$(CGO_CFLAGS) -I$(TF_LIB)/include" \
		CGO_LDFLAGS="-L$(CURDIR)/build/lib -L$(TF_LIB) -l:libtensorflow_framework.so.2 -Wl,-rpath,\$$ORIGIN" \
		$(GO) build -trimpath -ldflags '$(GO_LDFLAGS) -s -w' -o $@ ./cmd/saliency

PREFIX ?= /usr/local
DESTDIR ?=
INSTALL_INPUTS = build/install/saliency bin/saliency $(MODELS)/xception/saliency.json $(MODELS)/fashion/saliency.json
DIST_DIR = saliency-$(VERSION)
DIST_ARCHIVE = $(DIST_DIR)-linux-amd64.tar.gz

install: $(INSTALL_INPUTS) ## install into $(DESTDIR)$(PREFIX) (default /usr/local): program, TensorFlow, models, completions, man pages
	tools/install/install.sh "$(DESTDIR)$(PREFIX)" build/install/saliency bin/saliency "$(TF_LIB)" $(MODELS)

uninstall: ## remove exactly what make install put into $(DESTDIR)$(PREFIX)
	tools/install/install.sh --uninstall "$(DESTDIR)$(PREFIX)"

dist: $(INSTALL_INPUTS) ## build/dist/saliency-VERSION-linux-amd64.tar.gz (the installed tree) and its .sha256
	rm -rf build/dist && mkdir -p build/dist
	tools/install/install.sh build/dist/$(DIST_DIR) build/install/saliency bin/saliency "$(TF_LIB)" $(MODELS)
	rm build/dist/$(DIST_DIR)/lib/saliency/installed # a record of one install, not part of the release
	tar -C build/dist --owner=0 --group=0 --numeric-owner -czf build/dist/$(DIST_ARCHIVE) $(DIST_DIR)
	cd build/dist && sha256sum $(DIST_ARCHIVE) > $(DIST_ARCHIVE).sha256
	rm -rf build/dist/$(DIST_DIR)
	@ls -l build/dist

models: $(MODELS)/xception/saliency.json $(MODELS)/fashion/saliency.json ## export random Xception, train the fashion model
$(MODELS)/xception/saliency.json: models/export.py models/classifiers.py $(VENV)/.stamp
	$(VPY) models/export.py --weights none --out $(MODELS)/xception

# The trained demo model and its re-initialised twin (for the randomisation check).
$(MODELS)/fashion/saliency.json: models/fashion.py models/export.py models/classifiers.py $(VENV)/.stamp | apt
	TF_CPP_MIN_LOG_LEVEL=2 $(VPY) models/fashion.py train --skip-if-current \
		--out $(MODELS)/fashion --random-out $(MODELS)/fashion-random

# Held-out composites (Fashion-MNIST's test split): seed 7 is the set the
# training recipe was tuned against and its log reports, used by the method
# tests, the demo and the comparison table; the eval goal test runs on seed
# 5011, drawn after the recipe was frozen and never used to choose it.
HELDOUT := $(CURDIR)/build/composites/heldout
$(HELDOUT)/boxes.json: models/fashion.py $(VENV)/.stamp | apt
	$(VPY) models/fashion.py composites --split test --seed 7 --n 500 --out $(HELDOUT)
GOALSET := $(CURDIR)/build/composites/goals
$(GOALSET)/boxes.json: models/fashion.py $(VENV)/.stamp | apt
	$(VPY) models/fashion.py composites --split test --seed 5011 --n 500 --out $(GOALSET)

test: setup test-go test-python ## set up, then run every test

TEST_ENV = SALIENCY_TEST_MODEL=$(MODELS)/xception SALIENCY_RESIZE_REFERENCE=$(CURDIR)/build/reference/resize.json \
	SALIENCY_COLORMAP_REFERENCE=$(CURDIR)/build/reference/colormaps.json \
	SALIENCY_TEST_FASHION=$(MODELS)/fashion SALIENCY_TEST_COMPOSITES=$(HELDOUT) \
	SALIENCY_TEST_GOAL_COMPOSITES=$(GOALSET) \
	SALIENCY_FELZENSZWALB_REFERENCE=$(CURDIR)/build/reference/felzenszwalb.json

# The packages that must build, vet and test without cgo (README, "How the code
# is laid out"); the others but backprop and cmd/saliency build without it.
PURE_GO = ./internal/output ./internal/inputs ./internal/postproc ./internal/render \
	./internal/imageio ./internal/evaluate ./internal/manifest ./internal/jsonnum ./internal/report \
	./internal/hostcpu ./internal/segment ./internal/gaussfilter

test-go: build/reference/resize.json build/reference/colormaps.json build/reference/felzenszwalb.json \
	$(HELDOUT)/boxes.json $(GOALSET)/boxes.json
	$(TEST_ENV) $(CGO_ENV) $(GO) vet ./...
	$(TEST_ENV) CGO_ENABLED=0 $(GO) vet $(PURE_GO)
	CGO_ENABLED=0 $(GO) build ./internal/engine ./internal/method
	$(TEST_ENV) CGO_ENABLED=0 $(GO) test -count=1 $(PURE_GO)
	$(TEST_ENV) $(CGO_ENV) $(GO) test -count=1 ./...

# tf.image.resize's output on random maps, for postproc's Go test.
build/reference/resize.json: tests/reference/resize.py $(VENV)/.stamp
	mkdir -p $(@D)
	TF_CPP_MIN_LOG_LEVEL=2 $(VPY) tests/reference/resize.py $@

# matplotlib's colormap tables (the version requirements.txt pins), for render's
# and the pictures test's Go tests.
build/reference/colormaps.json: tests/reference/colormaps.py $(VENV)/.stamp
	mkdir -p $(@D)
	$(VPY) tests/reference/colormaps.py $@

# scikit-image's Felzenszwalb segmentations (the release bench/requirements.txt
# pins, which PAIR's XRAI runs with), for segment's Go test; .venv has no
# scikit-image, the peers' venv has.
build/reference/felzenszwalb.json: tests/reference/felzenszwalb.py bench/requirements.txt \
		testdata/astronaut.jpg testdata/chelsea.jpg | peers
	mkdir -p $(@D)
	$(PEERS_PY) tests/reference/felzenszwalb.py $@

# pytest's worker processes (pytest-xdist): one per core, up to 4. Most of the
# suite is single-threaded graph tracing; tests/conftest.py groups the tests.
# -rs prints why each skipped test skipped (keras-explainable's, without its source).
TEST_JOBS ?= $(shell n=$$(nproc); echo $$(( n < 4 ? n : 4 )))
test-python: peers
	SALIENCY_BIN=$(CURDIR)/bin/saliency SALIENCY_TEST_MODEL=$(MODELS)/xception \
		SALIENCY_TEST_FASHION=$(MODELS)/fashion SALIENCY_PEERS_PYTHON=$(PEERS_PY) TF_CPP_MIN_LOG_LEVEL=2 \
		$(VPY) -m pytest -q -rs -n $(TEST_JOBS) --dist loadgroup --no-loadscope-reorder tests

# The Python peers (tf-keras-vis, PAIR saliency, tf-keras) in their own venv,
# beside .venv (bench/venv.sh): the peers' parity tests run them, as does make bench.
PEERS_PY := $(CURDIR)/build/bench/venv/bin/python
peers: venv ## the Python peers' venv (build/bench/venv), for their parity tests and the bench
	bench/venv.sh

# WEIGHTS=imagenet explains the photos in testdata/ with ImageNet Xception
# instead (Keras downloads the weights; needs its host or a filled Keras cache).
WEIGHTS ?=
DEMO := $(CURDIR)/demo

demo: setup $(HELDOUT)/boxes.json ## explain held-out composites with the trained fashion model into demo/ (open demo/index.html)
	@echo "The demo's page: $(DEMO)/index.html"
ifeq ($(WEIGHTS),imagenet)
	$(VPY) models/export.py --weights imagenet --out $(MODELS)/xception-imagenet
	rm -rf $(DEMO) && mkdir -p $(DEMO)/maps
	bin/saliency explain --model xception-imagenet --top-k 2 --colormap inferno --overlay \
		--grid $(DEMO)/grid.png --report $(DEMO)/index.html --out-dir $(DEMO)/maps testdata/*.jpg
else
	rm -rf $(DEMO) && mkdir -p $(DEMO)/maps
	$(VPY) models/fashion.py composites --split test --seed 2026 --n 8 --out $(DEMO)/inputs
	bin/saliency explain --model fashion --top-k 2 --colormap inferno --overlay \
		--grid $(DEMO)/grid.png --report $(DEMO)/index.html --out-dir $(DEMO)/maps $(DEMO)/inputs/*.png
	for m in smoothgrad integrated gradcam; do \
		bin/saliency explain -q --model fashion --method $$m --colormap inferno --overlay \
			--grid $(DEMO)/grid.$$m.png --report $(DEMO)/report.$$m.html --out-dir $(DEMO)/maps $(DEMO)/inputs/*.png; done
	bin/saliency eval --model fashion --limit 200 --report $(DEMO)/eval.html $(HELDOUT)
endif
	@echo
	@echo "Open $(DEMO)/index.html in a browser: each input, its two top classes with"
	@echo "their logits, maps and overlays (report.<method>.html for the other methods,"
	@echo "eval.html for the scores). Contact sheets: $(DEMO)/grid*.png; files: $(DEMO)/maps/."

bench: build $(MODELS)/xception/saliency.json ## the CLI against the Python tools, side by side (bench/README.md)
	bench/run.sh

scaling: build $(MODELS)/xception/saliency.json $(MODELS)/fashion/saliency.json ## the README's scaling table: time, memory, share of peak against images, K, input size
	bench/run-scaling.sh

compare: build $(MODELS)/fashion/saliency.json $(HELDOUT)/boxes.json ## every method scored by eval on the held-out composites
	$(VPY) tools/compare_methods.py --model $(MODELS)/fashion --dir $(HELDOUT) --json build/compare.json

clean: ## remove build outputs (keeps .venv and models)
	rm -rf bin build/tf build/lib build/install build/dist demo

distclean: clean ## also remove .venv, build/ and exported models
	rm -rf $(VENV) build $(MODELS)/xception $(MODELS)/xception-imagenet $(MODELS)/fashion $(MODELS)/fashion-random
