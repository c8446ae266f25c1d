#!/usr/bin/env python3
"""Trains Models/digits-gn: a small CNN with GroupNormalization on scikit-learn's bundled 8x8 digits.

Conv(1->8, 3x3, pad 1) -> GroupNormalization(4 groups, opset 21) -> Relu -> Flatten -> Gemm(512->10) -> Softmax.
Plain numpy backpropagation (no deep-learning framework needed offline), Adam, fixed seed. Writes model.onnx,
four held-out digits as test_data_set_0/input_0.pb, and ONNX Runtime's output for them as
test_data_set_0/output_0.pb: the layout of an ONNX backend test case, so `infer check Models/digits-gn` runs it.

Usage: tools/train-digits-gn.py [OUT_DIR]   (default Models/digits-gn; needs numpy, scikit-learn, onnx, onnxruntime)
"""
import os
import sys

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_digits

CHANNELS, GROUPS, EPSILON = 8, 4, 1e-5


def im2col(x):
    """[N,1,8,8] -> [N, 9, 64]: the 3x3 neighbourhood (zero padded) of every pixel."""
    padded = np.pad(x[:, 0], ((0, 0), (1, 1), (1, 1)))
    return np.stack([padded[:, i:i + 8, j:j + 8].reshape(len(x), 64) for i in range(3) for j in range(3)], axis=1)


def forward(params, x):
    cols = im2col(x)
    conv = np.einsum("ck,nkp->ncp", params["W"], cols) + params["b"][None, :, None]      # [N, C, 64]
    grouped = conv.reshape(len(x), GROUPS, -1)
    mean = grouped.mean(axis=2, keepdims=True)
    inv_std = 1 / np.sqrt(grouped.var(axis=2, keepdims=True) + EPSILON)
    xhat = ((grouped - mean) * inv_std).reshape(conv.shape)
    normed = params["gamma"][None, :, None] * xhat + params["beta"][None, :, None]
    act = np.maximum(normed, 0)
    flat = act.reshape(len(x), -1)
    logits = flat @ params["Wfc"].T + params["bfc"]
    return logits, dict(cols=cols, xhat=xhat, inv_std=inv_std, normed=normed, flat=flat)


def gradients(params, x, labels):
    logits, cache = forward(params, x)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    n = len(x)
    dlogits = probs.copy()
    dlogits[np.arange(n), labels] -= 1
    dlogits /= n
    grads = {"Wfc": dlogits.T @ cache["flat"], "bfc": dlogits.sum(axis=0)}
    dact = (dlogits @ params["Wfc"]).reshape(cache["normed"].shape) * (cache["normed"] > 0)
    grads["gamma"] = (dact * cache["xhat"]).sum(axis=(0, 2))
    grads["beta"] = dact.sum(axis=(0, 2))
    dxhat = (dact * params["gamma"][None, :, None]).reshape(n, GROUPS, -1)
    xhat = cache["xhat"].reshape(n, GROUPS, -1)
    dconv = cache["inv_std"] * (dxhat - dxhat.mean(axis=2, keepdims=True) - xhat * (dxhat * xhat).mean(axis=2, keepdims=True))
    dconv = dconv.reshape(n, CHANNELS, 64)
    grads["W"] = np.einsum("ncp,nkp->ck", dconv, cache["cols"])
    grads["b"] = dconv.sum(axis=(0, 2))
    loss = -np.log(probs[np.arange(n), labels] + 1e-12).mean()
    return loss, grads


def train(x, labels, epochs=30, batch=64, rate=0.01, seed=0):
    rng = np.random.default_rng(seed)
    params = {
        "W": rng.normal(0, 0.3, (CHANNELS, 9)), "b": np.zeros(CHANNELS),
        "gamma": np.ones(CHANNELS), "beta": np.zeros(CHANNELS),
        "Wfc": rng.normal(0, 0.05, (10, CHANNELS * 64)), "bfc": np.zeros(10),
    }
    moments = {k: (np.zeros_like(v), np.zeros_like(v)) for k, v in params.items()}
    step = 0
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch):
            index = order[start:start + batch]
            loss, grads = gradients(params, x[index], labels[index])
            step += 1
            for k in params:
                m, v = moments[k]
                m = 0.9 * m + 0.1 * grads[k]
                v = 0.999 * v + 0.001 * grads[k] ** 2
                moments[k] = (m, v)
                params[k] -= rate * (m / (1 - 0.9 ** step)) / (np.sqrt(v / (1 - 0.999 ** step)) + 1e-8)
    return params


def export(params, path):
    f32 = lambda name, value: numpy_helper.from_array(np.asarray(value, dtype=np.float32), name)
    initializers = [
        f32("conv.W", params["W"].reshape(CHANNELS, 1, 3, 3)), f32("conv.b", params["b"]),
        f32("gn.scale", params["gamma"]), f32("gn.bias", params["beta"]),
        f32("fc.W", params["Wfc"]), f32("fc.b", params["bfc"]),
    ]
    nodes = [
        helper.make_node("Conv", ["input", "conv.W", "conv.b"], ["conv"], pads=[1, 1, 1, 1], name="conv"),
        helper.make_node("GroupNormalization", ["conv", "gn.scale", "gn.bias"], ["gn"], num_groups=GROUPS,
                         epsilon=EPSILON, name="group_norm"),
        helper.make_node("Relu", ["gn"], ["relu"], name="relu"),
        helper.make_node("Flatten", ["relu"], ["flat"], axis=1, name="flatten"),
        helper.make_node("Gemm", ["flat", "fc.W", "fc.b"], ["logits"], transB=1, name="classifier"),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1, name="softmax"),
    ]
    graph = helper.make_graph(
        nodes, "digits_gn",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 1, 8, 8])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 10])],
        initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)], producer_name="onyx-tools")
    model.ir_version = 10
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "Models/digits-gn"
    os.makedirs(out_dir, exist_ok=True)
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float64)[:, None]
    labels = digits.target
    train_x, train_y, test_x, test_y = x[:1500], labels[:1500], x[1500:], labels[1500:]
    params = train(train_x, train_y)
    accuracy = (forward(params, test_x)[0].argmax(axis=1) == test_y).mean()
    print(f"held-out accuracy on {len(test_x)} digits: {accuracy:.3f}")
    model_path = os.path.join(out_dir, "model.onnx")
    export(params, model_path)
    sample = test_x[:4].astype(np.float32)
    session = onnxruntime.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    (probabilities,) = session.run(None, {"input": sample})
    set_dir = os.path.join(out_dir, "test_data_set_0")
    os.makedirs(set_dir, exist_ok=True)
    with open(os.path.join(set_dir, "input_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(sample, "input").SerializeToString())
    with open(os.path.join(set_dir, "output_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(probabilities, "probabilities").SerializeToString())
    print(f"wrote {model_path}; ONNX Runtime {onnxruntime.__version__} predicts {probabilities.argmax(axis=1).tolist()} "
          f"for labels {test_y[:4].tolist()}")


if __name__ == "__main__":
    main()
