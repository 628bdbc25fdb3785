# harmonize: `make demo` and `make test` set up everything on a fresh Debian machine.
SHELL := /bin/bash
# Build and test dependencies (the `ffmpeg` command makes test media and reference runs; GNU parallel
# runs the scale-out recipe of deploy/ in the tests).
APT_PACKAGES := libavformat-dev libavcodec-dev libswscale-dev libavutil-dev libopenblas-dev pkg-config ffmpeg parallel
BENCH_PACKAGES := time bc
RELEASE_BIN := .build/release/harmonize
PREFIX ?= /usr/local
MODEL := models/harmonize.safetensors
IHARMONY4 ?= ../shared/data/iharmony4-samples

.PHONY: deps build test test-cluster check-deploy fuzz check-sanitizers demo bench train eval eval-video samples install uninstall clean

deps:
	@scripts/apt-ensure.sh $(APT_PACKAGES)

build: deps
	swift build -c release

# Every test (the fuzz targets' committed corpora are replayed by one of them), each fuzz target for
# 15 s under libFuzzer and AddressSanitizer, and the pipeline and engine suites under the sanitizers.
test: deps
	swift test
	$(MAKE) fuzz FUZZ_SECONDS=15
	$(MAKE) check-sanitizers
	$(MAKE) check-deploy
	scripts/test-cluster.sh .build/debug/harmonize

# The deploy/ recipes' static checks: the shell scripts through shellcheck, the Kubernetes manifests
# against the Kubernetes schemas (PyPI's kubernetes-validate, in a virtual environment of its own).
# GNU parallel's recipe runs in `swift test` (ScaleOutTests), Slurm's in scripts/test-cluster.sh.
DEPLOY_VENV := .build/deploy-venv
check-deploy:
	@scripts/apt-ensure.sh shellcheck python3-venv
	shellcheck deploy/*.sh deploy/slurm/*.sh deploy/slurm/*.sbatch scripts/test-cluster.sh
	@test -x $(DEPLOY_VENV)/bin/kubernetes-validate || { python3 -m venv $(DEPLOY_VENV) && $(DEPLOY_VENV)/bin/pip install -q kubernetes-validate==1.37.0; }
	$(DEPLOY_VENV)/bin/kubernetes-validate --strict deploy/k8s/*.yaml

# The Slurm recipe of deploy/ on a single-node Slurm cluster that the script starts and stops itself
# (installs Slurm and munge; under a minute). `make test` runs it with the debug build.
test-cluster: build
	scripts/test-cluster.sh $(RELEASE_BIN)

# The pipeline and engine suites under AddressSanitizer (with LeakSanitizer) and ThreadSanitizer, each
# in a build tree of its own (~3 min to build and 1 min to run on 2 cores). Swift has no
# -sanitize=undefined: its own checks already trap on overflow and out-of-bounds access in these
# debug builds. lld links them (gold fails on the instrumented objects).
SANITIZED_SUITES := 'VideoPipeTests|EngineTests'
LLD := -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld
check-sanitizers: deps
	swift build -q --build-tests --scratch-path .build/asan --sanitize=address $(LLD)
	LSAN_OPTIONS=suppressions=$(CURDIR)/scripts/lsan.supp swift test --skip-build --scratch-path .build/asan --sanitize=address --filter $(SANITIZED_SUITES)
	swift build -q --build-tests --scratch-path .build/tsan --sanitize=thread $(LLD)
	TSAN_OPTIONS=halt_on_error=1 swift test --skip-build --scratch-path .build/tsan --sanitize=thread --filter $(SANITIZED_SUITES)

# libFuzzer on each parser (Fuzz/): an instrumented build of its own in .build/fuzz, seeded from the
# committed corpus (Fuzz/corpus/TARGET, read only); what it finds new goes to .build/fuzz/corpus. A
# crash stops with the input in .build/fuzz/crash-*: add it to Fuzz/corpus/TARGET as a regression case.
FUZZ_SECONDS ?= 300
FUZZ_TARGETS := model-file frame-geometry paths options
FUZZ_FLAGS := -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING $(LLD)
fuzz: deps
	@for t in $(FUZZ_TARGETS); do swift build -q -c release --scratch-path .build/fuzz $(FUZZ_FLAGS) --product fuzz-$$t || exit 1; done
	@for t in $(FUZZ_TARGETS); do \
	    mkdir -p .build/fuzz/corpus/$$t; \
	    echo "fuzz-$$t: $(FUZZ_SECONDS) s"; \
	    .build/fuzz/release/fuzz-$$t .build/fuzz/corpus/$$t Fuzz/corpus/$$t -max_total_time=$(FUZZ_SECONDS) \
	        -rss_limit_mb=4096 -artifact_prefix=.build/fuzz/ -print_final_stats=1 2>&1 \
	        | grep -E '^(INFO: seed|stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY|.*Fatal error|.*precondition)' ; \
	    test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

demo: build
	scripts/demo.sh $(RELEASE_BIN)

bench: build
	@scripts/apt-ensure.sh $(BENCH_PACKAGES)
	scripts/bench.sh $(RELEASE_BIN)

# Training (never part of `make test`): installs the photo packages and PyTorch, then runs or resumes
# the ten stages of training/recipe.sh (snapshots as each stage sets; run it again to continue) and
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
