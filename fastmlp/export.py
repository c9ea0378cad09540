"""Export: a network as an ONNX graph (``MLP.to_onnx``) or a PyTorch module (``MLP.to_torch``).

Neither onnx nor torch is imported until one of these functions is called; both are optional
(``pip install "fastmlp[onnx]"``; torch is not in any extra, install the build you want). ``fastmlp.interop``
builds on these for the estimators' graphs and for ``from_torch``.

ONNX graphs are plain ``ai.onnx`` operators built with ``onnx.helper``: one ``Gemm`` (``transB=1``, so ``W``
is stored as ``[n_out, n_in]``, exactly the model's layout) per layer, ``Relu`` / ``Sigmoid`` / ``Tanh`` for the
activations, then ``Softmax`` (softmax_ce) or ``Sigmoid`` (sigmoid_bce) for a classifier's probabilities. The
input is ``X`` of shape ``[N, n_in]`` in the model's dtype (float32 or float64); the batch size ``N`` is free.
"""
import os

import numpy as np

from . import _core
from .extras import require
from .vocabulary import ACTIVATIONS

DEFAULT_OPSET = 17   # ai.onnx opset of the exported graphs; 13 is the oldest with today's Softmax(axis) meaning
MIN_OPSET = 13
IR_VERSION = 8       # the IR version that goes with opset 17; newer runtimes read it, older ones too
# the ONNX operator and the torch module of each activation, in the order of vocabulary.ACTIVATIONS
_ONNX_ACT = dict(zip(ACTIVATIONS, (None, "Relu", "Sigmoid", "Tanh")))


def torch_activations(nn):
    """Each activation name's torch module class (None for identity)."""
    return dict(zip(ACTIVATIONS, (None, nn.ReLU, nn.Sigmoid, nn.Tanh)))


def import_onnx():
    """onnx, onnx.helper and onnx.numpy_helper (the optional extra fastmlp[onnx])."""
    onnx = require("onnx", "to_onnx", "pip install 'fastmlp[onnx]'")
    return onnx, require("onnx.helper", "to_onnx", ""), require("onnx.numpy_helper", "to_onnx", "")


def import_torch():
    """torch (in no fastmlp extra: install the build you want, e.g. the CPU one)."""
    return require("torch", "PyTorch interop", "install the build you want, e.g. the CPU one")


# ---- ONNX ----------------------------------------------------------------------------------------------------
def graph_body(model, helper, numpy_helper):
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


def check_opset(opset):
    if not isinstance(opset, (int, np.integer)) or isinstance(opset, bool) or opset < MIN_OPSET:
        raise ValueError(f"opset: expected an int >= {MIN_OPSET}, got {opset!r}")


def check_output_path(path, name="path"):
    """Refuse, before any work, an output ``path`` that cannot be written as a file: not a path, a folder, or
    in a folder that does not exist (None: nothing is written)."""
    if path is None:
        return None
    try:
        path = os.fspath(path)
    except TypeError:
        raise TypeError(f"{name}: expected a file path, got {type(path).__name__}") from None
    if os.path.isdir(path):
        raise ValueError(f"{name}: {os.fsdecode(path)} is a folder; give a file name, e.g. "
                                f"{os.path.join(os.fsdecode(path), 'model.onnx')}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"{name}: the folder {folder} of {os.fsdecode(path)} does not exist")
    return path


def finish_graph(helper, onnx, nodes, inits, outputs, model, opset, doc, path):
    """The checked ModelProto of the graph, written to ``path`` (already checked by the caller) when given."""
    elem = helper.np_dtype_to_tensor_dtype(model.dtype)
    inputs = [helper.make_tensor_value_info("X", elem, ["N", model.n_in])]
    graph = helper.make_graph(nodes, "fastmlp", inputs, outputs, initializer=inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", int(opset))],
                              producer_name="fastmlp", producer_version=_core.version(), doc_string=doc)
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
    check_opset(opset)
    check_output_path(path)
    onnx, helper, numpy_helper = import_onnx()
    nodes, inits, h = graph_body(model, helper, numpy_helper)
    elem = helper.np_dtype_to_tensor_dtype(model.dtype)
    if not raw and model.loss == "softmax_ce":
        nodes.append(helper.make_node("Softmax", [h], ["output"], name="softmax", axis=1))
    elif not raw and model.loss == "sigmoid_bce":
        nodes.append(helper.make_node("Sigmoid", [h], ["output"], name="sigmoid_out"))
    else:
        nodes.append(helper.make_node("Identity", [h], ["output"], name="output"))
    outputs = [helper.make_tensor_value_info("output", elem, ["N", model.n_out])]
    what = "probabilities" if not raw and model.loss in ("softmax_ce", "sigmoid_bce") else "raw outputs"
    return finish_graph(helper, onnx, nodes, inits, outputs, model, opset,
                   f"fastmlp MLP {model.layers}, loss {model.loss}: output = {what}", path)


def to_torch(model):
    """An ``nn.Sequential`` of ``nn.Linear`` + activation modules computing ``model.forward`` (raw outputs: the
    logits for the cross-entropy losses, as ``nn.CrossEntropyLoss`` expects), in the model's dtype, with copies
    of its weights."""
    torch = import_torch()
    nn = torch.nn
    tdt = torch.float32 if model.dtype == np.float32 else torch.float64
    mods = []
    acts = torch_activations(nn)
    for (W, b), (n_i, n_o), act in zip(model.params, zip(model.layers[:-1], model.layers[1:]), model.activations):
        lin = nn.Linear(n_i, n_o, dtype=tdt)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.array(W)))
            lin.bias.copy_(torch.from_numpy(np.array(b)))
        mods.append(lin)
        if act != "identity":
            mods.append(acts[act]())
    return nn.Sequential(*mods)
