"""Interop: ONNX graphs of the scikit-learn estimators and PyTorch conversion into fastmlp (``from_torch``).

The network's own export (``MLP.to_onnx``, ``MLP.to_torch``) is ``fastmlp.export``; onnx and torch are optional
extras, imported only when one of these functions is called.
"""
import numpy as np

from .export import (DEFAULT_OPSET, check_opset, check_output_path, finish_graph, graph_body, import_onnx,
                     import_torch, torch_activations)
from .mlp import MLP

def classifier_to_onnx(est, path=None, opset=DEFAULT_OPSET):
    """A fitted ``fastmlp.MLPClassifier``: outputs ``label`` (``est.predict``: the ``classes_`` values) and
    ``probabilities`` (``est.predict_proba``: Softmax over the classes, or for a binary target the Sigmoid of the
    one output as the two columns [1 - p, p]). Multilabel classifiers are refused (ValueError)."""
    check_opset(opset)
    check_output_path(path)
    if est.n_outputs_ > 1 and est.out_activation_ != "softmax":
        raise ValueError("to_onnx: multilabel classifiers are not exported (predict gives an indicator matrix)")
    onnx, helper, numpy_helper = import_onnx()
    model = est.model_
    nodes, inits, h = graph_body(model, helper, numpy_helper)
    classes = np.asarray(est.classes_)
    if classes.dtype.kind in "US":
        classes = classes.astype(object)
        label_elem = onnx.TensorProto.STRING
    elif classes.dtype.kind == "O":
        if not all(isinstance(c, str) for c in classes):
            raise ValueError("to_onnx: object class labels must all be str")
        label_elem = onnx.TensorProto.STRING
    else:
        label_elem = helper.np_dtype_to_tensor_dtype(classes.dtype)
    inits.append(numpy_helper.from_array(classes, "classes"))
    elem = helper.np_dtype_to_tensor_dtype(model.dtype)
    if est.out_activation_ == "softmax":
        nodes.append(helper.make_node("ArgMax", [h], ["index"], name="argmax", axis=1, keepdims=0))
        nodes.append(helper.make_node("Softmax", [h], ["probabilities"], name="softmax", axis=1))
        n_prob = model.n_out
    else:  # one logistic output: class 1 where the logit is > 0 (probability > 0.5)
        inits.append(numpy_helper.from_array(np.zeros(1, dtype=model.dtype), "zero"))
        inits.append(numpy_helper.from_array(np.ones(1, dtype=model.dtype), "one"))
        inits.append(numpy_helper.from_array(np.array([-1], dtype=np.int64), "flat_shape"))
        nodes += [helper.make_node("Greater", [h, "zero"], ["positive"], name="positive"),
                  helper.make_node("Cast", ["positive"], ["index2d"], name="index2d", to=onnx.TensorProto.INT64),
                  helper.make_node("Reshape", ["index2d", "flat_shape"], ["index"], name="index"),
                  helper.make_node("Sigmoid", [h], ["p1"], name="sigmoid"),
                  helper.make_node("Sub", ["one", "p1"], ["p0"], name="complement"),
                  helper.make_node("Concat", ["p0", "p1"], ["probabilities"], name="probabilities", axis=1)]
        n_prob = 2
        if len(classes) < 2:
            raise ValueError("to_onnx: a classifier fitted on one class is not exported")
    nodes.append(helper.make_node("Gather", ["classes", "index"], ["label"], name="label", axis=0))
    outputs = [helper.make_tensor_value_info("label", label_elem, ["N"]),
               helper.make_tensor_value_info("probabilities", elem, ["N", n_prob])]
    return finish_graph(helper, onnx, nodes, inits, outputs, model, opset,
                        f"fastmlp MLPClassifier {model.layers}: outputs label and probabilities", path)


def regressor_to_onnx(est, path=None, opset=DEFAULT_OPSET):
    """A fitted ``fastmlp.MLPRegressor``: output ``output`` equals ``est.predict(X)`` (shape ``[N]`` for one
    output, else ``[N, n_outputs]``; Exp applied for ``loss="poisson"``) in the network's dtype."""
    check_opset(opset)
    check_output_path(path)
    onnx, helper, numpy_helper = import_onnx()
    model = est.model_
    nodes, inits, h = graph_body(model, helper, numpy_helper)
    if est.out_activation_ == "exp":
        nodes.append(helper.make_node("Exp", [h], ["mean"], name="exp"))
        h = "mean"
    elem = helper.np_dtype_to_tensor_dtype(model.dtype)
    if est.n_outputs_ == 1:
        inits.append(numpy_helper.from_array(np.array([-1], dtype=np.int64), "flat_shape"))
        nodes.append(helper.make_node("Reshape", [h, "flat_shape"], ["output"], name="flatten"))
        outputs = [helper.make_tensor_value_info("output", elem, ["N"])]
    else:
        nodes.append(helper.make_node("Identity", [h], ["output"], name="output"))
        outputs = [helper.make_tensor_value_info("output", elem, ["N", model.n_out])]
    return finish_graph(helper, onnx, nodes, inits, outputs, model, opset,
                        f"fastmlp MLPRegressor {model.layers}: output = predictions", path)


# ---- PyTorch -------------------------------------------------------------------------------------------------
def _flatten(module, nn):
    if isinstance(module, nn.Sequential):
        out = []
        for child in module:
            out.extend(_flatten(child, nn))
        return out
    return [module]


def from_torch(module, loss=None, dtype=None, seed=None):
    """A ``fastmlp.MLP`` with the weights of a PyTorch ``nn.Sequential`` of ``nn.Linear`` layers, each optionally
    followed by ``nn.ReLU``, ``nn.Sigmoid`` or ``nn.Tanh`` (an activation after the last Linear becomes the
    output activation). Nested ``nn.Sequential`` blocks are flattened.

    ``nn.Identity`` is dropped. ``nn.Dropout`` is dropped when it is a no-op: in eval mode (``module.eval()``)
    or with ``p=0``; a Dropout in training mode raises, because fastmlp trains without dropout. Any other module
    (Conv, BatchNorm, Softmax, ...) raises ``ValueError``. Linear layers without a bias get a zero bias.
    The weights are copied (the model does not share memory with the torch module).

    Parameters
    ----------
    module : torch.nn.Sequential
        The network.
    loss : str, optional
        As for ``fastmlp.MLP`` (the cross-entropy losses need an identity output: leave the logits raw).
    dtype : {"float32", "float64"}, optional
        Default: the torch parameters' dtype (float32 or float64, else say it).
    seed : int, optional
        The new model's generator (its shuffling).

    Returns
    -------
    MLP
        A model computing ``module(X)`` as ``forward(X)``.

    Raises
    ------
    ValueError
        A module other than those listed, or a Dropout in training mode.
    ImportError
        torch is not installed (it is in no extra).

    Examples
    --------
    >>> import torch                                            # doctest: +SKIP
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))  # doctest: +SKIP
    >>> model = fastmlp.from_torch(net, loss="softmax_ce")      # doctest: +SKIP
    >>> model.layers                                            # doctest: +SKIP
    [4, 8, 3]
    """
    torch = import_torch()
    nn = torch.nn
    if not isinstance(module, (nn.Sequential, nn.Linear)):
        raise ValueError(f"from_torch: expected an nn.Sequential (or one nn.Linear), got {type(module).__name__}")
    acts = {cls: name for name, cls in torch_activations(nn).items() if cls is not None}
    layers, act_of, linears = [], [], []
    for i, m in enumerate(_flatten(module, nn)):
        kind = type(m)
        if kind is nn.Identity:
            continue
        if kind is nn.Dropout:
            if m.training and m.p > 0:
                raise ValueError(f"from_torch: module {i} is nn.Dropout(p={m.p}) in training mode; fastmlp trains "
                                 f"without dropout. Call .eval() on the network first to convert it for inference")
            continue
        if isinstance(m, nn.Linear):
            if isinstance(m.weight, nn.parameter.UninitializedParameter):
                raise ValueError(f"from_torch: module {i} ({kind.__name__}) has uninitialised weights; run a "
                                 f"forward pass first")
            if kind is not nn.Linear:
                raise ValueError(f"from_torch: module {i} is {kind.__name__}, a subclass of nn.Linear whose "
                                 f"forward may differ; only nn.Linear is supported")
            if layers and m.in_features != layers[-1]:
                raise ValueError(f"from_torch: module {i} (Linear {m.in_features} -> {m.out_features}) does not "
                                 f"follow the previous layer's {layers[-1]} outputs")
            if not layers:
                layers.append(m.in_features)
            layers.append(m.out_features)
            linears.append(m)
            act_of.append("identity")
            continue
        if kind in acts:
            if not linears:
                raise ValueError(f"from_torch: module {i} ({kind.__name__}) comes before any nn.Linear")
            if act_of[-1] != "identity":
                raise ValueError(f"from_torch: module {i} ({kind.__name__}) follows another activation; fastmlp "
                                 f"has one activation per layer")
            act_of[-1] = acts[kind]
            continue
        raise ValueError(f"from_torch: module {i} is {kind.__name__}; supported: nn.Linear, nn.ReLU, nn.Sigmoid, "
                         f"nn.Tanh, nn.Identity, nn.Dropout in eval mode (and nested nn.Sequential)")
    if not linears:
        raise ValueError("from_torch: the network has no nn.Linear layer")
    if dtype is None:
        tdt = linears[0].weight.dtype
        names = {torch.float32: "float32", torch.float64: "float64"}
        if tdt not in names:
            raise ValueError(f"from_torch: the weights are {tdt}; pass dtype='float32' or 'float64' to convert")
        dtype = names[tdt]
    model = MLP(layers, activation=act_of[:-1], output=act_of[-1], loss=loss, dtype=dtype, seed=seed)
    flat = []
    for m in linears:
        W = m.weight.detach().cpu().to(torch.float64).numpy()
        b = (m.bias.detach().cpu().to(torch.float64).numpy() if m.bias is not None
             else np.zeros(m.out_features))
        flat += [W.ravel(), b]
    flat = np.concatenate(flat).astype(model.dtype)
    if not np.isfinite(flat).all():
        raise ValueError("from_torch: the weights contain NaN or Inf")
    model.set_flat_params(flat)
    return model
