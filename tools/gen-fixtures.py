#!/usr/bin/env python3
"""Writes the small models the unit and CLI tests use into Tests/Fixtures (committed; rerun to regenerate).

Usage: tools/gen-fixtures.py   (needs onnx and numpy)
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures")


def save(model, name, check=True):
    model.ir_version = 10
    if check:
        onnx.checker.check_model(model)
    onnx.save(model, os.path.join(OUT, name))


def value(name, shape, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, shape)


def main():
    os.makedirs(OUT, exist_ok=True)
    opset = [helper.make_opsetid("", 21)]

    # y = x + 1 over a declared [2, 3] float input: for input name, dtype and shape errors.
    one = numpy_helper.from_array(np.ones((2, 3), np.float32), "one")
    add = helper.make_graph([helper.make_node("Add", ["x", "one"], ["y"], name="add")], "add_one",
                            [value("x", [2, 3])], [value("y", [2, 3])], [one])
    save(helper.make_model(add, opset_imports=opset), "add_one.onnx")
    with open(os.path.join(OUT, "add_one_input.pb"), "wb") as f:
        f.write(numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3), "x").SerializeToString())
    with open(os.path.join(OUT, "int_input.pb"), "wb") as f:
        f.write(numpy_helper.from_array(np.arange(6, dtype=np.int64).reshape(2, 3), "x").SerializeToString())
    with open(os.path.join(OUT, "wrong_shape_input.pb"), "wb") as f:
        f.write(numpy_helper.from_array(np.zeros((3, 2), np.float32), "x").SerializeToString())

    # a -> b -> c -> a: a cycle (the checker would refuse it, so it is saved unchecked).
    cycle = helper.make_graph([
        helper.make_node("Relu", ["x", ], ["a0"], name="entry"),
        helper.make_node("Add", ["a0", "c"], ["a"], name="node_a"),
        helper.make_node("Relu", ["a"], ["b"], name="node_b"),
        helper.make_node("Relu", ["b"], ["c"], name="node_c"),
    ], "cycle", [value("x", [2])], [value("c", [2])])
    save(helper.make_model(cycle, opset_imports=opset), "cycle.onnx", check=False)

    # Two nodes no runtime knows, in two domains: the error must list both.
    unknown = helper.make_graph([
        helper.make_node("FrobnicateTensor", ["x"], ["a"], name="frob"),
        helper.make_node("Twiddle", ["a"], ["y"], domain="com.example", name="twiddle"),
    ], "unknown_ops", [value("x", [2])], [value("y", [2])])
    save(helper.make_model(unknown, opset_imports=opset + [helper.make_opsetid("com.example", 1)]),
         "unknown_ops.onnx", check=False)

    # External data: one initializer stored beside the model, one whose location leaves the folder.
    weights = np.arange(4, dtype=np.float32)
    with open(os.path.join(OUT, "weights.bin"), "wb") as f:
        f.write(b"\0" * 8 + weights.tobytes())
    for name, location, offset in (("external_ok.onnx", "weights.bin", 8), ("external_escape.onnx", "../../../etc/passwd", 0)):
        tensor = onnx.TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4])
        tensor.data_location = TensorProto.EXTERNAL
        for key, val in (("location", location), ("offset", str(offset)), ("length", "16")):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, val
        graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "external",
                                  [value("x", [4])], [value("y", [4])], [tensor])
        save(helper.make_model(graph, opset_imports=opset), name, check=False)

    # A model-local function (y = x * 2 + x) called twice: the graph layer inlines it.
    function = helper.make_function(
        "local", "DoublePlus", ["a"], ["b"],
        [helper.make_node("Add", ["a", "a"], ["t"]), helper.make_node("Add", ["t", "a"], ["b"])],
        opset_imports=opset)
    graph = helper.make_graph([
        helper.make_node("DoublePlus", ["x"], ["h"], domain="local"),
        helper.make_node("DoublePlus", ["h"], ["y"], domain="local"),
    ], "with_function", [value("x", [3])], [value("y", [3])])
    save(helper.make_model(graph, opset_imports=opset + [helper.make_opsetid("local", 1)], functions=[function]),
         "local_function.onnx")

    # Values of every element type numpy can write, as .pb and .npy, for the format round-trip tests.
    samples = {
        "float": np.array([[1.5, -2.0], [np.inf, np.nan]], np.float32), "double": np.array([1e300, -3.25]),
        "float16": np.array([0.5, -65504], np.float16), "int8": np.array([-128, 127], np.int8),
        "uint8": np.array([0, 255], np.uint8), "int16": np.array([-32768, 7], np.int16),
        "uint16": np.array([65535], np.uint16), "int32": np.array([-2**31, 5], np.int32),
        "int64": np.array([-2**63, 2**62], np.int64), "uint32": np.array([2**32 - 1], np.uint32),
        "uint64": np.array([2**64 - 1], np.uint64), "bool": np.array([True, False, True]),
        "complex64": np.array([1 + 2j], np.complex64), "string": np.array(["héllo", ""], dtype=object),
        "scalar": np.array(3.0, np.float32), "empty": np.zeros((0, 3), np.float32),
    }
    os.makedirs(os.path.join(OUT, "values"), exist_ok=True)
    for name, array in samples.items():
        with open(os.path.join(OUT, "values", f"{name}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(array, name).SerializeToString())
        np.save(os.path.join(OUT, "values", f"{name}.npy"), array.astype(str) if name == "string" else array)
    # Typed fields rather than raw_data, as older exporters write them.
    typed = [helper.make_tensor("typed_float", TensorProto.FLOAT, [2], [1.0, 2.0]),
             helper.make_tensor("typed_int64", TensorProto.INT64, [2], [-1, 9]),
             helper.make_tensor("typed_float16", TensorProto.FLOAT16, [2], np.array([1.0, -2.0], np.float16)),
             helper.make_tensor("typed_bfloat16", TensorProto.BFLOAT16, [1], [1.5]),
             helper.make_tensor("typed_int4", TensorProto.INT4, [3], [-8, 7, 1]),
             helper.make_tensor("typed_uint4_raw", TensorProto.UINT4, [3], [1, 15, 2], raw=False)]
    for tensor in typed:
        with open(os.path.join(OUT, "values", f"{tensor.name}.pb"), "wb") as f:
            f.write(tensor.SerializeToString())
    custom_ops(opset)
    sequence_output(opset)
    cli_inputs(opset)
    print(f"wrote fixtures to {os.path.normpath(OUT)}")


def custom_ops(opset):
    """Models using com.example ops: LeakyHardTanh (Examples/CustomKernel) and ScaleShift (the C plug-in)."""
    example = opset + [helper.make_opsetid("com.example", 1)]
    two = numpy_helper.from_array(np.array(2, np.float32), "two")
    graph = helper.make_graph([
        helper.make_node("LeakyHardTanh", ["x"], ["t"], domain="com.example", name="leaky", alpha=0.5),
        helper.make_node("Mul", ["t", "two"], ["y"], name="double"),
    ], "custom_op", [value("x", [2, 3])], [value("y", [2, 3])], [two])
    save(helper.make_model(graph, opset_imports=example), "custom_op.onnx", check=False)
    for name, attributes in (("plugin_op.onnx", {"scale": 2.0, "shift": 1.0}), ("plugin_op_no_scale.onnx", {})):
        graph = helper.make_graph([
            helper.make_node("ScaleShift", ["x"], ["y"], domain="com.example", name="scale_shift", **attributes),
        ], "plugin_op", [value("x", [2, 3])], [value("y", [2, 3])])
        save(helper.make_model(graph, opset_imports=example), name, check=False)
    # plugin_op.onnx's output for add_one_input.pb: 2x + 1.
    with open(os.path.join(OUT, "plugin_op_output.pb"), "wb") as f:
        f.write(numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3) * 2 + 1, "y").SerializeToString())


def sequence_output(opset):
    """A model whose output is a sequence: Session.run with tensors must refuse it clearly."""
    graph = helper.make_graph([helper.make_node("SequenceConstruct", ["x", "x"], ["s"], name="pack")], "sequence_output",
                              [value("x", [2])], [helper.make_tensor_sequence_value_info("s", TensorProto.FLOAT, [2])])
    save(helper.make_model(graph, opset_imports=opset), "sequence_output.onnx")


def cli_inputs(opset):
    """Inputs for `infer run`: a model with symbolic dimensions, .npz files, and a folder of batch input sets."""
    # sum = a + b over [batch, 3]; count = n (int64 [batch]): for --dim, @random, .npz and agreement checks.
    graph = helper.make_graph([
        helper.make_node("Add", ["a", "b"], ["sum"], name="add"),
        helper.make_node("Identity", ["n"], ["count"], name="identity"),
    ], "symbolic", [value("a", ["batch", 3]), value("b", ["batch", 3]), value("n", ["batch"], TensorProto.INT64)],
        [value("sum", ["batch", 3]), value("count", ["batch"], TensorProto.INT64)])
    save(helper.make_model(graph, opset_imports=opset), "symbolic.onnx")
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.savez(os.path.join(OUT, "symbolic_inputs.npz"), a=a, b=np.full((2, 3), 0.5, np.float32), n=np.array([4, 5]))
    np.savez_compressed(os.path.join(OUT, "symbolic_inputs_compressed.npz"), a, np.ones((2, 3), np.float32),
                        np.array([7, 8]))
    # add_one's output for add_one_input.pb, off by 1e-5: a match at the default tolerance, not at rtol 1e-7.
    np.savez(os.path.join(OUT, "add_one_expected.npz"), y=np.arange(1, 7, dtype=np.float32).reshape(2, 3) + 1e-5)

    # Batch input sets for add_one: a folder, an .npz and a .pb pass; set_d lacks its input. Expected outputs:
    # set_c's is wrong on purpose.
    batch = os.path.join(OUT, "batch")
    for folder in ("inputs/set_a", "inputs/set_d", "expected/set_a", "expected/set_c"):
        os.makedirs(os.path.join(batch, folder), exist_ok=True)
    inputs = [np.full((2, 3), value, np.float32) for value in (1, 2, 3)]
    np.save(os.path.join(batch, "inputs/set_a/x.npy"), inputs[0])
    np.savez(os.path.join(batch, "inputs/set_b.npz"), x=inputs[1])
    with open(os.path.join(batch, "inputs/set_c.pb"), "wb") as f:
        f.write(numpy_helper.from_array(inputs[2], "x").SerializeToString())
    np.save(os.path.join(batch, "inputs/set_d/other.npy"), inputs[0])
    np.save(os.path.join(batch, "expected/set_a/y.npy"), inputs[0] + 1)
    np.savez(os.path.join(batch, "expected/set_b.npz"), y=inputs[1] + 1)
    with open(os.path.join(batch, "expected/set_c/output_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(inputs[2], "y").SerializeToString())


if __name__ == "__main__":
    main()
