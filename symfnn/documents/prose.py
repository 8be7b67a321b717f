"""The document's prose, one table per language; the formulas come from the printer.

A string may hold `{name}` fields that document.py fills (`fill`) with printed formulas
(`$…$`) or numbers, and LaTeX markup (`\\paragraph{…}`, `\\eqref{…}`), whose braces stay
as they are; it never holds mathematics itself.
"""

from __future__ import annotations

import re

from ..errors import RenderError

EN = {
    "tex_program": "pdflatex",  # symfnn/documents/pdf.py builds with it; the template's preamble follows
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
    "intro": "This document derives error backpropagation for a feedforward network with {depth} layers and {params} parameters (Figure~\\ref{fig:network}), trained on the {loss} loss{reg}. Every formula below was derived by SymPy for this architecture and printed from its result; the gradients were checked against brute-force differentiation (Section~\\ref{sec:verify}), and Section~\\ref{sec:worked} follows one sample through the equations with numbers.",
    "intro_normalised": "This document derives error backpropagation for a feedforward network with {depth} layers and {params} parameters (Figure~\\ref{fig:network}), trained on the {loss} loss{reg}. Every formula below was derived by SymPy for this architecture and printed from its result; the gradients were {checked} (Section~\\ref{sec:verify}). Section~\\ref{sec:norm} derives the backward pass of batch normalisation and dropout.",
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
    "n_y": "the target of a sample (one-hot for classification)",
    "n_delta": "error term of layer {l}: the derivative of one sample's loss with respect to its net input",
    "n_kron": "Iverson bracket: 1 if the indices are equal, else 0 (the Kronecker delta {kron} of the article; here {delta_sym} is always an error term)",
    "n_hadamard": "element-wise (Hadamard) product",
    "n_ones": "a column of {B} ones",
    "n_batch": "a mini-batch of activations, net inputs and error terms: one row per sample, {B} rows",
    "n_alpha": "learning rate",
    "n_lambda": "regularisation coefficient",
    "sec_forward": "Forward propagation",
    "forward_general": "Each layer forms its net input from the previous layer's activation and applies its activation function (Figure~\\ref{fig:layer} draws one layer, forward and backward):",
    "forward_layers": "For this network, layer by layer, with the activation functions of Table~\\ref{tab:layers} (defined and differentiated in Section~\\ref{sec:activations}):",
    "sec_loss": "Loss, structural risk and gradient descent",
    "loss_intro": "The {loss} loss of one sample is",
    "risk_intro": "On a training set of {N} samples the structural risk is the mean loss plus a penalty {Omega} on the weights (the biases are not regularised):",
    "risk_plain": "On a training set of {N} samples the empirical risk is the mean loss:",
    "coefficients": "Here {values}.",
    "reg_grad": "The penalty's derivative with respect to one weight: differentiating the double sum keeps the term {ip}, {jq}:",
    "update_intro": "In its plainest form, gradient descent with learning rate {alpha} updates every layer by",
    "update_after": "The generated script trains with the {optimizer} update, printed in Algorithm~\\ref{alg:training} from the same rule as the script's code.",
    "sec_backprop": "Error backpropagation",
    "chain_intro": "The loss of one sample depends on {w} and {b} only through the net input {z}, so by the chain rule",
    "part1": "\\paragraph{(1) The net input with respect to a weight.} Write {zi} as a sum and differentiate term by term with respect to {w}: the term {wa} depends on it only when {ip} and {jq}, so one term of the sum is left:",
    "part1_after": "Only entry {i} of the net input depends on the weight: the derivative is the vector with {aj} in position {p} and zeros elsewhere, the article's {I} \\cite{article}.",
    "part2": "\\paragraph{(2) The net input with respect to the bias.} In the same way, only the entry {ip} contains {b}:",
    "part2_after": "so the Jacobian of the net input with respect to the bias is the identity:",
    "part3": "\\paragraph{(3) The error term.} Define {delta}. The net input of layer {l} reaches the loss only through the net inputs of layer {lp1}, so the chain rule sums over them:",
    "part3_chain": "Putting this into the chain rule gives the recurrence",
    "part3_matrix": "in matrix form, the backpropagation recurrence:",
    "grads_intro": "\\paragraph{(4) The gradients.} Putting (1)--(3) into the chain rule, the sums over {ivar} keep the term {ip}:",
    "grads_matrix": "In matrix form, for one sample:",
    "sec_activations": "Derivatives of the activation functions",
    "act_intro": (
        "Each activation is differentiated from its definition, then rewritten in terms of its "
        "output {a}, so that the backward pass can reuse the activations of the forward pass."
    ),
    "named": "{name} ({symbol})",  # a function's name and its symbol
    "sep": ", ",  # between items of a run-in list
    "act_name": "\\paragraph{{name}.} Definition and derivative:",
    "act_in_a": "In terms of the output {a_fz} (substituted back and proven equal by SymPy):",
    "act_in_a_unproven": "In terms of the output:",
    "act_no_a": "This derivative has no form in terms of the output; the forward pass keeps {z}.",
    "act_softmax": (
        "Softmax reads the whole layer; its derivative is taken together with the loss in "
        "Section~\\ref{sec:output}."
    ),
    "sec_output": "The output error",
    "output_intro": "For the {loss} loss with {act} on the output layer, the loss of one sample is",
    "output_subst": "Written in the net input {z}, the loss is",
    "output_raw": "Its derivative with respect to {zp}, term by term:",
    "stage_folded": "the sums with an Iverson bracket keep one term:",
    "stage_one-hot": "the target is one-hot, so its entries sum to one:",
    "stage_output-form": "and in terms of the output {a}:",
    "output_matrix": "In matrix form the output error is",
    "sec_layers": "Every layer of this network",
    "layers_intro": "The recurrence \\eqref{eq:delta}, the output error \\eqref{eq:delta-out} and the gradients \\eqref{eq:grad-W}, \\eqref{eq:grad-b}, instantiated from the output layer down to layer 1; each error term is that of one sample {n}, written with its tag in the means, as in {tag}.",
    "layer_heading": "Layer {l}",
    "layer_output": "Layer {l} (output)",
    "sec_batch": "The mini-batch form",
    "batch_intro": "The generated code processes a mini-batch of {B} samples at once (the training set has {N}), one sample per row: {A0} is the batch of inputs. Row {n} of each matrix below is sample {n}'s vector from the equations above, and each gradient is the mean over the batch; every conversion was checked by SymPy on explicit matrices. The equations are listed in the order the code runs them.",
    "sec_algorithm": "The training algorithm",
    "algorithm_intro": "Mini-batch training with backpropagation and early stopping on a validation set: each mini-batch averages the per-sample gradients of Section~\\ref{sec:batch}, and the optimiser's rule turns them into the update.",
    "algorithm_caption": "Mini-batch training with {optimizer} for {arch}",
    "alg_input": (
        "training set {D}, validation set {V}, learning rate {alpha} ({optimizer}){lam}, "
        "batch size {B}, patience {P}, at most {E} epochs"
    ),
    "alg_output": "the weights and biases",
    "alg_init": "initialise every {W} at random, every {b} to zero",
    "alg_init_bn": "every {gamma} to one and every {beta} to zero",
    "alg_repeat": "shuffle {D} and split it into mini-batches of {B} samples",
    "alg_for": "each mini-batch {A0}, {Y}",
    "alg_forward": "forward: {Z} and {A} for {ls}",
    "alg_forward_bn": "normalise by the mini-batch's {mu}, {var}",
    "alg_running_bn": "update the running mean and variance (momentum {rho}; unbiased variance):",
    "alg_forward_drop": "drop units by a fresh mask {mask} in each dropout layer",
    "alg_output_drop": "; prediction drops no unit",
    "alg_output_bn": "; {gamma}, {beta} and the running {mean}, {var_run}, which take the place of {mu}, {var} when predicting",
    "alg_backward": "backward: {Delta} for {ls_down}",
    "alg_grad": "gradients {dW}, {db} for {ls}",
    "alg_update": "update every layer:",
    "alg_until": "the error on {V} has not decreased for {P} epochs, or {E} epochs have run",
    "alg_until_diverging": ", or the loss is over {K} times its value at the start",
    "alg_return": "the parameters with the lowest error on {V}",
    "sec_verify": "Verification",
    "verify_cover": (
        "The proof ran on a covering instance, {instance}: a short network that holds every "
        "pair of adjacent layer types of this one ({pairs}) once. Each layer of this network "
        "stands for a layer of the instance (layers {mapping}), and its derived steps were "
        "checked to be that layer's with the layer index renamed, so what is proven on the "
        "instance holds for every layer here."
    ),
    "verify_lead": "The derivation was proven on a small instance of the same architecture:",
    "verify_lead_cover": "On the instance,",
    "verify_intro": (
        "{lead} the whole "
        "regularised risk was written as one SymPy expression in the explicit weights and "
        "differentiated directly, independently of the recurrence, and compared with the "
        "mini-batch forms of Section~\\ref{sec:batch}."
    ),
    "verify_links": (
        "\\paragraph{Symbolically, link by link.} The {what} was cut at its net inputs into "
        "{links} links: the data to {Z1}, each {Zl} to {Zl1} (what layer {l} does after its "
        "net input: normalisation, activation, dropout; then the next layer's net input) and "
        "{ZL} to the risk. Each link was written from the definitions alone, with its input, "
        "its parameters and the error term arriving from above, {error}, as free symbols. "
        "Every step of the derivation inside a link (its error term and the gradients of "
        "the parameters it holds) was subtracted from SymPy's "
        "derivative of {objective} (for the last link, of {BR}), and \\texttt{cancel} "
        "reduced each difference to 0, separately for each coefficient of the error term; the "
        "link's forward value was compared with its definition in the same way. A link "
        "proven for every value of its incoming error term passes a correct one on, so by the "
        "chain rule the links together prove the gradient of the whole risk."
    ),
    "verify_links_numeric": (
        "\\paragraph{Numerically.} As a cross-check of how the links are joined, the whole "
        "regularised risk of one mini-batch was written as one SymPy expression in the "
        "explicit parameters, differentiated directly by every parameter at the random points "
        "below and compared with the mini-batch forms of Section~\\ref{sec:batch}."
    ),
    "verify_links_only": (
        "\\paragraph{Numerically.} The symbolic part did not finish, so the evidence is "
        "numeric: the whole regularised "
        "risk of one mini-batch was written as one SymPy expression in the explicit "
        "parameters, differentiated directly by every parameter at the random points below "
        "and compared with the mini-batch forms of Section~\\ref{sec:batch}."
    ),
    "v_checked_numeric": "partial derivatives compared numerically",
    "update_bn": "In a normalised layer {gamma} and {beta} take the place of {b} and are updated the same way. There a sample's loss depends on the other samples of its mini-batch (Section~\\ref{sec:norm}), so {R} is taken over one mini-batch of {B} samples at a time.",
    "intro_checked": "checked against brute-force differentiation on a mini-batch",
    "intro_checked_links": "proven symbolically link by link and checked against brute-force differentiation on a mini-batch",
    "v_symbolic_links": "\\texttt{cancel} reduces the difference to 0 for all {n} entries of "
    "the links' error terms and gradients, and {forward} forward values equal their "
    "definitions ({instance})",
    "v_symbolic_links_renamed": "\\texttt{cancel} reduces the difference to 0 for {n} entries "
    "of the links' error terms and gradients, the other {renamed} are those of links that "
    "repeat an earlier one and equal it after renaming (links {which}), and {forward} forward "
    "values equal their definitions ({instance})",
    "v_symbolic_links_unfinished": "not finished: the links' cancellation took over {seconds} s "
    "({n} entries and {forward} forward values reduced to 0 by then)",
    "v_instance": "instance",
    "v_network": "network",
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
    "n_N": "number of samples in the training set",
    "n_sample": "the target and the activation of layer {l} for sample {n} ({n} = 1, \\ldots, {N}); without the tag, any one sample",
    "n_Omega": "the penalty on the weights (the regulariser)",
    "n_R": "the structural risk: mean loss over the training set plus the penalty",
    "n_power": "element-wise power, {u}",
    "n_B": "number of samples in a mini-batch",
    "n_Y": "the mini-batch's targets, one row per sample",
    "fig_network": "The network {arch}: each column is a layer, with its width above and its activation below.",
    "fig_layer": "One layer as a computation graph. Solid arrows: the forward pass. Dashed arrows: the error terms flowing back; the layer's gradients are formed from the error term where it passes.",
    "fig_chain": "Nielsen's chain: one sigmoid neuron per layer, weights {wj}, biases {bj}, cost {C}.",
    "softmax_def": "where softmax is applied to the whole vector; entry by entry,",
    "penalty_intro": "with the penalty summed over every weight of every layer:",
    "chain_after": "Three derivatives are needed: of the net input with respect to a weight (1) and to a bias (2), and of the loss with respect to the net input, the error term (3).",
    "part3_next": "The net input of the next layer depends on {zp} through the activation; differentiating term by term, only {jp} is left:",
    "diag_intro": "The article \\cite{article} reaches the same recurrence with Jacobian matrices. Each activation depends only on its own net input, and the next net input is linear in the activation:",
    "diag_jacobians": "so, in the article's layout (a derivative with respect to a column vector is a column), {dadz} is the diagonal matrix of the {fprime} and {dzda} is the transposed weight matrix:",
    "diag_after": "Multiplying by a diagonal matrix scales each entry, which is the element-wise product; the two forms are equal (checked by SymPy on explicit matrices).",
    "grads_mean": "The risk averages the loss over the {N} samples and adds the penalty, so its gradient is the mean of the one-sample gradients (sample {n} written with its tag, as in {tag}) plus the penalty's derivative:",
    "sec_summary": "The four equations of backpropagation",
    "box_title": "Backpropagation for one sample (each matrix with its shape)",
    "box_intro": "For one sample, the error term of the output layer (BP1), the recurrence (BP2) and the gradients (BP3, BP4) are all that backpropagation needs; Nielsen \\cite{nielsen} and Qiu \\cite{qiu} state them in the same four lines:",
    "box_after": "The gradient of the risk averages (BP3) and (BP4) over the {N} samples and adds the penalty's derivative to (BP4), equation \\eqref{eq:grad-W}.",
    "batch_forward": "\\textbf{Forward}, from layer 1 to the output:",
    "batch_backward": "\\textbf{Backward}, from the output down to layer 1; each error term is computed before the gradients that use it:",
    "batch_labels": "The generated code's comments cite these equations by label: \\texttt{eq:{example}}, for example, is the equation for {lhs}, number \\eqref{eq:{example}}.",
    "sec_worked": "A worked example",
    "sec_norm": "Batch normalisation and dropout",
    "n_bn_stats": "mean and variance (biased) of each unit's net input over the mini-batch, in a layer with batch normalisation",
    "n_bn_zhat": "the normalised net inputs, and the same scaled and shifted (one sample per row)",
    "n_bn_params": "the learned scale and shift of a normalised layer (the shift takes the place of the bias)",
    "n_bn_eps": "a small constant added to the variance",
    "n_bn_errors": "a normalised layer's error terms at the normalised and at the shifted value ({B} times the risk's derivative by {Zhat} and by {Y}, one row per sample)",
    "n_mask": "the dropout mask (0 or 1 per unit) of one sample, and of a mini-batch",
    "layers_norm": "A layer with batch normalisation has no one-sample form, since its samples couple: its error terms and gradients are given for a mini-batch of {B} samples, one per row, as derived in Section~\\ref{sec:norm}.",
    "forward_norm": "In a layer with batch normalisation the activation function is applied to {y}, the net input normalised over the mini-batch, scaled and shifted; in a layer with dropout the activation is multiplied by the mask {r}. Both are derived in Section~\\ref{sec:norm}.",
    "v_symbolic_numeric": "numeric only: {why}",
    "v_symbolic_ways": "SymPy reduces the difference to 0 for all {n} partial derivatives of {instance} ({ways})",
    "verdict_numeric_only": "NUMERIC ONLY",
    "v_way": "{count} by {method}",
    "verdict_inconclusive": "INCONCLUSIVE",
    "bn_intro": "\\paragraph{Batch normalisation.} A layer with batch normalisation normalises the net input of each unit over the mini-batch before the activation function. For one unit (the layer's tag dropped), with the {N} samples of the mini-batch numbered by an index ({r} is a sample), the mean, the variance, the normalised net input and its scaled and shifted version are",
    "bn_eps": "Here {eps} keeps the division defined, the variance divides by {N} (the biased estimate, as in training mode of the common frameworks), and {gamma}, {beta} are learned per unit. {beta} takes the place of the bias {b}, so a normalised layer's net input has no bias; the activation function is applied to the shifted value.",
    "bn_couple": "\\paragraph{Why the samples couple.} Written out in the net inputs alone, {zi} contains every net input of the batch, not only its own: the mean and the variance are sums over all {N} samples. So the loss of one sample depends on the net input {zr} of every other sample, and the derivative with respect to {zr} has a term for every sample.",
    "bn_paths": "By the chain rule the derivative has three paths: the direct one with {mu} and {var} held fixed, one through the mean {mu} and one through the variance {var}. Each factor is SymPy's derivative of a definition above:",
    "bn_paths_after": "SymPy checks that the three paths add up to its own derivative of the written-out form (on a batch of three, for several pairs of samples). The variance's path through the mean vanishes, because the deviations from the mean sum to zero.",
    "bn_sum": "The error flows back through all of them. With {g}, the error {lhs} is a sum over every sample:",
    "bn_statistics": "SymPy differentiates the written-out form of every term, folds the Iverson brackets and names the sums that are the mean and the variance {mu} and {var}:",
    "bn_in_zhat": "and with {z} every net input is written through the normalised value; SymPy simplifies the result to the compact form",
    "bn_params": "The learned parameters and the error reaching the normalised value follow from the affine step by the chain rule, with {dy} coming from the layer above:",
    "bn_batch": "In the mini-batch form the code uses (one sample per row, for layer {l}; each per-unit sum is a product with a row of ones, and a row is repeated for every sample) the error passes a normalised layer in three steps. The error reaching the shifted value {y} is the usual recurrence {ref}, with the activation function's derivative taken at {y}:",
    "bn_batch_steps": "the error reaching the normalised value is that error scaled by the learned factor; the compact form passes it on through the mean and the variance; the gradients of the learned parameters are sums over the batch:",
    "drop_intro": "\\paragraph{Dropout.} With inverted dropout, during training each unit of a layer is dropped with probability {q}: its activation is multiplied by a mask entry that is 0 or 1, drawn afresh for every sample and step, and the units kept are scaled by the reciprocal of {keep} so that the expected activation is unchanged; at inference nothing is dropped. Here {rates}. The mask is data, not a function of the parameters:",
    "drop_backward": "Differentiating the next layer's net input leaves the mask as a factor:",
    "drop_chain": "and the recurrence becomes",
    "drop_after": "A dropped unit passes no error back, and a kept one passes it scaled by the same factor as in the forward pass.",
    "worked_intro_cover": "The equations above, evaluated on one sample of {arch}, an instance of the same architecture at width 2 (the proof's covering instance, Section~\\ref{sec:verify}, is shorter); values rounded to {digits} significant digits. The given numbers:",
    "worked_intro": "The equations above, evaluated on one sample of the small instance {arch} that the proof uses (Section~\\ref{sec:verify}); values rounded to {digits} significant digits. The given numbers:",
    "worked_forward": "\\textbf{Forward pass.} Each line is the derived equation, then its value:",
    "worked_backward": "\\textbf{Backward pass.} With one sample, the mean over the samples in the gradients is that sample's own term:",
    "worked_check": "These numbers are those the generated training script computes for the same weights and sample (checked by the test suite).",
    "sec_notes": "Notes on the article",
    "notes_intro": "Two statements of the article \\cite{article} in its section on vanishing gradients, checked by computation:",
    "note_weights": "\\paragraph{Weights drawn from {normal}.} The article says that all such weights satisfy {wsmall}. In fact {p} $\\approx$ {pn}: about a third of the weights are larger, and two weights are both below 1 in magnitude with probability only $\\approx$ {both}.",
    "note_chain": "\\paragraph{The ratio of two bias gradients.} Differentiating Nielsen's chain (Figure~{fig}) by SymPy's chain rule gives",
    "note_ratio": "Both are products of two factors {factor}; since {sigmap} reaches its maximum {smax} at {z0}, the bound {bound} for {w23} holds either way.",
    "bib_article": "Anonymous. \\emph{Deep learning: feedforward neural networks (forward propagation and error backpropagation)}. Blog article, in Chinese; the source this document follows.",
    "bib_nielsen": "M.~A. Nielsen. \\emph{Neural Networks and Deep Learning}, chapter~2, ``How the backpropagation algorithm works'', and chapter~5. Determination Press, 2015.",
    "bib_qiu": "Qiu Xipeng. \\emph{Neural Networks and Deep Learning} (Shenjing wangluo yu shendu xuexi), chapter~4. China Machine Press, 2020.",
    "note_article": "The article pairs each weight with the derivative one layer later, and writes the factor between the two gradients as",
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
    "intro": "本文为一个 {depth} 层、共 {params} 个参数的前馈神经网络（图~\\ref{fig:network}）推导误差反向传播算法，损失函数为{loss}{reg}。下文的每个公式都由 SymPy 针对该网络结构推导并直接从结果打印；所得梯度还与暴力求导的结果做了比对（见第~\\ref{sec:verify}~节），第~\\ref{sec:worked}~节用具体数字把一个样本完整地算一遍。",
    "intro_normalised": "本文为一个 {depth} 层、共 {params} 个参数的前馈神经网络（图~\\ref{fig:network}）推导误差反向传播算法，损失函数为{loss}{reg}。下文的每个公式都由 SymPy 针对该网络结构推导并直接从结果打印；所得梯度{checked}（见第~\\ref{sec:verify}~节）。第~\\ref{sec:norm}~节推导批归一化和丢弃法的反向传播。",
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
    "n_y": "样本的标签（分类问题为 one-hot 向量）",
    "n_delta": "第 {l} 层的误差项，即单个样本的损失对该层净输入的偏导数",
    "n_kron": "艾弗森括号：下标相等时为 1，否则为 0（即原文的克罗内克函数 {kron}；本文中 {delta_sym} 只表示误差项）",
    "n_hadamard": "向量（矩阵）的逐元素乘积（Hadamard 积）",
    "n_ones": "由 {B} 个 1 组成的列向量",
    "n_batch": "小批量的活性值、净输入和误差项：每行一个样本，共 {B} 行",
    "n_alpha": "学习率",
    "n_lambda": "正则化系数",
    "sec_forward": "前向传播",
    "forward_general": "每一层由前一层的活性值计算净输入，再经过激活函数得到本层的活性值（图~\\ref{fig:layer} 画出了一层的前向与反向计算）：",
    "forward_layers": "对本网络逐层写出，激活函数见表~\\ref{tab:layers}（其定义与导数见第~\\ref{sec:activations}~节）：",
    "sec_loss": "损失函数、结构风险与梯度下降",
    "loss_intro": "单个样本的{loss}损失为",
    "risk_intro": "在含 {N} 个样本的训练集上，结构风险为平均损失加上权重的正则化项 {Omega}（偏置不做正则化）：",
    "risk_plain": "在含 {N} 个样本的训练集上，经验风险为平均损失：",
    "coefficients": "其中 {values}。",
    "reg_grad": "正则化项对一个权重的偏导数：对二重求和逐项求导，只剩下 {ip}、{jq} 的一项：",
    "update_intro": "最简单的梯度下降以学习率 {alpha} 把每一层的参数更新为",
    "update_after": "生成的训练脚本实际使用 {optimizer} 更新，见算法~\\ref{alg:training}，其中的公式与脚本取自同一条规则。",
    "sec_backprop": "误差反向传播",
    "chain_intro": "单个样本的损失只通过净输入 {z} 依赖于 {w} 和 {b}，由链式法则",
    "part1": "\\paragraph{（1）净输入对权重的偏导数。} 把 {zi} 写成求和式，对 {w} 逐项求导：{wa} 只在 {ip} 且 {jq} 时依赖于它，所以求和只剩一项：",
    "part1_after": "净输入中只有第 {i} 个分量依赖于该权重：偏导数是第 {p} 个位置为 {aj}、其余为 0 的向量，即原文 \\cite{article} 的 {I}。",
    "part2": "\\paragraph{（2）净输入对偏置的偏导数。} 同理，只有 {ip} 的分量含有 {b}：",
    "part2_after": "所以净输入对偏置的雅可比矩阵是单位矩阵：",
    "part3": "\\paragraph{（3）误差项。} 定义 {delta}。第 {l} 层的净输入只通过第 {lp1} 层的净输入影响损失，由链式法则对它们求和：",
    "part3_chain": "代入链式法则，得到递推式",
    "part3_matrix": "写成矩阵形式，即反向传播的递推公式：",
    "grads_intro": "\\paragraph{（4）梯度。} 把（1）—（3）代入链式法则，对 {ivar} 的求和只剩 {ip} 的一项：",
    "grads_matrix": "写成矩阵形式（单个样本）：",
    "sec_activations": "激活函数的导数",
    "act_intro": "每个激活函数都由定义求导，再改写为其输出 {a} 的函数，这样反向传播可以直接使用前向传播保存的活性值。",
    "named": "{name}（{symbol}）",
    "sep": "，",
    "act_name": "\\paragraph{{name}。} 定义及其导数：",
    "act_in_a": "用输出 {a_fz} 表示（代回后由 SymPy 证明相等）：",
    "act_in_a_unproven": "用输出表示：",
    "act_no_a": "该导数无法用输出表示，前向传播需保存 {z}。",
    "act_softmax": "softmax 依赖整层的净输入，其导数在第~\\ref{sec:output}~节与损失函数一起推导。",
    "sec_output": "输出层的误差项",
    "output_intro": "输出层激活函数为 {act}、损失函数为{loss}时，单个样本的损失为",
    "output_subst": "用净输入 {z} 表示，损失为",
    "output_raw": "对 {zp} 逐项求偏导：",
    "stage_folded": "带艾弗森括号的求和只剩一项：",
    "stage_one-hot": "标签是 one-hot 向量，各分量之和为 1：",
    "stage_output-form": "用输出 {a} 表示：",
    "output_matrix": "写成矩阵形式，输出层的误差项为",
    "sec_layers": "本网络的每一层",
    "layers_intro": "把递推式 \\eqref{eq:delta}、输出层误差 \\eqref{eq:delta-out} 和梯度公式 \\eqref{eq:grad-W}、\\eqref{eq:grad-b} 从输出层到第 1 层逐层实例化；误差项是单个样本 {n} 的，在平均式中带样本上标，如 {tag}。",
    "layer_heading": "第 {l} 层",
    "layer_output": "第 {l} 层（输出层）",
    "sec_batch": "小批量（矩阵）形式",
    "batch_intro": "生成的代码一次处理 {B} 个样本的小批量（训练集共 {N} 个样本），每行一个样本：{A0} 是输入的小批量。下列每个矩阵的第 {n} 行就是上文中第 {n} 个样本的向量，梯度取小批量上的平均；每一步转换都由 SymPy 在具体矩阵上验证过。公式按代码执行的顺序排列。",
    "sec_algorithm": "训练算法",
    "algorithm_intro": "基于反向传播的小批量训练，并在验证集上提前停止：每个小批量对第~\\ref{sec:batch}~节中各样本的梯度取平均，再由优化器的更新规则得到参数的更新。",
    "algorithm_caption": "以小批量和 {optimizer} 更新规则训练 {arch}",
    "alg_input": "训练集 {D}，验证集 {V}，学习率 {alpha}（{optimizer}）{lam}，批大小 {B}，耐心 {P}，最多 {E} 轮",
    "alg_output": "权重与偏置",
    "alg_init": "随机初始化每个 {W}，每个 {b} 置零",
    "alg_init_bn": "每个 {gamma} 置一、每个 {beta} 置零",
    "alg_repeat": "打乱 {D}，划分为每批 {B} 个样本的小批量",
    "alg_for": "每个小批量 {A0}，{Y}",
    "alg_forward": "前向传播：对 {ls} 计算 {Z} 和 {A}",
    "alg_forward_bn": "用小批量的 {mu}、{var} 归一化",
    "alg_running_bn": "以动量 {rho} 更新滑动均值和方差（方差取无偏估计）：",
    "alg_forward_drop": "各丢弃层乘以每步重新抽取的掩码 {mask}",
    "alg_output_drop": "；预测时不丢弃任何神经元",
    "alg_output_bn": "；{gamma}、{beta}，以及预测时代替 {mu}、{var} 的滑动均值 {mean} 和方差 {var_run}",
    "alg_backward": "反向传播：对 {ls_down} 计算 {Delta}",
    "alg_grad": "对 {ls} 计算梯度 {dW}，{db}",
    "alg_update": "更新每一层：",
    "alg_until": "{V} 上的错误率连续 {P} 轮不再下降，或已训练 {E} 轮",
    "alg_until_diverging": "，或损失超过起始值的 {K} 倍",
    "alg_return": "在 {V} 上错误率最低的参数",
    "sec_verify": "验证",
    "verify_cover": (
        "证明在覆盖实例 {instance} 上进行：这个较短的网络把本网络每一对相邻的层类型（{pairs}）"
        "各包含一次。本网络的每一层都对应实例中的一层（层 {mapping}），并检查了它推导出的各步"
        "就是该层的各步换了层号，因此在实例上证明的结论对这里的每一层都成立。"
    ),
    "verify_lead": "在同一结构的小规模实例上验证了推导：",
    "verify_lead_cover": "在该实例上，",
    "verify_intro": (
        "{lead}把整个带正则化的风险写成显式权重的一个 SymPy 表达式，"
        "直接求导（不依赖递推公式），并与第~\\ref{sec:batch}~节的小批量公式比较。"
    ),
    "verify_links": (
        "\\paragraph{符号证明：逐个环节。}在各层的净输入处把{what}切成 {links} 个环节：从数据到 {Z1}，"
        "从每个 {Zl} 到 {Zl1}（第 {l} 层在净输入之后的运算：归一化、激活、丢弃，再加下一层的净输入），"
        "以及从 {ZL} 到风险。每个环节只按定义写出，其输入、参数和从上方传来的误差项 {error} "
        "都是自由符号。环节内推导的每一步（误差项以及环节所含参数的梯度）都与 "
        "SymPy 对 {objective}（最后一个环节为 {BR}）求得的导数相减，\\texttt{cancel} "
        "按误差项的每个系数分别把差化简为 0；环节的前向值也以同样方式与定义比对。"
        "一个环节对任意传入的误差项都成立，就把正确的误差项传给下一个环节，"
        "因此由链式法则，各环节合起来证明了整个风险的梯度。"
    ),
    "verify_links_numeric": (
        "\\paragraph{数值验证。}作为各环节衔接的交叉检验，把一个小批量上带正则化的整个风险写成显式参数的"
        "一个 SymPy 表达式，在下表的随机点上对每个参数直接求导，并与第~\\ref{sec:batch}~节的"
        "小批量公式比较。"
    ),
    "verify_links_only": (
        "\\paragraph{数值验证。}符号部分未完成，因此依据是数值验证：把一个小批量上带正则化的整个风险写成显式参数的"
        "一个 SymPy 表达式，在下表的随机点上对每个参数直接求导，并与第~\\ref{sec:batch}~节的"
        "小批量公式比较。"
    ),
    "v_checked_numeric": "数值比较的偏导数个数",
    "update_bn": "在批归一化层中，{gamma} 和 {beta} 取代 {b}，并以同样方式更新。此时一个样本的损失依赖于同一小批量中的其他样本（见第~\\ref{sec:norm}~节），因此 {R} 每次在一个含 {B} 个样本的小批量上计算。",
    "intro_checked": "还在一个小批量上与暴力求导的结果做了比对",
    "intro_checked_links": "已逐个环节做了符号证明，并在一个小批量上与暴力求导的结果做了比对",
    "v_symbolic_links": "在 {instance} 上，各环节误差项与梯度的全部 {n} 个分量之差经 "
    "\\texttt{cancel} 化简均为 0，{forward} 个前向值均等于其定义",
    "v_symbolic_links_renamed": "在 {instance} 上，各环节误差项与梯度中有 {n} 个分量之差经 "
    "\\texttt{cancel} 化简为 0，其余 {renamed} 个属于重复前面环节的环节，换了层号后与之相同（环节 {which}），"
    "{forward} 个前向值与定义相同",
    "v_symbolic_links_unfinished": "未完成：逐环节化简超过 {seconds} 秒（此前已有 {n} 个分量和 "
    "{forward} 个前向值化简为 0）",
    "v_instance": "实例",
    "v_network": "网络",
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
    "n_N": "训练集的样本数",
    "n_sample": "第 {n} 个样本（{n} = 1, \\ldots, {N}）的标签和第 {l} 层活性值；不带样本上标时指任一样本",
    "n_Omega": "权重的正则化项",
    "n_R": "结构风险：训练集上的平均损失加正则化项",
    "n_power": "逐元素幂，即 {u}",
    "n_B": "小批量的样本数",
    "n_Y": "小批量的标签，每行一个样本",
    "fig_network": "网络 {arch}：每一列是一层，上方为该层的宽度，下方为激活函数。",
    "fig_layer": "把一层画成计算图。实线箭头：前向传播；虚线箭头：误差项反向传播，该层的梯度由经过这里的误差项算出。",
    "fig_chain": "Nielsen 的链式网络：每层一个 sigmoid 神经元，权重 {wj}，偏置 {bj}，代价 {C}。",
    "softmax_def": "其中 softmax 作用于整个向量，逐分量写出为",
    "penalty_intro": "正则化项对每一层的每个权重求和：",
    "chain_after": "因此需要三个偏导数：净输入对权重的偏导数（1）、净输入对偏置的偏导数（2），以及损失对净输入的偏导数，即误差项（3）。",
    "part3_next": "下一层的净输入经过激活函数依赖于 {zp}；逐项求导，只剩 {jp} 的一项：",
    "diag_intro": "原文 \\cite{article} 用雅可比矩阵得到同一个递推式。每个活性值只依赖于自己的净输入，而下一层的净输入对活性值是线性的：",
    "diag_jacobians": "因此按原文的布局（对列向量求导的结果写成列），{dadz} 是由 {fprime} 组成的对角矩阵，{dzda} 是权重矩阵的转置：",
    "diag_after": "左乘对角矩阵就是逐元素相乘，两种写法相等（SymPy 在具体矩阵上验证过）。",
    "grads_mean": "结构风险是 {N} 个样本损失的平均加上正则化项，所以它的梯度是单样本梯度的平均（第 {n} 个样本的量带样本上标，如 {tag}）加上正则化项的导数：",
    "sec_summary": "反向传播的四个公式",
    "box_title": "单个样本的反向传播（每个矩阵下方标出其形状）",
    "box_intro": "对单个样本，输出层的误差项（BP1）、递推式（BP2）和两个梯度（BP3、BP4）就是反向传播所需的全部公式；Nielsen \\cite{nielsen} 和邱锡鹏 \\cite{qiu} 都用这四行来概括：",
    "box_after": "结构风险的梯度把（BP3）、（BP4）在 {N} 个样本上取平均，并在（BP4）上加正则化项的导数，见公式 \\eqref{eq:grad-W}。",
    "batch_forward": "\\textbf{前向传播}，从第 1 层到输出层：",
    "batch_backward": "\\textbf{反向传播}，从输出层到第 1 层；每个误差项都在用到它的梯度之前算出：",
    "batch_labels": "生成代码的注释按标签引用这些公式，例如 \\texttt{eq:{example}} 就是 {lhs} 的公式，即公式 \\eqref{eq:{example}}。",
    "sec_worked": "数值算例",
    "sec_norm": "批归一化与丢弃法",
    "n_bn_stats": "带批归一化的层中，每个神经元的净输入在小批量内的均值和（有偏）方差",
    "n_bn_zhat": "归一化后的净输入，以及缩放平移后的值（每行一个样本）",
    "n_bn_params": "批归一化层学习的缩放和平移参数（平移参数取代偏置）",
    "n_bn_eps": "加在方差上的一个小常数",
    "n_bn_errors": "批归一化层在归一化值处和平移后的值处的误差项（风险对 {Zhat} 和对 {Y} 的导数乘以 {B}，每行一个样本）",
    "n_mask": "一个样本的丢弃掩码（每个神经元取 0 或 1），以及一个小批量的掩码",
    "layers_norm": "带批归一化的层没有单个样本的形式，因为它的样本相互耦合：其误差项和梯度按 {B} 个样本的小批量给出，每行一个样本，推导见第~\\ref{sec:norm}~节。",
    "forward_norm": "在带批归一化的层中，激活函数作用于 {y}，即在小批量内归一化后再缩放平移的净输入；在带丢弃法的层中，激活值再乘以掩码 {r}。两者都在第~\\ref{sec:norm}~节推导。",
    "v_symbolic_numeric": "仅数值验证：{why}",
    "v_symbolic_ways": "在 {instance} 上，全部 {n} 个偏导数的差经 SymPy 化简均为 0（{ways}）",
    "verdict_numeric_only": "仅数值验证",
    "v_way": "{method} {count} 个",
    "verdict_inconclusive": "无定论",
    "bn_intro": "\\paragraph{批归一化。}带批归一化（又称批标准化）的层在激活函数之前，把每个神经元的净输入在小批量内做归一化。对一个神经元（省略层号），小批量中的 {N} 个样本用下标编号（{r} 是其中一个样本），其均值、方差、归一化后的净输入及其缩放平移分别为",
    "bn_eps": "其中 {eps} 保证除法有意义，方差除以 {N}（有偏估计，与常用框架训练模式一致），{gamma} 与 {beta} 对每个神经元分别学习。{beta} 取代了偏置 {b}，所以带批归一化的层的净输入没有偏置；激活函数作用于平移后的值。",
    "bn_couple": "\\paragraph{样本为何相互耦合。}只用净输入写出时，{zi} 不仅含有本样本的净输入，还含有小批量中所有样本的净输入：均值和方差都是对全部 {N} 个样本求和。因此一个样本的损失依赖于其他每个样本的净输入 {zr}，对 {zr} 的导数中每个样本都贡献一项。",
    "bn_paths": "由链式法则，导数有三条路径：固定 {mu} 与 {var} 的直接路径、经过均值 {mu} 的路径和经过方差 {var} 的路径。每个因子都是 SymPy 对上面某个定义求的导数：",
    "bn_paths_after": "SymPy 验证了这三条路径之和等于它对展开式直接求得的导数（在三个样本的小批量上，对若干对样本检验）。方差经过均值的那条路径为零，因为各样本与均值之差的和为零。",
    "bn_sum": "误差沿所有这些路径反向传播。记 {g}，误差 {lhs} 是对所有样本的求和：",
    "bn_statistics": "SymPy 对每一项的展开式求导，化简艾弗森括号，并把其中等于均值和方差的求和记作 {mu} 和 {var}：",
    "bn_in_zhat": "再用 {z} 把每个净输入写成归一化后的值，SymPy 把结果化简为紧凑形式",
    "bn_params": "可学习的参数以及传到归一化值的误差由仿射变换按链式法则得到，其中 {dy} 来自上一层：",
    "bn_batch": "在程序所用的小批量形式中（每行一个样本，第 {l} 层；对神经元的求和写成与一行全 1 向量的乘积，一行向量对每个样本重复），误差分三步经过一个批归一化层。传到平移后的值 {y} 的误差仍是通常的递推式 {ref}，只是激活函数的导数在 {y} 处取值：",
    "bn_batch_steps": "传到归一化值的误差是它乘以学到的缩放因子，紧凑形式再把它经过均值和方差传回，可学习参数的梯度则是对小批量的求和：",
    "drop_intro": "\\paragraph{丢弃法。}采用反向（inverted）丢弃法时，训练中一层的每个神经元以概率 {q} 被丢弃：其激活值乘以取 0 或 1 的掩码元素，掩码对每个样本、每一步重新抽取，保留下来的神经元再除以 {keep}，使激活值的期望不变；推理时不丢弃。本网络中 {rates}。掩码是数据，而不是参数的函数：",
    "drop_backward": "对下一层的净输入求导时，掩码作为因子保留下来：",
    "drop_chain": "于是递推式变为",
    "drop_after": "被丢弃的神经元不向后传递误差，保留的神经元传递的误差按与前向传播相同的因子缩放。",
    "worked_intro_cover": "把上面的公式用于同一结构、宽度为 2 的实例 {arch} 的一个样本（证明所用的覆盖实例更短，见第~\\ref{sec:verify}~节），数值保留 {digits} 位有效数字。给定的数值：",
    "worked_intro": "把上面的公式用于验证所用的小规模实例 {arch} 的一个样本（见第~\\ref{sec:verify}~节），数值保留 {digits} 位有效数字。给定的数值：",
    "worked_forward": "\\textbf{前向传播。} 每行先写推导出的公式，再写它的值：",
    "worked_backward": "\\textbf{反向传播。} 只有一个样本时，梯度中对样本的平均就是该样本自己的一项：",
    "worked_check": "这些数值与生成的训练脚本在相同权重和样本上算出的结果一致（由测试检验）。",
    "sec_notes": "对原文的几点订正",
    "notes_intro": "原文 \\cite{article} 讨论梯度消失时的两处说法，经计算检验如下：",
    "note_weights": "\\paragraph{服从 {normal} 的权重。} 原文说这样初始化的权重都满足 {wsmall}。实际上 {p} $\\approx$ {pn}：约三分之一的权重绝对值大于 1，两个权重同时小于 1 的概率只有约 {both}。",
    "note_chain": "\\paragraph{两个偏置梯度之比。} 用 SymPy 的链式法则对 Nielsen 的链式网络（图~{fig}）求导，得到",
    "note_ratio": "两者都是两个因子 {factor} 的乘积；由于 {sigmap} 在 {z0} 处取最大值 {smax}，当 {w23} 时，{bound} 对两种写法都成立。",
    "bib_article": "佚名.《深度学习之前馈神经网络（前向传播和误差反向传播）》. 博客文章；本文推导所依据的原文.",
    "bib_nielsen": "M.~A. Nielsen. \\emph{Neural Networks and Deep Learning}, 第~2~章 ``How the backpropagation algorithm works''，第~5~章. Determination Press, 2015.",
    "bib_qiu": "邱锡鹏.《神经网络与深度学习》，第~4~章. 北京：机械工业出版社，2020.",
    "note_article": "原文把每个权重与下一层的导数配对，把两个梯度之间的因子写成",
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
