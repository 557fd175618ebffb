import ArgumentParser
import Foundation
import LoupeExplain
import LoupeTensor

/// The explanation parameters shared by every command that runs a method (`explain`,
/// `report`, `bench --method`). How many occluded images go through the model at once stays
/// with each command, because `bench --batch` already means the forward pass's batch.
struct ExplanationOptions: ParsableArguments {
    @Option(help: "The class to explain: an index, or a label from --labels. Default: each image's predicted class.")
    var target: String?

    @Option(help: ArgumentHelp("The layer for \(Method.names(Method.allCases.filter(\.takesLayer), last: "and")): a node name as `loupe inspect` lists it, or a tensor name. Default: the last layer with a spatial output."))
    var layer: String?

    @Option(help: "What the gradient methods and occlusion score: logit (the pre-softmax score) or probability.")
    var score: String = "logit"

    @Option(help: "Occlusion window as HxW.")
    var window: String = "16x16"

    @Option(help: "Occlusion stride as HxW.")
    var stride: String = "8x8"

    @Option(help: "Value the occlusion window is filled with (in the model's input space, after preprocessing).")
    var baseline: Float = 0

    @Option(name: .customLong("max-channels"), help: "Score-CAM runs one forward pass per channel of the layer: a layer with more channels than this is an error that says how long it would take.")
    var maxChannels: Int = 2048

    func validate() throws {
        guard ExplainableModel.ScoreKind(rawValue: score) != nil else { throw ValidationError("--score must be logit or probability") }
        _ = try parseHxW(window, "--window")
        _ = try parseHxW(stride, "--stride")
        guard maxChannels >= 1 else { throw ValidationError("--max-channels must be at least 1, got \(maxChannels)") }
    }

    var scoreKind: ExplainableModel.ScoreKind { ExplainableModel.ScoreKind(rawValue: score)! }

    /// The library's options for one image: `target` resolved by the caller (it needs the
    /// image's logits and the labels), `layer` as given unless the caller resolved it.
    func options(target: Int?, layer: String? = nil, occlusionBatch: Int = Occlusion.Settings().batch) throws -> Method.Options {
        var occ = Occlusion.Settings()
        occ.window = try parseHxW(window, "--window")
        occ.stride = try parseHxW(stride, "--stride")
        occ.baseline = baseline
        occ.batch = occlusionBatch
        var options = Method.Options(target: target, score: scoreKind, layer: layer ?? self.layer, occlusion: occ)
        // Score-CAM and Ablation-CAM batch their forward passes as occlusion does.
        options.scoreCAM.batch = occlusionBatch
        options.scoreCAM.maxChannels = maxChannels
        options.ablationCAM.batch = occlusionBatch
        return options
    }
}

extension Method {
    /// "saliency, deconvnet, ... or activations", for help text and messages.
    static func names(_ methods: [Method] = Method.allCases, last: String = "or") -> String {
        let n = methods.map(\.rawValue)
        return n.count < 2 ? n.joined() : n.dropLast().joined(separator: ", ") + " \(last) " + n.last!
    }

    /// Help for a method option: the names, with `or all` when `all` is accepted.
    static func help(list: Bool, all: Bool) -> String {
        let names = Method.allCases.map(\.rawValue).joined(separator: ", ")
        switch (list, all) {
        case (true, _): return "Comma-separated methods among \(names); or all."
        case (false, true): return "\(names), or all."
        case (false, false): return "One of \(names)."
        }
    }

    /// Parses a method option: one name, a comma-separated list when `list`, or `all` when
    /// `all` is accepted. Errors name `flag` and list the valid names.
    static func parse(_ s: String, flag: String, list: Bool = false, all: Bool = false) throws -> [Method] {
        if all && s == "all" { return Method.allCases }
        let names = list ? s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } : [s]
        guard !names.isEmpty, names.allSatisfy({ !$0.isEmpty }) else { throw ValidationError("\(flag) is empty") }
        return try names.map { n in
            guard let m = Method(rawValue: n) else {
                throw ValidationError("\(flag): unknown method '\(n)'; valid: \(Method.allCases.map(\.rawValue).joined(separator: ", "))\(all ? ", or all" : "")")
            }
            return m
        }
    }
}
