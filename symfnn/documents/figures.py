"""TikZ drawings for the document: the network, one layer's computation graph, Nielsen's chain.

Each function returns the body of a `tikzpicture`; every label that is mathematics is printed
from a SymPy object by the caller's printer (`tex`), so the drawings use the document's
notation. Text is \\footnotesize (9 pt in the 11 pt document): legible at print size.
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp

from ..engine.symbols import layer_symbols

Tex = Callable[..., str]
SHOWN = 4  # neurons drawn per layer; wider layers show the first three, a gap, the last


def network(d, tex: Tex, input_word: str) -> str:
    """Layers as columns of neurons, with each layer's width m^(l) and activation f_l."""
    widths = d.spec.widths
    L = len(widths) - 1
    dx = min(2.6, 13.0 / max(L, 1))
    dy = 0.55
    out = [r"\begin{tikzpicture}[font=\footnotesize,"]
    out.append(r"  neuron/.style={circle,draw,minimum size=4.2mm,inner sep=0pt},")
    out.append(r"  edge/.style={gray!60,line width=0.3pt}]")
    shown: list[list[float]] = []
    for col, m in enumerate(widths):
        count = min(m, SHOWN)
        ys = [(count - 1) / 2 * dy - r * dy for r in range(count)]
        shown.append(ys)
        x = col * dx
        for r, y in enumerate(ys):
            style = "neuron,fill=gray!15" if col == 0 else "neuron"
            if m > SHOWN and r == SHOWN - 2:
                out.append(rf"  \node at ({x:.2f},{y:.2f}) {{$\vdots$}};")
                continue
            out.append(rf"  \node[{style}] (n{col}-{r}) at ({x:.2f},{y:.2f}) {{}};")
        top = (count - 1) / 2 * dy + 0.55
        bottom = -(count - 1) / 2 * dy - 0.55
        m_sym = layer_symbols(col).m
        out.append(
            rf"  \node[above] at ({x:.2f},{top:.2f}) {{${tex(sp.Eq(m_sym, m, evaluate=False))}$}};"
        )
        if col == 0:
            label = input_word
        else:
            label = "$" + d.layers[col - 1].activation.latex + "$"
        out.append(rf"  \node[below] at ({x:.2f},{bottom:.2f}) {{{label}}};")
    for col in range(L):
        for r, _ in enumerate(shown[col]):
            if widths[col] > SHOWN and r == SHOWN - 2:
                continue
            for s, _ in enumerate(shown[col + 1]):
                if widths[col + 1] > SHOWN and s == SHOWN - 2:
                    continue
                out.append(rf"  \draw[edge] (n{col}-{r}) -- (n{col + 1}-{s});")
    out.append(r"\end{tikzpicture}")
    return "\n".join(out)


def layer_graph(tex: Tex) -> str:
    """z = W a + b -> a = f(z) for layer l; δ flows back along dashed arrows and leaves
    ∂L/∂W = δ aᵀ, ∂L/∂b = δ and (W^(l))ᵀ δ^(l) for the layer below."""
    prev, cur = layer_symbols("l-1"), layer_symbols("l")
    mats = cur.matrices(prev.m)
    a_prev = sp.MatrixSymbol("a_lm1", prev.m, 1)
    L = sp.Symbol("L")
    delta, W, b, z = mats["delta"], mats["W"], mats["b"], mats["z"]
    dW = sp.MatMul(delta, a_prev.T)
    f = sp.Function("f_l")
    labels = {
        "aprev": tex(a_prev),
        "W": tex(W),
        "b": tex(b),
        "z": tex(sp.Eq(z, sp.MatAdd(sp.MatMul(W, a_prev), b), evaluate=False)),
        "a": tex(sp.Eq(sp.Symbol("a_l"), f(sp.Symbol("z_l")), evaluate=False)),
        "L": tex(L),
        "delta": tex(delta),
        "dnext": tex(sp.Symbol("delta_lp1")),
        "dW": tex(sp.Eq(sp.Derivative(L, W), dW, evaluate=False)),
        "db": tex(sp.Eq(sp.Derivative(L, b), delta, evaluate=False)),
        "back": tex(sp.MatMul(W.T, delta)),
    }
    return "\n".join(
        [
            r"\begin{tikzpicture}[font=\footnotesize,>=stealth,node distance=1.2cm and 1.5cm,",
            r"  op/.style={draw,rounded corners,inner sep=4pt,fill=gray!8},",
            r"  back/.style={->,dashed,red!70!black}]",
            rf"  \node (aprev) {{${labels['aprev']}$}};",
            rf"  \node[op,right=1.4cm of aprev] (z) {{${labels['z']}$}};",
            rf"  \node[op,right=1.4cm of z] (a) {{${labels['a']}$}};",
            rf"  \node[right=1.4cm of a] (L) {{$\cdots\ {labels['L']}$}};",
            rf"  \node[above=0.7cm of z,xshift=-0.6cm] (W) {{${labels['W']}$}};",
            rf"  \node[above=0.7cm of z,xshift=0.6cm] (b) {{${labels['b']}$}};",
            r"  \draw[->] (aprev) -- (z);",
            r"  \draw[->] (z) -- (a);",
            r"  \draw[->] (a) -- (L);",
            r"  \draw[->] (W) -- (z);",
            r"  \draw[->] (b) -- (z);",
            _back("L", "a", labels["dnext"]),
            _back("a", "z", labels["delta"]),
            _back("z", "aprev", labels["back"]),
            rf"  \node[below=1.2cm of z,red!70!black] {{${labels['dW']},\quad {labels['db']}$}};",
            r"\end{tikzpicture}",
        ]
    )


def _back(start: str, end: str, label: str) -> str:
    """A dashed arrow of the backward pass, labelled with what flows along it."""
    return (
        rf"  \draw[back] ({start}.south) to[bend left=25] node[below] {{${label}$}} ({end}.south);"
    )


def chain(tex: Tex, n: int = 4) -> str:
    """Nielsen's chain: one neuron per layer, weights w_2 … w_n, biases b_1 … b_n, cost C."""
    out = [
        r"\begin{tikzpicture}[font=\footnotesize,>=stealth,",
        r"  neuron/.style={circle,draw,minimum size=7mm,inner sep=1pt}]",
        r"  \node (x) at (0,0) {$x$};",
    ]
    prev = "x"
    for j in range(1, n + 1):
        out.append(
            rf"  \node[neuron] (n{j}) at ({1.9 * j:.1f},0) {{${tex(sp.Symbol(f'b_{j}'))}$}};"
        )
        w = tex(sp.Symbol(f"w_{j}"))
        out.append(rf"  \draw[->] ({prev}) -- node[above] {{${w}$}} (n{j});")
        prev = f"n{j}"
    out.append(rf"  \node (C) at ({1.9 * (n + 1):.1f},0) {{${tex(sp.Symbol('C'))}$}};")
    out.append(rf"  \draw[->] ({prev}) -- (C);")
    out.append(r"\end{tikzpicture}")
    return "\n".join(out)
