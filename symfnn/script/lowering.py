"""Printed NumPy statements that allocate, lowered to calls into preallocated buffers.

codegen_bn prints the passes of a bn/dropout network as array expressions, one per step of
the derivation (`Zhat1 = 1 / np.sqrt(epsilon + sigma2_1) * (Z1 - mu1)`): each operator makes
a fresh array. train() runs those statements thousands of times on batches of one size, so
`Lowering` rewrites them, statement by statement and operator by operator, as ufunc calls
writing into buffers of a workspace, in the order Python evaluates the expression, with the
same operands:

    Zhat1 = 1 / np.sqrt(epsilon + sigma2_1) * (Z1 - mu1)
 -> add(epsilon_, sigma2_1, out=common2); sqrt(common2, out=common2)
    true_divide(c1, common2, out=common2); multiply(common2, common1, out=Zhat1)

(common1 holds Z1 - mu1, computed once for σ² and Ẑ). The numbers are the printed passes'
to the bit but for the sums over the batch (1ᵀX, printed X.sum(axis=0)), computed as the
product with a vector of ones as the plain network's bias gradient is: their rounding.
Every array gets its shape from the names it is built of (`shapes`: the weights', the
batch's, with "n" for the batch size), so the buffers (one per assigned name, scratch
buffers of each shape reused from statement to statement, one per value computed twice) are
printed with their shapes. The function names, the scalar operands (as 0-d arrays of the
batch's dtype), the transposed views and the arrays are bound once, outside the step (as
codegen._bound does for the plain network's passes). No formula is added or changed: what
is lowered is only what was printed.
"""

from __future__ import annotations

import ast
import re

from ..errors import RenderError
from .codeprint import tidy

# NumPy's functions of one array the printed passes call, and the operators' ufuncs
UNARY = ("sqrt", "exp", "log", "log1p", "tanh", "abs", "sign", "negative", "square")
BINARY = {ast.Add: "add", ast.Sub: "subtract", ast.Mult: "multiply", ast.Div: "true_divide"}
# x ** c as ndarray.__pow__ computes it (its fast paths), so that the bits are the same
POWERS = {2: "square", 0.5: "sqrt", -1: "reciprocal"}
AUGMENTED = {ast.Add: "add", ast.Sub: "subtract", ast.Mult: "multiply", ast.Div: "true_divide"}
COMPARE = {ast.Gt: "greater", ast.GtE: "greater_equal", ast.Lt: "less", ast.LtE: "less_equal"}
SETUP_WIDTH = 84  # a setup line's length, indented 4 in the printed function: ruff's 88
SOURCES = ("params", "out", "masks", "ws")  # the dicts the printed passes fetch arrays from


def _broadcast(*shapes: tuple) -> tuple:
    """NumPy's broadcast of shapes whose sizes are ints or "n" (the batch size)."""
    rank = max(map(len, shapes))
    out = []
    for dims in zip(*(((1,) * (rank - len(s)) + s) for s in shapes)):
        sizes = {d for d in dims if d != 1}
        if len(sizes) > 1:
            raise RenderError(f"cannot broadcast shapes {shapes}")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


class Lowering:
    """Lowers printed statements into calls on buffers; collects what they need bound.

    `shapes`: the shape of every array the statements read and do not assign (parameters,
    X, Y, the masks); `rows`: the names whose buffers the workspace holds already (the
    output layer's rows train() keeps), fetched, not allocated."""

    def __init__(self, shapes: dict[str, tuple], rows: tuple = ()):
        self.shapes = dict(shapes)
        self.rows = set(rows)
        self.scalars: dict[str, str] = {}  # name -> its code
        self.buffers: dict[str, tuple] = {}  # name -> (shape, kind): the workspace's
        self.bound: list[str] = []  # names fetched (setup, once)
        self.functions: set[str] = set()
        self.views: set[str] = set()  # names whose transposed view is bound
        self._temps: list[tuple[str, tuple, str]] = []
        self._busy: set[str] = set()
        self._fetches: list[str] = []  # the scratch buffers' fetches, bound by setup()
        self.constants: dict[str, str] = {}  # a scalar operand's code -> its 0-d array
        self.common: set[str] = set()  # ast.dump of array values computed more than once
        self._memo: dict[str, str] = {}  # ast.dump -> the buffer holding its value now
        self._root: ast.expr | None = None  # the value of the assignment being lowered

    # -- statements ---------------------------------------------------------------------

    def share(self, *groups: list[str]) -> None:
        """Find the array values the statements of `groups` (lowered in this order) compute
        more than once with the same operands (the forward and backward passes' 1/sqrt(ε+σ²)):
        each is then computed once, into a buffer of its own, and read again."""
        seen: dict[str, list[ast.expr]] = {}
        arrays = set(self.shapes)  # and the names assigned an array value below
        for lines in groups:
            for stmt in _flattened(ast.parse("\n".join(lines)).body):
                if not isinstance(stmt, (ast.Assign, ast.AugAssign)):
                    continue
                for node in ast.walk(stmt.value):
                    if not _leaf(node) and self._names(node) & arrays:
                        seen.setdefault(ast.dump(node), []).append(node)
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                reads = self._names(stmt.value) & arrays
                if reads and not ast.unparse(stmt.value).endswith(".shape[0]"):
                    arrays |= {
                        n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)
                    }
        common = {k: v for k, v in seen.items() if len(v) > 1}
        inner = {  # a value only ever computed inside a common one: that one is kept
            ast.dump(c)
            for k, v in common.items()
            for c in ast.walk(v[0])
            if c is not v[0] and ast.dump(c) in common and len(common[ast.dump(c)]) == len(v)
        }
        self.common = set(common) - inner

    def lower(self, lines: list[str], conditional=False) -> tuple[list[str], list[str]]:
        """(setup, body): the fetches and scalars to bind once, and the step's calls;
        `conditional`: the body runs only sometimes (what it computes is not read after)."""
        setup, body, held = [], [], dict(self._memo)
        for stmt in _flattened(ast.parse("\n".join(lines)).body):
            self._busy.clear()
            s, b = self._statement(stmt)
            setup += s
            body += b
        if conditional:
            self._memo = {k: v for k, v in self._memo.items() if held.get(k) == v}
        return setup, [tidy(x) for x in body]

    def _statement(self, stmt: ast.stmt) -> tuple[list[str], list[str]]:
        if isinstance(stmt, ast.Return):
            return [], []
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            return [], [self._verbatim(stmt.value)]  # a call writing out= (the softmax)
        if isinstance(stmt, ast.AugAssign):
            return [], self._augmented(stmt)
        if not isinstance(stmt, ast.Assign) or len(stmt.targets) != 1:
            raise RenderError(f"cannot lower {ast.unparse(stmt)!r}")
        target, value = stmt.targets[0], stmt.value
        if isinstance(target, ast.Tuple):
            pairs = zip(target.elts, value.elts, strict=True)
            return [line for t, v in pairs for line in self._assign(t.id, v)[0]], []
        return self._assign(target.id, value)

    def _assign(self, name: str, value: ast.expr) -> tuple[list[str], list[str]]:
        if name in ("out", "deltas"):  # what the unbound passes return besides
            return [], []
        if name == "grads":  # the gradients' buffers, returned by every step
            items = [f'"{k.value}": {v.id}' for k, v in zip(value.keys, value.values)]
            return ["grads = {", *(f"    {x}," for x in items), "}"], []
        if _fetch(value) is not None:
            source, key = _fetch(value)
            if source == "out":  # the backward pass reads the forward pass's arrays
                self._known(key)
                return ([] if key == name else [f"{name} = {key}"]), []
            if source == "masks":
                self.buffers[name] = (self.shapes[name], "dtype")
                source = "ws"
            return self._bind(name, f'{source}["{key}"]'), []
        if isinstance(value, ast.Call) and ast.unparse(value.func) in (
            "np.empty_like",
            "np.empty",
        ):  # a buffer the workspace holds: the output layer's rows
            if name not in self.rows:
                raise RenderError(f"{name}: an allocation outside the kept rows")
            first = value.args[0]
            self.shapes[name] = (
                self._shape(first) if isinstance(first, ast.Name) else ("n", *_ints(first)[1:])
            )
            return self._bind(name, f'ws["{name}"]'), []
        text = ast.unparse(value)
        if text.endswith(".shape[0]"):
            text = "X.shape[0]"  # the batch size, whichever array the pass read it from
        if text == "X.shape[0]" or not self._arrays(value):  # a scalar: epsilon, N, momentum
            if self.scalars.get(name, text) != text:
                raise RenderError(f"{name} is assigned twice: {text!r}")
            first = name not in self.scalars
            self.scalars[name] = text
            return ([f"{name} = {text}"] if first else []), []
        if isinstance(value, ast.Name):  # another name for the same array
            self.shapes[name] = self._shape(value)
            return [f"{name} = {value.id}"], []
        if name in self._names(value):
            raise RenderError(f"{name} is read by its own assignment")
        self.shapes[name] = self._shape(value)
        setup = []
        if name not in self.bound:
            if name not in self.rows:
                self.buffers[name] = (self.shapes[name], "dtype")
            setup = self._bind(name, f'ws["{name}"]')
        self._written(name)
        lines: list[str] = []
        self._root = value
        result = self._value(value, lines, name)
        if result != name:
            lines.append(f"copyto({name}, {result})")
            self.functions.add("copyto")
        return setup, lines

    def _augmented(self, stmt: ast.AugAssign) -> list[str]:
        name = stmt.target.id
        self._known(name)
        lines: list[str] = []
        self._root = None
        operand = self._value(stmt.value, lines)
        self._written(name)
        ufunc = AUGMENTED[type(stmt.op)]
        self.functions.add(ufunc)
        return [*lines, f"{ufunc}({name}, {operand}, out={name})"]

    def _verbatim(self, call: ast.Call) -> str:
        """A printed call that writes into a buffer already: only its function bound."""
        text = ast.unparse(call)
        func = ast.unparse(call.func)
        if not func.startswith("np."):
            raise RenderError(f"cannot lower {text!r}")
        local = func[3:].replace(".", "_")
        self.functions.add(func[3:])
        for a in ast.walk(call):
            if isinstance(a, ast.Name) and a.id not in ("np",):
                self._known(a.id)
        return local + text[len(func) :]

    # -- expressions ------------------------------------------------------------------------

    def _value(self, node: ast.expr, lines: list[str], dest: str | None = None) -> str:
        """The operand text of `node`: a scalar expression, an array's name, or the buffer
        the lines appended compute it into (`dest` when given and of its shape)."""
        if not self._arrays(node):
            return self._constant(node)
        key = ast.dump(node)
        if key in self._memo:  # computed before, its operands unchanged since
            return self._memo[key]
        if key in self.common:  # computed again below: into a buffer of its own
            own = dest  # the assigned name's, when it is the whole value assigned
            if node is not self._root or self.shapes.get(dest) != self._shape(node):
                own = f"common{len(self._memo) + 1}"
                while own in self.buffers:
                    own += "_"
                self.shapes[own] = self._shape(node)
                self.buffers[own] = (self.shapes[own], "dtype")
                self._bind_once(own)
            self._memo[key] = result = self._compute(node, lines, own)
            return result
        return self._compute(node, lines, dest)

    def _compute(self, node: ast.expr, lines: list[str], dest: str | None) -> str:
        if isinstance(node, ast.Name):
            self._known(node.id)
            return node.id
        if isinstance(node, ast.Attribute) and node.attr == "T":
            if len(self._shape(node.value)) < 2:  # a 1-D row is its own transpose
                return self._value(node.value, lines, dest)
            if not isinstance(node.value, ast.Name):
                raise RenderError(f"cannot lower the transpose {ast.unparse(node)!r}")
            self._known(node.value.id)
            self.views.add(node.value.id)
            return f"{node.value.id}_T"
        shape = self._shape(node)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            left, right = self._value(node.left, lines), self._value(node.right, lines)
            out = self._out(dest, shape, avoid=(left, right))
            return self._call("matmul", [left, right], out, lines)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            exponent = ast.literal_eval(node.right)
            base = self._into(node.left, shape, lines, dest)
            ufunc = POWERS.get(exponent)
            args = [base] if ufunc else [base, repr(exponent)]
            return self._call(ufunc or "power", args, self._out(dest, shape, base), lines)
        if isinstance(node, ast.BinOp):
            return self._elementwise(
                BINARY[type(node.op)], [node.left, node.right], shape, lines, dest
            )
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            x = self._into(node.operand, shape, lines, dest)
            return self._call("negative", [x], self._out(dest, shape, x), lines)
        if isinstance(node, ast.Compare):
            (op,), (right,) = node.ops, node.comparators
            args = [self._value(node.left, lines), self._value(right, lines)]
            return self._call(COMPARE[type(op)], args, self._temp(shape, "bool"), lines)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            func = ast.unparse(node.func)
            if func.startswith("np."):
                return self._function(func[3:], node, shape, lines, dest)
            if node.func.attr == "sum":
                return self._sum(node, shape, lines, dest)
        raise RenderError(f"cannot lower {ast.unparse(node)!r}")

    def _constant(self, node: ast.expr) -> str:
        """The 0-d array of the batch's dtype bound once for a scalar operand (a Python
        number costs a conversion at every call, ~0.3 us; the value is the one NumPy would
        convert it to: the operand's in the batch's dtype)."""
        text = ast.unparse(node)
        if text not in self.constants:
            name = text + "_" if text.isidentifier() else "c" + "_".join(_WORDS.findall(text))
            while name in self.constants.values():
                name += "_"
            self.constants[text] = name
        return self.constants[text]

    def _written(self, name: str) -> None:
        """`name` changes: a value computed from it, or held in it, is computed again."""
        for key, buffer in list(self._memo.items()):
            if buffer == name or name in _dumped_names(key):
                del self._memo[key]

    def _function(self, name, node, shape, lines, dest) -> str:
        if name in UNARY:
            (arg,) = node.args
            x = self._into(arg, shape, lines, dest)
            return self._call(name, [x], self._out(dest, shape, x), lines)
        if name in ("maximum", "minimum"):
            args = node.args
            if any(_zero(a) for a in args):  # a buffer of zeros: the scalar form is slower
                zeros = f"zeros_{'_'.join(map(str, shape))}"
                self.buffers[zeros] = (shape, "zeros")
                self._bind_once(zeros)
                texts = [zeros if _zero(a) else None for a in args]
                rest = [a for a in args if not _zero(a)]
                done = [self._into(a, shape, lines, dest) for a in rest]
                texts = [t if t is not None else done.pop(0) for t in texts]
                return self._call(name, texts, self._out(dest, shape, *texts), lines)
            return self._elementwise(name, args, shape, lines, dest)
        if name == "where":
            cond, hi, lo = node.args
            if _number(hi) == 1 and _number(lo) == 0 and isinstance(cond, ast.Compare):
                # [c] as the dtype's 1 and 0: the comparison written into the float buffer
                (op,), (right,) = cond.ops, cond.comparators
                args = [self._value(cond.left, lines), self._value(right, lines)]
                return self._call(COMPARE[type(op)], args, self._out(dest, shape), lines)
            mask = self._value(cond, lines)
            out = self._into(lo, shape, lines, dest, copy=True)
            value = self._value(hi, lines)
            self.functions.add("copyto")
            lines.append(f"copyto({out}, {value}, where={mask})")
            return out
        raise RenderError(f"cannot lower np.{name}")

    def _sum(self, node: ast.Call, shape, lines, dest) -> str:
        """x.sum(axis=...): a sum over the batch (1ᵀX, as the derivation writes it) as the
        product with a vector of ones, as the plain network's bias gradient is (BLAS's, ~3x
        faster per call than a reduction: -7% of a step of 64-32:relu:bn-10, -9% of
        784-256-128-10's; the sum's rounding, not its bits); another sum a reduction."""
        keywords = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
        inner = self._shape(node.func.value)
        x = self._value(node.func.value, lines)
        out = self._out(dest, shape, avoid=(x,))
        axis = keywords["axis"]
        if not keywords.get("keepdims") and len(inner) == 2 and inner[axis] == "n":
            self.buffers["ones"] = (("n",), "ones")
            self._bind_once("ones")
            args = ["ones", x] if axis == 0 else [x, "ones"]
            return self._call("matmul", args, out, lines)
        self.functions.add("add.reduce")
        keep = ", keepdims=True" if keywords.get("keepdims") else ""
        lines.append(f"add_reduce({x}, axis={axis}{keep}, out={out})")
        self._release(x)
        return out

    def _elementwise(self, ufunc, args, shape, lines, dest) -> str:
        """ufunc(*args) element-wise: the first operand that is computed and has the
        result's shape is computed into the result's buffer, the others into scratch."""
        texts, taken = [], None
        for a in args:
            if taken is None and self._arrays(a) and not _leaf(a) and self._shape(a) == shape:
                taken = self._value(a, lines, dest if dest is not None else None)
                texts.append(taken)
            else:
                texts.append(self._value(a, lines))
        return self._call(ufunc, texts, self._out(dest, shape, *texts), lines)

    def _into(self, node, shape, lines, dest, copy=False) -> str:
        """`node` computed (into dest when it has the result's shape); with `copy` a name or
        a scalar is copied into a buffer of the result's shape first."""
        if self._arrays(node) and not _leaf(node) and self._shape(node) == shape:
            return self._value(node, lines, dest)
        x = self._value(node, lines)
        if not copy:
            return x
        out = self._out(dest, shape)
        self.functions.add("copyto")
        lines.append(f"copyto({out}, {x})")
        return out

    def _call(self, ufunc: str, args: list[str], out: str, lines: list[str]) -> str:
        self.functions.add(ufunc)
        lines.append(f"{ufunc}({', '.join(args)}, out={out})")
        for a in args:
            if a != out:
                self._release(a)
        return out

    # -- buffers --------------------------------------------------------------------------

    def _out(self, dest, shape, *reuse, avoid=()) -> str:
        """The buffer a result of `shape` goes into: dest, else a scratch operand among
        `reuse` of that shape (element-wise ops may write over an operand), else a free
        scratch buffer (never one of `avoid`: a product's operands)."""
        if dest is not None and self.shapes.get(dest) == shape and dest not in avoid:
            return dest
        for r in reuse:
            if r in self._busy and self._scratch_shape(r) == (shape, "dtype"):
                return r
        return self._temp(shape, "dtype")

    def _temp(self, shape: tuple, kind: str) -> str:
        for name, s, k in self._temps:
            if (s, k) == (shape, kind) and name not in self._busy:
                self._busy.add(name)
                return name
        name = f"tmp{len(self._temps) + 1}"
        self._temps.append((name, shape, kind))
        self.buffers[name] = (shape, "bool" if kind == "bool" else "dtype")
        self._bind_once(name)
        self._busy.add(name)
        return name

    def _scratch_shape(self, name: str):
        for n, s, k in self._temps:
            if n == name:
                return s, k
        return None

    def _release(self, text: str) -> None:
        self._busy.discard(text)

    def _bind(self, name: str, source: str) -> list[str]:
        """The fetch of `name` from `source`, once (the backward pass fetches some again)."""
        if name in self.bound:
            return []
        self.bound.append(name)
        return [f"{name} = {source}"]

    def _bind_once(self, name: str) -> None:
        if name not in self.bound:
            self.bound.append(name)
            self._fetches.append(f'{name} = ws["{name}"]')

    # -- what the lowering binds ---------------------------------------------------------

    def setup(self) -> list[str]:
        """The scratch buffers, functions and transposed views to bind once."""
        names = sorted(self.functions)
        pairs = [(n.replace(".", "_"), f"np.{n}") for n in names]
        pairs += [(c, f"np.array({t}, X.dtype)") for t, c in self.constants.items()]
        pairs += [(f"{v}_T", f"{v}.T") for v in sorted(self.views)]
        lines = list(self._fetches)
        while pairs:  # two a line, as codegen._fetch, where they fit (ruff's 88 columns)
            group = pairs[:2]
            line = f"{', '.join(a for a, _ in group)} = {', '.join(b for _, b in group)}"
            if len(line) > SETUP_WIDTH:
                group = pairs[:1]
                line = f"{group[0][0]} = {group[0][1]}"
            lines.append(line)
            pairs = pairs[len(group) :]
        return lines

    def allocations(self, hidden: set = frozenset()) -> list[tuple[str, str]]:
        """(name, its allocation as code, n the batch size) of every buffer to allocate; a
        buffer of one row per sample of a width in `hidden` (a hidden layer's) in the order
        `hidden` (the printed function's local: hidden_order(dtype), as codegen.allocations)."""
        out = []
        for name, (shape, kind) in self.buffers.items():
            text = "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"
            call = kind if kind in ("zeros", "ones") else "empty"
            dtype = "bool" if kind == "bool" else "dtype"
            order = ", hidden" if len(shape) == 2 and shape[0] == "n" and shape[1] in hidden else ""
            out.append((name, f"np.{call}({text}, {dtype}{order})"))
        return out

    # -- shapes ---------------------------------------------------------------------------

    def _known(self, name: str) -> None:
        if name not in self.shapes and name not in self.scalars:
            raise RenderError(f"{name} is read before it is assigned")

    def _names(self, node: ast.expr) -> set[str]:
        return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}

    def _arrays(self, node: ast.expr) -> bool:
        """Whether `node` involves an array (else it is a scalar Python computes)."""
        return any(n in self.shapes for n in self._names(node) if n != "np")

    def _shape(self, node: ast.expr) -> tuple:
        if not self._arrays(node):
            return ()
        if isinstance(node, ast.Name):
            return self.shapes[node.id]
        if isinstance(node, ast.Attribute) and node.attr == "T":
            return self._shape(node.value)[::-1]
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            return (self._shape(node.left)[0], self._shape(node.right)[-1])
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            return self._shape(node.left)
        if isinstance(node, ast.BinOp):
            return _broadcast(self._shape(node.left), self._shape(node.right))
        if isinstance(node, ast.UnaryOp):
            return self._shape(node.operand)
        if isinstance(node, ast.Compare):
            return _broadcast(self._shape(node.left), *map(self._shape, node.comparators))
        if isinstance(node, ast.Call) and ast.unparse(node.func).startswith("np."):
            return _broadcast(*map(self._shape, node.args))
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "sum":
            keywords = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
            inner, axis = self._shape(node.func.value), keywords["axis"]
            if keywords.get("keepdims"):
                return inner[:axis] + (1,) + inner[axis + 1 :]
            return inner[:axis] + inner[axis + 1 :]
        raise RenderError(f"no shape for {ast.unparse(node)!r}")


_WORDS = re.compile(r"\w+")


def _dumped_names(dump: str) -> set[str]:
    """The names an ast.dump reads."""
    return set(re.findall(r"Name\(id='(\w+)'", dump))


def _flattened(stmts: list[ast.stmt]) -> list[ast.stmt]:
    """The statements with every `if train:` block opened (training mode), its else dropped."""
    out = []
    for s in stmts:
        if isinstance(s, ast.If) and ast.unparse(s.test) == "train":
            out += _flattened(s.body)
        else:
            out.append(s)
    return out


def _fetch(value: ast.expr) -> tuple[str, str] | None:
    """(source, key) of `params["W1"]`, `out["Z1"]`, `masks["Mask1"]`, `ws["Z1"]`."""
    if (
        isinstance(value, ast.Subscript)
        and isinstance(value.value, ast.Name)
        and value.value.id in SOURCES
        and isinstance(value.slice, ast.Constant)
    ):
        return value.value.id, value.slice.value
    return None


def _leaf(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) or (isinstance(node, ast.Attribute) and node.attr == "T")


def _number(node: ast.expr):
    try:
        return ast.literal_eval(node)
    except ValueError:
        return None


def _zero(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value == 0


def _ints(node: ast.expr) -> tuple:
    """The shape of `np.empty((N, 1), ...)`'s first argument, N as "n"."""
    return tuple("n" if ast.unparse(e) == "N" else ast.literal_eval(e) for e in node.elts)
