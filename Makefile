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
VENV := $(CURDIR)/.venv
VPY := $(VENV)/bin/python
MODELS := $(CURDIR)/models
GO ?= go

# Resolved when a recipe runs, after .venv exists.
TF_LIB = $(firstword $(wildcard $(VENV)/lib/python3*/site-packages/tensorflow))
CGO_ENV = CGO_ENABLED=1 \
	CGO_CFLAGS="$(CGO_CFLAGS) -I$(TF_LIB)/include" \
	CGO_LDFLAGS="$(CGO_LDFLAGS) -L$(CURDIR)/build/lib -Wl,-rpath,$(TF_LIB)"
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GO_LDFLAGS := -X main.version=$(VERSION)

GO_SOURCES := $(shell find cmd internal -name '*.go' -not -name '*_test.go' 2>/dev/null) go.mod go.sum

.PHONY: help setup build test test-go test-python demo clean distclean apt venv binding models

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14

setup: apt venv binding build models ## install everything a fresh machine lacks, build bin/saliency and the models

apt: ## Debian packages (protoc, to generate the binding's protobuf code)
	@command -v protoc >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler >/dev/null; }

venv: $(VENV)/.stamp ## the Python environment (exporter and reference tests)
$(VENV)/.stamp: requirements.txt requirements-nodeps.txt
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

models: $(MODELS)/xception/saliency.json ## export the models the tests and demo use
$(MODELS)/xception/saliency.json: models/export.py $(VENV)/.stamp
	$(VPY) models/export.py --weights none --out $(MODELS)/xception

test: setup test-go test-python ## set up, then run every test

TEST_ENV = SALIENCY_TEST_MODEL=$(MODELS)/xception SALIENCY_RESIZE_REFERENCE=$(CURDIR)/build/reference/resize.json

test-go: build/reference/resize.json
	$(TEST_ENV) $(CGO_ENV) $(GO) vet ./...
	$(TEST_ENV) $(CGO_ENV) $(GO) test -count=1 ./...

# tf.image.resize's output on random maps, for postproc's Go test.
build/reference/resize.json: tests/reference/resize.py $(VENV)/.stamp
	mkdir -p $(@D)
	TF_CPP_MIN_LOG_LEVEL=2 $(VPY) tests/reference/resize.py $@

test-python:
	SALIENCY_BIN=$(CURDIR)/bin/saliency SALIENCY_TEST_MODEL=$(MODELS)/xception \
		$(VPY) -m pytest -q tests

demo: setup ## explain the photos in testdata/ and write maps, overlays and a grid to demo/
	rm -rf demo && mkdir -p demo
	bin/saliency explain --model xception --top-k 1 --colormap inferno --overlay \
		--grid demo/grid.png --out-dir demo testdata/*.jpg
	@echo "Look at $(CURDIR)/demo/grid.png (originals on top, maps below); maps and overlays are in demo/."

clean: ## remove build outputs (keeps .venv and models)
	rm -rf bin build/tf build/lib demo

distclean: clean ## also remove .venv, build/ and exported models
	rm -rf $(VENV) build $(MODELS)/xception
