# Two commands do all the set-up on a fresh Debian machine with Python 3.11:
#   make demo   derive, prove, document and train the bundled default architecture
#   make test   the whole test suite
# Each creates .venv and installs what it needs; the TeX toolchain comes from apt-get
# when run as root (as our machines and CI are).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
OUT := out
DEMO_SPEC := 64-32:sigmoid-10:softmax --l2 0.0001
# the Chinese document: XeLaTeX + ctex with the Fandol fonts (texlive-lang-chinese);
# the Chinese labels of the gradient-flow plots: a TrueType CJK font (fonts-arphic-gbsn00lp)
TEX_PACKAGES := texlive-latex-base texlive-latex-recommended texlive-science lmodern latexmk \
	texlive-pictures poppler-utils texlive-xetex texlive-lang-chinese \
	fonts-arphic-gbsn00lp

.PHONY: demo test tex browser datasets venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# latexmk, pdflatex with TikZ, xelatex with ctex, pdftotext/pdffonts; installed only where missing
tex:
	@if command -v latexmk >/dev/null && command -v pdftotext >/dev/null \
	    && command -v xelatex >/dev/null && kpsewhich ctex.sty >/dev/null 2>&1 \
	    && kpsewhich algpseudocode.sty >/dev/null 2>&1 && kpsewhich tikz.sty >/dev/null 2>&1; then \
	  echo "TeX toolchain: present"; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "TeX toolchain: installing with apt-get (about 250 MB download)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $(TEX_PACKAGES) >/dev/null; \
	else \
	  echo "TeX toolchain missing: run as root, or apt-get install $(TEX_PACKAGES)"; exit 2; \
	fi

# headless Chromium for the HTML tests (MathML layout), with a math and a Chinese font
BROWSER_PACKAGES := chromium fonts-lmodern fonts-arphic-gbsn00lp
browser:
	@if command -v chromium >/dev/null && fc-list :lang=zh | grep -q .; then \
	  echo "Chromium: present"; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "Chromium: installing with apt-get (about 100 MB)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $(BROWSER_PACKAGES) >/dev/null; \
	else \
	  echo "Chromium missing (the HTML tests will be skipped): apt-get install $(BROWSER_PACKAGES)"; \
	fi

# Debian's Fashion-MNIST (idx files) for `symfnn data fashion-mnist` and its test
DATA_PACKAGES := dataset-fashion-mnist
datasets:
	@if [ -d /usr/share/datasets/fashion-mnist ]; then \
	  echo "Fashion-MNIST: present"; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "Fashion-MNIST: installing with apt-get (about 31 MB)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $(DATA_PACKAGES) >/dev/null; \
	else \
	  echo "Fashion-MNIST missing (its test will be skipped): apt-get install $(DATA_PACKAGES)"; \
	fi

test: venv tex browser datasets
	$(BIN)/python -m pytest -q
	$(BIN)/python -m ruff check symfnn tests benchmarks
	$(BIN)/python -m ruff format --check symfnn tests benchmarks

demo: venv tex
	mkdir -p $(OUT)
	$(BIN)/symfnn derive $(DEMO_SPEC) --verify
	$(BIN)/symfnn derive $(DEMO_SPEC) --tex $(OUT)/derivation.tex --pdf $(OUT)/derivation.pdf --force
	$(BIN)/symfnn derive $(DEMO_SPEC) --pdf $(OUT)/derivation-zh.pdf --lang zh --force
	$(BIN)/symfnn data digits -o $(OUT)/digits.npz --force
	$(BIN)/symfnn generate $(DEMO_SPEC) -o $(OUT)/train.py --force
	$(BIN)/python $(OUT)/train.py --data $(OUT)/digits.npz --epochs 30 --save $(OUT)/weights.npz --force
	$(BIN)/symfnn check --script $(OUT)/train.py
	$(BIN)/symfnn analyze --quick --out $(OUT)/flow --force
	@echo "demo outputs in $(OUT)/: derivation.pdf, derivation-zh.pdf, train.py, weights.npz, flow/"

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
