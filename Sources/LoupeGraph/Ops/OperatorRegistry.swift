import LoupeTensor

/// Every operator Loupe runs, by ONNX op type (default domain "" / "ai.onnx").
public enum OperatorRegistry {
    public static let all: [any Operator.Type] = [
        // elementwise, activations, reductions:
        Relu.self, Add.self, CastLike.self, Gelu.self, Mish.self, Round.self,
        Sub.self, Mul.self, Div.self, Pow.self, Sqrt.self, Exp.self, Log.self, Neg.self, Abs.self,
        Reciprocal.self, Floor.self, Ceil.self, Erf.self, Sign.self, Sum.self, Max.self, Min.self, Mean.self,
        LeakyRelu.self, PRelu.self, Elu.self, Selu.self, Sigmoid.self, HardSigmoid.self, HardSwish.self,
        Tanh.self, Softplus.self, Softsign.self, Clip.self, Softmax.self, LogSoftmax.self,
        ReduceMean.self, ReduceMax.self, ReduceMin.self, ReduceSum.self, ReduceProd.self, ReduceL1.self,
        ReduceL2.self, ReduceLogSumExp.self, ReduceSumSquare.self, ArgMax.self, ArgMin.self,
        Identity.self, Dropout.self, Cast.self, Equal.self, Less.self, Greater.self, LessOrEqual.self,
        GreaterOrEqual.self, Not.self, And.self, Or.self, Where.self,
        // shape and data movement:
        Concat.self, Flatten.self, Reshape.self, Transpose.self, Squeeze.self, Unsqueeze.self, Shape.self,
        Size.self, Gather.self, GatherElements.self, Slice.self, Split.self, Pad.self, Constant.self,
        ConstantOfShape.self, Expand.self, Tile.self, RangeOp.self, Resize.self, Upsample.self,
        DepthToSpace.self, SpaceToDepth.self,
        // convolution, pooling, normalisation, GEMM:
        Conv.self, ConvTranspose.self, MaxPool.self, AveragePool.self, GlobalAveragePool.self, GlobalMaxPool.self,
        LpPool.self, BatchNormalization.self, InstanceNormalization.self, LRN.self, Gemm.self, MatMul.self,
    ]

    public static let byType: [String: any Operator.Type] = {
        var d: [String: any Operator.Type] = [:]
        for t in all { d[t.opType] = t }
        return d
    }()

    public static func isSupported(_ opType: String, domain: String) -> Bool {
        (domain.isEmpty || domain == "ai.onnx") && byType[opType] != nil
    }

    /// Builds the operator for `node`, or throws naming the node, op type, domain and opset.
    public static func make(_ node: Node, opset: Int, domainOpsets: [String: Int] = [:]) throws -> any Operator {
        guard node.domain.isEmpty || node.domain == "ai.onnx", let type = byType[node.opType] else {
            let dom = node.domain.isEmpty ? "ai.onnx" : node.domain
            let version = node.domain.isEmpty || node.domain == "ai.onnx" ? opset : domainOpsets[node.domain]
            throw LoupeError.unsupported("\(node.label): op type '\(node.opType)' of domain '\(dom)' (opset \(version.map(String.init) ?? "not declared")) is not supported by Loupe")
        }
        do {
            return try type.init(OpContext(node: node, opset: opset))
        } catch let e as LoupeError {
            throw e.message.hasPrefix(node.label) ? e : e.context(node.label)
        }
    }
}
