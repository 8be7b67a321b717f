"""The document's prose, one table per language; the formulas come from the printer.

A string may hold `{name}` fields that document.py fills (`fill`) with printed formulas
(`$…$`) or numbers, and LaTeX markup (`\\paragraph{…}`, `\\eqref{…}`), whose braces stay
as they are; it never holds mathematics itself.
"""

from __future__ import annotations

import re

from .errors import RenderError

EN = {
    "tex_program": "pdflatex",  # symfnn/pdf.py builds with it; the template's preamble follows
    "packages": "\\usepackage{array}",
    "table_name": "Table",
    "begin_lang": "",
    "end_lang": "",
    "hyperref": "colorlinks=true,linkcolor=blue!50!black,citecolor=blue!50!black,bookmarksnumbered",
    "algorithm_name": "Algorithm",
    "alg_setup": "",
    "require": "Input:",
    "ensure": "Output:",
    "otherwise": r"\text{otherwise}",
    "title": "Backpropagation for the network\\\\ {arch}",
    "author": "derived and proven with SymPy by symfnn {version}",
    "intro": (
        "This document derives error backpropagation for a feedforward network with {depth} "
        "layers and {params} parameters, trained on the {loss} loss{reg}. Every formula below "
        "was derived by SymPy for this architecture and printed from its result; the gradients "
        "were then checked against brute-force differentiation (Section~\\ref{sec:verify})."
    ),
    "reg_none": "",
    "reg_some": " with {names} regularisation",
    "table_caption": "The layers of the network.",
    "col_layer": "layer",
    "col_width": "width",
    "col_activation": "activation",
    "col_W": "shape of",
    "col_b": "shape of",
    "col_params": "parameters",
    "input": "input",
    "total": "total",
    "sec_notation": "Notation",
    "notation_intro": "Layer 0 is the input and layer {L} the output. Vectors are columns.",
    "n_depth": "number of layers",
    "n_width": "number of neurons in layer {l}",
    "n_f": "activation function of layer {l} (element-wise, except softmax)",
    "n_W": "weights from layer {lm1} to layer {l}",
    "n_b": "bias of layer {l}",
    "n_z": "net input of layer {l}",
    "n_a": "activation (output) of layer {l}; {a0} is the input {x}",
    "n_y": "the target of a sample",
    "n_delta": "error term of layer {l}, the gradient of the loss by its net input",
    "n_kron": "Kronecker delta: 1 if the indices are equal, else 0",
    "n_hadamard": "element-wise (Hadamard) product",
    "n_iverson": "Iverson bracket: 1 where the condition holds, else 0 (element-wise)",
    "n_ones": "a column of {N} ones",
    "n_batch": "a mini-batch: one row per sample, {N} samples",
    "n_alpha": "learning rate",
    "n_lambda": "regularisation coefficient",
    "sec_forward": "Forward propagation",
    "forward_general": (
        "Each layer forms its net input from the previous layer's activation and applies its "
        "activation function:"
    ),
    "forward_layers": "For this network, layer by layer:",
    "sec_loss": "Loss, structural risk and gradient descent",
    "loss_intro": "The {loss} loss of one sample is",
    "risk_intro": (
        "On a training set of {N} samples the structural risk is the mean loss plus the "
        "penalty on the weights (the biases are not regularised):"
    ),
    "risk_plain": "On a training set of {N} samples the empirical risk is the mean loss:",
    "coefficients": "Here {values}.",
    "reg_grad": "The penalty's gradient, as SymPy differentiated it and after folding the sums:",
    "update_intro": "Gradient descent with learning rate {alpha} updates every layer by",
    "sec_backprop": "Error backpropagation",
    "chain_intro": (
        "The loss depends on {w} and {b} only through the net input {z}, so by the chain rule"
    ),
    "part1": (
        "\\paragraph{(1) The net input by a weight.} SymPy differentiates {zi} by {w} and "
        "returns the sum on the left; folding its Kronecker deltas gives the right-hand side:"
    ),
    "part1_after": (
        "Only the entry {i} of the net input depends on the weight: the derivative is the "
        "vector with {aj} in position {p} and zeros elsewhere, the article's {I}."
    ),
    "part2": "\\paragraph{(2) The net input by the bias.} In the same way",
    "part2_after": "so the Jacobian of the net input by the bias is the identity:",
    "part3": (
        "\\paragraph{(3) The error term.} Define {delta}. The net input of the next layer "
        "depends on {zp} through the activation:"
    ),
    "part3_raw": "SymPy's derivative of this by {zp}, and the same with its deltas folded:",
    "part3_chain": "Summing over the next layer by the chain rule gives the recurrence",
    "part3_matrix": "in matrix form, the backpropagation recurrence:",
    "grads_intro": (
        "\\paragraph{The gradients.} Putting (1)--(3) into the chain rule and folding the sums:"
    ),
    "grads_matrix": "so, in matrix form,",
    "sec_activations": "Derivatives of the activation functions",
    "act_intro": (
        "Each activation is differentiated from its definition, then rewritten in terms of its "
        "output {a}, so that the backward pass can reuse the activations of the forward pass."
    ),
    "named": "{name} ({symbol})",  # a function's name and its symbol
    "sep": ", ",  # between items of a run-in list
    "act_name": "\\paragraph{{name}.} Definition, SymPy's derivative and its simplified form:",
    "act_in_a": "In terms of the output (substituted back and proven equal by SymPy):",
    "act_in_a_unproven": "In terms of the output:",
    "act_no_a": "This derivative has no form in terms of the output; the forward pass keeps {z}.",
    "act_softmax": (
        "Softmax reads the whole layer; its derivative is taken together with the loss in "
        "Section~\\ref{sec:output}."
    ),
    "sec_output": "The output error",
    "output_intro": "For the {loss} loss with {act} on the output layer, the loss of one sample is",
    "output_subst": "Written in the net input {z}, the loss is",
    "output_raw": "SymPy differentiates it by {zp}:",
    "stage_folded": "folding the Kronecker deltas:",
    "stage_one-hot": "the target is one-hot, so its entries sum to one:",
    "stage_output-form": "and in terms of the output {a}:",
    "output_matrix": "In matrix form the output error is",
    "sec_layers": "Every layer of this network",
    "layers_intro": (
        "The recurrence \\eqref{eq:delta}, the output error \\eqref{eq:delta-out} and the "
        "gradients \\eqref{eq:grad-W}, \\eqref{eq:grad-b}, instantiated from the output "
        "layer down to layer 1. Each equation is tagged with the name that the generated "
        "code's comments cite (\\texttt{eq:{example}} is equation ({example})):"
    ),
    "layer_heading": "Layer {l}",
    "layer_output": "Layer {l} (output)",
    "sec_batch": "The mini-batch form",
    "batch_intro": (
        "The generated code processes a mini-batch of {N} samples at once, one sample per row: "
        "{A0} is the batch of inputs. Row {n} of each matrix below is sample {n}'s vector from "
        "the equations above, and each gradient is the mean over the batch; every conversion "
        "was checked by SymPy on explicit matrices. These are the equations the generated code "
        "computes; its comments cite them by name."
    ),
    "sec_algorithm": "The training algorithm",
    "algorithm_intro": (
        "Stochastic gradient descent with backpropagation and early stopping on a validation "
        "set; a mini-batch averages the per-sample gradients."
    ),
    "algorithm_caption": "Training {arch} by mini-batch gradient descent",
    "alg_input": (
        "training set {D}, validation set {V}, learning rate {alpha} ({optimizer}){lam}, "
        "batch size {B}, patience {P}, at most {E} epochs"
    ),
    "alg_output": "the weights and biases",
    "alg_init": "initialise every {W} at random, every {b} to zero",
    "alg_repeat": "shuffle {D} and split it into mini-batches of {B} samples",
    "alg_for": "each mini-batch {A0}, {Y}",
    "alg_forward": "forward: {Z} and {A} for {ls}",
    "alg_backward": "backward: {Delta} for {ls_down}",
    "alg_grad": "gradients {dW}, {db} for {ls}",
    "alg_update": "update every layer:",
    "alg_until": "the error on {V} has not decreased for {P} epochs, or {E} epochs have run",
    "alg_return": "the parameters with the lowest error on {V}",
    "sec_verify": "Verification",
    "verify_intro": (
        "The derivation was proven on a small instance of the same architecture: the whole "
        "regularised risk was written as one SymPy expression in the explicit weights and "
        "differentiated directly, independently of the recurrence, and compared with the "
        "mini-batch forms of Section~\\ref{sec:batch}."
    ),
    "v_instance": "instance",
    "v_checked": "partial derivatives checked",
    "v_points": "random points",
    "v_samples": "samples per batch",
    "v_digits": "arithmetic",
    "v_digits_value": "{digits} significant digits",
    "v_worst": "largest difference",
    "v_worst_value": "below {bound}",
    "v_symbolic": "symbolic proof",
    "v_symbolic_done": "\\texttt{cancel} reduces the difference to 0 for all {n} partial "
    "derivatives of {instance}",
    "v_symbolic_timeout": "skipped: \\texttt{cancel} took over {seconds} s",
    "v_symbolic_skipped": "skipped",
    "v_verdict": "verdict",
    "proven": "proven",
    "failed": "FAILED",
}

ZH = {
    **EN,
    "tex_program": "xelatex",  # ctex: bold CJK headings, a text layer that copies correctly
    "table_name": "表",
    "loss_cross_entropy": "交叉熵",
    "loss_binary_cross_entropy": "二元交叉熵",
    "loss_squared_error": "平方误差",
    "algorithm_name": "算法",
    "alg_setup": (
        "\\algrenewcommand\\algorithmicrepeat{\\textbf{重复}}"
        "\\algrenewcommand\\algorithmicuntil{\\textbf{直到}}"
        "\\algrenewcommand\\algorithmicfor{\\textbf{对于}}"
        "\\algrenewcommand\\algorithmicdo{\\textbf{执行}}"
        "\\algrenewcommand\\algorithmicreturn{\\textbf{返回}}"
        "\\algtext*{EndFor}"
    ),
    "require": "输入：",
    "ensure": "输出：",
    "otherwise": r"\text{其他}",
    "title": "网络 {arch} 的误差反向传播推导",
    "author": "由 symfnn {version} 用 SymPy 推导并验证",
    "intro": (
        "本文为一个 {depth} 层、共 {params} 个参数的前馈神经网络推导误差反向传播算法，损失函数为"
        "{loss}{reg}。下文的每个公式都由 SymPy 针对该网络结构推导并直接从结果打印；"
        "所得梯度还与暴力求导的结果做了比对（见第~\\ref{sec:verify}~节）。"
    ),
    "reg_some": "，并带有 {names} 正则化",
    "table_caption": "网络的各层。",
    "col_layer": "层",
    "col_width": "宽度",
    "col_activation": "激活函数",
    "col_W": "形状",
    "col_b": "形状",
    "col_params": "参数个数",
    "input": "输入",
    "total": "合计",
    "sec_notation": "符号说明",
    "notation_intro": "第 0 层为输入层，第 {L} 层为输出层。向量均为列向量。",
    "n_depth": "神经网络的层数",
    "n_width": "第 {l} 层神经元的个数",
    "n_f": "第 {l} 层的激活函数（除 softmax 外逐元素作用）",
    "n_W": "第 {lm1} 层到第 {l} 层的权重矩阵",
    "n_b": "第 {l} 层的偏置",
    "n_z": "第 {l} 层神经元的净输入（净活性值）",
    "n_a": "第 {l} 层神经元的输出（活性值）；{a0} 即输入 {x}",
    "n_y": "样本的标签",
    "n_delta": "第 {l} 层的误差项，即损失对该层净输入的偏导数",
    "n_kron": "克罗内克函数：下标相等时为 1，否则为 0",
    "n_hadamard": "向量（矩阵）的逐元素乘积（Hadamard 积）",
    "n_iverson": "艾弗森括号：条件成立处为 1，否则为 0（逐元素）",
    "n_ones": "由 {N} 个 1 组成的列向量",
    "n_batch": "小批量：每行一个样本，共 {N} 个样本",
    "n_alpha": "学习率",
    "n_lambda": "正则化系数",
    "sec_forward": "前向传播",
    "forward_general": "每一层由前一层的活性值计算净输入，再经过激活函数得到本层的活性值：",
    "forward_layers": "对本网络逐层写出：",
    "sec_loss": "损失函数、结构风险与梯度下降",
    "loss_intro": "单个样本的{loss}损失为",
    "risk_intro": "在含 {N} 个样本的训练集上，结构风险为平均损失加上权重的正则化项（偏置不做正则化）：",
    "risk_plain": "在含 {N} 个样本的训练集上，经验风险为平均损失：",
    "coefficients": "其中 {values}。",
    "reg_grad": "正则化项的梯度（SymPy 的求导结果，以及化简求和之后）：",
    "update_intro": "以学习率 {alpha} 做梯度下降，每一层的参数更新为",
    "sec_backprop": "误差反向传播",
    "chain_intro": "损失只通过净输入 {z} 依赖于 {w} 和 {b}，由链式法则",
    "part1": (
        "\\paragraph{（1）净输入对权重的偏导数。} SymPy 对 {zi} 关于 {w} 求导，得到左边的求和式；"
        "化简其中的克罗内克函数得到右边："
    ),
    "part1_after": "净输入中只有第 {i} 个分量依赖于该权重：偏导数是第 {p} 个位置为 {aj}、其余为 0 的向量，即原文的 {I}。",
    "part2": "\\paragraph{（2）净输入对偏置的偏导数。} 同理",
    "part2_after": "所以净输入对偏置的雅可比矩阵是单位矩阵：",
    "part3": "\\paragraph{（3）误差项。} 定义 {delta}。下一层的净输入经过激活函数依赖于 {zp}：",
    "part3_raw": "SymPy 对 {zp} 求导的结果，以及化简克罗内克函数之后：",
    "part3_chain": "对下一层求和（链式法则）得到递推式",
    "part3_matrix": "写成矩阵形式，即反向传播的递推公式：",
    "grads_intro": "\\paragraph{梯度。} 把（1）—（3）代入链式法则并化简求和：",
    "grads_matrix": "写成矩阵形式：",
    "sec_activations": "激活函数的导数",
    "act_intro": "每个激活函数都由定义求导，再改写为其输出 {a} 的函数，这样反向传播可以直接使用前向传播保存的活性值。",
    "named": "{name}（{symbol}）",
    "sep": "，",
    "act_name": "\\paragraph{{name}。} 定义、SymPy 的求导结果及化简：",
    "act_in_a": "用输出表示（代回后由 SymPy 证明相等）：",
    "act_in_a_unproven": "用输出表示：",
    "act_no_a": "该导数无法用输出表示，前向传播需保存 {z}。",
    "act_softmax": "softmax 依赖整层的净输入，其导数在第~\\ref{sec:output}~节与损失函数一起推导。",
    "sec_output": "输出层的误差项",
    "output_intro": "输出层激活函数为 {act}、损失函数为{loss}时，单个样本的损失为",
    "output_subst": "用净输入 {z} 表示，损失为",
    "output_raw": "SymPy 对 {zp} 求导：",
    "stage_folded": "化简克罗内克函数：",
    "stage_one-hot": "标签是 one-hot 向量，各分量之和为 1：",
    "stage_output-form": "用输出 {a} 表示：",
    "output_matrix": "写成矩阵形式，输出层的误差项为",
    "sec_layers": "本网络的每一层",
    "layers_intro": (
        "把递推式 \\eqref{eq:delta}、输出层误差 \\eqref{eq:delta-out} 和梯度公式 "
        "\\eqref{eq:grad-W}、\\eqref{eq:grad-b} 从输出层到第 1 层逐层实例化。"
        "每个公式的编号就是生成代码的注释所引用的名字（\\texttt{eq:{example}} 即公式 ({example})）："
    ),
    "layer_heading": "第 {l} 层",
    "layer_output": "第 {l} 层（输出层）",
    "sec_batch": "小批量（矩阵）形式",
    "batch_intro": (
        "生成的代码一次处理 {N} 个样本的小批量，每行一个样本：{A0} 是输入的小批量。"
        "下列每个矩阵的第 {n} 行就是上文中第 {n} 个样本的向量，梯度取小批量上的平均；"
        "每一步转换都由 SymPy 在具体矩阵上验证过。生成的代码正是按这些公式计算，其注释按名字引用它们。"
    ),
    "sec_algorithm": "训练算法",
    "algorithm_intro": "使用反向传播的随机梯度下降，并在验证集上提前停止；小批量对各样本的梯度取平均。",
    "algorithm_caption": "以小批量梯度下降训练 {arch}",
    "alg_input": "训练集 {D}，验证集 {V}，学习率 {alpha}（{optimizer}）{lam}，批大小 {B}，耐心 {P}，最多 {E} 轮",
    "alg_output": "权重与偏置",
    "alg_init": "随机初始化每个 {W}，每个 {b} 置零",
    "alg_repeat": "打乱 {D}，划分为每批 {B} 个样本的小批量",
    "alg_for": "每个小批量 {A0}，{Y}",
    "alg_forward": "前向传播：对 {ls} 计算 {Z} 和 {A}",
    "alg_backward": "反向传播：对 {ls_down} 计算 {Delta}",
    "alg_grad": "对 {ls} 计算梯度 {dW}，{db}",
    "alg_update": "更新每一层：",
    "alg_until": "{V} 上的错误率连续 {P} 轮不再下降，或已训练 {E} 轮",
    "alg_return": "在 {V} 上错误率最低的参数",
    "sec_verify": "验证",
    "verify_intro": (
        "在同一结构的小规模实例上验证了推导：把整个带正则化的风险写成显式权重的一个 SymPy 表达式，"
        "直接求导（不依赖递推公式），并与第~\\ref{sec:batch}~节的小批量公式比较。"
    ),
    "v_instance": "实例",
    "v_checked": "检验的偏导数个数",
    "v_points": "随机点个数",
    "v_samples": "每批样本数",
    "v_digits": "运算精度",
    "v_digits_value": "{digits} 位有效数字",
    "v_worst": "最大差值",
    "v_worst_value": "小于 {bound}",
    "v_symbolic": "符号证明",
    "v_symbolic_done": "在 {instance} 上，全部 {n} 个偏导数的差经 \\texttt{cancel} 化简均为 0",
    "v_symbolic_timeout": "未完成：\\texttt{cancel} 超过 {seconds} 秒",
    "v_symbolic_skipped": "未做",
    "v_verdict": "结论",
    "proven": "已证明",
    "failed": "失败",
}

LANGUAGES = {"en": EN, "zh": ZH}


def fill(text: str, **fields: str) -> str:
    """Replace each `{name}` whose name is a given field; leave every other brace alone."""
    return re.sub(r"\{(\w+)\}", lambda m: str(fields.get(m.group(1), m.group(0))), text)


def strings(lang: str) -> dict[str, str]:
    try:
        return LANGUAGES[lang]
    except KeyError:
        raise RenderError(f"unknown language {lang!r} (allowed: {', '.join(LANGUAGES)})") from None
