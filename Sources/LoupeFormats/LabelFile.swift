import Foundation

/// A class-label file: one label per line, in the model's class order; blank lines are
/// skipped and surrounding white space trimmed.
public enum LabelFile {
    public static func read(path: String) throws -> [String] {
        try InputFile.text(path, as: "labels file").split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespacesAndNewlines)
        }.filter { !$0.isEmpty }
    }
}
