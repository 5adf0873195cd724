# Developer shortcuts. The README's two quick-start commands are `make summary` and `make test`.
SHELL := /bin/bash
SWIFT ?= swift

.PHONY: deps build release summary test generated check-generated fuzz clean

# libyaml is the one C library modelc links; install it when missing (Debian/Ubuntu).
deps:
	@pkg-config --exists yaml-0.1 2>/dev/null || { \
	  echo "installing libyaml-dev"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq libyaml-dev pkg-config; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq libyaml-dev pkg-config; fi; }

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

# The main job on a shipped spec.
summary: release
	.build/release/modelc summary Specs/resnet.yaml --variant 50

# The whole test suite (what CI runs).
test: deps
	$(SWIFT) test

# Rewrite Generated/ from Specs/ (review the diff, then commit it).
generated: deps
	$(SWIFT) build -c release --product modelc
	.build/release/modelc generate --specs Specs --out Generated

check-generated: deps
	$(SWIFT) build -c release --product modelc
	.build/release/modelc generate --check --specs Specs --out Generated

fuzz:
	bash Tests/Fuzz/run.sh 600

clean:
	rm -rf .build
