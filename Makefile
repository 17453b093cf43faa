# `make run` and `make test` work on a machine with only Python 3.11 and pip.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
FLASK := $(BIN)/flask --app marketplace
SPECTRAL := .cache/node/node_modules/.bin/spectral
SPECTRAL_CLI := @stoplight/spectral-cli@6.16.3

NODE_PROVENANCE := .cache/node-provenance
NODE_PROVENANCE_PACKAGES := jsonld-signatures@11.6.0 @digitalbazaar/data-integrity@2.5.0 \
	@digitalbazaar/eddsa-jcs-2022-cryptosuite@1.0.0 axe-core@4.14.1

.PHONY: install run test lint bench clean browser spectral fonts provenance-tools wrk exiftool

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# compiled catalogues are remade only when their .po changed, so that two `make test` runs side
# by side (.ci/run) never rewrite a file the other's tests are reading
MO_FILES := $(patsubst %.po,%.mo,$(wildcard marketplace/translations/*/LC_MESSAGES/messages.po))

install: $(STAMP) fonts $(MO_FILES)

marketplace/translations/%/LC_MESSAGES/messages.mo: marketplace/translations/%/LC_MESSAGES/messages.po $(STAMP)
	$(BIN)/pybabel -q compile -i $< -o $@

# PDFs print every script buyers write (Latin, Cyrillic, Arabic, Hebrew, CJK) with Debian's Noto
# fonts; install them when we may (root + apt), else papers fall back to DejaVu and the
# multi-script PDF tests skip.
fonts:
	@if [ ! -f /usr/share/fonts/truetype/noto/NotoSans-Regular.ttf ] \
			|| [ ! -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				fonts-noto-core fonts-noto-cjk; \
		else echo "note: fonts-noto-core/fonts-noto-cjk missing (apt-get install them); \
multi-script PDF tests will skip"; fi; \
	fi

# web, worker, beat, the Stripe emulator and its webhook registration (Procfile); Ctrl-C stops all
run: install
	$(FLASK) db upgrade
	$(FLASK) seed demo
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start --procfile Procfile

# Browser tests drive Debian's Chromium; install it when we may (root + apt), else they skip.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
		else echo "note: /usr/bin/chromium missing (apt-get install chromium); browser tests will skip"; fi; \
	fi

# exiftool reads every metadata group of the served photos in tests/catalog/test_images.py (an
# implementation that is not ours); without it that check is left to exifread.
exiftool:
	@if ! command -v exiftool >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libimage-exiftool-perl; \
		else echo "note: exiftool missing (apt-get install libimage-exiftool-perl); exifread checks alone"; fi; \
	fi

# Spectral lints the OpenAPI document (tests/test_openapi.py); from npm into .cache/node.
# Without Node.js its test skips.
spectral:
	@if [ ! -x $(SPECTRAL) ]; then \
		if command -v npm >/dev/null; then \
			npm install --prefix .cache/node --no-audit --no-fund --loglevel=error $(SPECTRAL_CLI) \
				|| echo "note: npm could not install $(SPECTRAL_CLI); the Spectral test will say so"; \
		else echo "note: node/npm missing; the Spectral test will skip"; fi; \
	fi

# Outside implementations the provenance tests check our output with: Digital Bazaar's Data
# Integrity libraries and axe-core (npm, into .cache/node-provenance), and Go's sumdb note and
# tlog packages (Debian's golang-go and golang-golang-x-mod-dev). Missing ones make those
# tests skip, saying what to install.
provenance-tools:
	@if [ ! -d $(NODE_PROVENANCE)/node_modules/axe-core ]; then \
		if command -v npm >/dev/null; then \
			npm install --prefix $(NODE_PROVENANCE) --no-audit --no-fund --loglevel=error \
				$(NODE_PROVENANCE_PACKAGES) || echo "note: npm could not install $(NODE_PROVENANCE_PACKAGES)"; \
		else echo "note: node/npm missing; credential and contrast checks will skip"; fi; \
	fi
	@if [ ! -d /usr/share/gocode/src/golang.org/x/mod/sumdb/tlog ] || ! command -v go >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go golang-golang-x-mod-dev; \
		else echo "note: apt-get install golang-go golang-golang-x-mod-dev for the log proof checks"; fi; \
	fi

test: install browser spectral provenance-tools exiftool
	$(BIN)/python -m pytest

# ruff, and the layer contracts of .importlinter (no domain imports a higher one)
lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# The catalogue benchmark loads gunicorn with wrk; install it when we may (root + apt), else
# it falls back to a Python load generator.
wrk:
	@if ! command -v wrk >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; \
		else echo "note: wrk missing (apt-get install wrk); the catalogue bench uses Python"; fi; \
	fi

# BENCH_ARGS for the catalogue, e.g. BENCH_ARGS=--million (1M products on PostgreSQL, long)
bench: install wrk
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache .cache/node $(NODE_PROVENANCE)
