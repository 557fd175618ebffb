import Foundation
import LoupeTensor

/// The image files named by command-line arguments: files are taken as given, folders are
/// walked recursively and their PNG and JPEG files (by extension: .png, .jpg, .jpeg, any case)
/// taken in sorted order. Paths are kept as they were reached from the arguments (a relative
/// argument gives relative paths). Other files in a folder are skipped and counted.
///
/// With labels from folders, a file found in a folder is labelled with its parent folder's
/// path relative to the argument folder (`data/cat/1.png` under `data` is `cat`;
/// `data/1.png` and files given by name have no label).
public struct ImageCollection: Sendable {
    public static let extensions: Set<String> = ["png", "jpg", "jpeg"]

    /// The image paths, in order.
    public var paths: [String] = []
    /// Each path's label name, or nil when unknown.
    public var labelNames: [String?] = []
    /// For each folder argument that held other files: how many were skipped.
    public var skipped: [(folder: String, count: Int)] = []

    /// The distinct label names, sorted.
    public var classes: [String] { Array(Set(labelNames.compactMap { $0 })).sorted() }

    /// Each path's index into `classes`, or -1.
    public var labelIndices: [Int32] {
        let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, Int32($0)) })
        return labelNames.map { $0.flatMap { index[$0] } ?? -1 }
    }

    /// Collects the images `arguments` name (files or folders), in argument order.
    public static func gather(_ arguments: [String], labelsFromFolders: Bool = false) throws -> ImageCollection {
        var c = ImageCollection()
        let fm = FileManager.default
        for arg in arguments {
            var isDir: ObjCBool = false
            guard !arg.isEmpty, fm.fileExists(atPath: arg, isDirectory: &isDir) else {
                throw LoupeError(.io, "cannot read image '\(arg)': no such file or folder")
            }
            guard isDir.boolValue else {
                c.paths.append(arg)
                c.labelNames.append(nil)
                continue
            }
            guard let walker = fm.enumerator(atPath: arg) else {
                throw LoupeError(.io, "cannot list the folder '\(arg)'")
            }
            var found: [String] = [], other = 0
            while let rel = walker.nextObject() as? String {
                var sub: ObjCBool = false
                let full = (arg as NSString).appendingPathComponent(rel)
                guard fm.fileExists(atPath: full, isDirectory: &sub), !sub.boolValue else { continue }
                if extensions.contains((rel as NSString).pathExtension.lowercased()) {
                    found.append(rel)
                } else {
                    other += 1
                }
            }
            for rel in found.sorted() {
                c.paths.append((arg as NSString).appendingPathComponent(rel))
                let parent = (rel as NSString).deletingLastPathComponent
                c.labelNames.append(labelsFromFolders && !parent.isEmpty ? parent : nil)
            }
            if other > 0 { c.skipped.append((arg, other)) }
        }
        return c
    }
}
