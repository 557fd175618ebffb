import LoupeGraph
import LoupeTensor

extension Graph {
    /// This graph with every node in the form opset `target` defines (13...21), ready to
    /// serialize: Loupe's fused activations split back out, `loupe.*` attributes gone, and
    /// nodes imported at another opset (`self.opset`) rewritten — attributes that became
    /// inputs (Squeeze/Unsqueeze/Split/Reduce* axes, Clip bounds, Pad pads, Slice, Reshape,
    /// Dropout ratio) and back, Upsample and opset-10 Resize as Resize, pre-13 Softmax axis
    /// semantics, BatchNormalization's training outputs, ops newer than the target expanded
    /// into older ones. Throws, naming node and op, for what the target opset cannot express.
    func rewrittenForOpset(_ target: Int) throws -> Graph {
        var r = OpsetRewriter(graph: self, target: target)
        return try r.run()
    }
}

/// Rewrites nodes from the opset they were imported at to the export opset. One `case` per
/// op whose signature changed between opset 1 and 22; every other op passes through.
struct OpsetRewriter {
    var graph: Graph
    let source: Int
    let target: Int
    private var out: [Node] = []
    private var taken = Set<String>()
    private var typesComputed = false
    private var typeCache: [String: TensorType]? = nil
    private var readers: [String: Int] = [:]

    init(graph: Graph, target: Int) {
        self.graph = graph
        self.source = graph.opset
        self.target = target
    }

    mutating func run() throws -> Graph {
        try graph.sortTopologically()
        graph.nodes = unfused(graph.nodes)
        for n in graph.nodes {
            taken.insert(n.name)
            for o in n.outputs { taken.insert(o) }
            for i in n.inputs { taken.insert(i) }
            for i in n.inputs where !i.isEmpty { readers[i, default: 0] += 1 }
        }
        for o in graph.outputs { taken.insert(o.name); readers[o.name, default: 0] += 1 }
        for i in graph.inputs { taken.insert(i.name) }
        for k in graph.initializers.keys { taken.insert(k) }
        // The checker wants a shape on every graph output: an output declared without one
        // gets its inferred rank (dimensions left unnamed) and element type.
        for (k, o) in graph.outputs.enumerated() where o.dims == nil {
            guard let t = types()?[o.name] else { continue }
            graph.outputs[k].dims = [Dim](repeating: .symbol(""), count: t.shape.count)
            graph.outputs[k].dtype = t.dtype
        }
        for n in graph.nodes {
            var node = n
            do {
                if node.domain.isEmpty || node.domain == "ai.onnx" {
                    node.domain = ""
                    try rewrite(node)
                } else {
                    out.append(node)
                }
            } catch let e as LoupeError {
                throw e.message.hasPrefix(node.label) ? e : e.context(node.label)
            }
        }
        // Loupe's own annotations never reach a file.
        graph.nodes = out.map { n in
            var n = n
            n.attributes = n.attributes.filter { !$0.key.hasPrefix("loupe.") }
            return n
        }
        graph.opset = target
        return graph
    }

    // MARK: - Helpers

    /// Loupe's `loupe.fused_clip` (a Relu or Clip folded into Conv) as separate nodes again.
    func unfused(_ nodes: [Node]) -> [Node] {
        var result: [Node] = []
        var names = Set(nodes.map(\.name))
        var tensors = Set(nodes.flatMap { $0.outputs + $0.inputs } + graph.inputs.map(\.name) + graph.initializers.keys)
        func fresh(_ base: String, _ set: inout Set<String>) -> String {
            var s = base, k = 1
            while set.contains(s) { s = "\(base)_\(k)"; k += 1 }
            set.insert(s)
            return s
        }
        for var n in nodes {
            guard case .floats(let b)? = n.attributes[fusedClipAttribute], b.count == 2, let y = n.outputs.first else {
                result.append(n)
                continue
            }
            n.attributes[fusedClipAttribute] = nil
            let mid = fresh("\(y)_preactivation", &tensors)
            n.outputs[0] = mid
            result.append(n)
            if b[0] == 0 && b[1] == .infinity {
                result.append(Node(name: fresh("\(n.name)_relu", &names), opType: "Relu", inputs: [mid], outputs: [y]))
            } else {
                // Bounds as inputs (opset 11+); the rewriter turns them into this opset's form.
                result.append(Node(name: fresh("\(n.name)_clip", &names), opType: "Clip", inputs: [mid], outputs: [y],
                                   attributes: ["min": .float(b[0]), "max": .float(b[1]), "loupe.export_clip_attributes": .int(1)]))
            }
        }
        return result
    }

    /// A name no node, tensor or initializer uses yet.
    mutating func fresh(_ base: String) -> String {
        var s = base, k = 1
        while taken.contains(s) { s = "\(base)_\(k)"; k += 1 }
        taken.insert(s)
        return s
    }

    /// Adds an initializer holding `t` and returns its name.
    mutating func constant(_ base: String, _ t: Tensor) -> String {
        let name = fresh(base)
        graph.initializers[name] = t
        return name
    }

    /// Types of every tensor, inferred on a copy with symbolic dimensions taken as 1;
    /// `nil` when the graph's inputs declare no shape.
    mutating func types() -> [String: TensorType]? {
        if !typesComputed {
            typesComputed = true
            var copy = graph
            if let inputs = try? ModelFile.inputTypes(copy) {
                typeCache = try? copy.foldConstants(inputTypes: inputs)
            }
        }
        return typeCache
    }

    mutating func rank(_ name: String) -> Int? { types()?[name]?.shape.count }
    mutating func dtype(_ name: String) -> DType { types()?[name]?.dtype ?? .float32 }

    func attributes(_ n: Node) -> Attributes { Attributes(n.attributes, owner: n.label) }

    /// Input `i` of `n` when present and not "".
    func input(_ n: Node, _ i: Int) -> String? { i < n.inputs.count && !n.inputs[i].isEmpty ? n.inputs[i] : nil }

    /// The constant value of input `i`, or an error saying the target opset needs it constant.
    func constantInput(_ n: Node, _ i: Int, _ what: String) throws -> Tensor? {
        guard let name = input(n, i) else { return nil }
        guard let t = graph.initializers[name] else {
            throw LoupeError.unsupported("\(n.label): '\(what)' is computed at run time, but opset \(target) needs it as a constant attribute")
        }
        return t
    }

    /// Sets input `i`, padding skipped optional inputs with "".
    func setInput(_ n: inout Node, _ i: Int, _ name: String) {
        while n.inputs.count <= i { n.inputs.append("") }
        n.inputs[i] = name
    }

    /// Drops trailing "" inputs.
    func trimmed(_ n: Node) -> Node {
        var n = n
        while let last = n.inputs.last, last.isEmpty { n.inputs.removeLast() }
        return n
    }

    func tooNew(_ n: Node, _ what: String, since: Int) -> LoupeError {
        LoupeError.unsupported("\(n.label): \(what) needs opset \(since) or later; cannot export at opset \(target)")
    }

    /// Removes attribute `name` when it holds its default; throws when it does not.
    func dropDefault(_ n: inout Node, _ name: String, isDefault: (Attribute) -> Bool, since: Int) throws {
        guard let v = n.attributes[name] else { return }
        guard isDefault(v) else { throw tooNew(n, "attribute '\(name)' = \(v)", since: since) }
        n.attributes[name] = nil
    }

    /// Attributes that are FLOAT in every op Loupe supports that has them.
    static let floatAttributes = ["alpha", "beta", "gamma", "epsilon", "momentum", "ratio", "bias", "lambd",
                                  "cubic_coeff_a", "extrapolation_value", "value_float"]

    static func isInt(_ value: Int) -> (Attribute) -> Bool {
        { if case .int(let v) = $0 { v == value } else { false } }
    }
    static func isString(_ value: String) -> (Attribute) -> Bool {
        { if case .string(let v) = $0 { v == value } else { false } }
    }
    static func allOnes(_ a: Attribute) -> Bool {
        if case .ints(let v) = a { v.allSatisfy { $0 == 1 } } else { false }
    }

    // MARK: - Attribute ⇄ input

    /// Moves an int-list attribute to input `index` (an int64 initializer) or back, for an op
    /// whose attribute became an input at opset `since`.
    mutating func intsAttributeOrInput(_ n: inout Node, _ name: String, index: Int, since: Int) throws {
        let wasInput = source >= since, wantInput = target >= since
        if !wasInput && wantInput, let v = try attributes(n).ints(name) {
            n.attributes[name] = nil
            setInput(&n, index, constant("\(n.name)_\(name)", Tensor.vector(v.map(Int64.init))))
        } else if wasInput && !wantInput, let t = try constantInput(n, index, name) {
            n.attributes[name] = .ints(t.intValues)
            n.inputs[index] = ""
        }
    }

    // MARK: - Rewriting

    mutating func rewrite(_ node: Node) throws {
        var n = node
        // Opset < 6 and < 7 bookkeeping attributes, gone from every later version.
        n.attributes["consumed_inputs"] = nil
        // Float attributes given as whole numbers by an importer are written as FLOAT, the
        // type the checker expects.
        for name in Self.floatAttributes {
            if case .int(let v)? = n.attributes[name] { n.attributes[name] = .float(Float(v)) }
        }
        if n.opType != "Dropout" && n.opType != "BatchNormalization" { n.attributes["is_test"] = nil }
        let readsX: Set<String> = ["Slice", "Clip", "Pad", "Upsample", "Resize", "Softmax", "LogSoftmax", "Dropout",
                                   "ReduceMax", "ReduceMin", "ReduceMean", "ReduceProd", "ReduceL1", "ReduceL2",
                                   "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare", "ReduceSum", "PRelu"]
        if readsX.contains(n.opType), input(n, 0) == nil {
            throw LoupeError.invalid("\(n.label) has no input")
        }
        try introducedOps(&n)
        switch n.opType {
        case "Add", "Sub", "Mul", "Div", "Pow", "And", "Or", "Equal", "Greater", "Less":
            try legacyBroadcast(&n)
            if target < 14, ["Add", "Sub", "Mul", "Div"].contains(n.opType), let x = input(n, 0) {
                let dt = dtype(x)
                if [.uint8, .int8, .uint16, .int16].contains(dt) { throw tooNew(n, "\(dt.name) operands", since: 14) }
            }
        case "PRelu":
            try legacyChannelSlope(&n)
        case "Gemm":
            n.attributes["broadcast"] = nil
        case "Squeeze", "Unsqueeze":
            try intsAttributeOrInput(&n, "axes", index: 1, since: 13)
        case "ReduceSum":
            try reduce(&n, since: 13)
        case "ReduceMax", "ReduceMin", "ReduceMean", "ReduceProd", "ReduceL1", "ReduceL2",
             "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare":
            try reduce(&n, since: 18)
            if n.opType == "Identity" { out.append(trimmed(n)); return }
        case "Split":
            try split(&n)
        case "Clip":
            try clip(&n)
        case "Pad":
            try pad(&n)
        case "Slice":
            try slice(&n)
        case "Reshape":
            if source < 5, let shape = try attributes(n).ints("shape") {
                n.attributes["shape"] = nil
                setInput(&n, 1, constant("\(n.name)_shape", Tensor.vector(shape.map(Int64.init))))
            }
            if target < 14 { try dropDefault(&n, "allowzero", isDefault: Self.isInt(0), since: 14) }
        case "Concat":
            if source < 4 && n.attributes["axis"] == nil { n.attributes["axis"] = .int(1) }
        case "Tile":
            if source < 6 { throw LoupeError.unsupported("\(n.label): opset-1 Tile (tiles and axis inputs) cannot be exported") }
        case "Cast":
            try cast(&n)
        case "Softmax", "LogSoftmax":
            if source < 13 { try softmax(n); return }
        case "Dropout":
            try dropout(&n)
        case "BatchNormalization":
            try batchNormalization(&n)
        case "Upsample":
            try upsample(&n)
        case "Resize":
            try resize(&n)
        case "AveragePool":
            if target < 19 { try dropDefault(&n, "dilations", isDefault: Self.allOnes, since: 19) }
        case "LpPool":
            if target < 18 {
                try dropDefault(&n, "dilations", isDefault: Self.allOnes, since: 18)
                try dropDefault(&n, "ceil_mode", isDefault: Self.isInt(0), since: 18)
            }
        case "Shape":
            if target < 15 {
                try dropDefault(&n, "start", isDefault: Self.isInt(0), since: 15)
                if n.attributes["end"] != nil { throw tooNew(n, "attribute 'end'", since: 15) }
            }
        case "HardSwish", "Mish", "Gelu":
            // Expanded by introducedOps when the target predates them.
            break
        default:
            break
        }
        out.append(trimmed(n))
    }

    /// Ops newer than the target: expanded into older ops where that is exact, else an error.
    mutating func introducedOps(_ n: inout Node) throws {
        let since: [String: Int] = ["HardSwish": 14, "CastLike": 15, "Mish": 18, "Gelu": 20]
        guard let v = since[n.opType], target < v else { return }
        guard let x = input(n, 0), let y = n.outputs.first else { throw LoupeError.invalid("\(n.label) has no input or output") }
        if n.opType == "CastLike" {
            // Cast to the element type of the second input, when that type is known.
            guard let like = input(n, 1), let t = graph.initializers[like]?.dtype ?? types()?[like]?.dtype else {
                throw LoupeError.unsupported("\(n.label): CastLike needs opset 15, and the target type is not known to write it as Cast")
            }
            n = Node(name: n.name, opType: "Cast", inputs: [x], outputs: [y], attributes: ["to": .int(Int(t.rawValue))])
            return
        }
        let dt = dtype(x)
        func scalar(_ base: String, _ v: Float) -> String { constant("\(n.name)_\(base)", Tensor(shape: [], floats: [v], dtype: dt)) }
        var expansion: [Node] = []
        switch n.opType {
        case "HardSwish":
            // x · HardSigmoid(x; α = 1/6, β = 1/2)
            let h = fresh("\(y)_hardsigmoid")
            expansion = [
                Node(name: fresh("\(n.name)_hardsigmoid"), opType: "HardSigmoid", inputs: [x], outputs: [h],
                     attributes: ["alpha": .float(1.0 / 6), "beta": .float(0.5)]),
                Node(name: n.name, opType: "Mul", inputs: [x, h], outputs: [y]),
            ]
        case "Mish":
            // x · tanh(softplus(x))
            let s = fresh("\(y)_softplus"), t = fresh("\(y)_tanh")
            expansion = [
                Node(name: fresh("\(n.name)_softplus"), opType: "Softplus", inputs: [x], outputs: [s]),
                Node(name: fresh("\(n.name)_tanh"), opType: "Tanh", inputs: [s], outputs: [t]),
                Node(name: n.name, opType: "Mul", inputs: [x, t], outputs: [y]),
            ]
        case "Gelu":
            let approximate = try attributes(n).string("approximate", "none")
            let half = scalar("half", 0.5), one = scalar("one", 1)
            var inner: [Node] = []
            let core = fresh("\(y)_core")
            if approximate == "tanh" {
                // tanh(√(2/π) · (x + 0.044715 x³))
                let three = scalar("three", 3), c = scalar("c", 0.044715), k = scalar("k", Float((2 / Double.pi).squareRoot()))
                let x3 = fresh("\(y)_cube"), cx3 = fresh("\(y)_cx3"), sum = fresh("\(y)_sum"), arg = fresh("\(y)_arg")
                inner = [
                    Node(name: fresh("\(n.name)_cube"), opType: "Pow", inputs: [x, three], outputs: [x3]),
                    Node(name: fresh("\(n.name)_cx3"), opType: "Mul", inputs: [x3, c], outputs: [cx3]),
                    Node(name: fresh("\(n.name)_sum"), opType: "Add", inputs: [x, cx3], outputs: [sum]),
                    Node(name: fresh("\(n.name)_arg"), opType: "Mul", inputs: [sum, k], outputs: [arg]),
                    Node(name: fresh("\(n.name)_tanh"), opType: "Tanh", inputs: [arg], outputs: [core]),
                ]
            } else {
                // erf(x / √2)
                let root2 = scalar("sqrt2", Float(2.0.squareRoot())), scaled = fresh("\(y)_scaled")
                inner = [
                    Node(name: fresh("\(n.name)_scaled"), opType: "Div", inputs: [x, root2], outputs: [scaled]),
                    Node(name: fresh("\(n.name)_erf"), opType: "Erf", inputs: [scaled], outputs: [core]),
                ]
            }
            let plus = fresh("\(y)_plus1"), xs = fresh("\(y)_xplus")
            expansion = inner + [
                Node(name: fresh("\(n.name)_plus1"), opType: "Add", inputs: [core, one], outputs: [plus]),
                Node(name: fresh("\(n.name)_xplus"), opType: "Mul", inputs: [x, plus], outputs: [xs]),
                Node(name: n.name, opType: "Mul", inputs: [xs, half], outputs: [y]),
            ]
        default:
            throw tooNew(n, "op \(n.opType)", since: v)
        }
        // The last node carries the original name and output; the caller appends it.
        out.append(contentsOf: expansion.dropLast())
        n = expansion.last!
    }

    /// Opset < 7 `broadcast = 1` with `axis`: B is aligned to A starting at `axis`. Later
    /// opsets align trailing axes, so B gets trailing size-1 axes: a constant B is reshaped,
    /// a computed one goes through an Unsqueeze.
    mutating func legacyBroadcast(_ n: inout Node) throws {
        guard source < 7 else { return }
        let a = attributes(n)
        let broadcast = try a.int("broadcast", 0)
        let axis = try a.int("axis")
        n.attributes["broadcast"] = nil
        n.attributes["axis"] = nil
        guard broadcast == 1, let axis, n.opType != "PRelu" else { return }
        guard let x = input(n, 0), let bName = input(n, 1) else { return }
        let b = graph.initializers[bName]
        guard let r = rank(x), let rb = b?.rank ?? rank(bName) else {
            throw LoupeError.unsupported("\(n.label): opset-\(source) broadcasting along axis \(axis) needs the operands' ranks to be known to export")
        }
        let start = axis < 0 ? axis + r : axis
        let trailing = r - start - rb
        guard trailing >= 0 else {
            throw LoupeError.shape("\(n.label): an operand of rank \(rb) does not fit axis \(axis) of rank \(r)")
        }
        guard trailing > 0 else { return }
        if let b {
            n.inputs[1] = constant("\(bName)_aligned", b.reshaped(b.shape + [Int](repeating: 1, count: trailing)))
        } else {
            let aligned = fresh("\(bName)_aligned")
            let axes = constant("\(n.name)_axes", Tensor.vector((rb..<(rb + trailing)).map(Int64.init)))
            out.append(Node(name: fresh("\(n.name)_align"), opType: "Unsqueeze", inputs: [bName, axes], outputs: [aligned]))
            n.inputs[1] = aligned
        }
    }

    /// Before opset 7 a 1-D slope of X's channel count applies along dimension 1; from 7 it
    /// broadcasts from the right, so it gets trailing size-1 axes.
    mutating func legacyChannelSlope(_ n: inout Node) throws {
        guard source < 7, let x = input(n, 0), let s = input(n, 1) else { return }
        guard let xt = types()?[x], let st = graph.initializers[s].map({ TensorType($0.dtype, $0.shape) }) ?? types()?[s] else {
            throw LoupeError.unsupported("\(n.label): opset-\(source) per-channel slopes need the operands' shapes to be known to export")
        }
        guard st.shape.count == 1, xt.shape.count > 2, st.shape[0] == xt.shape[1], st.shape[0] != 1 else { return }
        let trailing = xt.shape.count - 2
        if let t = graph.initializers[s] {
            n.inputs[1] = constant("\(s)_channels", t.reshaped(t.shape + [Int](repeating: 1, count: trailing)))
        } else {
            let aligned = fresh("\(s)_channels")
            let axes = constant("\(n.name)_axes", Tensor.vector((1...trailing).map(Int64.init)))
            out.append(Node(name: fresh("\(n.name)_align"), opType: "Unsqueeze", inputs: [s, axes], outputs: [aligned]))
            n.inputs[1] = aligned
        }
    }

    mutating func reduce(_ n: inout Node, since: Int) throws {
        let wasInput = source >= since, wantInput = target >= since
        if wasInput && !wantInput {
            let noop = try attributes(n).int("noop_with_empty_axes", 0)
            n.attributes["noop_with_empty_axes"] = nil
            let axes = try constantInput(n, 1, "axes")
            if let axes, axes.count > 0 {
                n.attributes["axes"] = .ints(axes.intValues)
            } else if noop != 0 {
                // No axes and noop: the input unchanged.
                n = Node(name: n.name, opType: "Identity", inputs: [n.inputs[0]], outputs: n.outputs)
                return
            }
            if n.inputs.count > 1 { n.inputs[1] = "" }
        } else {
            try intsAttributeOrInput(&n, "axes", index: 1, since: since)
        }
    }

    mutating func split(_ n: inout Node) throws {
        // `split` is an attribute in opsets 1–12 (opset 1 also took it as input 1), input 1 from 13.
        try intsAttributeOrInput(&n, "split", index: 1, since: 13)
        let hasSplit = input(n, 1) != nil
        if target >= 18 {
            if !hasSplit && n.attributes["num_outputs"] == nil { n.attributes["num_outputs"] = .int(n.outputs.count) }
        } else if let k = try attributes(n).int("num_outputs") {
            // Opset 18 splits into ceil(d / k) parts, the last smaller; earlier opsets need
            // equal parts, so an uneven split is given as explicit sizes.
            n.attributes["num_outputs"] = nil
            if let x = input(n, 0), let shape = types()?[x]?.shape {
                let axis = try normalizeAxis(try attributes(n).int("axis", 0), rank: shape.count)
                let d = shape[axis], part = (d + k - 1) / k
                if d % k != 0 {
                    let sizes = (0..<k).map { Int64(min(part, max(d - $0 * part, 0))) }
                    setInput(&n, 1, constant("\(n.name)_split", Tensor.vector(sizes)))
                }
            }
        }
    }

    mutating func clip(_ n: inout Node) throws {
        let fromFusion = n.attributes["loupe.export_clip_attributes"] != nil
        n.attributes["loupe.export_clip_attributes"] = nil
        guard source < 11 || fromFusion else { return }
        let a = attributes(n)
        let lo = try a.float("min", -.infinity), hi = try a.float("max", .infinity)
        let hasMin = n.attributes["min"] != nil, hasMax = n.attributes["max"] != nil
        n.attributes["min"] = nil
        n.attributes["max"] = nil
        let dt = dtype(n.inputs[0])
        if hasMin { setInput(&n, 1, constant("\(n.name)_min", Tensor(shape: [], floats: [lo], dtype: dt))) }
        if hasMax { setInput(&n, 2, constant("\(n.name)_max", Tensor(shape: [], floats: [hi], dtype: dt))) }
    }

    mutating func pad(_ n: inout Node) throws {
        let a = attributes(n)
        if source < 11 {
            let pads = try a.ints(source == 1 ? "paddings" : "pads") ?? a.ints("pads") ?? []
            let value = try a.float("value", 0)
            n.attributes["pads"] = nil
            n.attributes["paddings"] = nil
            n.attributes["value"] = nil
            setInput(&n, 1, constant("\(n.name)_pads", Tensor.vector(pads.map(Int64.init))))
            if value != 0 {
                setInput(&n, 2, constant("\(n.name)_value", Tensor(shape: [], floats: [value], dtype: dtype(n.inputs[0]))))
            }
        }
        if target < 18, input(n, 3) != nil { throw tooNew(n, "the 'axes' input", since: 18) }
        if target < 19, try a.string("mode", "constant") == "wrap" { throw tooNew(n, "mode 'wrap'", since: 19) }
    }

    mutating func slice(_ n: inout Node) throws {
        guard source < 10 else { return }
        let a = attributes(n)
        let starts = try a.ints("starts") ?? [], ends = try a.ints("ends") ?? []
        for k in ["starts", "ends", "axes"] { n.attributes[k] = nil }
        n.inputs = [n.inputs[0],
                    constant("\(n.name)_starts", Tensor.vector(starts.map(Int64.init))),
                    constant("\(n.name)_ends", Tensor.vector(ends.map(Int64.init)))]
        if let axes = try a.ints("axes") {
            n.inputs.append(constant("\(n.name)_axes", Tensor.vector(axes.map(Int64.init))))
        }
    }

    mutating func cast(_ n: inout Node) throws {
        if case .string(let s)? = n.attributes["to"] {
            let names: [String: DType] = ["FLOAT": .float32, "UINT8": .uint8, "INT8": .int8, "UINT16": .uint16,
                                          "INT16": .int16, "INT32": .int32, "INT64": .int64, "BOOL": .bool,
                                          "FLOAT16": .float16, "DOUBLE": .float64, "UINT32": .uint32, "UINT64": .uint64]
            guard let d = names[s.uppercased()] else { throw LoupeError.unsupported("\(n.label): cast to '\(s)' cannot be exported") }
            n.attributes["to"] = .int(Int(d.rawValue))
        }
        if target < 19 { n.attributes["saturate"] = nil }  // only matters for float8 types
    }

    /// Before opset 13, Softmax and LogSoftmax flatten the input to 2-D at `axis` (default 1)
    /// and normalise each row; from 13 they normalise along `axis` alone (default -1). Equal
    /// when `axis` is the last axis; otherwise written as Flatten → op → Reshape.
    mutating func softmax(_ n: Node) throws {
        guard let x = input(n, 0), let y = n.outputs.first else { throw LoupeError.invalid("\(n.label) has no input or output") }
        guard let r = rank(x) else {
            throw LoupeError.unsupported("\(n.label): opset-\(source) \(n.opType) needs the input's rank to be known to export")
        }
        let axis = try normalizeAxis(try attributes(n).int("axis", 1), rank: max(r, 1))
        if axis == r - 1 || r <= 1 {
            out.append(Node(name: n.name, opType: n.opType, inputs: [x], outputs: [y], attributes: ["axis": .int(-1)]))
            return
        }
        let flat = fresh("\(y)_flat"), soft = fresh("\(y)_2d"), shape = fresh("\(x)_shape")
        out.append(Node(name: fresh("\(n.name)_flatten"), opType: "Flatten", inputs: [x], outputs: [flat], attributes: ["axis": .int(axis)]))
        out.append(Node(name: n.name, opType: n.opType, inputs: [flat], outputs: [soft], attributes: ["axis": .int(-1)]))
        out.append(Node(name: fresh("\(n.name)_shape"), opType: "Shape", inputs: [x], outputs: [shape]))
        out.append(Node(name: fresh("\(n.name)_reshape"), opType: "Reshape", inputs: [soft, shape], outputs: [y]))
    }

    mutating func dropout(_ n: inout Node) throws {
        n.attributes["is_test"] = nil
        if source < 12 {
            let ratio = try attributes(n).float("ratio", 0.5)
            n.attributes["ratio"] = nil
            setInput(&n, 1, constant("\(n.name)_ratio", Tensor.scalar(ratio)))
        }
        // The mask is X's type before opset 10 and bool after: drop it when nothing reads it.
        if n.outputs.count > 1, !n.outputs[1].isEmpty {
            if (readers[n.outputs[1]] ?? 0) == 0 {
                n.outputs.removeLast(n.outputs.count - 1)
            } else if source < 10 {
                throw LoupeError.unsupported("\(n.label): the opset-\(source) mask output (of the input's type) is read by other nodes; from opset 10 it is bool")
            }
        }
    }

    mutating func batchNormalization(_ n: inout Node) throws {
        n.attributes["is_test"] = nil
        if source < 9 {
            if try attributes(n).int("spatial", 1) == 0 {
                throw LoupeError.unsupported("\(n.label): spatial = 0 (per-element statistics, opset < 9) cannot be expressed at opset \(target)")
            }
            n.attributes["spatial"] = nil
        }
        if n.outputs.count > 1 {
            if n.outputs.dropFirst().contains(where: { !$0.isEmpty && (readers[$0] ?? 0) > 0 }) {
                throw LoupeError.unsupported("\(n.label): the training outputs (running and saved statistics) are read by other nodes; Loupe exports inference graphs")
            }
            n.outputs = [n.outputs[0]]
        }
        if target < 14 { try dropDefault(&n, "training_mode", isDefault: Self.isInt(0), since: 14) }
    }

    /// Upsample (deprecated since 10) as Resize: asymmetric coordinates, nearest = floor.
    mutating func upsample(_ n: inout Node) throws {
        let a = attributes(n)
        let mode = try a.string("mode", "nearest")
        var scales: Tensor
        if source < 7, a.has("height_scale") || a.has("width_scale") {
            guard let r = rank(n.inputs[0]), r >= 2 else {
                throw LoupeError.unsupported("\(n.label): opset-1 Upsample needs the input's rank to be known to export")
            }
            scales = Tensor.vector([Float](repeating: 1, count: r - 2) + [try a.float("height_scale", 1), try a.float("width_scale", 1)])
        } else if source < 9, let s = try a.floats("scales") {
            scales = Tensor.vector(s)
        } else if let given = input(n, 1), graph.initializers[given] == nil {
            // Scales computed at run time go to Resize as they are; Upsample's are ≥ 1.
            let resizeMode = mode == "bilinear" ? "linear" : mode
            n.opType = "Resize"
            n.attributes = ["mode": .string(resizeMode), "coordinate_transformation_mode": .string("asymmetric")]
            if resizeMode == "nearest" { n.attributes["nearest_mode"] = .string("floor") }
            n.inputs = [n.inputs[0], "", given]
            return
        } else {
            guard let s = try constantInput(n, 1, "scales") else { throw LoupeError.invalid("\(n.label) has no scales") }
            scales = s
        }
        if scales.dtype != .float32 { scales = Tensor(shape: scales.shape, floats: scales.floatValues) }
        let resizeMode = mode == "bilinear" ? "linear" : mode
        n.opType = "Resize"
        n.attributes = ["mode": .string(resizeMode), "coordinate_transformation_mode": .string("asymmetric")]
        if resizeMode == "nearest" { n.attributes["nearest_mode"] = .string(try nearestMode(n, scales)) }
        n.inputs = [n.inputs[0], "", constant("\(n.name)_scales", scales)]
    }

    /// Upsample and opset-10 Resize take the floor of the source coordinate when enlarging
    /// and the ceiling when shrinking (as onnxruntime does).
    func nearestMode(_ n: Node, _ scales: Tensor) throws -> String {
        let s = scales.floatValues
        if s.allSatisfy({ $0 >= 1 }) { return "floor" }
        if s.allSatisfy({ $0 <= 1 }) { return "ceil" }
        throw LoupeError.unsupported("\(n.label): nearest resampling that enlarges some axes and shrinks others (scales \(s)) has no opset-\(target) form")
    }

    mutating func resize(_ n: inout Node) throws {
        let a = attributes(n)
        if source < 11 {
            let mode = try a.string("mode", "nearest")
            var attrs: [String: Attribute] = ["mode": .string(mode), "coordinate_transformation_mode": .string("asymmetric")]
            if mode == "nearest" {
                guard let s = try constantInput(n, 1, "scales") else { throw LoupeError.invalid("\(n.label) has no scales") }
                attrs["nearest_mode"] = .string(try nearestMode(n, s))
            }
            n.attributes = attrs
            n.inputs = [n.inputs[0], "", input(n, 1) ?? ""]
            return
        }
        // Empty roi and scales tensors of opsets 11–12 become omitted inputs.
        for i in 1...2 where i < n.inputs.count {
            if let t = graph.initializers[n.inputs[i]], t.count == 0 { n.inputs[i] = "" }
        }
        if try a.string("coordinate_transformation_mode", "half_pixel") == "tf_half_pixel_for_nn" {
            throw LoupeError.unsupported("\(n.label): coordinate_transformation_mode 'tf_half_pixel_for_nn' was removed in opset 13")
        }
        if target < 18 {
            try dropDefault(&n, "antialias", isDefault: Self.isInt(0), since: 18)
            try dropDefault(&n, "keep_aspect_ratio_policy", isDefault: Self.isString("stretch"), since: 18)
            if n.attributes["axes"] != nil { throw tooNew(n, "attribute 'axes'", since: 18) }
        }
        if target < 19, try a.string("coordinate_transformation_mode", "half_pixel") == "half_pixel_symmetric" {
            throw tooNew(n, "coordinate_transformation_mode 'half_pixel_symmetric'", since: 19)
        }
    }
}
