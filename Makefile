# harmonize: `make demo` and `make test` set up everything on a fresh Debian machine.
SHELL := /bin/bash
# Build and test dependencies (the `ffmpeg` command makes test media and reference runs).
APT_PACKAGES := libavformat-dev libavcodec-dev libswscale-dev libavutil-dev libopenblas-dev pkg-config ffmpeg
BENCH_PACKAGES := time bc
RELEASE_BIN := .build/release/harmonize
PREFIX ?= /usr/local
MODEL := models/harmonize.safetensors
IHARMONY4 ?= ../shared/data/iharmony4-samples

.PHONY: deps build test demo bench train eval eval-video samples install uninstall clean

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

# Training (never part of `make test`): installs the photo packages and PyTorch, then runs or resumes
# the four stages of training/recipe.sh (checkpoints every 250 steps; run it again to continue) and
# exports the last stage's snapshot that scores best on validation as the shipped model. TRAIN_ARGS go
# to every stage.
train:
	training/prepare_data.sh
	training/recipe.sh $(TRAIN_ARGS)

# The shipped model on iHarmony4-style triplets: composite, Reinhard, PyTorch and the Swift command,
# with the curves' slope and noise gain; then the same two measures on the bright-foreground clip.
eval: build
	training/prepare_data.sh
	cd training && python3 evaluate.py $(abspath $(IHARMONY4)) --model ../$(MODEL) --harmonize ../$(RELEASE_BIN)
	cd training && python3 noise_clip.py --harmonize ../$(RELEASE_BIN) --model ../$(MODEL)

# Temporal evaluation on clips with ground truth (made from the validation photos): the README's table.
eval-video: build
	training/prepare_data.sh
	cd training && python3 eval_video.py --harmonize ../$(RELEASE_BIN) --model ../$(MODEL)

# Remakes samples/ (committed; see samples/README.md).
samples:
	training/prepare_data.sh
	cd training && python3 make_samples.py ../samples

# The tool and its weights: $(PREFIX)/bin/harmonize finds $(PREFIX)/share/harmonize/harmonize.safetensors.
install: build
	install -D -m 755 $(RELEASE_BIN) $(DESTDIR)$(PREFIX)/bin/harmonize
	install -D -m 644 $(MODEL) $(DESTDIR)$(PREFIX)/share/harmonize/harmonize.safetensors

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/harmonize $(DESTDIR)$(PREFIX)/share/harmonize/harmonize.safetensors

clean:
	rm -rf .build out
