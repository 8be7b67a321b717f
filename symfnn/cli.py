"""The command line: `symfnn derive | generate | check | data | analyze`.

SymPy and everything that imports it are loaded inside the commands, so `--help` and
`--version` stay quick. Every SymfnnError becomes one line on stderr and its exit code
(2 for bad input, 1 for a failed proof or check); argparse's own errors exit 2 too.
"""

from __future__ import annotations

import argparse
import sys

from . import __version__
from .errors import SymfnnError

SPEC_HELP = "architecture: compact form like 784-256:relu-10:softmax, or a .toml file"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        self.exit(2, f"{self.prog}: error: {message}\n")


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
    from .spec import parse

    return parse(args.spec, loss=args.loss, l1=args.l1, l2=args.l2)


def cmd_derive(args) -> int:
    from .derive import derive
    from .textprint import derivation_text

    spec = _spec(args)
    if args.tex or args.pdf:  # refuse before minutes of work, not after
        from .fileio import check_writable

        for path in (args.tex, args.pdf):
            if path:
                check_writable(path, args.force)
    d = derive(spec)
    report = None
    if args.verify or args.tex or args.pdf:
        from .verify import verify

        report = verify(d)
    if not (args.tex or args.pdf) or args.verify:
        print(derivation_text(d))
    if report is not None and args.verify:
        print("\nProof by brute force")
        print("\n".join("  " + line for line in report.lines()))
    if args.tex or args.pdf:
        import tempfile

        from .document import write

        with tempfile.TemporaryDirectory(prefix="symfnn-flow-") as folder:
            flow = None
            if args.flow:  # the short analysis; its plots live until the PDF is built
                from .flow import analyze, tex_chapter

                flow = tex_chapter(analyze(spec, folder, quick=True, progress=_progress))
            paths = write(
                d,
                tex=args.tex,
                pdf=args.pdf,
                lang=args.lang,
                force=args.force,
                report=report,
                flow=flow,
            )
        for path in paths:
            print(f"wrote {path}")
    return 0 if report is None or report.ok else 1


def cmd_generate(args) -> int:
    from .codegen import write
    from .derive import derive

    spec = _spec(args)
    from .fileio import check_writable

    check_writable(args.output, args.force)
    print(f"wrote {write(derive(spec), args.output, force=args.force)}")
    return 0


def cmd_check(args) -> int:
    from .gradcheck import run

    if (args.spec is None) == (args.script is None):
        raise _usage("check needs SPEC or --script PATH (one of them)")
    spec = None
    if args.spec is not None:
        spec = _spec(args)
    result = run(spec=spec, script=args.script, seed=args.seed)
    print("\n".join(result.lines()))
    return 0 if result.ok else 1


def cmd_data(args) -> int:
    from .datasets import export

    summary = export(args.name, args.output, seed=args.seed, force=args.force)
    shapes = ", ".join(f"{k} {tuple(v)}" for k, v in summary["shapes"].items())
    print(f"wrote {summary['path']}: {summary['name']} ({shapes})")
    return 0


def cmd_analyze(args) -> int:
    from .flow import analyze

    spec = _spec(args) if args.spec else None
    result = analyze(spec, args.out, quick=args.quick, force=args.force, progress=_progress)
    print("\n".join(result.summary_lines()))
    return 0


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _usage(message: str) -> SymfnnError:
    from .errors import SpecError

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
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="document language")
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

    p = sub.add_parser("check", help="check gradients: script vs finite differences vs SymPy")
    p.add_argument("spec", metavar="SPEC", nargs="?", help=SPEC_HELP)
    p.add_argument("--loss")
    p.add_argument("--l1", default=0.0)
    p.add_argument("--l2", default=0.0)
    p.add_argument("--script", metavar="PATH", help="check this generated (or edited) train.py")
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SymfnnError as e:
        print(f"symfnn: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("symfnn: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
