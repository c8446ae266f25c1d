import OnyxCore

// The window geometry shared by Conv, ConvTranspose and the pooling operators: attribute parsing, output
// sizes and padding, and the im2col / col2im traversal that pairs window taps with image positions.

extension NeuralNet {
    /// ONNX's `auto_pad` attribute.
    enum AutoPad: Sendable {
        case notSet, sameUpper, sameLower, valid

        init(_ node: KernelNode) throws {
            switch try node.string("auto_pad", default: "NOTSET") {
            case "NOTSET": self = .notSet
            case "SAME_UPPER": self = .sameUpper
            case "SAME_LOWER": self = .sameLower
            case "VALID": self = .valid
            case let other:
                throw KernelError.invalidAttribute(
                    "auto_pad", "expected NOTSET, SAME_UPPER, SAME_LOWER or VALID, got \(other)")
            }
        }
    }

    /// Largest kernel extent, stride, dilation or padding accepted: far beyond any real model, small enough
    /// that the geometry's products cannot overflow.
    static let maximumWindowExtent = 1 << 24

    /// Throws unless every value of the attribute `name` (when present) lies in
    /// `minimum...maximumWindowExtent`.
    static func checkExtents(_ values: [Int]?, name: String, minimum: Int) throws {
        if let values, values.contains(where: { $0 < minimum || $0 > maximumWindowExtent }) {
            throw KernelError.invalidAttribute(
                name, "values must be in \(minimum)...\(maximumWindowExtent), got \(values)")
        }
    }

    /// The window attributes of a Conv or pooling node as written; ``resolve(input:kernel:)`` applies them to
    /// an input's spatial extents.
    struct WindowAttributes: Sendable {
        let autoPad: AutoPad
        /// nil when the node omits it (Conv then takes the kernel from the weights).
        let kernelShape: [Int]?
        let strides: [Int]?
        let dilations: [Int]?
        let pads: [Int]?
        let ceilMode: Bool

        init(_ node: KernelNode) throws {
            autoPad = try AutoPad(node)
            kernelShape = try node.ints("kernel_shape")
            strides = try node.ints("strides")
            dilations = try node.ints("dilations")
            pads = try node.ints("pads")
            ceilMode = try node.int("ceil_mode", default: 0) != 0
            for (name, values) in [("kernel_shape", kernelShape), ("strides", strides), ("dilations", dilations)] {
                try NeuralNet.checkExtents(values, name: name, minimum: 1)
            }
            try NeuralNet.checkExtents(pads, name: "pads", minimum: 0)
        }

        /// The kernel shape, required for pooling (which has no weights to take it from).
        func requiredKernelShape() throws -> [Int] {
            guard let kernelShape else { throw KernelError.invalidAttribute("kernel_shape", "is required") }
            return kernelShape
        }

        /// Strides and dilations for `rank` spatial axes (defaults 1), validated against the rank.
        func stepsAndDilations(rank: Int) throws -> (strides: [Int], dilations: [Int]) {
            let strides = self.strides ?? Array(repeating: 1, count: rank)
            let dilations = self.dilations ?? Array(repeating: 1, count: rank)
            guard strides.count == rank else {
                throw KernelError.invalidAttribute("strides", "expected \(rank) values, got \(strides)")
            }
            guard dilations.count == rank else {
                throw KernelError.invalidAttribute("dilations", "expected \(rank) values, got \(dilations)")
            }
            return (strides, dilations)
        }

        /// The `pads` attribute for `rank` spatial axes (begins, then ends; default 0), validated against the rank.
        func explicitPads(rank: Int) throws -> [Int] {
            let pads = self.pads ?? Array(repeating: 0, count: 2 * rank)
            guard pads.count == 2 * rank else {
                throw KernelError.invalidAttribute("pads", "expected \(2 * rank) values, got \(pads)")
            }
            return pads
        }

        /// The geometry of a forward sliding window (Conv, pooling) over `input` spatial extents.
        func resolve(input: [Int], kernel: [Int]) throws -> WindowGeometry {
            let rank = input.count
            guard kernel.count == rank else {
                throw KernelError.invalidInput("kernel shape \(kernel) does not match \(rank) spatial dimensions")
            }
            if let kernelShape, kernelShape != kernel {
                throw KernelError.invalidAttribute("kernel_shape", "\(kernelShape) differs from the weights' \(kernel)")
            }
            let (strides, dilations) = try stepsAndDilations(rank: rank)
            let explicitPads = try explicitPads(rank: rank)
            var output = [Int]()
            var begin = [Int]()
            var end = [Int]()
            for axis in 0..<rank {
                let span = (kernel[axis] - 1) * dilations[axis] + 1
                let stride = strides[axis]
                switch autoPad {
                case .notSet, .valid:
                    let (head, tail) = autoPad == .valid ? (0, 0) : (explicitPads[axis], explicitPads[rank + axis])
                    let room = input[axis] + head + tail - span
                    guard room >= 0 else {
                        throw KernelError.invalidInput(
                            "window of \(span) does not fit spatial extent \(input[axis]) padded by \(head)+\(tail)")
                    }
                    var extent = (ceilMode ? (room + stride - 1) / stride : room / stride) + 1
                    // With ceil_mode the last window must still start inside the input or its head padding.
                    if ceilMode, (extent - 1) * stride >= input[axis] + head { extent -= 1 }
                    output.append(extent)
                    begin.append(head)
                    end.append(tail)
                case .sameUpper, .sameLower:
                    let extent = (input[axis] + stride - 1) / stride
                    let total = max(0, (extent - 1) * stride + span - input[axis])
                    let head = autoPad == .sameUpper ? total / 2 : total - total / 2
                    output.append(extent)
                    begin.append(head)
                    end.append(total - head)
                }
            }
            return WindowGeometry(
                image: input, grid: output, kernel: kernel, strides: strides, dilations: dilations,
                padsBegin: begin, padsEnd: end)
        }
    }

    /// A window laid over an image: grid position `o` tap `k` reads image coordinate
    /// `o · stride + k · dilation − padBegin` along each spatial axis. For Conv and pooling the image is the
    /// input and the grid the output; for ConvTranspose the image is the output and the grid the input.
    struct WindowGeometry: Sendable {
        let image: [Int]
        let grid: [Int]
        let kernel: [Int]
        let strides: [Int]
        let dilations: [Int]
        let padsBegin: [Int]
        /// Ignored by the traversal; pooling uses it to count padded taps.
        let padsEnd: [Int]
        let imageSize: Int
        let gridSize: Int
        let kernelSize: Int

        init(
            image: [Int], grid: [Int], kernel: [Int], strides: [Int], dilations: [Int], padsBegin: [Int],
            padsEnd: [Int]
        ) {
            self.image = image
            self.grid = grid
            self.kernel = kernel
            self.strides = strides
            self.dilations = dilations
            self.padsBegin = padsBegin
            self.padsEnd = padsEnd
            imageSize = image.reduce(1, *)
            gridSize = grid.reduce(1, *)
            kernelSize = kernel.reduce(1, *)
        }

        /// True when every tap reads the image position of its grid position (1×1 kernel, unit stride, no
        /// padding): the column matrix is then the image itself.
        var isPointwise: Bool {
            kernel.allSatisfy { $0 == 1 } && strides.allSatisfy { $0 == 1 } && padsBegin.allSatisfy { $0 == 0 }
                && image == grid
        }

        /// im2col: fills `columns` (`channels · kernelSize` rows of `gridSize`) with the image values each tap
        /// reads, zero where it falls in the padding. `pixels` holds `channels` images of `imageSize`. Channels
        /// are split across up to `threads` threads.
        func gather<T: NetFloat>(
            _ pixels: UnsafePointer<T>, channels: Int, into columns: UnsafeMutablePointer<T>, threads: Int = 1
        ) {
            let source = NeuralNet.ReadBuffer(pixels)
            let target = NeuralNet.WriteBuffer(columns)
            NeuralNet.forEachChunk(of: channels, threads: threads, workPerItem: kernelSize * gridSize) { range in
                gatherChannels(
                    source.base + range.lowerBound * imageSize, channels: range.count,
                    into: target.base + range.lowerBound * kernelSize * gridSize)
            }
        }

        private func gatherChannels<T: NetFloat>(
            _ pixels: UnsafePointer<T>, channels: Int, into columns: UnsafeMutablePointer<T>
        ) {
            traverse(channels: channels) { row, imageOffset, gridOffset, first, last, count in
                let target = columns + row * gridSize + gridOffset
                guard let imageOffset else {
                    target.update(repeating: 0, count: count)
                    return
                }
                let step = strides[strides.count - 1]
                let source = pixels + imageOffset
                if first > 0 { target.update(repeating: 0, count: first) }
                if step == 1 {
                    (target + first).update(from: source + first, count: last - first)
                } else {
                    for position in first..<last { target[position] = source[position &* step] }
                }
                if last < count { (target + last).update(repeating: 0, count: count - last) }
            }
        }

        /// col2im: adds each column value into the image position its tap reads (taps in the padding are
        /// dropped). `pixels` holds `channels` images of `imageSize`. Channels are split across up to `threads`
        /// threads (each writes only its own images).
        func scatterAdd<T: NetFloat>(
            _ columns: UnsafePointer<T>, channels: Int, into pixels: UnsafeMutablePointer<T>, threads: Int = 1
        ) {
            let source = NeuralNet.ReadBuffer(columns)
            let target = NeuralNet.WriteBuffer(pixels)
            NeuralNet.forEachChunk(of: channels, threads: threads, workPerItem: kernelSize * gridSize) { range in
                scatterAddChannels(
                    source.base + range.lowerBound * kernelSize * gridSize, channels: range.count,
                    into: target.base + range.lowerBound * imageSize)
            }
        }

        private func scatterAddChannels<T: NetFloat>(
            _ columns: UnsafePointer<T>, channels: Int, into pixels: UnsafeMutablePointer<T>
        ) {
            traverse(channels: channels) { row, imageOffset, gridOffset, first, last, _ in
                guard let imageOffset else { return }
                let step = strides[strides.count - 1]
                let source = columns + row * gridSize + gridOffset
                let target = pixels + imageOffset
                for position in first..<last { target[position &* step] += source[position] }
            }
        }

        /// Direct convolution with one filter: adds `weights[channel · kernelSize + tap]` times each tap's image
        /// value to every grid position of `target`. Cheaper than a GEMM when a group has very few filters
        /// (depthwise convolutions).
        func accumulateFilter<T: NetFloat>(
            _ pixels: UnsafePointer<T>, channels: Int, weights: UnsafePointer<T>, into target: UnsafeMutablePointer<T>
        ) {
            traverse(channels: channels) { row, imageOffset, gridOffset, first, last, _ in
                guard let imageOffset else { return }
                let weight = weights[row]
                let step = strides[strides.count - 1]
                let source = pixels + imageOffset
                let output = target + gridOffset
                if step == 1 {
                    NeuralNet.addScaled(source + first, scale: weight, into: output + first, count: last - first)
                } else {
                    for position in first..<last { output[position] += weight * source[position &* step] }
                }
            }
        }

        /// Walks every (channel, tap) row and every run of the grid's innermost axis, calling `body` with the row
        /// index, the image offset of the run's position 0 along the innermost axis (nil when an outer axis falls
        /// in the padding), the run's offset in the grid, the range `first..<last` of positions whose tap lands
        /// inside the image, and the run length.
        @inline(__always)
        private func traverse(
            channels: Int,
            _ body: (_ row: Int, _ imageOffset: Int?, _ gridOffset: Int, _ first: Int, _ last: Int, _ count: Int) ->
                Void
        ) {
            let rank = image.count
            let inner = rank - 1
            let runLength = grid[inner]
            let runs = gridSize / max(1, runLength)
            var imageStrides = [Int](repeating: 1, count: rank)
            for axis in stride(from: rank - 2, through: 0, by: -1) {
                imageStrides[axis] = imageStrides[axis + 1] * image[axis + 1]
            }
            var tap = [Int](repeating: 0, count: rank)
            var position = [Int](repeating: 0, count: rank)
            for channel in 0..<channels {
                for tapIndex in 0..<kernelSize {
                    var remainder = tapIndex
                    for axis in stride(from: rank - 1, through: 0, by: -1) {
                        tap[axis] = (remainder % kernel[axis]) * dilations[axis] - padsBegin[axis]
                        remainder /= kernel[axis]
                    }
                    // Positions o along the innermost axis whose coordinate o·stride + tap lies in [0, extent).
                    let step = strides[inner]
                    let shift = tap[inner]
                    let first = min(runLength, shift >= 0 ? 0 : (-shift + step - 1) / step)
                    let reach = image[inner] - shift
                    let last = max(first, min(runLength, reach <= 0 ? 0 : (reach + step - 1) / step))
                    let row = channel * kernelSize + tapIndex
                    // Odometer over the outer grid axes (no division per run).
                    for axis in 0..<inner { position[axis] = 0 }
                    for run in 0..<runs {
                        var offset = channel * imageSize + shift
                        var inside = true
                        for axis in 0..<inner {
                            let coordinate = position[axis] * strides[axis] + tap[axis]
                            if coordinate < 0 || coordinate >= image[axis] { inside = false }
                            offset += coordinate * imageStrides[axis]
                        }
                        body(row, inside ? offset : nil, run * runLength, first, last, runLength)
                        var axis = inner - 1
                        while axis >= 0 {
                            position[axis] += 1
                            if position[axis] < grid[axis] { break }
                            position[axis] = 0
                            axis -= 1
                        }
                    }
                }
            }
        }
    }
}
