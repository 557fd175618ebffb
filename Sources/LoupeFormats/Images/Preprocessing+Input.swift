import LoupeGraph

extension Preprocessing {
    /// The layout a model's declared input `[N, C, H, W]` or `[N, H, W, C]` implies: NCHW
    /// when dimension 1 is 1 or 3 channels, NHWC when only dimension 3 is; nil when the shape
    /// does not tell (not rank 4, or dynamic there).
    public static func layout(of input: ValueInfo) -> Layout? {
        let dims = input.dims?.map(\.value) ?? []
        guard dims.count == 4 else { return nil }
        if let c = dims[1], c == 1 || c == 3 { return .nchw }
        if let c = dims[3], c == 1 || c == 3 { return .nhwc }
        return nil
    }

    /// These settings made to fit a model's declared input: the layout (`layout`, else the
    /// one the shape implies, else NCHW), grayscale when the input has one channel (the mean
    /// and std then averaged to one value each), and the target H×W: the declared sizes, and
    /// where those are dynamic (`[N, 3, H, W]`, or -1 in the file) the centre crop's, else 224.
    public func fitted(to input: ValueInfo, layout forced: Layout? = nil) -> (settings: Preprocessing, height: Int, width: Int) {
        var p = self
        p.layout = forced ?? Self.layout(of: input) ?? .nchw
        let dims = input.dims?.map(\.value) ?? []
        if dims.count == 4, (p.layout == .nchw ? dims[1] : dims[3]) == 1 { p.grayscale = true }
        if p.grayscale {
            if p.mean.count == 3 { p.mean = [p.mean.reduce(0, +) / 3] }
            if p.std.count == 3 { p.std = [p.std.reduce(0, +) / 3] }
        }
        var h = p.centerCrop?.height ?? 224, w = p.centerCrop?.width ?? 224
        if dims.count == 4 {
            let (dh, dw) = p.layout == .nchw ? (dims[2], dims[3]) : (dims[1], dims[2])
            h = dh ?? h
            w = dw ?? w
        }
        return (p, h, w)
    }
}
