import Foundation
import LoupeTensor

/// Image files gathered from a folder tree, optionally labelled by the sub-folder they are in
/// (`train/cat/1.png` is class `cat`), as training and evaluation sets are laid out.
public enum ImageFolder {
    /// Image files anywhere under `dir`, sorted by path (the walk of `ImageCollection`).
    public static func files(in dir: String) throws -> [String] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw LoupeError(.io, "`images` \(dir) is not a folder")
        }
        return try ImageCollection.gather([dir]).paths
    }

    /// The images under each class sub-folder of `dir` and their class indices. With
    /// `labels` (read from `labelsPath`, named in messages) a folder's class is its index in
    /// that list; without, the sorted folders are classes 0, 1, ...
    public static func classified(in dir: String, labels: [String]? = nil, labelsPath: String = "the labels") throws -> (paths: [String], classes: [Int]) {
        let fm = FileManager.default
        guard let entries = try? fm.contentsOfDirectory(atPath: dir) else {
            throw LoupeError(.io, "`images` \(dir) is not a readable folder")
        }
        let folders = entries.filter { name in
            var isDir: ObjCBool = false
            return !name.hasPrefix(".") && fm.fileExists(atPath: (dir as NSString).appendingPathComponent(name), isDirectory: &isDir) && isDir.boolValue
        }.sorted()
        guard !folders.isEmpty else { throw LoupeError(.invalidArgument, "`labelsFromFolders`: \(dir) has no class sub-folders") }
        var paths: [String] = [], idx: [Int] = []
        for (k, folder) in folders.enumerated() {
            let cls: Int
            if let labels {
                guard let i = labels.firstIndex(of: folder) else {
                    throw LoupeError(.invalidArgument, "folder '\(folder)' is not a label in \(labelsPath) (labels: \(labels.prefix(10).joined(separator: ", "))\(labels.count > 10 ? ", ..." : ""))")
                }
                cls = i
            } else {
                cls = k
            }
            let files = try files(in: (dir as NSString).appendingPathComponent(folder))
            paths += files
            idx += Array(repeating: cls, count: files.count)
        }
        return (paths, idx)
    }
}
