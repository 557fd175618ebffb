import Foundation
import LoupeFormats

// `loupe-check-model MODEL [--config JSON]`: the child process `HDF5Guard` starts to read an
// HDF5 model file before the caller does. Exit 0: the file loads; 1: it does not (the error
// on stderr); death by a signal or no end: libhdf5 crashed or hung on it.
let args = Array(CommandLine.arguments.dropFirst())
guard let path = args.first else {
    print("usage: \(HDF5Guard.helperName) MODEL [--config JSON]")
    exit(2)
}
let config = args.count >= 3 && args[1] == "--config" ? args[2] : nil
exit(HDF5Guard.runChild(path: path, config: config))
