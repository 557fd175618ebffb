import LoupeExplain
import LoupeFuzzSupport

/// Annotation (boxes) files for the pointing game (`PointingGame.annotations(file:)`, the
/// format of SampleModels/shapes/test/annotations.json), through a file; every box it accepts
/// must be non-empty, and the distance from any pixel to it must be finite.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAnnotations(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let path = FuzzHarness.file(FuzzHarness.raw(bytes, size), ext: "json")
    FuzzHarness.check {
        for a in try PointingGame.annotations(file: path) {
            precondition(a.box.x0 < a.box.x1 && a.box.y0 < a.box.y1)
            _ = a.box.area
            precondition(a.box.distance(y: 0, x: 0).isFinite)
            _ = a.box.contains(y: 0, x: 0)
        }
    }
    return 0
}
