import CDNNL
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The one place Loupe touches oneDNN (Debian's libdnnl 2.6, `Sources/CDNNL`): the ISA cap,
/// the CPU engine, and convolution primitives (forward inference with a fused bias and
/// Relu/Clip, and backward-data, the input gradient) on NCHW buffers. Every oneDNN status
/// becomes a Swift `throws`; every handle is destroyed in a `deinit`.
///
/// Layouts: on NCHW buffers each call reorders the input into the layout oneDNN's kernel
/// chose (`format_tag_any`: NHWC for its AVX-512 brgconv, nChw16c / nChw8c for its jit
/// kernels) and the output back, which costs about 20 % of the convolution
/// (docs/engine-decision.md); inference plans carry the layouts between layers instead
/// (`CarriedLayout`, `OneDNNConvolution.forward(x:...)`, `PoolingPlan`, `ConcatPlan`).
/// Weights are reordered once per plan (`PreparedWeights`), primitives are created once per
/// shape (`ConvolutionPlan`).
///
/// Threads: Debian builds oneDNN with OpenMP. Before each primitive runs, the calling
/// thread's OpenMP team size is set to Loupe's thread count (1 inside a `parallelFor`), so
/// `--threads 1` runs each convolution on one thread.
enum OneDNN {
    /// `loupe_cpu_features()` from the shim: bit 0 SSE4.1, bit 1 AVX2 + FMA, bit 2 AVX-512 core.
    static let cpuFeatures: UInt32 = UInt32(loupe_cpu_features())

    /// Caps oneDNN's JIT at `path` (before its first kernel; once per process).
    static func capISA(_ path: ISAPath) throws {
        let isa: dnnl_cpu_isa_t
        switch path {
        case .avx512: isa = dnnl_cpu_isa_all
        case .avx2: isa = dnnl_cpu_isa_avx2
        case .baseline: isa = dnnl_cpu_isa_sse41
        }
        try check(dnnl_set_max_cpu_isa(isa), "setting the ISA cap to \(path.rawValue) (oneDNN accepts it only before its first kernel)")
    }

    /// The ISA oneDNN's kernels actually use, as oneDNN names it (e.g. `avx512_core_amx`).
    static var effectiveISAName: String {
        let isa = dnnl_get_effective_cpu_isa()
        let names: [(dnnl_cpu_isa_t, String)] = [
            (dnnl_cpu_isa_avx512_core_amx, "avx512_core_amx"), (dnnl_cpu_isa_avx512_core_bf16, "avx512_core_bf16"),
            (dnnl_cpu_isa_avx512_core_vnni, "avx512_core_vnni"), (dnnl_cpu_isa_avx512_core, "avx512_core"),
            (dnnl_cpu_isa_avx2_vnni, "avx2_vnni"), (dnnl_cpu_isa_avx2, "avx2"), (dnnl_cpu_isa_avx, "avx"),
            (dnnl_cpu_isa_sse41, "sse41"),
        ]
        return names.first { $0.0 == isa }?.1 ?? "0x" + String(isa.rawValue, radix: 16)
    }

    static func check(_ status: dnnl_status_t, _ what: @autoclosure () -> String) throws {
        guard status != dnnl_success else { return }
        throw LoupeError(.unsupported, "oneDNN: \(what()) failed (dnnl_status_t \(status.rawValue))")
    }

    /// The CPU engine, created after the ISA cap is fixed. Every primitive is created through
    /// it, so the calling thread's OpenMP team size is set here first: oneDNN's kernels take
    /// their thread count at creation (one inside a `parallelFor` body, where a team of two
    /// per worker would oversubscribe the cores).
    static func engine() throws -> dnnl_engine_t {
        _ = try ISAPath.current()
        applyThreads()
        return try sharedEngine.mutate { e in
            if let e { return e }
            var created: dnnl_engine_t?
            try check(dnnl_engine_create(&created, dnnl_cpu, 0), "creating the CPU engine")
            e = created
            return created!
        }
    }
    private static let sharedEngine = Locked<dnnl_engine_t?>(nil)

    typealias SetThreads = @convention(c) (Int32) -> Void
    typealias GetThreads = @convention(c) () -> Int32
    /// libgomp's `omp_set_num_threads` / `omp_get_max_threads`, found in the process (libdnnl
    /// links libgomp), nil if oneDNN was built with another runtime.
    static let openMP: (set: SetThreads, get: GetThreads)? = {
        guard let s = dlsym(nil, "omp_set_num_threads"), let g = dlsym(nil, "omp_get_max_threads") else { return nil }
        return (unsafeBitCast(s, to: SetThreads.self), unsafeBitCast(g, to: GetThreads.self))
    }()

    /// The OpenMP team a primitive made or run on this thread now gets: Loupe's thread count,
    /// 1 inside a `parallelFor` body.
    static var teamSize: Int { ParallelRegion.isInside ? 1 : Threads.count }

    /// Sets the calling thread's OpenMP team to `teamSize`.
    static func applyThreads() {
        guard let omp = openMP else { return }
        let n = Int32(teamSize)
        if omp.get() != n { omp.set(n) }
    }

    /// A memory descriptor of `dims` with a plain tag.
    static func plainDesc(_ dims: [Int], _ tag: dnnl_format_tag_t) throws -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        try check(dnnl_memory_desc_init_by_tag(&md, Int32(dims.count), dims.map(Int64.init), dnnl_f32, tag), "describing \(describe(dims))")
        return md
    }

    /// A memory on `md` over `handle` (Loupe's buffer), or allocated by oneDNN when nil.
    static func memory(_ md: UnsafePointer<dnnl_memory_desc_t>, _ eng: dnnl_engine_t, _ handle: UnsafeMutableRawPointer?) throws -> Memory {
        var m: dnnl_memory_t?
        try check(dnnl_memory_create(&m, md, eng, handle ?? loupe_dnnl_memory_allocate()), "creating a memory")
        return Memory(m!)
    }

    /// A reorder primitive between two layouts, nil when they are the same.
    static func reorder(_ from: UnsafePointer<dnnl_memory_desc_t>, _ to: UnsafePointer<dnnl_memory_desc_t>,
                        _ eng: dnnl_engine_t) throws -> Primitive? {
        if dnnl_memory_desc_equal(from, to) != 0 { return nil }
        let attributes = try Attributes()
        var pd: dnnl_primitive_desc_t?
        try withExtendedLifetime(attributes) {
            try check(dnnl_reorder_primitive_desc_create(&pd, from, eng, to, eng, attributes.handle), "creating a reorder")
        }
        defer { dnnl_primitive_desc_destroy(pd) }
        return try Primitive(pd!, "reorder")
    }

    /// Runs `primitive` with `args` on a fresh stream and waits for it.
    static func execute(_ primitive: Primitive, _ args: [(Int32, Memory)], _ eng: dnnl_engine_t) throws {
        applyThreads()
        var args = args
        var scratch: ScratchBuffer? = nil
        defer { if let scratch { ScratchPool.giveScratchpad(scratch) } }
        if var md = primitive.scratchpad {
            let buffer = ScratchPool.takeScratchpad()
            scratch = buffer
            args.append((DNNL_ARG_SCRATCHPAD, try memory(&md, eng, buffer.reserve(dnnl_memory_desc_get_size(&md)))))
        }
        var stream: dnnl_stream_t?
        try check(dnnl_stream_create(&stream, eng, dnnl_stream_default_flags.rawValue), "creating a stream")
        defer { dnnl_stream_destroy(stream) }
        let exec = args.map { dnnl_exec_arg_t(arg: $0.0, memory: $0.1.handle) }
        try withExtendedLifetime(args) {
            try check(dnnl_primitive_execute(primitive.handle, stream, Int32(exec.count), exec), "executing a primitive")
            try check(dnnl_stream_wait(stream), "waiting for a stream")
        }
    }

    /// Owns a `dnnl_memory_t`.
    final class Memory {
        let handle: dnnl_memory_t
        init(_ h: dnnl_memory_t) { handle = h }
        deinit { dnnl_memory_destroy(handle) }
    }

    /// Owns a `dnnl_primitive_t`, made from a descriptor created with `Attributes` (user
    /// scratchpad): `execute` gives it a scratchpad of its own at each call.
    ///
    /// oneDNN fixes a primitive's OpenMP team when it is made (`threads`, the `teamSize` of
    /// the thread that made it) and must not run it with a larger one; run with a smaller one
    /// it still starts its own team. Every cache of primitives therefore keys them by
    /// `threads` as well, so that a primitive made inside a `parallelFor` body is only
    /// reused there, and one made outside only outside.
    final class Primitive {
        let handle: dnnl_primitive_t
        /// Its scratchpad's descriptor; nil when it needs none.
        let scratchpad: dnnl_memory_desc_t?
        let threads: Int

        init(_ pd: dnnl_primitive_desc_t, _ what: @autoclosure () -> String) throws {
            var p: dnnl_primitive_t?
            try check(dnnl_primitive_create(&p, pd), "creating the \(what()) primitive")
            handle = p!
            var md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0).pointee
            scratchpad = dnnl_memory_desc_get_size(&md) > 0 ? md : nil
            threads = teamSize
        }

        deinit { dnnl_primitive_destroy(handle) }
    }

    /// Primitive attributes with a user-managed scratchpad. oneDNN's default keeps one
    /// scratchpad per thread, made by the thread that creates a primitive; run on another
    /// thread (a `parallelMap` worker), the primitive finds none there and writes through a
    /// null pointer. With its own scratchpad at each call a primitive runs on any thread.
    final class Attributes {
        let handle: dnnl_primitive_attr_t
        init() throws {
            // Every primitive descriptor is made with attributes: oneDNN reads the team size then.
            applyThreads()
            var a: dnnl_primitive_attr_t?
            try check(dnnl_primitive_attr_create(&a), "creating attributes")
            handle = a!
            try check(dnnl_primitive_attr_set_scratchpad_mode(handle, dnnl_scratchpad_mode_user), "asking for a user scratchpad")
        }
        deinit { dnnl_primitive_attr_destroy(handle) }
    }

    /// Owns a `dnnl_primitive_desc_t`.
    final class PrimitiveDesc {
        let handle: dnnl_primitive_desc_t
        init(_ h: dnnl_primitive_desc_t) { handle = h }
        deinit { dnnl_primitive_desc_destroy(handle) }
        func md(_ what: dnnl_query_t) -> dnnl_memory_desc_t { dnnl_primitive_desc_query_md(handle, what, 0).pointee }
        var implementation: String {
            var p: UnsafePointer<CChar>?
            guard dnnl_primitive_desc_query(handle, dnnl_query_impl_info_str, 0, &p) == dnnl_success, let p else { return "?" }
            return String(cString: p)
        }
    }

    /// A convolution problem in oneDNN's terms: plain NCHW / (g)oihw descriptors and the
    /// strides, dilations (oneDNN counts the gaps: ONNX's minus one) and paddings.
    struct Problem {
        var src: dnnl_memory_desc_t, weights: dnnl_memory_desc_t, dst: dnnl_memory_desc_t
        var srcAny: dnnl_memory_desc_t, weightsAny: dnnl_memory_desc_t, dstAny: dnnl_memory_desc_t
        var strides: [Int64], dilates: [Int64], padL: [Int64], padR: [Int64]
        var description: String

        init(batch N: Int, channels C: Int, outChannels M: Int, group: Int, _ g: ConvGeometry) throws {
            let wDims = group > 1 ? [group, M / group, C / group] + g.kernel : [M, C] + g.kernel
            let srcDims = [N, C] + g.input, dstDims = [N, M] + g.output
            src = try plainDesc(srcDims, dnnl_nchw)
            dst = try plainDesc(dstDims, dnnl_nchw)
            weights = try plainDesc(wDims, group > 1 ? dnnl_goihw : dnnl_oihw)
            srcAny = try plainDesc(srcDims, dnnl_format_tag_any)
            dstAny = try plainDesc(dstDims, dnnl_format_tag_any)
            weightsAny = try plainDesc(wDims, dnnl_format_tag_any)
            strides = g.strides.map(Int64.init)
            dilates = g.dilations.map { Int64($0 - 1) }
            padL = g.padsBegin.map(Int64.init)
            // oneDNN's right padding is what the output size implies (negative when the
            // last input rows are never read).
            padR = (0..<2).map { (i: Int) -> Int64 in
                let reach: Int = (g.output[i] - 1) * g.strides[i] + (g.kernel[i] - 1) * g.dilations[i] + 1
                return Int64(reach - g.input[i] - g.padsBegin[i])
            }
            description = "x \(describe(srcDims)), W \(describe(wDims)), group \(group), \(g)"
        }
    }
}

/// Weights reordered once into the layout a primitive chose. Holds the source array, so its
/// buffer (the cache key) cannot be freed and reused by other weights while cached.
final class PreparedWeights {
    let source: [Float]
    let desc: dnnl_memory_desc_t
    let memory: OneDNN.Memory

    init(_ weights: [Float], plain: dnnl_memory_desc_t, into desc: dnnl_memory_desc_t, _ eng: dnnl_engine_t) throws {
        source = weights
        self.desc = desc
        var plain = plain, d = desc
        memory = try OneDNN.memory(&d, eng, nil)
        try weights.withUnsafeBufferPointer { p in
            let from = try OneDNN.memory(&plain, eng, UnsafeMutableRawPointer(mutating: p.baseAddress!))
            if let r = try OneDNN.reorder(&plain, &d, eng) {
                try OneDNN.execute(r, [(DNNL_ARG_FROM, from), (DNNL_ARG_TO, memory)], eng)
            } else {
                var to: UnsafeMutableRawPointer?
                try OneDNN.check(dnnl_memory_get_data_handle(memory.handle, &to), "reading a memory")
                to!.copyMemory(from: p.baseAddress!, byteCount: p.count * MemoryLayout<Float>.size)
            }
        }
    }
}

/// One convolution, ready to run on NCHW buffers: the primitive for one shape, its
/// prepared weights, and the reorders of the activations in and out.
final class OneDNNConvolution {
    enum Direction { case forward, backwardData }
    /// `direct`, or Winograd's minimal filtering (Lavin & Gray, "Fast Algorithms for
    /// Convolutional Neural Networks", CVPR 2016): oneDNN 2.6 has it for 3×3 stride-1 f32
    /// convolutions on AVX-512 only (`jit_fp32_wino_2x3` forward inference, F(2,3);
    /// `jit_wino_4x3` forward and backward-data, F(4,3)); creating it elsewhere throws.
    enum Algorithm { case direct, winograd }
    let direction: Direction
    let algorithm: Algorithm
    let pd: OneDNN.PrimitiveDesc
    let primitive: OneDNN.Primitive
    let weights: PreparedWeights
    /// NCHW and the primitive's layout of its input (src, or diff_dst) and output.
    var inPlain: dnnl_memory_desc_t, inDesc: dnnl_memory_desc_t
    var outPlain: dnnl_memory_desc_t, outDesc: dnnl_memory_desc_t
    let reorderIn: OneDNN.Primitive?, reorderOut: OneDNN.Primitive?
    /// NCHW → the destination's layout, for the residual addend of a `sum` post-op.
    let reorderAddend: OneDNN.Primitive?
    let eng: dnnl_engine_t
    let hasBias: Bool
    /// The primitive adds the destination's previous contents (a residual addend): post-ops
    /// `sum` then the eltwise clip, so y = clip(conv(x) + b + addend).
    let sum: Bool

    /// Creates the primitive for one shape; its weights come from `store` (reordered only
    /// the first time this array meets this layout).
    init(_ direction: Direction, _ algorithm: Algorithm = .direct, batch: Int, channels C: Int, outChannels M: Int,
         group: Int, _ g: ConvGeometry, bias: Bool, clip: (Float, Float)?, sum: Bool = false,
         weights array: [Float], id: UInt, store: PreparedWeightStore) throws {
        var p = try OneDNN.Problem(batch: batch, channels: C, outChannels: M, group: group, g)
        let eng = try OneDNN.engine()
        self.eng = eng
        self.direction = direction
        self.algorithm = algorithm
        hasBias = bias
        self.sum = sum && direction == .forward
        let alg = algorithm == .winograd ? dnnl_convolution_winograd : dnnl_convolution_direct
        var biasDesc = dnnl_memory_desc_t()
        if bias { biasDesc = try OneDNN.plainDesc([Int(p.dst.dims.1)], dnnl_a) }
        var cd = dnnl_convolution_desc_t()
        let made: OneDNN.PrimitiveDesc
        switch direction {
        case .forward:
            let status = withUnsafePointer(to: &biasDesc) { b in
                dnnl_dilated_convolution_forward_desc_init(
                    &cd, dnnl_forward_inference, alg, &p.srcAny, &p.weightsAny,
                    bias ? b : nil, &p.dstAny, p.strides, p.dilates, p.padL, p.padR)
            }
            try OneDNN.check(status, "describing the convolution \(p.description)")
            let attributes = try OneDNN.Attributes()
            defer { withExtendedLifetime(attributes) {} }
            let attr = attributes.handle
            if clip != nil || sum {
                var ops: dnnl_post_ops_t?
                try OneDNN.check(dnnl_post_ops_create(&ops), "creating post-ops")
                defer { dnnl_post_ops_destroy(ops) }
                // The sum post-op reads the destination before the kernel writes it: `run`
                // puts the addend there first (in the destination's layout).
                if sum { try OneDNN.check(dnnl_post_ops_append_sum(ops, 1), "adding a sum post-op") }
                if let (lo, hi) = clip {
                    if lo == 0 && hi == .infinity {
                        try OneDNN.check(dnnl_post_ops_append_eltwise(ops, 1, dnnl_eltwise_relu, 0, 0), "adding a Relu post-op")
                    } else {
                        try OneDNN.check(dnnl_post_ops_append_eltwise(ops, 1, dnnl_eltwise_clip, lo, hi), "adding a Clip post-op")
                    }
                }
                try OneDNN.check(dnnl_primitive_attr_set_post_ops(attr, ops), "setting post-ops")
            }
            var pd: dnnl_primitive_desc_t?
            try OneDNN.check(dnnl_primitive_desc_create(&pd, &cd, attr, eng, nil), "creating the convolution \(p.description)")
            made = OneDNN.PrimitiveDesc(pd!)
            inPlain = p.src; inDesc = made.md(dnnl_query_src_md)
            outPlain = p.dst; outDesc = made.md(dnnl_query_dst_md)
        case .backwardData:
            var fd = dnnl_convolution_desc_t()
            try OneDNN.check(dnnl_dilated_convolution_forward_desc_init(
                &fd, dnnl_forward_training, alg, &p.srcAny, &p.weightsAny, nil, &p.dstAny,
                p.strides, p.dilates, p.padL, p.padR), "describing the convolution \(p.description)")
            var hint: dnnl_primitive_desc_t?
            try OneDNN.check(dnnl_primitive_desc_create(&hint, &fd, nil, eng, nil), "creating the convolution \(p.description)")
            defer { dnnl_primitive_desc_destroy(hint) }
            // Fewer than 16 input channels (an image stem): the blocked kernels pad dX to 16
            // channels and ran ResNet-50's stem at a quarter of oneDNN's own GEMM-based
            // kernel (`gemm:jit`: its sgemm and col2im, on NCHW), which a plain dX selects.
            var diffSrc = C < 16 ? p.src : p.srcAny
            try OneDNN.check(dnnl_dilated_convolution_backward_data_desc_init(
                &cd, alg, &diffSrc, &p.weightsAny, &p.dstAny,
                p.strides, p.dilates, p.padL, p.padR), "describing the input gradient of \(p.description)")
            var pd: dnnl_primitive_desc_t?
            let attributes = try OneDNN.Attributes()
            try withExtendedLifetime(attributes) {
                try OneDNN.check(dnnl_primitive_desc_create(&pd, &cd, attributes.handle, eng, hint),
                                 "creating the input gradient of \(p.description)")
            }
            made = OneDNN.PrimitiveDesc(pd!)
            inPlain = p.dst; inDesc = made.md(dnnl_query_diff_dst_md)
            outPlain = p.src; outDesc = made.md(dnnl_query_diff_src_md)
        }
        pd = made
        primitive = try OneDNN.Primitive(made.handle, "convolution \(p.description)")
        weights = try store.weights(array, id: id, plain: p.weights, desc: made.md(dnnl_query_weights_md), eng)
        reorderIn = try OneDNN.reorder(&inPlain, &inDesc, eng)
        reorderOut = try OneDNN.reorder(&outDesc, &outPlain, eng)
        reorderAddend = self.sum ? try OneDNN.reorder(&outPlain, &outDesc, eng) : nil
    }

    /// The implementation oneDNN chose, e.g. `brgconv:avx512_core`.
    var implementation: String { pd.implementation }

    /// Runs on NCHW buffers: `input` is x (forward) or dy (backward-data), `output` y or dx;
    /// `addend` (NCHW, the output's shape) is what the `sum` post-op adds.
    /// The blocked copies of input and output live in scratch buffers reused across calls
    /// (`ScratchPool`): fresh allocations each call cost page faults every time.
    func run(input: UnsafePointer<Float>, bias: UnsafePointer<Float>?, addend: UnsafePointer<Float>? = nil,
             output: UnsafeMutablePointer<Float>) throws {
        precondition(sum == (addend != nil), "a sum post-op needs an addend, and only it")
        let scratchIn = ScratchPool.take(), scratchOut = ScratchPool.take()
        defer { ScratchPool.give(scratchIn); ScratchPool.give(scratchOut) }
        let inUser = try OneDNN.memory(&inPlain, eng, UnsafeMutableRawPointer(mutating: input))
        var inMem = inUser
        if let r = reorderIn {
            inMem = try OneDNN.memory(&inDesc, eng, scratchIn.reserve(dnnl_memory_desc_get_size(&inDesc)))
            try ReorderProfile.time { try OneDNN.execute(r, [(DNNL_ARG_FROM, inUser), (DNNL_ARG_TO, inMem)], eng) }
        }
        let outUser = try OneDNN.memory(&outPlain, eng, UnsafeMutableRawPointer(output))
        let outMem = reorderOut == nil ? outUser
            : try OneDNN.memory(&outDesc, eng, scratchOut.reserve(dnnl_memory_desc_get_size(&outDesc)))
        if let addend {
            // oneDNN's sum post-op computes dst = conv + dst: the destination memory the
            // primitive writes must hold the addend, in its layout, before it runs.
            if let r = reorderAddend {
                let from = try OneDNN.memory(&outPlain, eng, UnsafeMutableRawPointer(mutating: addend))
                try ReorderProfile.time { try OneDNN.execute(r, [(DNNL_ARG_FROM, from), (DNNL_ARG_TO, outMem)], eng) }
            } else if UnsafePointer(output) != addend {
                output.update(from: addend, count: dnnl_memory_desc_get_size(&outPlain) / MemoryLayout<Float>.size)
            }
        }
        var args: [(Int32, OneDNN.Memory)]
        switch direction {
        case .forward:
            args = [(DNNL_ARG_SRC, inMem), (DNNL_ARG_WEIGHTS, weights.memory), (DNNL_ARG_DST, outMem)]
            if hasBias, let bias {
                var bd = try OneDNN.plainDesc([Int(outPlain.dims.1)], dnnl_a)
                args.append((DNNL_ARG_BIAS, try OneDNN.memory(&bd, eng, UnsafeMutableRawPointer(mutating: bias))))
            }
        case .backwardData:
            args = [(DNNL_ARG_DIFF_DST, inMem), (DNNL_ARG_WEIGHTS, weights.memory), (DNNL_ARG_DIFF_SRC, outMem)]
        }
        try OneDNN.execute(primitive, args, eng)
        if let r = reorderOut {
            try ReorderProfile.time { try OneDNN.execute(r, [(DNNL_ARG_FROM, outMem), (DNNL_ARG_TO, outUser)], eng) }
        }
    }
}

/// The weights a plan has prepared, by array identity and layout; emptied past `capacity`.
final class PreparedWeightStore: @unchecked Sendable {
    private let list = Locked<[(id: UInt, weights: PreparedWeights)]>([])
    let capacity: Int
    init(capacity: Int) { self.capacity = capacity }

    func weights(_ array: [Float], id: UInt, plain: dnnl_memory_desc_t, desc: dnnl_memory_desc_t,
                 _ eng: dnnl_engine_t) throws -> PreparedWeights {
        var d = desc
        if let p = list.value.first(where: { entry in
            var other = entry.weights.desc
            return entry.id == id && dnnl_memory_desc_equal(&d, &other) != 0
        }) {
            return p.weights
        }
        let p = try PreparedWeights(array, plain: plain, into: desc, eng)
        list.mutate { l in
            if l.count >= capacity { l.removeAll() }
            l.append((id, p))
        }
        return p
    }
}

/// A 64-byte-aligned buffer that grows to the largest size asked of it.
final class ScratchBuffer {
    private(set) var pointer: UnsafeMutableRawPointer? = nil
    private(set) var bytes = 0

    func reserve(_ n: Int) -> UnsafeMutableRawPointer {
        if n > bytes || pointer == nil {
            free(pointer)
            var p: UnsafeMutableRawPointer? = nil
            guard posix_memalign(&p, 64, max(n, 64)) == 0, let p else { fatalError("out of memory (\(n) bytes of scratch)") }
            pointer = p
            bytes = max(n, 64)
        }
        return pointer!
    }

    deinit { free(pointer) }
}

/// Scratch buffers shared by every convolution of the process: a call takes two and gives
/// them back, so the pool holds two per convolution running at once, each as large as the
/// largest blocked activation seen.
///
/// Primitives' scratchpads (`OneDNN.execute`) come from a list of their own, so that these
/// buffers grow to the largest scratchpad, not to the largest activation.
enum ScratchPool {
    private static let spare = Locked<[ScratchBuffer]>([])
    static func take() -> ScratchBuffer { spare.mutate { $0.popLast() } ?? ScratchBuffer() }
    static func give(_ b: ScratchBuffer) { spare.mutate { $0.append(b) } }

    private static let spareScratchpads = Locked<[ScratchBuffer]>([])
    static func takeScratchpad() -> ScratchBuffer { spareScratchpads.mutate { $0.popLast() } ?? ScratchBuffer() }
    static func giveScratchpad(_ b: ScratchBuffer) { spareScratchpads.mutate { $0.append(b) } }
}

// MARK: - Carried layouts (inference plans; docs/engine.md, "Carried layouts")

/// Activation buffers too large for glibc's heap, kept for the next allocation of the same
/// size. glibc serves an allocation above its mmap threshold (at most 32 MiB) with fresh
/// pages from the kernel and unmaps it when freed, so such a buffer page-faults on every
/// first write: MobileNetV2's 38.5 MB 16→96 activation at batch 8 spent 16 of its 20 ms in
/// page faults, a fifth of the whole pass. A plan makes the same sizes at every run, so the
/// buffers freed by one run are the next run's. At most `capacity` bytes are kept (the
/// oldest freed first beyond it); smaller buffers go back to malloc, which reuses them itself.
enum LargeBufferPool {
    static let threshold = 32 << 20
    static let capacity = 512 << 20
    private static let spare = Locked<(buffers: [(bytes: Int, pointer: UnsafeMutableRawPointer)], total: Int)>(([], 0))

    static func take(_ bytes: Int) -> UnsafeMutableRawPointer? {
        guard bytes >= threshold else { return nil }
        return spare.mutate { s in
            guard let i = s.buffers.lastIndex(where: { $0.bytes == bytes }) else { return nil }
            s.total -= bytes
            return s.buffers.remove(at: i).pointer
        }
    }

    static func give(_ pointer: UnsafeMutableRawPointer, _ bytes: Int) {
        guard bytes >= threshold, bytes <= capacity else { return free(pointer) }
        let evicted: [UnsafeMutableRawPointer] = spare.mutate { s in
            s.buffers.append((bytes, pointer))
            s.total += bytes
            var out: [UnsafeMutableRawPointer] = []
            while s.total > capacity {
                let first = s.buffers.removeFirst()
                s.total -= first.bytes
                out.append(first.pointer)
            }
            return out
        }
        evicted.forEach { free($0) }
    }
}

/// An activation in the memory layout a oneDNN primitive chose (`format_tag_any`: NHWC for
/// the AVX-512 brgconv kernels, `nChw16c` / `nChw8c` for the jit kernels), carried to the
/// next layout-aware op instead of being reordered to NCHW and back. Owns a 64-byte-aligned
/// buffer of the descriptor's size (blocked layouts pad the channels to the block).
public final class CarriedLayout: @unchecked Sendable {
    var desc: dnnl_memory_desc_t
    let buffer: UnsafeMutableRawPointer
    public let bytes: Int

    init(_ desc: dnnl_memory_desc_t) {
        var d = desc
        self.desc = desc
        bytes = max(dnnl_memory_desc_get_size(&d), 64)
        if let reused = LargeBufferPool.take(bytes) {
            buffer = reused
            return
        }
        var p: UnsafeMutableRawPointer? = nil
        guard posix_memalign(&p, 64, bytes) == 0, let p else { fatalError("out of memory (\(bytes) bytes for an activation)") }
        buffer = p
    }

    deinit { LargeBufferPool.give(buffer, bytes) }

    /// The layout in oneDNN's terms: strides per dimension and the inner blocks, e.g.
    /// `strides [200704, 1, 3584, 64] blocks []` (NHWC) or `blocks [16 of dim 1]` (nChw16c).
    public var layoutDescription: String { Self.describe(desc) }

    static func describe(_ desc: dnnl_memory_desc_t) -> String {
        let n = Int(desc.ndims)
        let b = desc.format_desc.blocking
        let dims = withUnsafeBytes(of: desc.dims) { Array($0.bindMemory(to: Int64.self).prefix(n)) }
        let strides = withUnsafeBytes(of: b.strides) { Array($0.bindMemory(to: Int64.self).prefix(n)) }
        let blks = withUnsafeBytes(of: b.inner_blks) { Array($0.bindMemory(to: Int64.self).prefix(Int(b.inner_nblks))) }
        let idxs = withUnsafeBytes(of: b.inner_idxs) { Array($0.bindMemory(to: Int64.self).prefix(Int(b.inner_nblks))) }
        return "\(dims) strides \(strides) blocks \(zip(blks, idxs).map { "\($0.0) of dim \($0.1)" })"
    }
}

extension Tensor {
    /// A float tensor of `shape` whose data is `carried` (in a oneDNN layout).
    init(shape: [Int], carried: CarriedLayout) {
        self.init(shape: [0], floats: [])
        self.shape = shape
        self.carried = carried
    }

    /// True when the data is in a oneDNN layout (`carried`), not in `floats`.
    public var isCarried: Bool { carried != nil }

    /// This tensor in plain row-major (NCHW) layout: itself when it is, else the carried data
    /// reordered by oneDNN.
    public func plain() throws -> Tensor {
        guard let c = carried else { return self }
        let eng = try OneDNN.engine()
        let n = Int(c.desc.ndims)
        let dims = withUnsafeBytes(of: c.desc.dims) { Array($0.bindMemory(to: Int64.self).prefix(n)).map(Int.init) }
        let tags: [Int: dnnl_format_tag_t] = [3: dnnl_ncw, 4: dnnl_nchw, 5: dnnl_ncdhw]
        guard let tag = tags[n] else { throw LoupeError.unsupported("a carried activation of rank \(n)") }
        let plain = try OneDNN.plainDesc(dims, tag)
        let count = dims.reduce(1, *)
        precondition(count == self.count, "carried \(describe(dims)) for shape \(describe(shape))")
        var t = try Tensor(shape: shape) { buf in
            try OneDNN.reorder(from: c.desc, c.buffer, to: plain, UnsafeMutableRawPointer(buf.baseAddress!), eng)
        }
        t.dtype = dtype
        return t
    }

    /// Whether `other` holds its data in the same layout: both plain, or carried alike.
    public func hasSameLayout(as other: Tensor) -> Bool {
        switch (carried, other.carried) {
        case (nil, nil): return shape == other.shape
        case (let a?, let b?):
            var d = a.desc, e = b.desc
            return shape == other.shape && dnnl_memory_desc_equal(&d, &e) != 0
        default: return false
        }
    }

    /// Calls `body` with the float data as it is stored: `floats`, or the whole carried buffer
    /// (a blocked layout's padding included, which holds zeros).
    public func withStoredFloats<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        guard let c = carried else { return try floats.withUnsafeBufferPointer(body) }
        var d = c.desc
        let n = dnnl_memory_desc_get_size(&d) / MemoryLayout<Float>.size
        return try withExtendedLifetime(c) { try body(UnsafeBufferPointer(start: c.buffer.assumingMemoryBound(to: Float.self), count: n)) }
    }

    /// An element-wise map of `a` and `b` stored in the same layout (`hasSameLayout`), whose
    /// result has that layout too: `body(a, b, out)` over the stored floats. Nil when the
    /// layouts differ.
    public static func zipStored(_ a: Tensor, _ b: Tensor,
                                 _ body: (UnsafeBufferPointer<Float>, UnsafeBufferPointer<Float>, UnsafeMutableBufferPointer<Float>) -> Void) throws -> Tensor? {
        guard a.hasSameLayout(as: b), a.isFloat, b.isFloat else { return nil }
        guard let c = a.carried else {
            return try a.floats.withUnsafeBufferPointer { pa in
                try b.floats.withUnsafeBufferPointer { pb in try Tensor(shape: a.shape) { out in body(pa, pb, out) } }
            }
        }
        let out = CarriedLayout(c.desc)
        a.withStoredFloats { pa in
            b.withStoredFloats { pb in
                body(pa, pb, UnsafeMutableBufferPointer(start: out.buffer.assumingMemoryBound(to: Float.self), count: pa.count))
            }
        }
        var t = Tensor(shape: a.shape, carried: out)
        t.dtype = a.dtype
        return t
    }

    /// This tensor in layout `want` (`plain` being NCHW): itself when it is, else a copy,
    /// carried unless `want` is plain.
    func inLayout(_ want: dnnl_memory_desc_t, plain: dnnl_memory_desc_t) throws -> Tensor {
        var w = want, p = plain
        if dnnl_memory_desc_equal(&w, &p) != 0 { return try self.plain() }
        let eng = try OneDNN.engine()
        return try withActivation(plain: plain) { ptr, desc in
            var d = desc
            if dnnl_memory_desc_equal(&d, &w) != 0 { return self }
            let c = CarriedLayout(want)
            try OneDNN.reorder(from: desc, ptr, to: want, c.buffer, eng)
            var t = Tensor(shape: shape, carried: c)
            t.dtype = dtype
            return t
        }
    }

    /// Calls `body` with the data and its oneDNN descriptor (`plain` when not carried).
    func withActivation<R>(plain: dnnl_memory_desc_t, _ body: (UnsafeMutableRawPointer, dnnl_memory_desc_t) throws -> R) throws -> R {
        if let c = carried { return try withExtendedLifetime(c) { try body(c.buffer, c.desc) } }
        return try floats.withUnsafeBufferPointer { p in
            guard let base = p.baseAddress else { throw LoupeError.invalid("an empty activation") }
            return try body(UnsafeMutableRawPointer(mutating: base), plain)
        }
    }
}

extension OneDNN {
    /// Reorder primitives by (from, to) descriptor, shared by the process: a carried layout
    /// meeting a primitive that wants another needs one reorder, made once.
    private static let reorders = Locked<[(dnnl_memory_desc_t, dnnl_memory_desc_t, Primitive)]>([])

    /// Copies `from` (layout `fromDesc`) into `to` (layout `toDesc`): a reorder, or a memcpy
    /// when the layouts are the same. Timed under `LOUPE_PROFILE` (`ReorderProfile`).
    static func reorder(from fromDesc: dnnl_memory_desc_t, _ from: UnsafeMutableRawPointer,
                        to toDesc: dnnl_memory_desc_t, _ to: UnsafeMutableRawPointer, _ eng: dnnl_engine_t) throws {
        var f = fromDesc, t = toDesc
        if dnnl_memory_desc_equal(&f, &t) != 0 {
            if from != to { to.copyMemory(from: from, byteCount: dnnl_memory_desc_get_size(&f)) }
            return
        }
        let threads = teamSize
        let found = reorders.value.first { e in
            var a = e.0, b = e.1
            return e.2.threads == threads && dnnl_memory_desc_equal(&a, &f) != 0 && dnnl_memory_desc_equal(&b, &t) != 0
        }?.2
        let r: Primitive
        if let found { r = found } else {
            guard let made = try reorder(&f, &t, eng) else { return }
            if ReorderProfile.layouts {
                FileHandle.standardError.write(Data("reorder \(CarriedLayout.describe(f)) -> \(CarriedLayout.describe(t))\n".utf8))
            }
            reorders.mutate { l in
                if l.count >= 256 { l.removeAll() }
                l.append((f, t, made))
            }
            r = made
        }
        let a = try memory(&f, eng, from), b = try memory(&t, eng, to)
        try ReorderProfile.time { try execute(r, [(DNNL_ARG_FROM, a), (DNNL_ARG_TO, b)], eng) }
    }

    /// The memory of `t`'s data in layout `want`: its own buffer when it is already in that
    /// layout, else a reorder into `scratch`.
    static func memory(of t: Tensor, plain: dnnl_memory_desc_t, want: dnnl_memory_desc_t, scratch: ScratchBuffer,
                       _ eng: dnnl_engine_t) throws -> Memory {
        try t.withActivation(plain: plain) { ptr, desc in
            var d = desc, w = want
            if dnnl_memory_desc_equal(&d, &w) != 0 { return try memory(&d, eng, ptr) }
            let s = scratch.reserve(dnnl_memory_desc_get_size(&w))
            try reorder(from: d, ptr, to: w, s, eng)
            return try memory(&w, eng, s)
        }
    }

    /// A result of layout `desc` (NCHW `plain`, or a primitive's own): written by `body` into
    /// a carried buffer when `carry` and the layout is not plain, else into `scratch` and
    /// reordered into a plain tensor of `shape` (or written there directly).
    static func result(shape: [Int], desc: dnnl_memory_desc_t, plain: dnnl_memory_desc_t, carry: Bool,
                       scratch: ScratchBuffer, _ eng: dnnl_engine_t, _ body: (Memory) throws -> Void) throws -> Tensor {
        var d = desc, p = plain
        let isPlain = dnnl_memory_desc_equal(&d, &p) != 0
        if carry && !isPlain {
            let c = CarriedLayout(desc)
            try body(try memory(&d, eng, c.buffer))
            return Tensor(shape: shape, carried: c)
        }
        return try Tensor(shape: shape) { buf in
            let out = UnsafeMutableRawPointer(buf.baseAddress!)
            if isPlain { try body(try memory(&p, eng, out)); return }
            let s = scratch.reserve(dnnl_memory_desc_get_size(&d))
            try body(try memory(&d, eng, s))
            try reorder(from: d, s, to: p, out, eng)
        }
    }
}

/// Time spent in oneDNN reorders when `LOUPE_PROFILE` is set (the executor prints it beside
/// its per-node times): how much of a convolution's time is layout conversion.
public enum ReorderProfile {
    static let enabled = ProcessInfo.processInfo.environment["LOUPE_PROFILE"] != nil
    /// `LOUPE_PROFILE=layouts`: print each pair of layouts a reorder converts between, once.
    static let layouts = ProcessInfo.processInfo.environment["LOUPE_PROFILE"] == "layouts"
    static func time<R>(_ body: () throws -> R) rethrows -> R {
        guard enabled else { return try body() }
        let t0 = DispatchTime.now().uptimeNanoseconds
        defer { add(DispatchTime.now().uptimeNanoseconds - t0) }
        return try body()
    }
    private static let total = Locked<(UInt64, Int)>((0, 0))
    static func add(_ ns: UInt64) { total.mutate { $0 = ($0.0 + ns, $0.1 + 1) } }
    /// Nanoseconds and calls so far.
    public static var totals: (nanoseconds: UInt64, calls: Int) { total.value }
}

extension OneDNNConvolution {
    /// Forward on tensors, either of which may be carried: `x` is taken in whatever layout it
    /// has (no copy when it is the primitive's), the residual `addend` is copied or reordered
    /// into the destination, and the result is carried in the primitive's layout when
    /// `carry`, else NCHW of `shape`.
    func forward(x: Tensor, bias: UnsafePointer<Float>?, addend: Tensor?, carry: Bool, shape: [Int]) throws -> Tensor {
        precondition(direction == .forward && sum == (addend != nil))
        let scratchIn = ScratchPool.take(), scratchOut = ScratchPool.take()
        defer { ScratchPool.give(scratchIn); ScratchPool.give(scratchOut) }
        let src = try OneDNN.memory(of: x, plain: inPlain, want: inDesc, scratch: scratchIn, eng)
        var biasMem: OneDNN.Memory?
        if hasBias, let bias {
            var bd = try OneDNN.plainDesc([Int(outPlain.dims.1)], dnnl_a)
            biasMem = try OneDNN.memory(&bd, eng, UnsafeMutableRawPointer(mutating: bias))
        }
        return try OneDNN.result(shape: shape, desc: outDesc, plain: outPlain, carry: carry, scratch: scratchOut, eng) { dst in
            if let addend {
                var to: UnsafeMutableRawPointer?
                try OneDNN.check(dnnl_memory_get_data_handle(dst.handle, &to), "reading a memory")
                try addend.withActivation(plain: outPlain) { ptr, desc in
                    try OneDNN.reorder(from: desc, ptr, to: outDesc, to!, eng)
                }
            }
            var args = [(DNNL_ARG_SRC, src), (DNNL_ARG_WEIGHTS, weights.memory), (DNNL_ARG_DST, dst)]
            if let biasMem { args.append((DNNL_ARG_BIAS, biasMem)) }
            try OneDNN.execute(primitive, args, eng)
        }
    }
}

extension OneDNNConvolution {
    /// The input gradient on tensors of a gradient plan: `dy` (NCHW or carried) and each of
    /// `along` are brought into the layout this primitive takes dY in, `prepare` may replace
    /// dY there (keeping that layout: a fused activation's mask, with the forward output in
    /// `along`), and dX is carried in the primitive's layout when `carry`, else NCHW of
    /// `shape`. Returns dX and the prepared dY.
    func backwardData(dy: Tensor, along: [Tensor], prepare: (Tensor, [Tensor]) throws -> Tensor,
                      carry: Bool, shape: [Int]) throws -> (dx: Tensor, dy: Tensor) {
        precondition(direction == .backwardData)
        let ready = try prepare(try dy.inLayout(inDesc, plain: inPlain), try along.map { try $0.inLayout(inDesc, plain: inPlain) })
        let scratchIn = ScratchPool.take(), scratchOut = ScratchPool.take()
        defer { ScratchPool.give(scratchIn); ScratchPool.give(scratchOut) }
        let src = try OneDNN.memory(of: ready, plain: inPlain, want: inDesc, scratch: scratchIn, eng)
        let dx = try OneDNN.result(shape: shape, desc: outDesc, plain: outPlain, carry: carry, scratch: scratchOut, eng) { dst in
            try OneDNN.execute(primitive, [(DNNL_ARG_DIFF_DST, src), (DNNL_ARG_WEIGHTS, weights.memory), (DNNL_ARG_DIFF_SRC, dst)], eng)
        }
        return (dx, ready)
    }
}

/// Pooling (max, average with or without the padding, global average) through oneDNN on a
/// carried activation, in its layout: one primitive per input layout and geometry.
public final class PoolingPlan: @unchecked Sendable {
    private final class Entry {
        let src: dnnl_memory_desc_t, g: ConvGeometry, kind: PoolKind
        let pd: OneDNN.PrimitiveDesc, primitive: OneDNN.Primitive
        var dstDesc: dnnl_memory_desc_t, dstPlain: dnnl_memory_desc_t
        init(src: dnnl_memory_desc_t, g: ConvGeometry, kind: PoolKind, pd: OneDNN.PrimitiveDesc, primitive: OneDNN.Primitive,
             dstDesc: dnnl_memory_desc_t, dstPlain: dnnl_memory_desc_t) {
            self.src = src; self.g = g; self.kind = kind; self.pd = pd; self.primitive = primitive
            self.dstDesc = dstDesc; self.dstPlain = dstPlain
        }
    }
    private let entries = Locked<[Entry]>([])
    public init() {}

    /// Whether oneDNN pools this case as ONNX does: 2-D, max or average; an average that
    /// counts the padding only when the window never passes the explicit pads (ceil_mode's
    /// extra windows would count the overhang differently).
    public static func supports(_ kind: PoolKind, _ g: ConvGeometry) -> Bool {
        guard g.rank == 2 else { return false }
        switch kind {
        case .max, .average(countIncludePad: false): return true
        case .average(countIncludePad: true): return (0..<2).allSatisfy { padEnd(g, $0) == Int64(g.padsEnd[$0]) }
        case .lp: return false
        }
    }

    /// The right padding the output size implies (beyond the pads with ceil_mode).
    static func padEnd(_ g: ConvGeometry, _ i: Int) -> Int64 {
        Int64((g.output[i] - 1) * g.strides[i] + (g.kernel[i] - 1) * g.dilations[i] + 1 - g.input[i] - g.padsBegin[i])
    }

    /// Pools carried `x` (`[N, C, H, W]`); the result is carried when `carry`, else NCHW.
    public func forward(x: Tensor, kind: PoolKind, _ g: ConvGeometry, carry: Bool) throws -> Tensor {
        guard let c = x.carried, x.rank == 4, Self.supports(kind, g) else {
            throw LoupeError.unsupported("oneDNN pooling of \(describe(x.shape)) (\(g))")
        }
        let eng = try OneDNN.engine()
        var srcDesc = c.desc
        let threads = OneDNN.teamSize
        let e = try entries.value.first { e in
            var s = e.src
            return e.primitive.threads == threads && e.g == g && e.kind == kind && dnnl_memory_desc_equal(&s, &srcDesc) != 0
        } ?? make(srcDesc, kind, g, x.shape, eng)
        let src = try OneDNN.memory(&srcDesc, eng, c.buffer)
        let scratch = ScratchPool.take()
        defer { ScratchPool.give(scratch) }
        return try withExtendedLifetime(c) {
            try OneDNN.result(shape: Array(x.shape[0..<2]) + g.output, desc: e.dstDesc, plain: e.dstPlain, carry: carry,
                              scratch: scratch, eng) { dst in
                try OneDNN.execute(e.primitive, [(DNNL_ARG_SRC, src), (DNNL_ARG_DST, dst)], eng)
            }
        }
    }

    private func make(_ src: dnnl_memory_desc_t, _ kind: PoolKind, _ g: ConvGeometry, _ shape: [Int],
                      _ eng: dnnl_engine_t) throws -> Entry {
        var s = src
        let dstDims = Array(shape[0..<2]) + g.output
        var dstAny = try OneDNN.plainDesc(dstDims, dnnl_format_tag_any)
        let alg: dnnl_alg_kind_t
        switch kind {
        case .max: alg = dnnl_pooling_max
        case .average(countIncludePad: true): alg = dnnl_pooling_avg_include_padding
        default: alg = dnnl_pooling_avg_exclude_padding
        }
        var pdesc = dnnl_pooling_v2_desc_t()
        try OneDNN.check(dnnl_pooling_v2_forward_desc_init(
            &pdesc, dnnl_forward_inference, alg, &s, &dstAny, g.strides.map(Int64.init), g.kernel.map(Int64.init),
            g.dilations.map { Int64($0 - 1) }, g.padsBegin.map(Int64.init), (0..<2).map { Self.padEnd(g, $0) }),
            "describing the pooling of \(describe(shape)) (\(g))")
        var pd: dnnl_primitive_desc_t?
        let attributes = try OneDNN.Attributes()
        try withExtendedLifetime(attributes) {
            try OneDNN.check(dnnl_primitive_desc_create(&pd, &pdesc, attributes.handle, eng, nil),
                             "creating the pooling of \(describe(shape)) (\(g))")
        }
        let made = OneDNN.PrimitiveDesc(pd!)
        let e = Entry(src: src, g: g, kind: kind, pd: made, primitive: try OneDNN.Primitive(made.handle, "pooling"),
                      dstDesc: made.md(dnnl_query_dst_md), dstPlain: try OneDNN.plainDesc(dstDims, dnnl_nchw))
        entries.mutate { l in
            if l.count >= 16 { l.removeAll() }
            l.append(e)
        }
        return e
    }
}

/// Concat along channels of carried activations through oneDNN (its `concat` primitive, the
/// output in the first input's layout family).
public final class ConcatPlan: @unchecked Sendable {
    private final class Entry {
        let srcs: [dnnl_memory_desc_t]
        let pd: OneDNN.PrimitiveDesc, primitive: OneDNN.Primitive
        let dstDesc: dnnl_memory_desc_t, dstPlain: dnnl_memory_desc_t
        init(srcs: [dnnl_memory_desc_t], pd: OneDNN.PrimitiveDesc, primitive: OneDNN.Primitive,
             dstDesc: dnnl_memory_desc_t, dstPlain: dnnl_memory_desc_t) {
            self.srcs = srcs; self.pd = pd; self.primitive = primitive; self.dstDesc = dstDesc; self.dstPlain = dstPlain
        }
    }
    private let entries = Locked<[Entry]>([])
    public init() {}

    /// Joins carried `xs` (`[N, C_i, H, W]`) along dimension 1 into `shape`.
    public func forward(_ xs: [Tensor], shape: [Int], carry: Bool) throws -> Tensor {
        let cs = xs.compactMap(\.carried)
        guard cs.count == xs.count, !xs.isEmpty, shape.count == 4 else {
            throw LoupeError.unsupported("oneDNN concat of \(xs.map { describe($0.shape) })")
        }
        let eng = try OneDNN.engine()
        let descs = cs.map(\.desc)
        let threads = OneDNN.teamSize
        let e = try entries.value.first { e in
            e.primitive.threads == threads && e.srcs.count == descs.count && zip(e.srcs, descs).allSatisfy { a, b in
                var a = a, b = b
                return dnnl_memory_desc_equal(&a, &b) != 0
            }
        } ?? make(descs, shape, eng)
        var args: [(Int32, OneDNN.Memory)] = []
        for (i, c) in cs.enumerated() {
            var d = c.desc
            args.append((DNNL_ARG_MULTIPLE_SRC + Int32(i), try OneDNN.memory(&d, eng, c.buffer)))
        }
        let scratch = ScratchPool.take()
        defer { ScratchPool.give(scratch) }
        return try withExtendedLifetime(cs) {
            try OneDNN.result(shape: shape, desc: e.dstDesc, plain: e.dstPlain, carry: carry, scratch: scratch, eng) { dst in
                try OneDNN.execute(e.primitive, args + [(DNNL_ARG_DST, dst)], eng)
            }
        }
    }

    private func make(_ descs: [dnnl_memory_desc_t], _ shape: [Int], _ eng: dnnl_engine_t) throws -> Entry {
        var pd: dnnl_primitive_desc_t?
        let attributes = try OneDNN.Attributes()
        try withExtendedLifetime(attributes) {
            try OneDNN.check(dnnl_concat_primitive_desc_create(&pd, nil, Int32(descs.count), 1, descs, attributes.handle, eng),
                             "creating the concat into \(describe(shape))")
        }
        let made = OneDNN.PrimitiveDesc(pd!)
        let e = Entry(srcs: descs, pd: made, primitive: try OneDNN.Primitive(made.handle, "concat"), dstDesc: made.md(dnnl_query_dst_md),
                      dstPlain: try OneDNN.plainDesc(shape, dnnl_nchw))
        entries.mutate { l in
            if l.count >= 16 { l.removeAll() }
            l.append(e)
        }
        return e
    }
}
