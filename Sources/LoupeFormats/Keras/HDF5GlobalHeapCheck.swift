import Foundation
import LoupeTensor
#if canImport(Glibc)
import Glibc
#endif

/// Refuses an HDF5 file whose global heap libhdf5 cannot walk, before libhdf5 reads it.
///
/// Variable-length strings (Keras's `model_config`, `layer_names`, `weight_names` written by
/// h5py) live in global heap collections (HDF5 file format specification, "Global Heap":
/// signature `GCOL`, version 1, the collection size, then objects of a 2-byte index, a 2-byte
/// reference count, 4 reserved bytes, a size and the data padded to 8 bytes; index 0 is the
/// free space and its size covers the rest of the collection). libhdf5 1.10 loads a
/// collection by stepping from object to object by each object's size
/// (`H5HG__cache_heap_deserialize`): an object 0 of size 0 makes it step by nothing, forever,
/// and an object that runs past the collection's end makes it step outside the buffer (a
/// segmentation fault, or reads outside the heap). Fuzzing found the first in 18 of the 19
/// inputs that hung libhdf5 (docs/fuzzing.md). libhdf5 writes collections whose objects fit,
/// so a file failing this check is damaged; `HDF5Guard` still stands behind the check for
/// libhdf5's other failures.
///
/// The check finds every `GCOL` signature of version 1 in the file (a collection is found by
/// its signature wherever an address points; 5 matching bytes in weight data followed by a
/// walk that fails is not a realistic accident) and walks it as libhdf5 would.
enum HDF5GlobalHeapCheck {
    static func check(_ bytes: UnsafeRawBufferPointer, name: String) throws {
        guard let base = bytes.baseAddress, bytes.count >= 16 else { return }
        let n = bytes.count
        let lengthSize = sizeOfLengths(bytes)
        let headerSize = 8 + lengthSize        // signature, version, reserved, collection size
        let objectHeaderSize = 8 + lengthSize  // index, references, reserved, size
        var from = 0
        while from + headerSize <= n {
            // memchr for the signature's first byte, then the other three.
            guard let hit = memchr(base + from, 0x47 /* G */, n - from) else { return }
            let start = base.distance(to: UnsafeRawPointer(hit))
            from = start + 1
            guard start + headerSize <= n, bytes[start + 1] == 0x43, bytes[start + 2] == 0x4F, bytes[start + 3] == 0x4C,
                  bytes[start + 4] == 1 else { continue }
            let size = littleEndian(bytes, at: start + 8, size: lengthSize)
            // A collection that does not fit the file fails libhdf5's read before the walk.
            guard size >= UInt64(headerSize), size <= UInt64(n - start) else { continue }
            let end = start + Int(size)
            var p = start + headerSize
            while p < end, p + objectHeaderSize <= end {
                let index = Int(bytes[p]) | Int(bytes[p + 1]) << 8
                let objectSize = littleEndian(bytes, at: p + 8, size: lengthSize)
                var step = objectSize
                if index > 0 {
                    let padded = objectSize.addingReportingOverflow(7)
                    let total = (padded.partialValue & ~7).addingReportingOverflow(UInt64(objectHeaderSize))
                    step = padded.overflow || total.overflow ? .max : total.partialValue
                }
                let room = UInt64(end - p)
                guard step > 0, step <= room else {
                    let why = step == 0 ? "which would make libhdf5 loop forever" : "past the heap's end at byte \(end)"
                    throw LoupeError.invalid("\(name): damaged HDF5 global heap at byte \(start): object \(index) at byte \(p) declares \(objectSize) bytes, \(why); refusing to read the file")
                }
                p += Int(step)
            }
        }
    }

    /// The superblock's "size of lengths" (2, 4 or 8; 8 when the superblock is not found,
    /// where libhdf5 refuses the file anyway). The superblock is at 0, 512, 1024, 2048, ...
    static func sizeOfLengths(_ bytes: UnsafeRawBufferPointer) -> Int {
        let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
        var at = 0
        while at + 16 <= bytes.count {
            if bytes[at..<at + 8].elementsEqual(signature) {
                let version = bytes[at + 8]
                let value = Int(version <= 1 ? bytes[at + 14] : bytes[at + 10])
                return [2, 4, 8].contains(value) ? value : 8
            }
            at = at == 0 ? 512 : at * 2
        }
        return 8
    }

    private static func littleEndian(_ bytes: UnsafeRawBufferPointer, at offset: Int, size: Int) -> UInt64 {
        var value: UInt64 = 0
        for i in (0..<size).reversed() { value = value << 8 | UInt64(bytes[offset + i]) }
        return value
    }
}
