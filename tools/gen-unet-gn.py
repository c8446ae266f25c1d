#!/usr/bin/env python3
"""Builds one small UNet-style network in three spellings of GroupNormalization into Models/unet-gn/:

  op21/          ONNX GroupNormalization (opset 21), SiLU as x * Sigmoid(x)
  pytorch/       PyTorch's export: Reshape -> InstanceNormalization -> Reshape(Shape(x)) -> Mul -> Add (opset 17)
  nhwc-moments/  the founding note's TensorFlow code: NCHW -> NHWC Transpose, then Transpose -> Reshape to
                 (N, G, C/G, H, W) -> moments -> normalise -> Reshape -> gamma/beta -> Transpose, and back (opset 13)

Network: Conv(3->32) GN(8) SiLU -> Conv(32->64, stride 2) GN(16) SiLU -> ConvTranspose(64->32, stride 2)
-> Concat with the first block -> Conv(64->32) GN(4) SiLU -> Conv(32->3, 1x1) -> Sigmoid. The weights (seed 0) are the same in
all three, and each model carries the types of its intermediate values (value_info), as exported models do; each folder gets test_data_set_0/input_0.pb (seed 1, 1x3x32x32) and output_0.pb computed by ONNX Runtime,
and the script checks that the three spellings agree.

Usage: tools/gen-unet-gn.py   (needs onnx, numpy and onnxruntime)
"""
import os

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Models", "unet-gn")
EPSILON = 1e-5
SIZE = 32


class Builder:
    """Collects nodes and initializers under unique names."""

    def __init__(self):
        self.nodes, self.initializers, self.count = [], [], 0

    def name(self, hint):
        self.count += 1
        return f"{hint}_{self.count}"

    def constant(self, array, hint):
        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, op_type, inputs, hint=None, **attributes):
        output = self.name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=output, **attributes))
        return output


def weights():
    """The network's parameters: (W, B) per convolution, (gamma, beta, groups) per GroupNormalization."""
    rng = np.random.default_rng(0)

    def conv(out_channels, in_channels, kernel):
        fan_in = in_channels * kernel * kernel
        w = rng.normal(0, np.sqrt(2 / fan_in), (out_channels, in_channels, kernel, kernel)).astype(np.float32)
        return w, rng.normal(0, 0.1, out_channels).astype(np.float32)

    def norm(channels, groups):
        gamma = (1 + 0.2 * rng.normal(size=channels)).astype(np.float32)
        return gamma, (0.2 * rng.normal(size=channels)).astype(np.float32), groups

    up = rng.normal(0, np.sqrt(2 / (64 * 4)), (64, 32, 2, 2)).astype(np.float32)
    return {
        "conv1": conv(32, 3, 3), "gn1": norm(32, 8),
        "conv2": conv(64, 32, 3), "gn2": norm(64, 16),
        "up": (up, rng.normal(0, 0.1, 32).astype(np.float32)),
        "conv3": conv(32, 64, 3), "gn3": norm(32, 4),
        "conv4": conv(3, 32, 1),
    }


def silu(b, x):
    return b.op("Mul", [x, b.op("Sigmoid", [x])], "silu")


def gn_op21(b, x, params, block, extent):
    gamma, beta, groups = params
    y = b.op("GroupNormalization", [x, b.constant(gamma, "scale"), b.constant(beta, "bias")], "gn",
             num_groups=groups, epsilon=EPSILON)
    return silu(b, y)


def gn_pytorch(b, x, params, block, extent):
    gamma, beta, groups = params
    grouped = b.op("Reshape", [x, b.constant(np.array([0, groups, -1], np.int64), "shape")], "grouped")
    ones, zeros = np.ones(groups, np.float32), np.zeros(groups, np.float32)
    normalized = b.op("InstanceNormalization", [grouped, b.constant(ones, "ones"), b.constant(zeros, "zeros")],
                      "instance_norm", epsilon=EPSILON)
    y = b.op("Reshape", [normalized, b.op("Shape", [x], "shape_of_x")], "ungrouped")
    if block == 1:  # as exported without constant folding: weight and bias unsqueezed at run time
        axes = b.constant(np.array([1, 2], np.int64), "axes")
        scale = b.op("Unsqueeze", [b.constant(gamma, "weight"), axes], "weight_unsqueezed")
        shift = b.op("Unsqueeze", [b.constant(beta, "bias"), axes], "bias_unsqueezed")
    else:
        scale, shift = b.constant(gamma.reshape(-1, 1, 1), "weight"), b.constant(beta.reshape(-1, 1, 1), "bias")
    y = b.op("Add", [b.op("Mul", [y, scale], "scaled"), shift], "shifted")
    return silu(b, y)


def gn_nhwc_moments(b, x, params, block, extent):
    """The network is NCHW: go to NHWC, apply the note's group_norm (which works NCHW inside), come back."""
    gamma, beta, groups = params
    channels = gamma.size
    nhwc = b.op("Transpose", [x], "to_nhwc", perm=[0, 2, 3, 1])
    # --- the founding note's group_norm(x: [B, H, W, C], G) ---
    nchw = b.op("Transpose", [nhwc], "note_to_nchw", perm=[0, 3, 1, 2])
    shape = np.array([1, groups, channels // groups, extent, extent], np.int64)
    grouped = b.op("Reshape", [nchw, b.constant(shape, "group_shape")], "grouped")
    mean = b.op("ReduceMean", [grouped], "mean", axes=[2, 3, 4], keepdims=1)
    deviation = b.op("Sub", [grouped, mean], "deviation")
    if block == 1:  # tf.square as Pow; (x - mean) computed again for the normalisation, as TensorFlow does
        variance = b.op("ReduceMean", [b.op("Pow", [deviation, b.constant(np.float32(2), "two")], "square")],
                        "variance", axes=[2, 3, 4], keepdims=1)
        deviation = b.op("Sub", [grouped, mean], "deviation_again")
    else:
        variance = b.op("ReduceMean", [b.op("Mul", [deviation, deviation], "square")], "variance",
                        axes=[2, 3, 4], keepdims=1)
    std = b.op("Sqrt", [b.op("Add", [variance, b.constant(np.float32(EPSILON), "epsilon")], "variance_epsilon")], "std")
    if block == 3:  # dividing as multiplying by the reciprocal
        normalized = b.op("Mul", [deviation, b.op("Reciprocal", [std], "inverse_std")], "normalized")
    else:
        normalized = b.op("Div", [deviation, std], "normalized")
    back = np.array([1, channels, extent, extent], np.int64)
    y = b.op("Reshape", [normalized, b.constant(back, "channel_shape")], "ungrouped")
    y = b.op("Mul", [b.constant(gamma.reshape(1, -1, 1, 1), "gamma"), y], "scaled")
    y = b.op("Add", [y, b.constant(beta.reshape(1, -1, 1, 1), "beta")], "shifted")
    y = b.op("Transpose", [y], "note_to_nhwc", perm=[0, 2, 3, 1])
    # --- end of the note's code ---
    return silu(b, b.op("Transpose", [y], "to_nchw", perm=[0, 3, 1, 2]))


def network(group_norm, opset):
    w = weights()
    b = Builder()

    def conv(x, key, **attributes):
        weight, bias = w[key]
        return b.op("Conv", [x, b.constant(weight, key + "_w"), b.constant(bias, key + "_b")], key, **attributes)

    h1 = group_norm(b, conv("input", "conv1", pads=[1, 1, 1, 1]), w["gn1"], 1, SIZE)
    h2 = group_norm(b, conv(h1, "conv2", pads=[1, 1, 1, 1], strides=[2, 2]), w["gn2"], 2, SIZE // 2)
    up_w, up_b = w["up"]
    up = b.op("ConvTranspose", [h2, b.constant(up_w, "up_w"), b.constant(up_b, "up_b")], "up", strides=[2, 2])
    joined = b.op("Concat", [up, h1], "skip", axis=1)
    h3 = group_norm(b, conv(joined, "conv3", pads=[1, 1, 1, 1]), w["gn3"], 3, SIZE)
    out = conv(h3, "conv4")
    # A Sigmoid head keeps outputs away from 0, where float rounding in the convolutions exceeds rtol 1e-3.
    b.nodes.append(helper.make_node("Sigmoid", [out], ["output"], name="output"))
    graph = helper.make_graph(
        b.nodes, "unet_gn",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
        b.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="gen-unet-gn")
    model.ir_version = 10
    # Exporters store the types of intermediate values; so do these models.
    model = onnx.shape_inference.infer_shapes(model, data_prop=True)
    onnx.checker.check_model(model, full_check=True)
    return model


def main():
    spellings = {
        "op21": network(gn_op21, 21),
        "pytorch": network(gn_pytorch, 17),
        "nhwc-moments": network(gn_nhwc_moments, 13),
    }
    x = np.random.default_rng(1).normal(size=(1, 3, SIZE, SIZE)).astype(np.float32)
    outputs = {}
    for name, model in spellings.items():
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
        session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        outputs[name] = session.run(None, {"input": x})[0]
        folder = os.path.join(OUT, name)
        os.makedirs(os.path.join(folder, "test_data_set_0"), exist_ok=True)
        onnx.save(model, os.path.join(folder, "model.onnx"))
        for kind, array, tensor_name in (("input", x, "input"), ("output", outputs[name], "output")):
            with open(os.path.join(folder, "test_data_set_0", f"{kind}_0.pb"), "wb") as f:
                f.write(numpy_helper.from_array(array, tensor_name).SerializeToString())
    reference = outputs["op21"]
    for name, output in outputs.items():
        difference = np.abs(output - reference).max()
        assert np.allclose(output, reference, rtol=1e-4, atol=1e-5), f"{name} differs from op21 by {difference}"
        print(f"{name}: {sum(1 for _ in spellings[name].graph.node)} nodes, max |difference| to op21 {difference:.2e}")


if __name__ == "__main__":
    main()
