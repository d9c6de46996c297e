# Everything runs from a local virtual environment that these targets create.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Browser tests drive Debian's Chromium; never a downloaded browser build.
CHROMIUM := /usr/bin/chromium
# The MQTT sink's tests run against Debian's mosquitto broker, started by the tests.
MOSQUITTO := /usr/sbin/mosquitto
# The map's Korean is rendered with Debian's Nanum fonts in the browser tests.
NANUM := /usr/share/fonts/truetype/nanum/NanumGothic.ttf

.PHONY: demo test lint bench browser broker fonts clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(CHROMIUM):
	@if [ "$$(id -u)" = "0" ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
		echo "Chromium is missing: run 'sudo apt-get install chromium' (browser tests will be skipped)"; \
	fi

browser: $(CHROMIUM)

$(MOSQUITTO):
	@if [ "$$(id -u)" = "0" ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto; \
	else \
		echo "mosquitto is missing: run 'sudo apt-get install mosquitto' (MQTT tests will be skipped)"; \
	fi

broker: $(MOSQUITTO)

$(NANUM):
	@if [ "$$(id -u)" = "0" ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-nanum; \
	else \
		echo "fonts-nanum is missing: run 'sudo apt-get install fonts-nanum' (the Korean font test will be skipped)"; \
	fi

fonts: $(NANUM)

demo: $(STAMP)
	$(BIN)/skywarden demo

test: $(STAMP) browser broker fonts
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest -q

# Every benchmark, side by side with its reference where it has one (about 15 minutes).
bench: $(STAMP) browser
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/io.py
	$(BIN)/python bench/decode.py
	$(BIN)/python bench/sinks.py
	$(BIN)/python bench/vs_stonesoup.py
	$(BIN)/python bench/scale.py --quick
	$(BIN)/python bench/latency.py
	$(BIN)/python bench/live_scale.py
	$(BIN)/python bench/map_scale.py

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache .mypy_cache test-artifacts
