#!/usr/bin/env python3
"""Times Onyx's normalisation kernels against each other, a streaming pass and ONNX Runtime.

For each shape (N, C, H, W) it builds single-op models — BatchNormalization (inference), LayerNormalization over
(C, H, W), InstanceNormalization, GroupNormalization-21 (32 groups, or C when C < 32) run fused and lowered
(`infer bench --lower GroupNormalization`) — and, for the founding note's NHWC example, the note's TensorFlow
spelling: Transpose → Reshape (N, G, C/G, H, W) → moments → normalise → Reshape → gamma/beta → Transpose, which
Onyx's fusion turns into one channels-last GroupNormalization. Onyx runs through `infer bench --json --stream`,
whose streaming pass (a copy of the input into a fresh buffer, on the same threads, timed after each run)
gives the bandwidth yardstick in the same process. ONNX Runtime runs the same model files in this process with
the same thread count (intra_op_num_threads; inputs and outputs bound once through IOBinding). Then a batch-size
sweep at fixed C, H, W, and the three spellings of Models/unet-gn. Every time is the median over --rounds rounds
of the median of --runs timed runs.

GB/s counts the traffic no normalisation can avoid: reading X once and writing Y once (2 · bytes of X); "% of
stream" is the streaming pass's time over the op's time on the same bytes. "× BN", "% of stream" and the UNet's
"× op21" are medians of per-round ratios, each of two times measured in the same round, because the shared
machine's speed drifts more between minutes than within a round.

On one thread it also runs tools/memory-floor.c (see its header) for each shape whose groups are read twice.

Writes docs/normalization-benchmark.md (tables, machine facts, the command) and docs/normalization-benchmark.svg.

Usage: tools/bench-normalization.py [--infer .build/release/infer] [--threads 1,2] [--rounds 3] [--runs 30]
       (needs onnx, numpy, onnxruntime and a C compiler; build infer first: swift build -c release --product infer)
"""
import argparse
import datetime
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SHAPES = [(1, 320, 64, 64), (2, 640, 32, 32), (32, 64, 7, 7), (8, 128, 56, 56)]
NOTE_SHAPE = (32, 64, 7, 7)  # the founding note's example: feature_map of shape (32, 7, 7, 64), NHWC
SWEEP = dict(batches=[1, 2, 4, 8, 16, 32], channels=128, height=32, width=32)
EPSILON = 1e-5
UNET_SPELLINGS = ["op21", "pytorch", "nhwc-moments"]  # Models/unet-gn, made by tools/gen-unet-gn.py
OPS = ["BatchNormalization", "LayerNormalization", "InstanceNormalization", "GN fused", "GN lowered", "GN note NHWC"]


def build_memory_floor(folder):
    """tools/memory-floor.c compiled into `folder` and run once, or None (with a note on stderr) where there is no
    C compiler or the CPU lacks AVX2 and FMA."""
    binary = os.path.join(folder, "memory-floor")
    try:
        subprocess.run(["cc", "-O2", "-mavx2", "-mfma", "-o", binary, os.path.join(ROOT, "tools", "memory-floor.c")],
                       check=True, capture_output=True, text=True)
        subprocess.run([binary, "1", "8", "1"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as error:
        print(f"no memory floor: {error}", file=sys.stderr)
        return None
    return binary


def memory_floor(binary, shape, rounds):
    """tools/memory-floor.c's ratios to its affine pass, on one thread, for the groups of `shape`: {"ratio": the
    two-read pass's, "one_after_the_other_ratio": …}; None for groups of at most 128 values, which Onyx reads from
    memory once (GroupNormalizationLayout.shortItems, which also asks one or two planes of 8 or more: true of
    every shape here)."""
    if group_values(shape) <= 128:
        return None
    result = subprocess.run([binary, str(shape[0] * groups_for(shape[1])), str(group_values(shape)), str(rounds)],
                            check=True, capture_output=True, text=True)
    return json.loads(result.stdout)


def groups_for(channels):
    return 32 if channels >= 32 else channels


def group_values(shape):
    """The values of one GroupNormalization group of `shape` (N, C, H, W)."""
    n, c, h, w = shape
    return c // groups_for(c) * h * w


def label(shape):
    return ",".join(map(str, shape))


def save(path, nodes, initializers, input_shape, output_shape, opset):
    graph = helper.make_graph(
        nodes, os.path.basename(path),
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, list(input_shape))],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, list(output_shape))],
        [numpy_helper.from_array(np.asarray(value), name) for name, value in initializers.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="bench-normalization")
    model.ir_version = 10
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)
    return path


def build_models(folder, shape, note=False):
    """Single-op models for `shape`, by row name. Parameters are seeded random initializers."""
    n, c, h, w = shape
    rng = np.random.default_rng(0)

    def vector(*dims, offset=0.0):
        return (offset + 0.2 * rng.standard_normal(dims)).astype(np.float32)

    tag = "x".join(map(str, shape))
    models = {}
    models["BatchNormalization"] = save(
        os.path.join(folder, f"bn-{tag}.onnx"),
        [helper.make_node("BatchNormalization", ["X", "scale", "bias", "mean", "var"], ["Y"], epsilon=EPSILON)],
        {"scale": vector(c, offset=1), "bias": vector(c), "mean": vector(c), "var": np.abs(vector(c, offset=1))},
        shape, shape, 15)
    models["LayerNormalization"] = save(
        os.path.join(folder, f"ln-{tag}.onnx"),
        [helper.make_node("LayerNormalization", ["X", "scale", "bias"], ["Y"], axis=1, epsilon=EPSILON)],
        {"scale": vector(c, h, w, offset=1), "bias": vector(c, h, w)}, shape, shape, 17)
    models["InstanceNormalization"] = save(
        os.path.join(folder, f"in-{tag}.onnx"),
        [helper.make_node("InstanceNormalization", ["X", "scale", "bias"], ["Y"], epsilon=EPSILON)],
        {"scale": vector(c, offset=1), "bias": vector(c)}, shape, shape, 21)
    groups = groups_for(c)
    models["GN fused"] = models["GN lowered"] = save(
        os.path.join(folder, f"gn-{tag}.onnx"),
        [helper.make_node("GroupNormalization", ["X", "scale", "bias"], ["Y"], num_groups=groups, epsilon=EPSILON)],
        {"scale": vector(c, offset=1), "bias": vector(c)}, shape, shape, 21)
    if note:
        models["GN note NHWC"] = note_model(os.path.join(folder, f"gn-note-{tag}.onnx"), shape, groups, vector)
    return models


def note_model(path, shape, groups, vector):
    """The founding note's group_norm(x: [B, H, W, C], G) in ONNX: NHWC in, NHWC out."""
    n, c, h, w = shape
    nodes = [
        helper.make_node("Transpose", ["X"], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("Reshape", ["nchw", "group_shape"], ["grouped"]),
        helper.make_node("ReduceMean", ["grouped"], ["mean"], axes=[2, 3, 4], keepdims=1),
        helper.make_node("Sub", ["grouped", "mean"], ["deviation"]),
        helper.make_node("Mul", ["deviation", "deviation"], ["square"]),
        helper.make_node("ReduceMean", ["square"], ["variance"], axes=[2, 3, 4], keepdims=1),
        helper.make_node("Add", ["variance", "epsilon"], ["variance_epsilon"]),
        helper.make_node("Sqrt", ["variance_epsilon"], ["std"]),
        helper.make_node("Div", ["deviation", "std"], ["normalized"]),
        helper.make_node("Reshape", ["normalized", "channel_shape"], ["ungrouped"]),
        helper.make_node("Mul", ["ungrouped", "gamma"], ["scaled"]),
        helper.make_node("Add", ["scaled", "beta"], ["shifted"]),
        helper.make_node("Transpose", ["shifted"], ["Y"], perm=[0, 2, 3, 1]),
    ]
    initializers = {
        "group_shape": np.array([n, groups, c // groups, h, w], np.int64),
        "channel_shape": np.array([n, c, h, w], np.int64),
        "epsilon": np.float32(EPSILON),
        "gamma": vector(1, c, 1, 1, offset=1),
        "beta": vector(1, c, 1, 1),
    }
    return save(path, nodes, initializers, (n, h, w, c), (n, h, w, c), 13)


def onyx_time(infer, model, threads, runs, extra=(), stream=True):
    """(median ms, streaming-pass median ms or None) from one `infer bench` process."""
    command = [infer, "bench", model, "--threads", str(threads), "--runs", str(runs), "--warmup", "3", "--json",
               *(["--stream"] if stream else []), *extra]
    result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    return result["median_ms"], result.get("stream_median_ms")


def ort_time(model, threads, runs, x):
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    binding = session.io_binding()
    binding.bind_cpu_input("X", x)
    binding.bind_output("Y", "cpu")
    for _ in range(3):
        session.run_with_iobinding(binding)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run_with_iobinding(binding)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def add_stream_row(results, threads_list):
    """The streaming pass's row: the median of its times measured alongside every op of the shape; its "× BN" is
    BatchNormalization's own paired stream ratio."""
    for t in threads_list:
        times = [entry["stream"] for (row, threads), entry in results.items() if threads == t and entry["stream"]]
        results[("stream", t)] = {"onyx": statistics.median(times), "ort": None, "stream": None, "of_stream": 1.0,
                                  "x_bn": results[("BatchNormalization", t)]["of_stream"]}


def measure(infer, models, input_shapes, threads_list, rounds, runs):
    """{(row, threads): {"onyx": ms, "ort": ms, "stream": ms, "x_bn": ratio, "of_stream": ratio}}, rows interleaved
    per round. Times are medians over rounds. The ratios pair measurements of the same round: "x_bn" is the median
    over rounds of the row's time over BatchNormalization's, "of_stream" that of the streaming pass's time over the
    row's (both from one process). On a shared machine whose speed drifts from minute to minute,
    paired ratios vary far less than ratios of medians."""
    samples = {}
    rng = np.random.default_rng(1)
    inputs = {row: rng.uniform(-1, 1, input_shapes[row]).astype(np.float32) for row in models}
    for _ in range(rounds):
        for threads in threads_list:
            for row, model in models.items():
                extra = ["--lower", "GroupNormalization"] if row == "GN lowered" else []
                entry = samples.setdefault((row, threads), {"onyx": [], "stream": [], "ort": []})
                try:
                    onyx, stream = onyx_time(infer, model, threads, runs, extra)
                except subprocess.CalledProcessError as error:  # e.g. an infer without the lowering pass
                    print(f"{row}: infer failed: {error.stderr.strip()}", file=sys.stderr)
                    onyx, stream = None, None
                entry["onyx"].append(onyx)
                entry["stream"].append(stream)
                if row != "GN lowered":
                    entry["ort"].append(ort_time(model, threads, runs, inputs[row]))

    def median(values):
        values = [value for value in values if value is not None]
        return statistics.median(values) if values else None

    results = {}
    for (row, threads), entry in samples.items():
        bn = samples[("BatchNormalization", threads)]["onyx"]
        results[(row, threads)] = {
            "onyx": median(entry["onyx"]), "stream": median(entry["stream"]), "ort": median(entry["ort"]),
            "x_bn": median([t / b if t and b else None for t, b in zip(entry["onyx"], bn)]),
            "of_stream": median([s / t if t and s else None for t, s in zip(entry["onyx"], entry["stream"])]),
        }
    return results


def unet_times(infer, threads_list, rounds, runs):
    """{(spelling, threads): {"ms": median ms, "x_op21": median of per-round ratios to op21}} of the three spellings
    of Models/unet-gn, on the same seeded random input, spellings interleaved within each round."""
    samples = {}
    for _ in range(rounds):
        for threads in threads_list:
            for spelling in UNET_SPELLINGS:
                model = os.path.join(ROOT, "Models", "unet-gn", spelling, "model.onnx")
                samples.setdefault((spelling, threads), []).append(
                    onyx_time(infer, model, threads, runs, stream=False)[0])
    return {(spelling, threads): {"ms": statistics.median(times), "x_op21": statistics.median(
        [time / op21 for time, op21 in zip(times, samples[("op21", threads)])])}
        for (spelling, threads), times in samples.items()}


def unet_table(unet, histograms, threads_list):
    lines = ["| spelling | fused graph (`infer inspect --optimized`) |" + "".join(
        f" {t}T ms | × op21 {t}T (≤ 1.1) |" for t in threads_list),
        "|---|---|" + "---:|---:|" * len(threads_list)]
    for spelling in UNET_SPELLINGS:
        cells = f"| {spelling} | {histograms[spelling]} |"
        for t in threads_list:
            ratio = unet[(spelling, t)]["x_op21"]
            cells += f" {fmt(unet[(spelling, t)]['ms'])} | {ratio:.2f} {'✔' if ratio <= 1.1 else '✘'} |"
        lines.append(cells)
    return lines


def optimized_histogram(infer, model):
    """The `OpType count` lines `infer inspect --optimized` prints for `model`."""
    output = subprocess.run([infer, "inspect", model, "--optimized"], check=True, capture_output=True, text=True).stdout
    lines = [line for line in output.splitlines() if line and line.split()[-1].isdigit() and ":" not in line]
    return ", ".join(lines)


def data_caches():
    """{level: size as sysfs spells it, e.g. "512K"} of the first CPU's data and unified caches."""
    caches = {}
    base = "/sys/devices/system/cpu/cpu0/cache"
    for index in sorted(os.listdir(base)) if os.path.isdir(base) else []:
        try:
            with open(f"{base}/{index}/level") as f:
                level = f.read().strip()
            with open(f"{base}/{index}/type") as f:
                kind = f.read().strip()
            with open(f"{base}/{index}/size") as f:
                size = f.read().strip()
        except OSError:
            continue
        if kind != "Instruction":
            caches[level] = size
    return caches


def machine_facts(threads_list):
    cpu, flags = "unknown", set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name") and cpu == "unknown":
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    if subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                      text=True).stdout.strip():
        commit += " with local changes"
    return {
        "cpu": cpu, "AVX2 and FMA": "yes" if {"avx2", "fma"} <= flags else "no", "logical CPUs": os.cpu_count(),
        "caches (per core / shared)": ", ".join(f"L{level} {size}" for level, size in data_caches().items()),
        "threads measured": ", ".join(map(str, threads_list)), "OS": platform.platform(),
        "ONNX Runtime": onnxruntime.__version__, "Onyx commit": commit or "unknown",
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
    }


def gbps(shape, ms):
    return 2 * int(np.prod(shape)) * 4 / (ms * 1e6) if ms else None


def fmt(value, digits=3):
    return "—" if value is None else f"{value:.{digits}f}"


def shape_table(shape, results, threads_list, is_note):
    n, c, h, w = shape
    lines = [f"### (N, C, H, W) = ({n}, {c}, {h}, {w}){' — the founding note’s example' if is_note else ''}", ""]
    lines.append(f"X holds {n * c * h * w:,} floats ({n * c * h * w * 4 / 2**20:.1f} MiB); GroupNormalization uses "
                 f"{groups_for(c)} groups.")
    lines.append("")
    header = "| op |"
    rule = "|---|"
    for t in threads_list:
        header += f" Onyx {t}T ms | ORT {t}T ms | ORT / Onyx {t}T | GB/s {t}T | % of stream {t}T | × BN {t}T |"
        rule += "---:|---:|---:|---:|---:|---:|"
    lines += [header, rule]
    rows = [row for row in OPS if (row, threads_list[0]) in results]
    for row in rows + ["stream"]:
        cells = f"| {'streaming pass (copy)' if row == 'stream' else row} |"
        for t in threads_list:
            entry = results[(row, t)]
            onyx, ort = entry["onyx"], entry["ort"]
            if onyx is None:
                cells += " pending | — | — | — | — | — |"
                continue
            speedup = ort / onyx if ort else None
            cells += (f" {fmt(onyx)} | {fmt(ort)} | {fmt(speedup, 2) + '×' if speedup else '—'} | "
                      f"{fmt(gbps(shape, onyx), 1)} | {fmt(100 * entry['of_stream'], 0)}% | "
                      f"{fmt(entry['x_bn'], 2)} |")
        lines.append(cells)
    return lines


def gn_rows(shape_results, threads_list):
    """(shape, row, threads, entry) of every fused GroupNormalization row measured in this run."""
    for shape, results in shape_results:
        for row in ("GN fused", "GN note NHWC"):
            for t in threads_list:
                entry = results.get((row, t))
                if entry and entry["onyx"] is not None and entry["x_bn"] is not None:
                    yield shape, row, t, entry


def target_table(shape_results, threads_list):
    lines = ["| shape | GN row | threads | × BN (≤ 1.2) | % of stream (≥ 70%) | ORT / Onyx (≥ 2) |",
             "|---|---|---:|---:|---:|---:|"]
    for shape, row, t, entry in gn_rows(shape_results, threads_list):
        ratio, stream, speedup = entry["x_bn"], 100 * entry["of_stream"], entry["ort"] / entry["onyx"]
        lines.append(
            f"| {label(shape)} | {row} | {t} | {ratio:.2f} {'✔' if ratio <= 1.2 else '✘'} | "
            f"{stream:.0f}% {'✔' if stream >= 70 else '✘'} | {speedup:.1f}× {'✔' if speedup >= 2 else '✘'} |")
    return lines


def missed_targets(shape_results, threads_list):
    """One sentence naming the rows of this run above 1.2× BatchNormalization, or none, among those measured."""
    measured = list(gn_rows(shape_results, threads_list))
    missed = [f"{label(shape)} {row} at {t}T ({entry['x_bn']:.2f}×)" for shape, row, t, entry in measured
              if entry["x_bn"] > 1.2]
    return (f"In this run every GroupNormalization row measured ({len(measured)}) met the 1.2× target." if not missed
            else "In this run these rows missed the 1.2× target: " + "; ".join(missed) + ".")


def sweep_table(sweep, threads_list):
    lines = ["| N |"]
    rule = "|---:|"
    for t in threads_list:
        lines[0] += f" GN {t}T ms | BN {t}T ms | stream {t}T ms | ORT GN {t}T ms | GN × BN {t}T | GN % stream {t}T | ORT / GN {t}T |"
        rule += "---:|---:|---:|---:|---:|---:|---:|"
    lines.append(rule)
    for n in SWEEP["batches"]:
        cells = f"| {n} |"
        for t in threads_list:
            gn, bn = sweep[(n, "GN fused", t)], sweep[(n, "BatchNormalization", t)]
            cells += (f" {fmt(gn['onyx'])} | {fmt(bn['onyx'])} | {fmt(gn['stream'])} | {fmt(gn['ort'])} | "
                      f"{fmt(gn['x_bn'], 2)} | {fmt(100 * gn['of_stream'], 0)}% | "
                      f"{fmt(gn['ort'] / gn['onyx'], 2)}× |")
        lines.append(cells)
    return lines


def svg_plot(shape_results, sweep, threads_list, path):
    """Left: GB/s per op and shape (1 thread). Right: GB/s over the batch sweep, solid 1 thread, dashed 2."""
    width, height = 1100, 430
    colors = {"streaming pass (copy)": "#999999", "BatchNormalization": "#1f77b4", "LayerNormalization": "#9467bd",
              "InstanceNormalization": "#8c564b", "GN fused": "#d62728", "GN lowered": "#ff9896",
              "GN note NHWC": "#e377c2", "ORT GroupNormalization": "#2ca02c"}
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
           '<rect width="100%" height="100%" fill="white"/>']
    t = threads_list[0]

    def nice_top(value):
        """The smallest round number (1, 1.5, 2, 3, 4, 5, 6 or 8 × 10^k) that is at least `value`."""
        power = 10 ** math.floor(math.log10(value))
        return next(step * power for step in (1, 1.5, 2, 3, 4, 5, 6, 8, 10) if step * power >= value)

    def axis(x0, y0, w, h, top, label):
        out.append(f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y0 - h}" stroke="black"/>')
        out.append(f'<line x1="{x0}" y1="{y0}" x2="{x0 + w}" y2="{y0}" stroke="black"/>')
        for i in range(6):
            value = top * i / 5
            y = y0 - h * i / 5
            out.append(f'<line x1="{x0 - 3}" y1="{y:.1f}" x2="{x0 + w}" y2="{y:.1f}" stroke="#eeeeee"/>')
            out.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end">{value:g}</text>')
        out.append(f'<text x="{x0 - 40}" y="{y0 - h / 2}" transform="rotate(-90 {x0 - 40} {y0 - h / 2})" '
                   f'text-anchor="middle">{label}</text>')

    # Left panel: bars.
    x0, y0, w, h = 70, 330, 520, 270
    series = ["streaming pass (copy)", "BatchNormalization", "LayerNormalization", "InstanceNormalization",
              "GN fused", "GN lowered", "GN note NHWC", "ORT GroupNormalization"]
    values = {}
    for shape, results in shape_results:
        for name in series:
            if name == "streaming pass (copy)":
                ms = results[("stream", t)]["onyx"]
            elif name == "ORT GroupNormalization":
                ms = results[("GN fused", t)]["ort"]
            else:
                ms = results.get((name, t), {}).get("onyx")
            values[(shape, name)] = gbps(shape, ms)
    top = nice_top(max(v for v in values.values() if v))
    axis(x0, y0, w, h, top, "GB/s (read X + write Y)")
    out.append(f'<text x="{x0 + w / 2}" y="24" text-anchor="middle" font-size="13">Normalisations per shape, {t} thread</text>')
    group_width = w / len(shape_results)
    bar = (group_width - 16) / len(series)
    for g, (shape, _) in enumerate(shape_results):
        gx = x0 + g * group_width + 8
        for i, name in enumerate(series):
            value = values[(shape, name)]
            if not value:
                continue
            bh = h * value / top
            out.append(f'<rect x="{gx + i * bar:.1f}" y="{y0 - bh:.1f}" width="{bar - 1:.1f}" height="{bh:.1f}" '
                       f'fill="{colors[name]}"><title>{name}: {value:.1f} GB/s</title></rect>')
        out.append(f'<text x="{gx + (group_width - 16) / 2:.1f}" y="{y0 + 16}" text-anchor="middle">'
                   f'{",".join(map(str, shape))}</text>')
    for i, name in enumerate(series):
        lx, ly = x0 + (i % 4) * 135, y0 + 40 + (i // 4) * 16
        out.append(f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" fill="{colors[name]}"/>')
        out.append(f'<text x="{lx + 14}" y="{ly}">{name}</text>')

    # Right panel: batch sweep lines.
    x0, y0, w, h = 700, 330, 360, 270
    lines = {"GN fused": ("GN fused", "onyx"), "BatchNormalization": ("BatchNormalization", "onyx"),
             "ORT GroupNormalization": ("GN fused", "ort"), "streaming pass (copy)": ("GN fused", "stream")}
    c, hh, ww = SWEEP["channels"], SWEEP["height"], SWEEP["width"]
    points = {}
    for name, (row, kind) in lines.items():
        for th in threads_list:
            points[(name, th)] = [(n, gbps((n, c, hh, ww), sweep[(n, row, th)][kind])) for n in SWEEP["batches"]]
    top = nice_top(max(v for series_points in points.values() for _, v in series_points if v))
    axis(x0, y0, w, h, top, "GB/s")
    out.append(f'<text x="{x0 + w / 2}" y="24" text-anchor="middle" font-size="13">Batch sweep, C={c}, H=W={hh} '
               f'(solid {threads_list[0]}T{", dashed " + str(threads_list[1]) + "T" if len(threads_list) > 1 else ""})</text>')
    batches = SWEEP["batches"]

    def px(n):
        return x0 + w * batches.index(n) / (len(batches) - 1)

    for n in batches:
        out.append(f'<text x="{px(n):.1f}" y="{y0 + 16}" text-anchor="middle">{n}</text>')
    out.append(f'<text x="{x0 + w / 2}" y="{y0 + 32}" text-anchor="middle">batch size N</text>')
    for (name, th), series_points in points.items():
        path_points = " ".join(f"{px(n):.1f},{y0 - h * v / top:.1f}" for n, v in series_points if v)
        dash = '' if th == threads_list[0] else ' stroke-dasharray="5,4"'
        out.append(f'<polyline points="{path_points}" fill="none" stroke="{colors[name]}" stroke-width="2"{dash}>'
                   f'<title>{name}, {th} thread(s)</title></polyline>')
    for i, name in enumerate(lines):
        lx, ly = x0 + (i % 2) * 180, y0 + 56 + (i // 2) * 16
        out.append(f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" fill="{colors[name]}"/>')
        out.append(f'<text x="{lx + 14}" y="{ly}">{name}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--infer", default=os.path.join(ROOT, ".build", "release", "infer"))
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--out", default=os.path.join(ROOT, "docs"))
    arguments = parser.parse_args()
    threads_list = [int(t) for t in arguments.threads.split(",")]
    infer = os.path.abspath(arguments.infer)
    command = "tools/bench-normalization.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        shape_results = []
        histograms = {}
        floor_binary = build_memory_floor(folder) if 1 in threads_list else None
        floors = {}
        for shape in SHAPES:
            models = build_models(folder, shape, note=shape == NOTE_SHAPE)
            input_shapes = {row: shape for row in models}
            if "GN note NHWC" in models:
                n, c, h, w = shape
                input_shapes["GN note NHWC"] = (n, h, w, c)
                histograms["note"] = optimized_histogram(infer, models["GN note NHWC"])
            print(f"shape {shape}", file=sys.stderr)
            results = measure(infer, models, input_shapes, threads_list, arguments.rounds, arguments.runs)
            add_stream_row(results, threads_list)
            shape_results.append((shape, results))
            floor = memory_floor(floor_binary, shape, 10 * arguments.rounds + 1) if floor_binary else None
            if floor:
                floors[shape] = floor
        sweep = {}
        c, h, w = SWEEP["channels"], SWEEP["height"], SWEEP["width"]
        for n in SWEEP["batches"]:
            print(f"sweep N={n}", file=sys.stderr)
            models = build_models(folder, (n, c, h, w))
            chosen = {row: models[row] for row in ("BatchNormalization", "GN fused")}
            results = measure(infer, chosen, {row: (n, c, h, w) for row in chosen}, threads_list, arguments.rounds,
                              arguments.runs)
            for (row, t), entry in results.items():
                sweep[(n, row, t)] = entry
    print("UNet spellings", file=sys.stderr)
    unet = unet_times(infer, threads_list, arguments.rounds, arguments.runs)
    for spelling in UNET_SPELLINGS:
        histograms[spelling] = optimized_histogram(
            infer, os.path.join(ROOT, "Models", "unet-gn", spelling, "model.onnx"))
    load_after = os.getloadavg()
    facts = machine_facts(threads_list)
    facts["load average (1 min) before / after"] = f"{load_before[0]:.2f} / {load_after[0]:.2f}"
    os.makedirs(arguments.out, exist_ok=True)
    write_report(arguments.out, command, facts, shape_results, floors, sweep, unet, threads_list, histograms)
    svg_plot(shape_results, sweep, threads_list, os.path.join(arguments.out, "normalization-benchmark.svg"))


def floor_table(shape_results, floors):
    """GN fused at one thread beside the memory floor for its group size."""
    lines = ["| shape | values a group | two-read floor × affine (1T) | one after the other × affine (1T) | "
             "GN fused × BN (1T) |", "|---|---:|---:|---:|---:|"]
    for shape, results in shape_results:
        entry = results.get(("GN fused", 1))
        if shape in floors and entry and entry["x_bn"]:
            floor = floors[shape]
            lines.append(f"| {label(shape)} | {group_values(shape):,} | {floor['ratio']:.2f} | "
                         f"{floor['one_after_the_other_ratio']:.2f} | {entry['x_bn']:.2f} |")
    return lines


def write_report(folder, command, facts, shape_results, floors, sweep, unet, threads_list, histograms):
    lines = ["# Normalisation benchmark", "",
             "Made by `" + command + "` (see the script's docstring for the method). Times are milliseconds per "
             "run of a one-op model: the median over rounds of the median of timed runs. ONNX Runtime (ORT) runs the "
             "same model files with the same thread count.", "",
             "| machine | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in facts.items()]
    lines += ["", "Rows: BatchNormalization in inference mode; LayerNormalization over (C, H, W) with scale and bias "
              "of shape (C, H, W); InstanceNormalization; GroupNormalization-21 fused (Onyx's kernel) and lowered "
              "(`--lower GroupNormalization`: the primitive ops); the streaming pass is `infer bench --stream`'s "
              "copy of X into a fresh buffer, timed in the same process after every run.", ""]
    if histograms.get("note"):
        lines += [f"The founding note's NHWC spelling after Onyx's passes: {histograms['note']}.", ""]
    lines += ["## Targets", "",
              "Issue 3 asks fused GroupNormalization for at most 1.2× BatchNormalization's time, at least 70% of the "
              "streaming pass's bandwidth, and at least 2× ONNX Runtime's speed (✔ met, ✘ missed).", ""]
    lines += target_table(shape_results, threads_list) + [""]
    lines += ["Where the time goes. GroupNormalization needs a group's statistics before it can write any of it, so "
              "it reads each group twice — once for the sums, once to apply a·x + b — where BatchNormalization, "
              "whose statistics are given, reads once. Onyx interleaves the two reads (`runPipelined` in "
              "Sources/OnyxKernels/NeuralNet/GroupNormalizationPass.swift): while it normalises one batch of groups it "
              "sums the next, so that reading X and writing Y overlap as they do in BatchNormalization, and the "
              "second read of X comes from L2. On CPUs with AVX2 and FMA (see the machine facts above), the loops "
              "are C functions compiled for those instructions and chosen at run time (Sources/COnyxSIMD). The "
              "Swift loops, compiled for baseline x86-64 (SSE2: four-lane vectors, no FMA), are bound by "
              "instruction throughput, so without AVX2 Onyx interleaves only inputs of 6 MiB and more, and "
              "otherwise runs the passes one after the other (about BatchNormalization plus one read of X).", "",
              missed_targets(shape_results, threads_list), ""]
    if floors:
        largest = max(floors, key=group_values)
        largest_group = group_values(largest)
        lines += ["What two reads cost on one core. For groups of more than 128 values, `tools/memory-floor.c` "
                  "times on one thread a bare pass with the traffic of Onyx's interleaved loop (each group read "
                  "again and written while the next group is read) against a bare affine pass (one read, one write, "
                  "BatchNormalization's traffic), both without the normalisation's arithmetic. Their ratio is the "
                  "least × BN that Onyx's loop can reach on this machine; a ratio above 1.2 puts the target out of "
                  "its reach at one thread (the ops' fixed costs, allocating Y and dispatching, which both ops pay, "
                  "narrow the measured ratio a little). The second read finds a group in L2 only while the group "
                  "read, the group read again and the group written fit there together: "
                  f"3 × {largest_group * 4 // 1024} KB for ({', '.join(map(str, largest))}), against an L2 of "
                  f"{data_caches().get('2', 'unknown size')} here. The same reads one after the "
                  "other (each group read, then read again and written) are timed too. A kernel that meets the "
                  "target where both exceed 1.2 would have to read X once, which for groups larger than L1 means "
                  "taking the statistics where X is produced, in the op before.", ""]
        lines += floor_table(shape_results, floors) + [""]
    lines += [f"In ({', '.join(map(str, NOTE_SHAPE))}) a group holds {group_values(NOTE_SHAPE)} values. "
              "Channels-first, groups this small (at most 128 values in "
              "one or two planes) go eight at a time: while one batch of eight is normalised from L1, the next is "
              "read and summed, and the eight groups' means and 1/σ are then taken side by side in one vector, so "
              "the square roots and divisions overlap the next batch's loads. X comes from memory once. "
              "Channels-last (the note's NHWC spelling), a group's values are strided across the rows, so a sample "
              "of up to 16 KB is summed row by row and then normalised while L1 still holds it: X comes from memory "
              "once and is read a second time from L1.", ""]
    lines += ["## Per shape", ""]
    for shape, results in shape_results:
        lines += shape_table(shape, results, threads_list, shape == NOTE_SHAPE) + [""]
    c, h, w = SWEEP["channels"], SWEEP["height"], SWEEP["width"]
    lines += ["## Batch-size sweep", "", f"GroupNormalization-21 fused ({groups_for(c)} groups) and "
              f"BatchNormalization on (N, {c}, {h}, {w}).", ""]
    lines += sweep_table(sweep, threads_list) + [""]
    lines += ["## Three spellings of one UNet", "",
              "Models/unet-gn holds one small UNet (Conv → GroupNormalization → SiLU blocks) spelled three ways: the "
              "opset-21 operator, PyTorch's InstanceNormalization export and the founding note's NHWC moments. Times "
              "are `infer bench` medians on the same seeded random input; the issue asks the decomposed spellings to "
              "run within 1.1× of op21 once fused.", ""]
    lines += unet_table(unet, histograms, threads_list) + [""]
    lines += ["![GB/s per op and shape; batch sweep](normalization-benchmark.svg)", ""]
    with open(os.path.join(folder, "normalization-benchmark.md"), "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
