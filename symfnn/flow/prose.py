"""The gradient-flow chapter's words, English and Chinese: one entry per sentence or heading.

Placeholders `{name}` are filled by `flow.report` with formulas printed by SymPy and numbers
measured by `flow.experiments`; no entry holds math of its own. Both languages have the same
keys and the same placeholders (tested). Terms follow 邱锡鹏《神经网络与深度学习》: 梯度消失,
梯度爆炸, 梯度截断, 正则化, 误差项.
"""

from __future__ import annotations

import string

EN = {
    "title": "Vanishing and exploding gradients",
    "figure": "Figure",
    "eq_comma": ",",  # after a display that a sentence continues past
    "eq_period": ".",
    "list_sep": "; ",
    "name_sep": ", ",
    "sentence_end": ".",
    "setup": "{act}, {init}",
    "intro": (
        "Backpropagation computes the error term of layer {l} from that of layer {lp1} "
        "with the recurrence {eqref}: each layer multiplies the error by the slopes of its "
        "activation and by a weight matrix. This chapter follows part III of the article. It "
        "derives, first for Nielsen's chain of one-neuron layers and then for any network, when "
        "this product makes the gradients of the first layers vanish or explode; it measures "
        "both on the generated training code with the digits data; and it tries the remedies "
        "the article names. Every formula below was printed by SymPy, and every number was "
        "computed by the run that drew the figures."
    ),
    "h_chain": "Nielsen's chain",
    "chain_setup": (
        "Take a chain of {k} one-neuron sigmoid layers, {z_j} and {a_j}, with cost {cost}. "
        "Differentiating the cost with respect to the first bias gives"
    ),
    "chain_ratio": (
        "one factor per layer above the first. The quotient of the first and the third bias "
        "gradient is"
    ),
    "chain_vanish": (
        "The sigmoid's derivative {sigmoid_prime} is largest at {argmax}, where it equals "
        "{sigmoid_max}. If {w_small}, each factor satisfies {factor_bound}, and the quotient is "
        "below {ratio_bound}: every layer shrinks the gradient by a factor of at least "
        "{inv_factor}, so the gradient vanishes. A weight drawn from the standard normal "
        "distribution has {abs_w_small} with probability {p_within}, about {p_float}; with such "
        "weights this is the common case."
    ),
    "chain_explode": (
        "Conversely, take {w_all} and biases that make {z_big} (for the second layer, "
        "{bias_for_z}); then each factor is {factor}. The quotient of the first and the last "
        "bias gradient is"
    ),
    "chain_explode_value": "and at these weights it is",
    "chain_explode_end": (
        "The first bias's gradient is {value} times the last one's, and each layer added to "
        "the chain multiplies the quotient by {per_layer}: the gradient explodes."
    ),
    "h_bound": "A bound from the error recurrence",
    "bound_intro": (
        "In a general network the same product comes from the error recurrence {eqref} of "
        "the derivation,"
    ),
    "bound_steps": (
        "Take Euclidean norms. The Hadamard product scales each entry by at most the largest "
        "slope, {inf_norm}; a matrix stretches a vector by at most its spectral norm, "
        "{spectral}, which transposing does not change; and no slope exceeds the activation's "
        "largest slope {sup}. Hence"
    ),
    "bound_unrolled": (
        "Applied from layer {l} up to the output layer {L}, this one-step bound gives the "
        "product bound"
    ),
    "bound_checked": (
        "(SymPy substitutes the one-step bound into itself and checks that the result is this "
        "product for {depths}.) Each layer contributes the factor {factor}. When every factor "
        "is below one, the error term must shrink geometrically towards the first layers: the "
        "gradient vanishes. A factor above one allows growth but does not force it. The "
        "activations' largest slopes, derived from their derivatives:"
    ),
    "col_activation": "activation",
    "col_sup": "largest slope",
    "bound_consequence": (
        "A sigmoid layer therefore shrinks the error term unless the spectral norm of the "
        "weights above it exceeds {sig_inv}; a tanh or ReLU layer can pass it on unchanged "
        "when that norm is {one}."
    ),
    "h_init": "Measured at initialisation",
    "init_setup": (
        "The generated training code computes the gradients of networks of {hidden} hidden "
        "layers of width {width} and a softmax output layer ({depth} layers) on {probe} "
        "training digits, for each activation and initialisation. To compare the layers we "
        "use the orders of magnitude spanned by the per-layer gradient norms,"
    ),
    "init_orders": (
        "the base-10 logarithm of the largest over the smallest per-layer norm: {zero} when "
        "every layer's gradient has the same norm, {three} when the largest is a thousand "
        "times the smallest."
    ),
    "col_init": "initialisation",
    "col_orders": "orders spanned",
    "init_figure": "Figure {ref} plots the per-layer norms.",
    "init_run": (
        "With {act} and {init} weights, {first_last} = {ratio} ({orders} orders): {trend}."
    ),
    "trend_vanish": "the gradient vanishes towards the first layer",
    "trend_explode": "the gradient explodes towards the first layer",
    "trend_flat": "every layer's gradient is of the same order",
    "init_sigmoid_xavier": (
        "Xavier initialisation does not save the sigmoid: its scale is chosen for an "
        "activation of slope {one} at zero, while the sigmoid's slope is at most {sigmoid_max}; "
        "with the estimate {estimate} of the spectral norm of a {width} by {width} matrix of "
        "Xavier weights, each factor of the bound is at most {factor}, below one, so the "
        "gradient must vanish."
    ),
    "init_relu_normal": (
        "ReLU with {init} weights keeps the layers within {orders} orders of each other, yet "
        "every gradient is huge ({first} = {value}): the forward pass itself explodes, and "
        "the He initialisation is what keeps the norms of order one."
    ),
    "h_speed": "Speed of learning per layer",
    "speed_setup": (
        "Nielsen measures how fast a layer learns by the norm of its bias gradient, "
        "{grad_b_l}, the batch mean of the error term. Figure {ref} follows it for each layer "
        "over {epochs} epochs of stochastic gradient descent (learning rate {lr}, batches of "
        "{batch}) for {hidden} hidden layers of width {width}."
    ),
    "speed_run": (
        "{setup}: at the start the first layer's norm is {start} times the output layer's, "
        "at the end {end}; the validation accuracy reaches {acc}."
    ),
    "speed_stuck": (
        "{setup} stays at chance ({acc}; chance is {chance}): the error term shrinks by a "
        "factor of about {measured} per layer at the start, close to the bound's {factor}, so "
        "the hidden layers barely learn. The article recommends Xavier initialisation for the "
        "sigmoid as well; these runs do not support it, for the reason the bound gives."
    ),
    "speed_at_chance": "{setup} stays at chance ({acc}; chance is {chance}).",
    "speed_best": "The fastest learner here is {setup} ({acc}).",
    "h_clip": "Remedy: gradient clipping",
    "clip_setup": (
        "Gradient clipping by norm rescales the gradient of all parameters together to norm "
        "{c} whenever its norm exceeds {c}; it keeps the direction and bounds the step. It is "
        "meant for exploding gradients, so the experiment is a run that explodes: {hidden} "
        "hidden ReLU layers of width {width}, He initialisation, and stochastic gradient "
        "descent with the high learning rate {lr} (the learning-speed runs use {lr_speed})."
    ),
    "clip_unclipped": (
        "Without clipping the mean gradient norm reaches {peak} in epoch {peak_epoch}; the "
        "step it causes leaves {dead} of the hidden units dead (zero on every sample), and "
        "the network ends at {acc} validation accuracy, where chance is {chance}."
    ),
    "clip_unclipped_diverged": (
        "Without clipping the risk becomes non-finite in epoch {epoch} and training stops, "
        "at {acc} validation accuracy (chance is {chance})."
    ),
    "clip_clipped": (
        "With clipping the same run reaches {acc} after {epochs} epochs, with {dead} dead "
        "units; Figure {ref} shows both runs."
    ),
    "clip_failed": (
        "Here clipping did not help: the clipped run ends at {acc}, no better than the "
        "unclipped one ({acc_u}); a bounded step cannot undo what the weights already do."
    ),
    "clip_init": (
        "At initialisation the global gradient norm of this network is {before}; clipping "
        "multiplies every layer's gradient by the same {scale}, so the direction is kept."
    ),
    "h_l2": "Remedy: L2 regularisation",
    "l2_setup": (
        "The L2 penalty pulls every weight towards zero, and so shrinks the factors {factor} "
        "of the bound. Figure {ref} shows it on a network whose bound allows explosion: "
        "{hidden} hidden {act} layers of width {width} with {init} weights, where the product "
        "bound {eqref} starts at {b0} and the first layer's bias gradient is {r0} times the "
        "last one's. After {epochs} epochs of stochastic gradient descent (learning rate "
        "{lr}) the total weight norm has gone from {w0} to {wn} without the penalty and to "
        "{wl} with {lam}; the product bound is then {bn} without and {bl} with the penalty, "
        "and the validation accuracy {acc_n} without and {acc_l} with it."
    ),
    "l2_failed": "Here the penalty did not improve the accuracy.",
    "h_bn": "Remedy: batch normalisation",
    "bn_setup": (
        "The article leaves batch normalisation for later; here it is measured through the "
        "generated code. Figure {ref} takes the deep network whose first layers learn slowest, "
        "{hidden} hidden {act} layers of width {width} with {init} weights, and the same "
        "network with every hidden layer's net input normalised over the mini-batch "
        "(the output layer is not normalised). At initialisation, on a batch of {probe} "
        "samples, the weight gradient of the first layer is {rp} times that of hidden layer "
        "{last} without batch normalisation and {rb} times with it; the hidden layers' norms "
        "span {op} and {ob} orders of magnitude. After {epochs} epochs of stochastic gradient "
        "descent (learning rate {lr}) the validation accuracy is {acc_p} without and {acc_b} "
        "with batch normalisation."
    ),
    "bn_why": (
        "Batch normalisation gives every unit's net input zero mean and unit variance over the "
        "batch whatever the scale of the weights, so the sigmoid works near its steepest point "
        "instead of in its flat tails, and a normalised layer's weight gradient shrinks as its "
        "weights grow (it becomes {inv} times as large when {w} becomes {cw})."
    ),
    "bn_output": "The output layer is not normalised, and its weight gradient stays the largest.",
    "bn_faster": (
        "Accuracy {level} is reached in epoch {e_b} with batch normalisation and in epoch "
        "{e_p} without it."
    ),
    "bn_failed": "Here batch normalisation did not improve the accuracy.",
    "h_spec": "This document's network: the bound against the measurement",
    "spec_setup": (
        "For {spec}, Figure {ref} compares, layer by layer, the largest per-sample "
        "{delta_ratio} over {samples} samples ({data}) with the product bound {eqref}, "
        "evaluated with the derived largest slopes and the spectral norms of the drawn "
        "weights."
    ),
    "spec_scheme": "{init}: bound {bound}, measured {measured}",
    "spec_holds": "The bound holds at every layer for every initialisation.",
    "spec_batch": (
        "The network has batch normalisation or dropout, so the {samples} samples are one "
        "mini-batch in training mode: normalised with that batch's mean and variance, with one "
        "dropout mask drawn from the seed, as in a training step and in the gradient check (a "
        "batch of one sample has no variance to normalise by), and each sample's error term is "
        "its row of the batch's."
    ),
    "spec_dropout": (
        "A dropout layer scales a kept unit's error term by {keep}, so its slope in the bound "
        "is multiplied by it."
    ),
    "spec_coupled": (
        "In layers 1 to {t}, at or below a normalised layer, one sample's error term depends "
        "on every sample of the batch through the batch mean and variance, so no per-sample "
        "bound holds there and the figure shows only the measurement."
    ),
    "spec_coupled_one": (
        "In layer 1, a normalised layer, one sample's error term depends on every sample of "
        "the batch through the batch mean and variance, so no per-sample bound holds there "
        "and the figure shows only the measurement."
    ),
    "spec_scheme_at": "{init}: at layer {l}, bound {bound}, measured {measured}",
    "spec_scheme_measured": "{init}: measured {measured} at layer 1",
    "spec_holds_where": "The bound holds at every layer that has one, for every initialisation.",
    "spec_fails": "The bound fails for {inits}: a bug, since the bound is a theorem.",
    "data_digits": "digits",
    "data_random": "random inputs, as the network does not fit the digits",
    "cap_grad_vs_layer": (
        "Per-layer gradient norms at initialisation, {depth} layers: one panel per activation, "
        "one line per initialisation."
    ),
    "cap_learning_speed": "Speed of learning per layer, {grad_b_l}, during training.",
    "cap_clipping": (
        "Gradient clipping: mean gradient norm per epoch before clipping (left) and "
        "validation accuracy (right), without and with clipping."
    ),
    "cap_l2": (
        "L2 regularisation: total weight norm (left) and validation accuracy (right) during "
        "training, without and with the penalty."
    ),
    "cap_batchnorm": (
        "Batch normalisation: per-layer weight gradient norms at initialisation (left) and "
        "validation accuracy during training (right), without and with it."
    ),
    "cap_spec_bound": "Measured {delta_ratio} (markers) against the product bound (dashed).",
    # inside the plots
    "p_layer": "layer l",
    "p_epoch": "epoch",
    "p_init": "initialisation",
    "p_grad_b": "bias gradient norm",
    "p_grad_W": "weight gradient norm",
    "p_speed": "speed of learning",
    "p_grad_mean": "mean gradient norm",
    "p_val_acc": "validation accuracy",
    "p_chance": "chance",
    "p_threshold": "threshold",
    "p_unclipped": "without clipping",
    "p_clipped": "with clipping",
    "p_weight_norm": "weight norm",
    "p_measured": "measured",
    "p_bound": "bound",
    "p_ratio": "error ratio",
    "p_acc": "accuracy",
    "p_bn_plain": "without batch norm",
    "p_bn_bn": "with batch norm",
    "p_at_init": "at initialisation",
}

ZH = {
    "title": "梯度消失与梯度爆炸",
    "figure": "图",
    "eq_comma": "",  # Chinese texts leave displays unpunctuated
    "eq_period": "",
    "list_sep": "；",
    "name_sep": "、",
    "sentence_end": "。",
    "setup": "{act}（{init}）",
    "intro": (
        "反向传播用递推式{eqref}由第{lp1}层的误差项计算第{l}层的误差项：每经过一层，误差项都要乘以"
        "该层激活函数的导数和一个权重矩阵。本章沿用原文第三部分的思路：先在 Nielsen 的单神经元链上，"
        "再对一般网络，推导这个乘积何时使前几层的梯度消失或爆炸；然后在生成的训练代码上用 digits "
        "数据测量这两种现象，并检验原文提出的对策。下文每个公式都由 SymPy 打印，每个数字都来自绘制"
        "这些图的那次运行。"
    ),
    "h_chain": "Nielsen 的单神经元链",
    "chain_setup": (
        "考虑由{k}个单神经元 sigmoid 层组成的链，{z_j}，{a_j}，代价为{cost}。代价对第一个偏置求导得"
    ),
    "chain_ratio": "第一层以上每层贡献一个因子。第一个与第三个偏置的梯度之比为",
    "chain_vanish": (
        "sigmoid 的导数{sigmoid_prime}在{argmax}处取最大值{sigmoid_max}。若{w_small}，则每个因子满足"
        "{factor_bound}，比值小于{ratio_bound}：每经过一层，梯度至少缩小到原来的{inv_factor}分之一，"
        "即梯度消失。从标准正态分布抽取的权重满足{abs_w_small}的概率为{p_within}，约{p_float}；"
        "对这样的权重，这是常见情形。"
    ),
    "chain_explode": (
        "反之，取{w_all}，并选取偏置使{z_big}（对第二层即{bias_for_z}），则每个因子等于{factor}。"
        "第一个与最后一个偏置的梯度之比为"
    ),
    "chain_explode_value": "在这组权重下其值为",
    "chain_explode_end": (
        "第一个偏置的梯度是最后一个的{value}倍，链每增加一层，这个比值就再乘以{per_layer}：梯度爆炸。"
    ),
    "h_bound": "由误差项递推式得到的上界",
    "bound_intro": "在一般网络中，同样的乘积来自推导中的误差项递推式{eqref}，",
    "bound_steps": (
        "取欧几里得范数。Hadamard 积把每个分量至多放大为最大导数{inf_norm}倍；矩阵把向量至多放大为"
        "其谱范数{spectral}倍，转置不改变谱范数；而任何导数都不超过激活函数导数的上确界{sup}。于是"
    ),
    "bound_unrolled": "从第{l}层一直用到输出层{L}，这个单步上界给出乘积上界",
    "bound_checked": (
        "（SymPy 把单步上界代入自身，并验证在{depths}时结果就是这个乘积。）每层贡献因子{factor}。"
        "若每个因子都小于一，误差项向前几层必然按几何级数缩小：梯度消失。因子大于一则允许增长，"
        "但并不必然增长。由各激活函数的导数推得的导数上确界："
    ),
    "col_activation": "激活函数",
    "col_sup": "导数上确界",
    "bound_consequence": (
        "因此，除非其上一层权重的谱范数超过{sig_inv}，sigmoid 层总会使误差项缩小；当谱范数为{one}时，"
        "tanh 层或 ReLU 层可以把误差项原样传下去。"
    ),
    "h_init": "初始化时的测量",
    "init_setup": (
        "对每种激活函数和初始化方法，生成的训练代码在{probe}个训练样本上计算一个网络的梯度，"
        "该网络有{hidden}个宽度为{width}的隐藏层和一个 softmax 输出层（共{depth}层）。为比较各层，"
        "我们用各层梯度范数跨越的数量级，"
    ),
    "init_orders": (
        "即各层范数最大值与最小值之比的常用对数：各层梯度范数相同时为{zero}，最大值是最小值的一千倍时为"
        "{three}。"
    ),
    "col_init": "初始化",
    "col_orders": "跨越的数量级",
    "init_figure": "图{ref}画出了各层的范数。",
    "init_run": "{act}配合{init}权重时，{first_last} = {ratio}（{orders}个数量级）：{trend}。",
    "trend_vanish": "梯度向第一层方向消失",
    "trend_explode": "梯度向第一层方向爆炸",
    "trend_flat": "各层梯度处于同一数量级",
    "init_sigmoid_xavier": (
        "Xavier 初始化救不了 sigmoid：它的尺度是为零点处导数为{one}的激活函数设计的，而 sigmoid "
        "的导数至多为{sigmoid_max}；用{estimate}估计{width}乘{width}的 Xavier 权重矩阵的谱范数，"
        "上界的每个因子至多为{factor}，小于一，所以梯度必然消失。"
    ),
    "init_relu_normal": (
        "ReLU 配合{init}权重时，各层之间只差{orders}个数量级，但每个梯度都极大（{first} = {value}）："
        "前向传播本身已经爆炸；让范数保持在一的量级的是 He 初始化。"
    ),
    "h_speed": "各层的学习速度",
    "speed_setup": (
        "Nielsen 用偏置梯度的范数{grad_b_l}（误差项的批均值）衡量一层学得多快。图{ref}跟踪了一个有"
        "{hidden}个宽度为{width}的隐藏层的网络在{epochs}轮随机梯度下降（学习率{lr}，批大小{batch}）中"
        "每一层的这个量。"
    ),
    "speed_run": (
        "{setup}：开始时第一层的范数是输出层的{start}倍，结束时为{end}倍；验证准确率达到{acc}。"
    ),
    "speed_stuck": (
        "{setup}停留在随机水平（{acc}；随机猜测为{chance}）：开始时误差项每层约缩小为{measured}倍，"
        "接近上界的因子{factor}，因此隐藏层几乎学不到东西。原文也建议 sigmoid 使用 Xavier 初始化；"
        "这些运行并不支持这一建议，原因正是上界所给出的。"
    ),
    "speed_at_chance": "{setup}停留在随机水平（{acc}；随机猜测为{chance}）。",
    "speed_best": "这里学得最快的是{setup}，验证准确率为{acc}。",
    "h_clip": "对策：梯度截断",
    "clip_setup": (
        "按范数的梯度截断在全部参数的梯度范数超过{c}时，把它整体缩放到范数{c}；方向不变，步长有界。"
        "它针对的是梯度爆炸，所以实验选用一个会爆炸的运行：{hidden}个宽度为{width}的 ReLU 隐藏层，"
        "He 初始化，随机梯度下降使用较高的学习率{lr}（学习速度实验用的是{lr_speed}）。"
    ),
    "clip_unclipped": (
        "不截断时，第{peak_epoch}轮的平均梯度范数达到{peak}；由此产生的一步使{dead}的隐藏单元死亡"
        "（对所有样本输出为零），网络最终的验证准确率为{acc}，而随机猜测为{chance}。"
    ),
    "clip_unclipped_diverged": (
        "不截断时，风险在第{epoch}轮变为非有限值，训练停止，验证准确率为{acc}（随机猜测为{chance}）。"
    ),
    "clip_clipped": (
        "截断后，同一运行在{epochs}轮后达到{acc}，死亡单元占{dead}；图{ref}给出了两次运行。"
    ),
    "clip_failed": (
        "这里梯度截断没有帮助：截断的运行最终为{acc}，并不比不截断的（{acc_u}）好；有界的步长无法"
        "抵消权重本身的作用。"
    ),
    "clip_init": (
        "初始化时这个网络的全局梯度范数为{before}；截断把每层的梯度都乘以同一个{scale}，因此方向不变。"
    ),
    "h_l2": "对策：L2 正则化",
    "l2_setup": (
        "L2 惩罚把每个权重拉向零，从而缩小上界中的因子{factor}。图{ref}在一个上界允许爆炸的网络上展示这一点："
        "{hidden}个宽度为{width}的 {act} 隐藏层，{init}权重；此时乘积上界{eqref}的初值为{b0}，第一层偏置的"
        "梯度是最后一层的{r0}倍。经过{epochs}轮随机梯度下降（学习率{lr}）后，总权重范数从{w0}变为{wn}"
        "（不加惩罚）和{wl}（加{lam}）；乘积上界在不加惩罚时为{bn}，加惩罚时为{bl}；验证准确率分别为"
        "{acc_n}和{acc_l}。"
    ),
    "l2_failed": "这里惩罚没有提高准确率。",
    "h_bn": "对策：批量归一化",
    "bn_setup": (
        "原文把批量归一化留待以后探究；这里通过生成的代码测量它。图{ref}取前几层学得最慢的深层网络："
        "{hidden}个宽度为{width}的 {act} 隐藏层，{init}权重；并与同一网络在每个隐藏层的净输入上按小批量"
        "做归一化的版本比较（输出层不做归一化）。初始化时，在{probe}个样本的批量上，第一层权重梯度是第"
        "{last}个隐藏层的{rp}倍（不归一化）和{rb}倍（归一化）；各隐藏层的范数分别跨越{op}和{ob}个数量级。"
        "经过{epochs}轮随机梯度下降（学习率{lr}）后，验证准确率在不归一化时为{acc_p}，归一化时为{acc_b}。"
    ),
    "bn_why": (
        "无论权重的尺度如何，批量归一化都使每个单元的净输入在批量上均值为零、方差为一，因此 sigmoid "
        "工作在导数最大的区域附近而不是平坦的两端；归一化层的权重梯度随权重增大而减小（{w}变为{cw}时梯度"
        "变为原来的{inv}倍）。"
    ),
    "bn_output": "输出层没有归一化，它的权重梯度仍然最大。",
    "bn_faster": "归一化的网络在第{e_b}轮达到准确率{level}，不归一化的网络在第{e_p}轮。",
    "bn_failed": "这里批量归一化没有提高准确率。",
    "h_spec": "本文网络：上界与测量值",
    "spec_setup": (
        "对{spec}，图{ref}逐层比较了{samples}个样本（{data}）上单个样本{delta_ratio}的最大值与乘积"
        "上界{eqref}；上界用推导出的导数上确界和实际抽取的权重的谱范数计算。"
    ),
    "spec_scheme": "{init}：上界 {bound}，测量值 {measured}",
    "spec_holds": "对每种初始化，上界在每一层都成立。",
    "spec_batch": (
        "该网络含批量归一化或 dropout，因此这{samples}个样本组成训练模式下的一个小批量："
        "用该批量的均值和方差归一化，dropout 掩码由随机种子抽取一次，与训练的一步和梯度检验相同"
        "（单个样本的批量没有方差可供归一化）；每个样本的误差项是该批量误差项中对应的一行。"
    ),
    "spec_dropout": "dropout 层把保留单元的误差项乘以{keep}，因此上界中该层的导数上确界也乘以它。",
    "spec_coupled": (
        "在第1至{t}层（位于归一化层或其下方），一个样本的误差项通过批量均值和方差依赖于批量中的"
        "每个样本，因此那里不存在逐样本的上界，图中只给出测量值。"
    ),
    "spec_coupled_one": (
        "第1层是归一化层，一个样本的误差项通过批量均值和方差依赖于批量中的每个样本，"
        "因此那里不存在逐样本的上界，图中只给出测量值。"
    ),
    "spec_scheme_at": "{init}：第{l}层上界 {bound}，测量值 {measured}",
    "spec_scheme_measured": "{init}：第1层测量值 {measured}",
    "spec_holds_where": "对每种初始化，上界在所有存在上界的层都成立。",
    "spec_fails": "上界对{inits}不成立：既然上界是定理，这说明有程序错误。",
    "data_digits": "digits 数据",
    "data_random": "随机输入，因为该网络不匹配 digits 数据",
    "cap_grad_vs_layer": "初始化时各层的梯度范数，共{depth}层：每种激活函数一幅子图，每种初始化一条线。",
    "cap_learning_speed": "训练过程中各层的学习速度{grad_b_l}。",
    "cap_clipping": "梯度截断：截断前每轮的平均梯度范数（左）和验证准确率（右），不截断与截断。",
    "cap_l2": "L2 正则化：训练过程中的总权重范数（左）和验证准确率（右），不加与加惩罚。",
    "cap_batchnorm": "批量归一化：初始化时各层的权重梯度范数（左）和训练过程中的验证准确率（右），不归一化与归一化。",
    "cap_spec_bound": "测量的{delta_ratio}（标记）与乘积上界（虚线）。",
    "p_layer": "层 l",
    "p_epoch": "轮次",
    "p_init": "初始化",
    "p_grad_b": "偏置梯度范数",
    "p_grad_W": "权重梯度范数",
    "p_speed": "学习速度",
    "p_grad_mean": "平均梯度范数",
    "p_val_acc": "验证准确率",
    "p_chance": "随机猜测",
    "p_threshold": "截断阈值",
    "p_unclipped": "不截断",
    "p_clipped": "截断",
    "p_weight_norm": "权重范数",
    "p_measured": "测量值",
    "p_bound": "上界",
    "p_ratio": "误差项之比",
    "p_acc": "准确率",
    "p_bn_plain": "不归一化",
    "p_bn_bn": "批量归一化",
    "p_at_init": "初始化时",
}

PROSE = {"en": EN, "zh": ZH}


def strings(lang: str) -> dict[str, str]:
    """The chapter's words in `lang` ('en' or 'zh')."""
    try:
        return PROSE[lang]
    except KeyError:
        raise ValueError(f"no gradient-flow prose for language {lang!r}; have en, zh") from None


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def fill(lang: str, key: str, **values) -> str:
    """One entry with its placeholders filled (every placeholder must be given)."""
    text = strings(lang)[key]
    missing = placeholders(text) - values.keys()
    if missing:
        raise KeyError(f"flow prose {lang}:{key} needs {sorted(missing)}")
    return text.format(**values)
