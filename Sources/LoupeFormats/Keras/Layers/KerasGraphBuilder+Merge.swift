import Foundation
import LoupeGraph
import LoupeTensor

/// Add, Subtract, Multiply, Average, Maximum, Minimum and Concatenate. All inputs are
/// brought to one layout first: NCHW when they are rank-4 images, Keras order otherwise.
extension KerasGraphBuilder {
    private func unified(_ call: KerasLayerCall) throws -> [KerasValue] {
        guard call.inputs.count >= 2 else {
            throw LoupeError.invalid("\(file): \(call.label) needs at least two inputs, got \(call.inputs.count)")
        }
        if call.inputs.allSatisfy({ $0.rank == 4 }) && call.inputs.contains(where: \.nchw) {
            return call.inputs.map { channelsFirst($0, call, channelsLast: true) }
        }
        return call.inputs.map(kerasOrder)
    }

    func merge(_ call: KerasLayerCall, _ op: String) throws -> KerasValue {
        let xs = try unified(call)
        let rank = xs.map(\.rank).max()!, nchw = xs[0].nchw
        if op == "Sub" && xs.count != 2 {
            throw LoupeError.invalid("\(file): \(call.label) takes exactly two inputs, got \(xs.count)")
        }
        if xs.count == 2 || op != "Mul" {
            return KerasValue(name: emit(op == "Add" && xs.count > 2 ? "Sum" : op, xs.map(\.name), name: call.nodeName), rank: rank, nchw: nchw)
        }
        // Multiply of three or more: a chain of binary Mul.
        var acc = xs[0].name
        for (i, x) in xs.dropFirst().enumerated() {
            acc = emit("Mul", [acc, x.name], name: i == xs.count - 2 ? call.nodeName : call.sub("mul\(i)"))
        }
        return KerasValue(name: acc, rank: rank, nchw: nchw)
    }

    func concatenate(_ call: KerasLayerCall) throws -> KerasValue {
        let xs = try unified(call)
        let axis = try graphAxis(xs[0], try call.int("axis", -1), call)
        return KerasValue(name: emit("Concat", xs.map(\.name), name: call.nodeName, ["axis": .int(axis)]), rank: xs[0].rank, nchw: xs[0].nchw)
    }
}
