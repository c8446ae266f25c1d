import OnyxCore

/// Resize (opsets 10–19): nearest, linear and cubic interpolation over any subset of axes, one axis at a time
/// (the filters are separable), in Double as onnx/reference/ops/op_resize.py computes. Output is rounded and
/// saturated to the input type.
struct ResizeKernel: Kernel {
    private enum Mode: String {
        case nearest, linear, cubic
    }

    private enum CoordinateMode: String {
        case halfPixel = "half_pixel"
        case halfPixelSymmetric = "half_pixel_symmetric"
        case pytorchHalfPixel = "pytorch_half_pixel"
        case alignCorners = "align_corners"
        case asymmetric
        case tfHalfPixelForNN = "tf_half_pixel_for_nn"
        case tfCropAndResize = "tf_crop_and_resize"
    }

    private enum NearestMode: String {
        case roundPreferFloor = "round_prefer_floor"
        case roundPreferCeil = "round_prefer_ceil"
        case floor, ceil
        /// Resize-10 has no nearest_mode: truncate when upsampling, round up when downsampling (ONNX Runtime's rule).
        case opset10
    }

    private enum AspectRatioPolicy: String {
        case stretch
        case notLarger = "not_larger"
        case notSmaller = "not_smaller"
    }

    private let mode: Mode
    private let coordinateMode: CoordinateMode
    private let nearestMode: NearestMode
    private let cubicCoefficient: Double
    private let excludeOutside: Bool
    private let extrapolationValue: Double
    private let antialias: Bool
    private let axes: [Int]?
    private let aspectRatioPolicy: AspectRatioPolicy
    /// Resize-10 takes (X, scales); later versions take (X, roi, scales, sizes).
    private let takesScalesOnly: Bool

    init(_ node: KernelNode) throws {
        func parse<E: RawRepresentable<String>>(_ name: String, default value: String) throws -> E {
            let text = try node.string(name, default: value)
            guard let parsed = E(rawValue: text) else {
                throw KernelError.invalidAttribute(name, "unknown value '\(text)'")
            }
            return parsed
        }
        mode = try parse("mode", default: "nearest")
        takesScalesOnly = node.opsetVersion < 11
        if takesScalesOnly {
            coordinateMode = .asymmetric
            nearestMode = .opset10
        } else {
            coordinateMode = try parse("coordinate_transformation_mode", default: "half_pixel")
            nearestMode = try parse("nearest_mode", default: "round_prefer_floor")
        }
        cubicCoefficient = Double(try node.float("cubic_coeff_a", default: -0.75))
        excludeOutside = try node.int("exclude_outside", default: 0) != 0
        extrapolationValue = Double(try node.float("extrapolation_value", default: 0))
        antialias = try node.int("antialias", default: 0) != 0
        axes = try node.ints("axes")
        aspectRatioPolicy = try parse("keep_aspect_ratio_policy", default: "stretch")
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let input = try inputs.tensor(0)
        let rank = input.rank
        let axes = try resolvedAxes(rank: rank)
        let roi = try takesScalesOnly ? nil : inputs.optionalTensor(1).flatMap { $0.count == 0 ? nil : $0 }
        let scalesTensor = try inputs.optionalTensor(takesScalesOnly ? 1 : 2).flatMap { $0.count == 0 ? nil : $0 }
        let sizesTensor = try takesScalesOnly ? nil : inputs.optionalTensor(3).flatMap { $0.count == 0 ? nil : $0 }

        let (scales, outputShape) = try targetGeometry(
            input.shape, axes: axes, scales: scalesTensor, sizes: sizesTensor)
        let regions = try regionsOfInterest(roi, rank: rank, axes: axes)
        guard var values = input.doubleValues() else {
            throw KernelError.invalidInput("Resize needs a numeric input, got \(input.dataType)")
        }
        var shape = input.shape
        for axis in axes {
            let region = regions[axis]
            // An axis left exactly as it is needs no pass (the reference skips it too).
            if (scales[axis] - 1).magnitude <= 1e-9 * Swift.max(1, scales[axis].magnitude),
                outputShape[axis] == shape[axis], region.start.magnitude <= 1e-9, (region.end - 1).magnitude <= 1e-9
            {
                continue
            }
            let filter = axisFilter(
                inputWidth: shape[axis], outputWidth: outputShape[axis], scale: scales[axis], region: region)
            values = filter.apply(to: values, shape: shape, axis: axis)
            shape[axis] = outputShape[axis]
        }
        return [.tensor(try input.dataType.visitNumeric(SaturatingTensor(values: values, shape: shape)))]
    }

    private func resolvedAxes(rank: Int) throws -> [Int] {
        guard let axes else { return Array(0..<rank) }
        let resolved = try axes.map { axis in
            guard (-rank..<rank).contains(axis) else {
                throw KernelError.invalidAttribute("axes", "axis \(axis) is out of range for rank \(rank)")
            }
            return axis < 0 ? axis + rank : axis
        }
        guard Set(resolved).count == resolved.count else {
            throw KernelError.invalidAttribute("axes", "axes \(axes) repeat an axis")
        }
        return resolved
    }

    /// The scale of every axis and the output shape, from `scales` or from `sizes` and the aspect-ratio policy.
    private func targetGeometry(
        _ shape: [Int], axes: [Int], scales: Tensor?, sizes: Tensor?
    ) throws -> ([Double], [Int]) {
        var axisScales = [Double](repeating: 1, count: shape.count)
        var outputShape = shape
        switch (scales, sizes) {
        case (let scales?, nil):
            guard let values = scales.doubleValues(), values.count == axes.count else {
                throw KernelError.invalidInput(
                    "scales must hold \(axes.count) floats, got \(scales.dataType) \(scales.shape)")
            }
            for (axis, scale) in zip(axes, values) {
                guard scale > 0, scale.isFinite else {
                    throw KernelError.invalidInput("scales must be positive, got \(values)")
                }
                axisScales[axis] = scale
                let size = (scale * Double(shape[axis])).rounded(.down)
                guard size <= Double(1 << 40) else {
                    throw KernelError.invalidInput("scale \(scale) gives a huge output")
                }
                outputShape[axis] = Int(size)
            }
        case (nil, let sizes?):
            guard let values = sizes.intValues(), values.count == axes.count else {
                throw KernelError.invalidInput(
                    "sizes must hold \(axes.count) integers, got \(sizes.dataType) \(sizes.shape)")
            }
            guard values.allSatisfy({ $0 >= 0 }) else {
                throw KernelError.invalidInput("sizes must be nonnegative, got \(values)")
            }
            for (axis, size) in zip(axes, values) {
                axisScales[axis] = Double(size) / Double(shape[axis])
                outputShape[axis] = size
            }
            if aspectRatioPolicy != .stretch {
                let candidates = axes.map { axisScales[$0] }
                let scale = (aspectRatioPolicy == .notLarger ? candidates.min() : candidates.max()) ?? 1
                for axis in axes {
                    let size = scale * Double(shape[axis]) + 0.5
                    guard size <= Double(1 << 40) else {
                        throw KernelError.invalidInput("sizes \(values) give a huge output")
                    }
                    axisScales[axis] = scale
                    outputShape[axis] = Int(size)
                }
            }
        case (nil, nil):
            throw KernelError.invalidInput("Resize needs either scales or sizes")
        case (_?, _?):
            throw KernelError.invalidInput("Resize takes scales or sizes, not both")
        }
        guard checkedElementCount(outputShape) != nil else {
            throw KernelError.invalidInput("output shape \(outputShape) is too large")
        }
        for axis in axes where shape[axis] == 0 && outputShape[axis] > 0 {
            throw KernelError.invalidInput(
                "cannot resize an empty axis \(axis) of shape \(shape) to \(outputShape[axis])")
        }
        return (axisScales, outputShape)
    }

    /// Each axis's (start, end) region of interest in normalised coordinates (used by tf_crop_and_resize).
    private func regionsOfInterest(_ roi: Tensor?, rank: Int, axes: [Int]) throws -> [(start: Double, end: Double)] {
        var regions = [(start: Double, end: Double)](repeating: (0, 1), count: rank)
        guard let roi else {
            if coordinateMode == .tfCropAndResize {
                throw KernelError.invalidInput("tf_crop_and_resize needs the roi input")
            }
            return regions
        }
        guard let values = roi.doubleValues(), values.count == 2 * axes.count else {
            throw KernelError.invalidInput("roi must hold \(2 * axes.count) values, got \(roi.dataType) \(roi.shape)")
        }
        for (index, axis) in axes.enumerated() { regions[axis] = (values[index], values[axes.count + index]) }
        return regions
    }

    /// The source taps and weights of every output position along one axis.
    private func axisFilter(
        inputWidth: Int, outputWidth: Int, scale: Double, region: (start: Double, end: Double)
    )
        -> AxisFilter
    {
        let fractionalWidth = scale * Double(inputWidth)
        let taps = tapCount(scale: scale)
        var indices = [Int](repeating: 0, count: outputWidth * taps)
        var weights = [Double](repeating: 0, count: outputWidth * taps)
        var extrapolated = [Bool](repeating: false, count: outputWidth)
        let lastIndex = Double(inputWidth - 1)
        for x in 0..<outputWidth {
            let position = Double(x)
            let source: Double
            switch coordinateMode {
            case .alignCorners:
                source = fractionalWidth == 1 ? 0 : position * lastIndex / (fractionalWidth - 1)
            case .asymmetric:
                source = position / scale
            case .tfHalfPixelForNN:
                source = (position + 0.5) / scale
            case .tfCropAndResize:
                let span = region.end - region.start
                source =
                    (fractionalWidth == 1 ? span * lastIndex / 2 : position * span * lastIndex / (fractionalWidth - 1))
                    + region.start * lastIndex
                extrapolated[x] = source < 0 || source > lastIndex
            case .pytorchHalfPixel:
                source = fractionalWidth == 1 ? -0.5 : (position + 0.5) / scale - 0.5
            case .halfPixel:
                source = (position + 0.5) / scale - 0.5
            case .halfPixelSymmetric:
                let offset = Double(inputWidth) / 2 * (1 - Double(outputWidth) / fractionalWidth)
                source = offset + (position + 0.5) / scale - 0.5
            }
            // The ratio lies in (0, 1]: an integral source prefers the tap on its left.
            let floorSource = source.rounded(.down)
            let ratio = source == floorSource ? 1 : source - floorSource
            var coefficients = self.coefficients(ratio: ratio, scale: scale, taps: taps)

            // The taps nearest the source, ties going to the smaller index, as the reference picks them.
            let padding = (taps + 1) / 2
            let padded = source + Double(padding)
            let paddedFloor = padded.rounded(.down)
            let fraction = padded - paddedFloor
            let offset: Int
            if taps % 2 == 0 {
                offset = fraction == 0 ? -(taps / 2) : -(taps / 2) + 1
            } else {
                offset = fraction <= 0.5 ? -((taps - 1) / 2) : -((taps - 1) / 2) + 1
            }
            let start = clampedIndex(paddedFloor) + offset - padding
            if excludeOutside {
                for k in 0..<taps where start + k < 0 || start + k >= inputWidth { coefficients[k] = 0 }
                let total = coefficients.reduce(0, +)
                if total != 0 { coefficients = coefficients.map { $0 / total } }
            }
            for k in 0..<taps {
                indices[x * taps + k] = Swift.min(Swift.max(start + k, 0), inputWidth - 1)
                weights[x * taps + k] = coefficients[k]
            }
        }
        return AxisFilter(
            taps: taps, indices: indices, weights: weights, extrapolated: extrapolated,
            extrapolationValue: extrapolationValue)
    }

    private func tapCount(scale: Double) -> Int {
        switch mode {
        case .nearest: return 2
        case .linear:
            guard antialias else { return 2 }
            return 2 - 2 * antialiasStart(scale: scale, support: 1)
        case .cubic:
            guard antialias else { return 4 }
            return 2 - 2 * antialiasStart(scale: scale, support: 2)
        }
    }

    /// First tap offset of an antialiasing filter with the given support, stretched when downscaling.
    private func antialiasStart(scale: Double, support: Double) -> Int {
        clampedIndex((-support / Swift.min(scale, 1)).rounded(.down)) + 1
    }

    private func coefficients(ratio: Double, scale: Double, taps: Int) -> [Double] {
        switch mode {
        case .nearest:
            if ratio == 1 { return [0, 1] }
            let takesUpper: Bool
            switch nearestMode {
            case .roundPreferFloor: takesUpper = ratio > 0.5
            case .roundPreferCeil: takesUpper = ratio >= 0.5
            case .floor: takesUpper = false
            case .ceil: takesUpper = true
            case .opset10: takesUpper = scale < 1
            }
            return takesUpper ? [0, 1] : [1, 0]
        case .linear:
            guard antialias else { return [1 - ratio, ratio] }
            let filterScale = Swift.min(scale, 1)
            let start = antialiasStart(scale: scale, support: 1)
            let raw = (0..<taps).map { k in
                Swift.min(Swift.max(1 - (Double(start + k) - ratio).magnitude * filterScale, 0), 1)
            }
            return normalised(raw)
        case .cubic:
            let a = cubicCoefficient
            guard antialias else { return cubicConvolutionWeights(ratio, a: a) }
            let filterScale = Swift.min(scale, 1)
            let start = antialiasStart(scale: scale, support: 2)
            let raw = (0..<taps).map { k -> Double in
                let x = (filterScale * (Double(start + k) - ratio)).magnitude
                if x <= 1 { return (a + 2) * x * x * x - (a + 3) * x * x + 1 }
                if x < 2 { return a * x * x * x - 5 * a * x * x + 8 * a * x - 4 * a }
                return 0
            }
            return normalised(raw)
        }
    }

    private func normalised(_ values: [Double]) -> [Double] {
        let total = values.reduce(0, +)
        return values.map { $0 / total }
    }
}

/// A one-axis resampling: output position x reads `taps` source positions with the given weights.
private struct AxisFilter {
    let taps: Int
    let indices: [Int]
    let weights: [Double]
    let extrapolated: [Bool]
    let extrapolationValue: Double

    func apply(to values: [Double], shape: [Int], axis: Int) -> [Double] {
        let outer = shape[..<axis].reduce(1, *)
        let inner = shape[(axis + 1)...].reduce(1, *)
        let (inputWidth, outputWidth) = (shape[axis], extrapolated.count)
        return [Double](unsafeUninitializedCapacity: outer * outputWidth * inner) { output, count in
            output.initialize(repeating: 0)
            values.withUnsafeBufferPointer { source in
                for o in 0..<outer {
                    for x in 0..<outputWidth {
                        let destination = (o * outputWidth + x) * inner
                        if extrapolated[x] {
                            for i in 0..<inner { output[destination + i] = extrapolationValue }
                            continue
                        }
                        for k in 0..<taps {
                            let weight = weights[x * taps + k]
                            let row = (o * inputWidth + indices[x * taps + k]) * inner
                            for i in 0..<inner { output[destination + i] += weight * source[row + i] }
                        }
                    }
                }
            }
            count = outer * outputWidth * inner
        }
    }
}
