import Foundation

/// Progress of a loop over items: a bar redrawn in place when stderr is a terminal, one plain line per item on
/// stderr otherwise. Result lines go to stdout through ``print(_:)``, which keeps them clear of the bar.
final class ProgressReporter {
    private let total: Int
    private var done = 0
    private let onTerminal = isatty(STDERR_FILENO) == 1
    private static let barWidth = 30

    init(total: Int) {
        self.total = total
    }

    /// Marks `item` done; `detail` (e.g. its time) follows its name on the plain line.
    func advance(_ item: String, detail: String = "") {
        done += 1
        if onTerminal {
            draw(item)
        } else {
            let line = "[\(done)/\(total)] \(item)" + (detail.isEmpty ? "" : " \(detail)")
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    /// Prints a result line on stdout, clearing the bar first and redrawing it after.
    func print(_ line: String) {
        clear()
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
        if onTerminal && done > 0 && done < total { draw(nil) }
    }

    /// Removes the bar (call when the loop ends).
    func finish() {
        clear()
    }

    private func draw(_ item: String?) {
        let filled = total == 0 ? Self.barWidth : Self.barWidth * done / total
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: Self.barWidth - filled)
        FileHandle.standardError.write(Data("\r\u{1B}[K[\(bar)] \(done)/\(total) \(item ?? "")".utf8))
    }

    private func clear() {
        if onTerminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
