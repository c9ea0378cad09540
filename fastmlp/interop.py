"""Interop: ONNX export (``MLP.to_onnx``) and PyTorch conversion (``fastmlp.from_torch``, ``MLP.to_torch``).

Neither onnx nor torch is imported until one of these functions is called; both are optional
(``pip install "fastmlp[onnx]"``; torch is not in any extra, install the build you want).

ONNX graphs are plain ``ai.onnx`` operators built with ``onnx.helper``: one ``Gemm`` (``transB=1``, so ``W``
is stored as ``[n_out, n_in]``, exactly the model's layout) per layer, ``Relu`` / ``Sigmoid`` / ``Tanh`` for the
activations, then ``Softmax`` (softmax_ce) or ``Sigmoid`` (sigmoid_bce) for a classifier's probabilities. The
input is ``X`` of shape ``[N, n_in]`` in the model's dtype (float32 or float64); the batch size ``N`` is free.
"""
import os

import numpy as np

DEFAULT_OPSET = 17   # ai.onnx opset of the exported graphs; 13 is the oldest with today's Softmax(axis) meaning
MIN_OPSET = 13
IR_VERSION = 8       # the IR version that goes with opset 17; newer runtimes read it, older ones too
_ONNX_ACT = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "identity": None}


def _import_onnx():
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError as exc:
        raise ImportError("to_onnx needs the onnx package: pip install 'fastmlp[onnx]'") from exc
    return onnx, helper, numpy_helper


def _import_torch():
    try:
        import torch
    except ImportError as exc:
        raise ImportError("PyTorch interop needs torch (not in any fastmlp extra: install the build you want, "
                          "e.g. the CPU one)") from exc
    return torch


# ---- ONNX ----------------------------------------------------------------------------------------------------
def _graph_body(model, helper, numpy_helper):
    """Nodes and initializers from ``X`` to the network's raw output (what ``model.forward`` returns); returns
    (nodes, initializers, name of the last tensor)."""
    nodes, inits = [], []
    h = "X"
    last = len(model.layers) - 2
    for l, (W, b) in enumerate(model.params):
        w_name, b_name, z = f"W{l}", f"b{l}", f"z{l}"
        inits.append(numpy_helper.from_array(np.ascontiguousarray(W), w_name))
        inits.append(numpy_helper.from_array(np.ascontiguousarray(b), b_name))
        nodes.append(helper.make_node("Gemm", [h, w_name, b_name], [z], name=f"gemm{l}", transB=1))
        op = _ONNX_ACT[model.activations[l]]
        if op is None:
            h = z
        else:
            h = f"h{l}" if l < last else "out"
            nodes.append(helper.make_node(op, [z], [h], name=f"{op.lower()}{l}"))
    return nodes, inits, h


def _check_opset(opset):
    if not isinstance(opset, (int, np.integer)) or isinstance(opset, bool) or opset < MIN_OPSET:
        raise ValueError(f"opset: expected an int >= {MIN_OPSET}, got {opset!r}")


def _finish(helper, onnx, nodes, inits, outputs, model, opset, doc, path):
    elem = helper.np_dtype_to_tensor_dtype(model.dtype)
    inputs = [helper.make_tensor_value_info("X", elem, ["N", model.n_in])]
    graph = helper.make_graph(nodes, "fastmlp", inputs, outputs, initializer=inits)
    from . import __version__

    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", int(opset))],
                              producer_name="fastmlp", producer_version=__version__, doc_string=doc)
    proto.ir_version = IR_VERSION
    onnx.checker.check_model(proto)
    if path is not None:
        onnx.save(proto, os.fspath(path))
    return proto


def mlp_to_onnx(model, path=None, raw=False, opset=DEFAULT_OPSET):
    """The ``fastmlp.MLP`` as an ONNX ``ModelProto`` (written to ``path`` when given).

    One output, ``output``: ``model.predict_proba(X)`` for the softmax_ce / sigmoid_bce losses (Softmax or
    Sigmoid after the logits), else ``model.forward(X)``. ``raw=True``: always ``model.forward(X)`` (logits).
    """
    _check_opset(opset)
    onnx, helper, numpy_helper = _import_onnx()
    nodes, inits, h = _graph_body(model, helper, numpy_helper)
    elem = helper.np_dtype_to_tensor_dtype(model.dtype)
    if not raw and model.loss == "softmax_ce":
        nodes.append(helper.make_node("Softmax", [h], ["output"], name="softmax", axis=1))
    elif not raw and model.loss == "sigmoid_bce":
        nodes.append(helper.make_node("Sigmoid", [h], ["output"], name="sigmoid_out"))
    else:
        nodes.append(helper.make_node("Identity", [h], ["output"], name="output"))
    outputs = [helper.make_tensor_value_info("output", elem, ["N", model.n_out])]
    what = "probabilities" if not raw and model.loss in ("softmax_ce", "sigmoid_bce") else "raw outputs"
    return _finish(helper, onnx, nodes, inits, outputs, model, opset,
                   f"fastmlp MLP {model.layers}, loss {model.loss}: output = {what}", path)


def classifier_to_onnx(est, path=None, opset=DEFAULT_OPSET):
    """A fitted ``fastmlp.MLPClassifier``: outputs ``label`` (``est.predict``: the ``classes_`` values, via
    ArgMax + Gather) and ``probabilities`` (``est.predict_proba``; for ``loss="ideal_mse"`` the output is named
    ``scores`` and holds the network's raw outputs)."""
    _check_opset(opset)
    onnx, helper, numpy_helper = _import_onnx()
    model = est.model_
    nodes, inits, h = _graph_body(model, helper, numpy_helper)
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
    nodes.append(helper.make_node("ArgMax", [h], ["index"], name="argmax", axis=1, keepdims=0))
    nodes.append(helper.make_node("Gather", ["classes", "index"], ["label"], name="label", axis=0))
    elem = helper.np_dtype_to_tensor_dtype(model.dtype)
    second = "probabilities" if model.loss == "softmax_ce" else "scores"
    if second == "probabilities":
        nodes.append(helper.make_node("Softmax", [h], [second], name="softmax", axis=1))
    else:
        nodes.append(helper.make_node("Identity", [h], [second], name="scores"))
    outputs = [helper.make_tensor_value_info("label", label_elem, ["N"]),
               helper.make_tensor_value_info(second, elem, ["N", model.n_out])]
    return _finish(helper, onnx, nodes, inits, outputs, model, opset,
                   f"fastmlp MLPClassifier {model.layers}: outputs label and {second}", path)


def regressor_to_onnx(est, path=None, opset=DEFAULT_OPSET):
    """A fitted ``fastmlp.MLPRegressor``: output ``output`` equals ``est.predict(X)`` (shape ``[N]`` for a 1-d
    target, else ``[N, n_outputs]``) in the model's dtype (``predict`` returns float64)."""
    _check_opset(opset)
    onnx, helper, numpy_helper = _import_onnx()
    model = est.model_
    nodes, inits, h = _graph_body(model, helper, numpy_helper)
    elem = helper.np_dtype_to_tensor_dtype(model.dtype)
    if est._y_1d:
        inits.append(numpy_helper.from_array(np.array([-1], dtype=np.int64), "flat_shape"))
        nodes.append(helper.make_node("Reshape", [h, "flat_shape"], ["output"], name="flatten"))
        outputs = [helper.make_tensor_value_info("output", elem, ["N"])]
    else:
        nodes.append(helper.make_node("Identity", [h], ["output"], name="output"))
        outputs = [helper.make_tensor_value_info("output", elem, ["N", model.n_out])]
    return _finish(helper, onnx, nodes, inits, outputs, model, opset,
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

    loss: as for ``fastmlp.MLP`` (the cross-entropy losses need an identity output: leave the logits raw).
    dtype: "float32" / "float64"; default: the torch parameters' dtype (float32 or float64, else say it).
    """
    torch = _import_torch()
    nn = torch.nn
    from .mlp import MLP

    if not isinstance(module, (nn.Sequential, nn.Linear)):
        raise ValueError(f"from_torch: expected an nn.Sequential (or one nn.Linear), got {type(module).__name__}")
    acts = {nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh"}
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


def to_torch(model):
    """An ``nn.Sequential`` of ``nn.Linear`` + activation modules computing ``model.forward`` (raw outputs: the
    logits for the cross-entropy losses, as ``nn.CrossEntropyLoss`` expects), in the model's dtype, with copies
    of its weights."""
    torch = _import_torch()
    nn = torch.nn
    tdt = torch.float32 if model.dtype == np.float32 else torch.float64
    mods = []
    acts = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
    for (W, b), (n_i, n_o), act in zip(model.params, zip(model.layers[:-1], model.layers[1:]), model.activations):
        lin = nn.Linear(n_i, n_o, dtype=tdt)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.array(W)))
            lin.bias.copy_(torch.from_numpy(np.array(b)))
        mods.append(lin)
        if act != "identity":
            mods.append(acts[act]())
    return nn.Sequential(*mods)
