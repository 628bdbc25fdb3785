# harmonize: `make demo` and `make test` set up everything on a fresh Debian machine.
SHELL := /bin/bash
# Build and test dependencies (the `ffmpeg` command makes test media and reference runs).
APT_PACKAGES := libavformat-dev libavcodec-dev libswscale-dev libavutil-dev libopenblas-dev pkg-config ffmpeg
BENCH_PACKAGES := time bc
RELEASE_BIN := .build/release/harmonize

.PHONY: deps build test demo bench train clean

deps:
	@scripts/apt-ensure.sh $(APT_PACKAGES)

build: deps
	swift build -c release

test: deps
	swift test

demo: build
	scripts/demo.sh $(RELEASE_BIN)

bench: build
	@scripts/apt-ensure.sh $(BENCH_PACKAGES)
	scripts/bench.sh $(RELEASE_BIN)

# Training (never part of `make test`): installs the photo packages and PyTorch, then trains or resumes
# the run in training/runs/base (checkpoints every 250 steps; run it again to continue).
train:
	training/prepare_data.sh
	cd training && python3 train.py --run runs/base $(TRAIN_ARGS)

clean:
	rm -rf .build out
