"""The table of architectures the tests run over: every activation, loss and regulariser."""

from symfnn.engine.spec import parse

ARCHITECTURES = {
    # name: (compact, options)
    "article": ("4-5:sigmoid-5:tanh-3:softmax", {"l2": 0.01}),
    "relu-family": ("3-4:relu-3:leaky_relu=0.2-3:elu-2:softmax", {"l1": 0.01}),
    "softplus-bce": ("3-4:softplus-3:sigmoid", {"l1": 0.01, "l2": 0.01}),
    "regression": ("3-4:tanh-2:identity", {}),
    "sigmoid-mse": ("3-3:relu-2:sigmoid", {"loss": "mse", "l2": 0.1}),
    "elu-mse-out": ("2-3:sigmoid-2:elu=0.5", {}),
    "relu-mse-out": ("2-3:leaky_relu-2:relu", {}),
    "softmax-mse": ("2-3:tanh-3:softmax", {"loss": "squared_error"}),
    "single-layer": ("3-2:softplus", {}),
}


def spec(name: str):
    text, options = ARCHITECTURES[name]
    return parse(text, **options)
