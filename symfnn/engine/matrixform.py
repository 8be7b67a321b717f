"""From index form to matrix form, and from one sample to a mini-batch.

Rules of our own (DESIGN.md: `MatrixSymbol.diff` fails on network losses):
    v[p]                          -> v
    g(v[p]) (one vector, no sums) -> g∘v             (ElementwiseApplyFunction)
    sum_k M[k,p] u[k]             -> Mᵀ u
    u[p] · v[p]                   -> u ⊙ v
    u[p] · v[q]                   -> u vᵀ            (free indices p, q)
    u[p] · sum_i v[i] w[i]        -> u (vᵀ w)
and, with samples as rows (`rows`), (M u)ᵀ -> Uᵀ... i.e. U Mᵀ, u ⊙ v -> U ⊙ V, b -> 1 bᵀ.
`check` proves a conversion on explicit small matrices, entry by entry.
"""

from __future__ import annotations

import itertools

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from ..errors import DerivationError

x = sp.Dummy("x", real=True)
Shapes = dict[sp.IndexedBase, sp.MatrixSymbol]


def _depends(e: sp.Basic, idx: sp.Symbol) -> bool:
    return idx in e.free_symbols


def to_matrix(e: sp.Expr, free: tuple[sp.Symbol, ...], mats: Shapes) -> sp.Basic:
    """Convert an index expression with free indices `free` (one: a vector, two: a matrix)."""
    e = sp.sympify(e)
    if len(free) == 2:
        return _matrix(e, *free, mats)
    return _vector(e, free[0], mats)


def _fail(e: sp.Basic) -> DerivationError:
    return DerivationError(f"no matrix-form rule for {e}")


def _elementwise(e: sp.Expr, free: tuple[sp.Symbol, ...], mats: Shapes) -> sp.Basic | None:
    """g(v[p]) or g(W[p,q]): a function of one vector/matrix entry, with no sums."""
    entries = e.atoms(sp.Indexed)
    if e.has(sp.Sum) or len(entries) != 1:
        return None
    (entry,) = entries
    if tuple(entry.indices) != free:
        return None
    m = mats[entry.base]
    if e == entry:
        return m
    coeff = sp.cancel(e / entry)
    if not coeff.has(entry):  # c·v[p] -> c v, a plain scalar multiple
        return sp.MatMul(coeff, m)
    return ElementwiseApplyFunction(sp.Lambda(x, e.xreplace({entry: x})), m)


def _vector(e: sp.Expr, p: sp.Symbol, mats: Shapes) -> sp.Basic:
    if (ew := _elementwise(e, (p,), mats)) is not None:
        return ew
    if isinstance(e, sp.Sum):
        return _matvec(e, p, mats)
    if isinstance(e, sp.Add):
        terms = [_vector(t, p, mats) for t in e.args if _depends(t, p)]
        if not terms:
            raise _fail(e)
        ones = sp.OneMatrix(terms[0].shape[0], 1)
        for t in e.args:
            if _depends(t, p):
                continue
            if t.has(sp.Sum):  # a per-sample scalar such as sum_i a_i y_i, broadcast
                terms.append(sp.MatMul(ones, _scalar(t, mats)))
            else:
                terms.append(sp.MatMul(t, ones))
        return sp.MatAdd(*terms)
    if isinstance(e, sp.Mul):
        coeff, vectors, inner = [], [], []
        for f in _group_elementwise(e.args):
            if _depends(f, p):
                vectors.append(_vector(f, p, mats))
            elif f.has(sp.Sum):
                inner.append(_scalar(f, mats))
            else:
                coeff.append(f)
        if not vectors:
            raise _fail(e)
        out = vectors[0] if len(vectors) == 1 else sp.HadamardProduct(*vectors)
        for s in inner:
            out = sp.MatMul(out, s)
        c = sp.Mul(*coeff)
        return out if c == 1 else sp.MatMul(c, out)
    if isinstance(e, sp.Pow) and e.exp.is_Integer and _depends(e.base, p):
        return sp.HadamardPower(_vector(e.base, p, mats), e.exp)
    raise _fail(e)


def _group_elementwise(factors: tuple) -> list[sp.Expr]:
    """Join the factors that are functions of the same single entry: a_p·(1 - a_p) -> one g(a)."""
    groups: dict = {}
    out = []
    for f in factors:
        entries = f.atoms(sp.Indexed)
        if len(entries) == 1 and not f.has(sp.Sum):
            groups.setdefault(next(iter(entries)), []).append(f)
        else:
            out.append(f)
    return [sp.Mul(*fs) for fs in groups.values()] + out


def _matvec(e: sp.Sum, p: sp.Symbol, mats: Shapes) -> sp.Basic:
    """sum_k M[k,p] u[k] -> Mᵀ u  and  sum_k M[p,k] u[k] -> M u."""
    ((k, _, _),) = e.limits
    factors = sp.Mul.make_args(e.function)
    matrix = [f for f in factors if isinstance(f, sp.Indexed) and len(f.indices) == 2]
    rest = sp.Mul(*(f for f in factors if f not in matrix))
    if len(matrix) != 1:
        raise _fail(e)
    (entry,) = matrix
    M = mats[entry.base]
    if tuple(entry.indices) == (k, p):
        M = M.T
    elif tuple(entry.indices) != (p, k):
        raise _fail(e)
    return sp.MatMul(M, _vector(rest, k, mats))


def _scalar(e: sp.Expr, mats: Shapes) -> sp.Basic:
    """A per-sample scalar built from sums (an inner product, a softmax normaliser): 1×1."""
    if isinstance(e, sp.Sum):
        return _inner(e, mats)
    if isinstance(e, sp.Add):
        return sp.MatAdd(*(_scalar(t, mats) for t in e.args))
    if isinstance(e, sp.Mul):
        coeff = sp.Mul(*(f for f in e.args if not f.has(sp.Sum)))
        out = sp.MatMul(*(_scalar(f, mats) for f in e.args if f.has(sp.Sum)))
        return out if coeff == 1 else sp.MatMul(coeff, out)
    if isinstance(e, sp.Pow) and e.exp == -1:
        return sp.Inverse(_scalar(e.base, mats))
    raise _fail(e)


def _inner(e: sp.Sum, mats: Shapes) -> sp.Basic:
    """sum_i u[i] (v ⊙ w)[i] -> uᵀ (v ⊙ w): a 1×1 matrix."""
    ((i, _, _),) = e.limits
    if isinstance(e.function, sp.Add):
        return sp.MatAdd(*(_inner(sp.Sum(t, *e.limits), mats) for t in e.function.args))
    coeff = sp.Mul(*(f for f in sp.Mul.make_args(e.function) if not _depends(f, i)))
    if coeff != 1:
        return sp.MatMul(coeff, _inner(sp.Sum(e.function / coeff, *e.limits), mats))
    first, *rest = sp.Mul.make_args(e.function)
    u = _vector(first, i, mats)
    v = _vector(sp.Mul(*rest), i, mats) if rest else sp.OneMatrix(u.shape[0], 1)
    return sp.MatMul(u.T, v)


def _matrix(e: sp.Expr, p: sp.Symbol, q: sp.Symbol, mats: Shapes) -> sp.Basic:
    if isinstance(e, sp.Add):  # λ2 W + λ1 sign(W) + δ aᵀ: one term each
        return sp.MatAdd(*(_matrix(t, p, q, mats) for t in e.args))
    if (ew := _elementwise(e, (p, q), mats)) is not None:
        return ew
    if isinstance(e, sp.Mul):
        col = [f for f in e.args if _depends(f, p) and not _depends(f, q)]
        row = [f for f in e.args if _depends(f, q) and not _depends(f, p)]
        both = [f for f in e.args if _depends(f, p) and _depends(f, q)]
        coeff = sp.Mul(*(f for f in e.args if not _depends(f, p) and not _depends(f, q)))
        parts = [_matrix(f, p, q, mats) for f in both]
        if col or row:
            if not (col and row):
                raise _fail(e)
            parts.append(
                sp.MatMul(_vector(sp.Mul(*col), p, mats), _vector(sp.Mul(*row), q, mats).T)
            )
        out = parts[0] if len(parts) == 1 else sp.HadamardProduct(*parts)
        return out if coeff == 1 else sp.MatMul(coeff, out)
    raise _fail(e)


# -- per sample -> mini-batch --------------------------------------------------------------


def rows(e: sp.Basic, batch: dict[sp.MatrixSymbol, sp.MatrixSymbol], n: sp.Symbol) -> sp.Basic:
    """The N×m matrix whose n-th row is sample n's column vector e (samples as rows).

    `batch` maps per-sample vectors (a1, delta2, y) to their stacked forms (A1, Delta2, Y);
    any other column vector (a bias) is the same for every sample and is broadcast, 1 bᵀ.
    """
    if isinstance(e, sp.MatrixSymbol):
        return batch[e] if e in batch else sp.MatMul(sp.OneMatrix(n, 1), e.T)
    if isinstance(e, sp.MatAdd):
        return sp.MatAdd(*(rows(t, batch, n) for t in e.args))
    if isinstance(e, sp.HadamardProduct):
        return sp.HadamardProduct(*(rows(t, batch, n) for t in e.args))
    if isinstance(e, sp.HadamardPower):
        return sp.HadamardPower(rows(e.base, batch, n), e.exp)
    if isinstance(e, ElementwiseApplyFunction):
        return ElementwiseApplyFunction(e.function, rows(e.expr, batch, n))
    if isinstance(e, sp.OneMatrix):
        return sp.OneMatrix(n, e.shape[0])
    if isinstance(e, sp.MatMul):
        scalars = [f for f in e.args if not getattr(f, "is_Matrix", False)]
        mats = [f for f in e.args if getattr(f, "is_Matrix", False)]
        c = sp.Mul(*scalars)
        if len(mats) == 1:
            out = rows(mats[0], batch, n)
        elif len(mats) == 2 and mats[1].shape == (1, 1):
            # u s, s a per-sample scalar: each row of U scaled by its own sample's s
            width = mats[0].shape[0]
            if isinstance(mats[0], sp.OneMatrix):
                out = sp.MatMul(_column(mats[1], batch, n), sp.OneMatrix(1, width))
            else:
                out = sp.HadamardProduct(
                    rows(mats[0], batch, n),
                    sp.MatMul(_column(mats[1], batch, n), sp.OneMatrix(1, width)),
                )
        elif len(mats) == 2 and not _is_sample(mats[0], batch):
            # (M u)ᵀ = uᵀ Mᵀ
            out = sp.MatMul(rows(mats[1], batch, n), mats[0].T)
        else:
            raise _fail(e)
        return out if c == 1 else sp.MatMul(c, out)
    raise _fail(e)


def _column(s: sp.Basic, batch: dict, n: sp.Symbol) -> sp.Basic:
    """A per-sample 1×1 scalar as the N×1 column of its values, one row per sample."""
    if isinstance(s, sp.MatAdd):
        return sp.MatAdd(*(_column(t, batch, n) for t in s.args))
    if isinstance(s, sp.Inverse):
        return ElementwiseApplyFunction(sp.Lambda(x, 1 / x), _column(s.arg, batch, n))
    if isinstance(s, sp.MatMul):
        c = sp.Mul(*(f for f in s.args if not getattr(f, "is_Matrix", False)))
        factors = [f for f in s.args if getattr(f, "is_Matrix", False)]
        if len(factors) == 1:
            return sp.MatMul(c, _column(factors[0], batch, n))
        u, v = factors
        width = u.shape[1]
        left, right = rows(u.T, batch, n), rows(v, batch, n)
        if not isinstance(right, sp.OneMatrix):  # uᵀ 1 is a plain row sum: no ⊙ 1
            left = sp.HadamardProduct(left, right)
        out = sp.MatMul(left, sp.OneMatrix(width, 1))
        return out if c == 1 else sp.MatMul(c, out)
    raise _fail(s)


def _is_sample(e: sp.Basic, batch: dict) -> bool:
    return any(s in batch for s in e.atoms(sp.MatrixSymbol))


def batch_mean_outer(u: sp.MatrixSymbol, v: sp.MatrixSymbol, n: sp.Symbol) -> sp.Basic:
    """(1/N) sum_n u(n) v(n)ᵀ with samples as rows: (1/N) Uᵀ V."""
    return sp.MatMul(1 / n, u.T, v)


def batch_mean(u: sp.MatrixSymbol, n: sp.Symbol) -> sp.Basic:
    """(1/N) sum_n u(n): (1/N) Uᵀ 1."""
    return sp.MatMul(1 / n, u.T, sp.OneMatrix(n, 1))


# -- checking conversions on explicit matrices ----------------------------------------------


def explicit(ms: sp.MatrixSymbol, sizes: dict) -> sp.ImmutableMatrix:
    """An explicit matrix of fresh symbols named after ms, entries 1-based like the math."""
    r, c = (sp.sympify(d).xreplace(sizes) for d in ms.shape)
    return sp.ImmutableMatrix(
        int(r), int(c), lambda i, j: sp.Symbol(f"{ms.name}_{i + 1}_{j + 1}", real=True)
    )


def hadamard(parts: list[sp.Matrix]) -> sp.Matrix:
    """The element-wise product of explicit matrices of one shape."""
    out = parts[0]
    for part in parts[1:]:
        out = out.multiply_elementwise(part)
    return out


def evaluate(
    e: sp.Basic, sizes: dict, values: dict[sp.MatrixSymbol, sp.Matrix], region: dict | None = None
) -> sp.Matrix:
    """A matrix expression with explicit sizes and explicit matrices put in.

    A small evaluator of our own: rebuilding the expression with explicit matrices inside
    would let SymPy mistake a 1×1 matrix for a scalar. With `region` (numbers for the
    symbols in the matrices), an element-wise Piecewise takes the branch that holds there
    instead of building a symbolic Piecewise, which SymPy simplifies at great cost.
    """
    dim = lambda d: int(sp.sympify(d).xreplace(sizes))
    if isinstance(e, sp.MatrixSymbol):
        if e in values:
            return sp.Matrix(values[e])
        explicit_shape = e.xreplace(sizes)
        for ms, v in values.items():
            if ms.xreplace(sizes) == explicit_shape:
                return sp.Matrix(v)
        raise DerivationError(f"no value for {e}")
    ev = lambda t: evaluate(t, sizes, values, region)
    if isinstance(e, sp.OneMatrix):
        return sp.ones(dim(e.shape[0]), dim(e.shape[1]))
    if isinstance(e, sp.Identity):
        return sp.eye(dim(e.shape[0]))
    if isinstance(e, sp.MatAdd):
        parts = [ev(t) for t in e.args]
        return sum(parts[1:], parts[0])
    if isinstance(e, sp.MatMul):
        c = sp.Mul(*(f for f in e.args if not getattr(f, "is_Matrix", False))).xreplace(sizes)
        out = None
        for f in e.args:
            if getattr(f, "is_Matrix", False):
                out = ev(f) if out is None else out * ev(f)
        return c * out
    if isinstance(e, sp.HadamardProduct):
        return hadamard([ev(t) for t in e.args])
    if isinstance(e, sp.HadamardPower):
        return ev(e.base).applyfunc(lambda v: v**e.exp)
    if isinstance(e, ElementwiseApplyFunction):
        if region is not None and e.function.expr.has(sp.Piecewise):
            return ev(e.expr).applyfunc(lambda v: _branch(e.function, v, region))
        return ev(e.expr).applyfunc(e.function)
    if isinstance(e, sp.Transpose):
        return ev(e.arg).T
    if isinstance(e, sp.Inverse):
        return ev(e.arg).inv()
    raise DerivationError(f"cannot evaluate {e}")


def _branch(function: sp.Lambda, v: sp.Expr, region: dict) -> sp.Expr:
    """function(v) with each Piecewise replaced by its branch that holds at v's value."""
    (x,) = function.variables
    at = v.xreplace(region)

    def pick(pw):
        for expr, cond in pw.args:
            if cond == sp.true or bool(cond.subs(x, at)):
                return expr
        raise DerivationError(f"no branch of {pw} holds at {at}")

    return function.expr.replace(lambda t: isinstance(t, sp.Piecewise), pick).subs(x, v)


def check(
    index_expr: sp.Expr,
    matrix_expr: sp.Basic,
    free: tuple[sp.Symbol, ...],
    mats: Shapes,
    sizes: dict,
) -> None:
    """Prove matrix_expr[p(, q)] == index_expr for every entry at the given small sizes."""
    values = {ms: explicit(ms, sizes) for ms in mats.values()}
    M = evaluate(matrix_expr, sizes, values)
    entry_of = {}
    for base, ms in mats.items():
        v = values[ms]
        for r, c in itertools.product(range(v.rows), range(v.cols)):
            idx = (r + 1, c + 1) if v.cols > 1 or ms.shape[1] != 1 else (r + 1,)
            entry_of[base[idx]] = v[r, c]
    for pos in itertools.product(*(range(1, d + 1) for d in M.shape[: len(free)])):
        if len(free) == 1:
            pos_m = (pos[0] - 1, 0)
        else:
            pos_m = (pos[0] - 1, pos[1] - 1)
        ix = index_expr.xreplace(sizes).xreplace(dict(zip(free, pos))).doit()
        ix = ix.xreplace(entry_of)
        if sp.simplify(ix - M[pos_m]) != 0:
            raise DerivationError(f"matrix form {matrix_expr} disagrees with {index_expr} at {pos}")
