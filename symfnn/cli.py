"""The command line: `symfnn derive | generate | check | data | analyze`.

SymPy and everything that imports it are loaded inside the commands, so `--help` and
`--version` stay quick. Every SymfnnError becomes one line on stderr and its exit code
(2 for bad input, 1 for a failed proof or check); argparse's own errors exit 2 too, and so
does an OS error (a read-only folder, a full disk). Each command checks everything it can
before the long work: the spec and its size limits, every output path, the tools it needs.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from . import __version__
from .errors import (
    CheckError,
    RenderError,
    ScriptError,
    SpecError,
    SymfnnError,
    one_line,
    show,
    show_path,
)

# a network this deep takes seconds per stage: say what is happening
PROGRESS_DEPTH = 50

SPEC_HELP = (
    "architecture: compact form like 784-256:relu-10:softmax (flags after an activation: "
    ":bn, :dropout=q), or a .toml file"
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        self.exit(2, f"{self.prog}: error: {one_line(message)}\n")


def _spec_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC", help=SPEC_HELP)
    p.add_argument(
        "--loss",
        help="cross_entropy | binary_cross_entropy | squared_error "
        "(default: from the output activation)",
    )
    p.add_argument("--l1", default=0.0, help="L1 coefficient λ1 (default 0)")
    p.add_argument("--l2", default=0.0, help="L2 coefficient λ2 (default 0)")


def _spec(args):
    from .engine.spec import parse

    return parse(args.spec, loss=args.loss, l1=args.l1, l2=args.l2)


def _stages(spec):
    """Progress lines on stderr for a deep network (the others take a second or two)."""
    started = time.perf_counter()

    def stage(line: str) -> None:
        if spec is not None and spec.depth >= PROGRESS_DEPTH:
            _progress(f"[{time.perf_counter() - started:6.1f} s] {line}")

    return stage


def _require_tex(lang: str) -> None:
    from .documents.pdf import require_toolchain
    from .documents.prose import strings

    require_toolchain(strings(lang)["tex_program"])  # the engine the language's document names


def _require_analysis() -> None:
    """The analysis draws with matplotlib and measures on scikit-learn's digits: both, now."""
    try:
        import matplotlib  # noqa: F401
    except Exception as e:  # noqa: BLE001 -- a broken install fails in many ways
        raise RenderError(
            f"the gradient-flow analysis needs matplotlib ({type(e).__name__}): "
            "pip install matplotlib (or symfnn[plot])"
        ) from None
    from .datasets import require_sklearn

    require_sklearn()


def _targets(paths: list[str | None], force: bool) -> None:
    """Every output checked before any work; two options naming one file are refused."""
    from pathlib import Path

    from .fileio import check_writable

    given = [p for p in paths if p]
    seen = {}
    for path in given:
        key = os.path.realpath(Path(path))
        if key in seen:
            raise SpecError(f"{show_path(seen[key])} and {show_path(path)} are the same file")
        seen[key] = path
        check_writable(path, force)


def cmd_derive(args) -> int:
    spec = _spec(args)
    document = bool(args.tex or args.pdf or args.html)
    if args.flow and not document:
        raise SpecError("--flow adds a chapter to the document: give --tex, --pdf or --html too")
    if args.lang is not None and not document:
        raise SpecError("--lang is the document's language: give --tex, --pdf or --html too")
    _targets([args.tex, args.pdf, args.html], args.force)  # refuse before minutes of work
    if args.pdf:
        _require_tex(args.lang or "en")
    if args.flow:
        _require_analysis()
    from .api import Config, pipeline

    config = Config(
        verify=args.verify,
        lang=args.lang or "en",
        tex=args.tex,
        pdf=args.pdf,
        html=args.html,
        flow=args.flow,
        force=args.force,
        stage=_stages(spec),
        progress=_progress,
    )
    out = pipeline(spec, config)
    if not document or args.verify:
        print(out.derivation.to_text())
    if out.report is not None and args.verify:
        print("\nProof by brute force")
        print("\n".join("  " + line for line in out.report.lines()))
    for path in out.written:
        print(f"wrote {path}")
    return 0 if out.ok else 1


def cmd_generate(args) -> int:
    spec = _spec(args)
    _targets([args.output], args.force)
    from .api import Config, pipeline

    out = pipeline(spec, Config(script=args.output, force=args.force, stage=_stages(spec)))
    print(f"wrote {out.written[0]}")
    return 0


def cmd_check(args) -> int:
    from .api import check

    if (args.spec is None) == (args.script is None):
        raise _usage("check needs SPEC or --script PATH (one of them)")
    spec = None
    if args.spec is not None:
        spec = _spec(args)
    elif args.loss is not None or args.l1 != 0.0 or args.l2 != 0.0:
        raise _usage("--loss, --l1 and --l2 go with SPEC; a --script carries its own")
    if spec is not None:
        _stages(spec)(f"deriving {spec.depth} layers, printing and checking the script")
    try:
        result = check(spec, script=args.script, seed=args.seed)
    except SystemExit as e:  # the script's own code ran sys.exit(): not a training script
        where = f"the script {show_path(args.script)}" if args.script else "the generated script"
        raise ScriptError(f"{where} called sys.exit({show(e.code)}) while being checked") from None
    except SymfnnError:
        raise
    except Exception as e:
        if args.script is None:
            raise
        raise CheckError(
            f"the script {show_path(args.script)} failed while being checked: "
            f"{type(e).__name__}: {show(str(e), 200)}"
        ) from None
    print("\n".join(result.lines()))
    return 0 if result.ok else 1


def cmd_data(args) -> int:
    from .datasets import export  # not through symfnn.api: no SymPy for a data set

    summary = export(args.name, args.output, seed=args.seed, force=args.force)
    shapes = ", ".join(f"{k} {tuple(v)}" for k, v in summary["shapes"].items())
    print(f"wrote {summary['path']}: {summary['name']} ({shapes})")
    return 0


def cmd_analyze(args) -> int:
    spec = _spec(args) if args.spec else None
    if args.spec is None and (args.loss is not None or args.l1 != 0.0 or args.l2 != 0.0):
        raise _usage("--loss, --l1 and --l2 go with SPEC")
    from .fileio import check_folder

    check_folder(args.out)  # before the experiments, not after them
    _require_analysis()
    from .api import analyze

    result = analyze(spec, args.out, quick=args.quick, force=args.force, progress=_progress)
    print("\n".join(result.summary_lines()))
    return 0


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _usage(message: str) -> SymfnnError:
    return SpecError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="symfnn",
        description="Derive, prove, document and generate backpropagation for feedforward networks.",
    )
    parser.add_argument("--version", action="version", version=f"symfnn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("derive", help="derive (and prove) backpropagation for SPEC")
    _spec_options(p)
    p.add_argument(
        "--verify", action="store_true", help="prove it by brute force; exit 1 if it fails"
    )
    p.add_argument("--tex", metavar="PATH", help="write the derivation as LaTeX")
    p.add_argument("--pdf", metavar="PATH", help="compile the derivation to PDF (needs latexmk)")
    p.add_argument(
        "--html", metavar="PATH", help="write the derivation as one self-contained web page"
    )
    p.add_argument("--lang", choices=("en", "zh"), help="document language (default: en)")
    p.add_argument(
        "--flow", action="store_true", help="add the gradient-flow chapter to the document"
    )
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.set_defaults(func=cmd_derive)

    p = sub.add_parser("generate", help="generate a standalone NumPy training script")
    _spec_options(p)
    p.add_argument("-o", "--output", required=True, metavar="PATH", help="where to write train.py")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser(
        "check",
        help="check gradients: script vs finite differences vs SymPy",
        description="Check a script's gradients. --script imports the file, so its top-level "
        "code runs: check only files you trust.",
    )
    p.add_argument("spec", metavar="SPEC", nargs="?", help=SPEC_HELP)
    p.add_argument("--loss")
    p.add_argument("--l1", default=0.0)
    p.add_argument("--l2", default=0.0)
    p.add_argument(
        "--script",
        metavar="PATH",
        help="check this generated (or edited) train.py; it is imported, so its top-level "
        "code runs",
    )
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("data", help="export a bundled data set to .npz")
    p.add_argument(
        "name", metavar="NAME", help="digits, fashion-mnist, spirals, regression, multilabel"
    )
    p.add_argument("-o", "--output", required=True, metavar="PATH")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--force", action="store_true")
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("analyze", help="vanishing/exploding gradients: derived, measured, drawn")
    p.add_argument("spec", metavar="SPEC", nargs="?", help=SPEC_HELP + " (default: the article's)")
    p.add_argument("--loss")
    p.add_argument("--l1", default=0.0)
    p.add_argument("--l2", default=0.0)
    p.add_argument(
        "--out", required=True, metavar="DIR", help="folder for plots, flow.json, report.md"
    )
    p.add_argument("--quick", action="store_true", help="a short version (shallower, fewer epochs)")
    p.add_argument("--force", action="store_true")
    p.set_defaults(func=cmd_analyze)
    return parser


def _interrupt(signum, frame) -> None:  # SIGTERM: unwind, so work folders are removed
    raise KeyboardInterrupt


def _fail(message: str) -> None:
    print(f"symfnn: error: {one_line(message)}", file=sys.stderr)


def _os_error(e: OSError) -> str:
    where = f"{show_path(e.filename)}: " if e.filename is not None else ""
    return f"{where}{e.strerror or type(e).__name__}"


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit status (0 ok, 1 failed check or proof, 2 bad input)."""
    args = build_parser().parse_args(argv)
    previous = None
    try:
        previous = signal.signal(signal.SIGTERM, _interrupt)
    except ValueError:  # not the main thread: leave signals alone
        pass
    try:
        return args.func(args)
    except SymfnnError as e:
        _fail(str(e))
        return e.exit_code
    except KeyboardInterrupt:
        print("symfnn: interrupted", file=sys.stderr)
        return 130
    except OSError as e:  # a fault outside fileio's writes (a plot, a folder)
        _fail(_os_error(e))
        return 2
    except MemoryError:
        _fail("out of memory; try a smaller network (README, Limits)")
        return 2
    except Exception as e:  # a bug in symfnn: one line, the traceback on request
        if os.environ.get("SYMFNN_DEBUG"):
            raise
        _fail(
            f"internal error: {type(e).__name__}: {show(str(e), 300)} "
            "(a bug in symfnn; SYMFNN_DEBUG=1 shows the traceback)"
        )
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
