import OnyxCore

/// NonMaxSuppression (opsets 10, 11): per batch and class, greedily keeps the highest-scoring boxes whose IoU with
/// every kept box is at most `iou_threshold`. Outputs [selected, 3] int64 rows of (batch, class, box).
struct NonMaxSuppressionKernel: Kernel {
    private let centerPointBox: Bool

    init(_ node: KernelNode) throws {
        let format = try node.int("center_point_box", default: 0)
        guard format == 0 || format == 1 else {
            throw KernelError.invalidAttribute("center_point_box", "expected 0 or 1, got \(format)")
        }
        centerPointBox = format == 1
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let boxesTensor = try inputs.tensor(0)
        let scoresTensor = try inputs.tensor(1)
        guard boxesTensor.rank == 3, boxesTensor.shape[2] == 4, scoresTensor.rank == 3,
            scoresTensor.shape[0] == boxesTensor.shape[0], scoresTensor.shape[2] == boxesTensor.shape[1]
        else {
            throw KernelError.invalidInput(
                "boxes must be [batch, boxes, 4] and scores [batch, classes, boxes], got \(boxesTensor.shape) and \(scoresTensor.shape)"
            )
        }
        guard let boxValues = boxesTensor.doubleValues(), let scores = scoresTensor.doubleValues() else {
            throw KernelError.invalidInput("boxes and scores must be float tensors")
        }
        let maxPerClass =
            try scalar(inputs, 2, name: "max_output_boxes_per_class").map { Swift.max(clampedIndex($0), 0) } ?? 0
        let iouThreshold = try scalar(inputs, 3, name: "iou_threshold") ?? 0
        let scoreThreshold = try scalar(inputs, 4, name: "score_threshold")
        guard (0...1).contains(iouThreshold) else {
            throw KernelError.invalidInput("iou_threshold must lie in [0, 1], got \(iouThreshold)")
        }

        let (batches, boxCount, classes) = (boxesTensor.shape[0], boxesTensor.shape[1], scoresTensor.shape[1])
        let boxes = (0..<batches * boxCount).map { corners(Array(boxValues[$0 * 4..<$0 * 4 + 4])) }
        var selected: [Int64] = []
        for batch in 0..<batches {
            for classIndex in 0..<classes {
                let scoreBase = (batch * classes + classIndex) * boxCount
                var candidates = (0..<boxCount).filter { box in
                    scoreThreshold.map { scores[scoreBase + box] > $0 } ?? true
                }
                // Highest score first; equal scores keep the lower box index first.
                candidates.sort {
                    scores[scoreBase + $0] > scores[scoreBase + $1]
                        || (scores[scoreBase + $0] == scores[scoreBase + $1] && $0 < $1)
                }
                var kept: [Int] = []
                for candidate in candidates where kept.count < maxPerClass {
                    let box = boxes[batch * boxCount + candidate]
                    if kept.allSatisfy({ !suppresses(boxes[batch * boxCount + $0], box, threshold: iouThreshold) }) {
                        kept.append(candidate)
                        selected += [Int64(batch), Int64(classIndex), Int64(candidate)]
                    }
                }
            }
        }
        return [.tensor(Tensor(shape: [selected.count / 3, 3], elements: selected))]
    }

    /// The first value of an optional scalar input, nil when it is omitted or empty.
    private func scalar(_ inputs: KernelInputs, _ index: Int, name: String) throws -> Double? {
        guard let tensor = try inputs.optionalTensor(index), tensor.count > 0 else { return nil }
        guard let values = tensor.doubleValues() else {
            throw KernelError.invalidInput("\(name) must be numeric, got \(tensor.dataType)")
        }
        return values[0]
    }

    /// A box as (yMin, xMin, yMax, xMax), from corner pairs in either order or from (xCenter, yCenter, width, height).
    private func corners(_ box: [Double]) -> (yMin: Double, xMin: Double, yMax: Double, xMax: Double) {
        if centerPointBox {
            let (halfWidth, halfHeight) = (box[2] / 2, box[3] / 2)
            return (box[1] - halfHeight, box[0] - halfWidth, box[1] + halfHeight, box[0] + halfWidth)
        }
        return (
            Swift.min(box[0], box[2]), Swift.min(box[1], box[3]), Swift.max(box[0], box[2]), Swift.max(box[1], box[3])
        )
    }

    /// True when the boxes overlap with an IoU above `threshold`.
    private func suppresses(
        _ a: (yMin: Double, xMin: Double, yMax: Double, xMax: Double),
        _ b: (yMin: Double, xMin: Double, yMax: Double, xMax: Double), threshold: Double
    ) -> Bool {
        let width = Swift.min(a.xMax, b.xMax) - Swift.max(a.xMin, b.xMin)
        let height = Swift.min(a.yMax, b.yMax) - Swift.max(a.yMin, b.yMin)
        guard width > 0, height > 0 else { return false }
        let intersection = width * height
        let areaA = (a.xMax - a.xMin) * (a.yMax - a.yMin)
        let areaB = (b.xMax - b.xMin) * (b.yMax - b.yMin)
        let union = areaA + areaB - intersection
        guard areaA > 0, areaB > 0, union > 0 else { return false }
        return intersection / union > threshold
    }
}
