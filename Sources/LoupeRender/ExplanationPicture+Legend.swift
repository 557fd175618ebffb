import Foundation
import LoupeExplain

extension ExplanationPicture {
    /// What the colours of `render`'s picture of a map of this kind mean, as the report's
    /// colour bar and sentence. `quantile` is the activation tiles' threshold.
    public static func legend(_ kind: MapKind, style: Style = Style(), quantile: Double = 0.99) -> ReportDocument.Legend {
        switch kind {
        case .inputMagnitude:
            .init(style.colormap, labels: ["0", "99th pct"], text: "|gradient|, maximum over channels, clipped at its 99th percentile, over the image.")
        case .inputGradient:
            .init(.gray, labels: ["−5σ", "mean", "+5σ"], text: "The gradient itself as an image: per colour channel, mean at mid-gray, ±5 standard deviations to black and white.")
        case .classMap:
            .init(style.colormap, labels: ["0", "max"], text: "Map scaled from 0 to its maximum, upsampled and blended over the image.")
        case .scoreDrop:
            .init(.rdBuR, labels: ["−max", "0", "+max"], text: "Score drop when the window covers a spot: red, the class relies on it; blue, the score rises without it.")
        case .featureMaps:
            .init(style.colormap, labels: [String(format: "q%g", quantile * 100), "max"],
                  text: String(format: "Shown only where the channel reaches its %g quantile.", quantile))
        }
    }
}
