import LoupeTensor

/// The model's input tensor as a picture, for showing under heat maps: batch item 0 of an
/// NCHW tensor [N, C, H, W] with C = 1 or 3, each channel min–max scaled on its own (so it
/// works whatever the normalisation was; a constant channel becomes mid-gray), channels
/// swapped back to RGB when the model takes BGR. Output: an RGB image H×W.
public enum InputPicture {
    public static func render(_ x: Tensor, bgr: Bool) throws -> RGBImage {
        guard x.rank == 4, x.shape[1] == 1 || x.shape[1] == 3, x.isFloat else {
            throw LoupeError.shape("explanations need an NCHW image input with 1 or 3 channels, got \(describe(x.shape))")
        }
        let (c, h, w) = (x.shape[1], x.shape[2], x.shape[3])
        var v = Array(x.floats[0..<(c * h * w)])
        for ch in 0..<c {
            let s = v[(ch * h * w)..<((ch + 1) * h * w)]
            let lo = s.min()!, hi = s.max()!
            for i in (ch * h * w)..<((ch + 1) * h * w) { v[i] = hi > lo ? (v[i] - lo) / (hi - lo) : 0.5 }
        }
        if c == 3, bgr {
            let p = h * w
            for i in 0..<p { v.swapAt(i, 2 * p + i) }
        }
        return try RGBImage(chw: Tensor(shape: [c, h, w], floats: v)).rgb()
    }
}
