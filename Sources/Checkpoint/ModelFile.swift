import FileSystem

/// One parameter to save: a view into caller-owned storage (the parameters' single allocation),
/// so that saving ~124M floats copies nothing. The storage must outlive `ModelFile.write`.
public struct NamedTensor {
    /// The parameter's stable name, used as the dataset name at the file's root (`h.0.attn.qkv.weight`).
    public let name: String
    public let shape: [Int]
    /// `shape.reduce(1, *)` floats in row-major order.
    public let data: UnsafeBufferPointer<Float>

    public init(name: String, shape: [Int], data: UnsafeBufferPointer<Float>) {
        precondition(!name.isEmpty && !name.contains("/"), "tensor name '\(name)' must be flat")
        precondition(data.count == shape.reduce(1, *),
                     "\(data.count) floats for \(name) of shape \(shape)")
        self.name = name
        self.shape = shape
        self.data = data
    }
}

/// A tensor read back from a model file.
public struct LoadedTensor: Equatable, Sendable {
    public var shape: [Int]
    public var data: [Float]
}

/// The root attributes of `model.h5` other than `format_version`, which the format owns.
public struct ModelAttributes: Equatable, Sendable {
    /// The optimizer step the parameters are from.
    public var step: Int64
    /// The run's config as TOML text.
    public var config: String
    /// Free text attributes such as `tokenizer` and `tokenizer_data`.
    public var strings: [String: String]

    public init(step: Int64, config: String, strings: [String: String] = [:]) {
        self.step = step
        self.config = config
        self.strings = strings
    }
}

/// `model.h5`: every parameter as one full float32 dataset under its stable name at the root,
/// with root attributes `step` (int64), `format_version` (int64), `config` (TOML text) and free
/// string attributes. Strings are variable-length UTF-8, so h5py and h5dump read the file with
/// no Tessera code.
public struct ModelFile: Equatable, Sendable {
    /// Bumped whenever the layout changes in a way old readers would misread.
    public static let formatVersion: Int64 = 1
    static let reservedAttributes: Set<String> = ["step", "format_version", "config"]

    public var tensors: [String: LoadedTensor]
    public var attributes: ModelAttributes

    /// Writes `tensors` and `attributes` to `path` atomically: a crash leaves either the old file
    /// or the complete new one.
    public static func write(path: String, tensors: [NamedTensor], attributes: ModelAttributes) throws {
        let clashes = reservedAttributes.intersection(attributes.strings.keys)
        precondition(clashes.isEmpty, "string attributes \(clashes.sorted()) are reserved by model.h5")
        try replaceAtomically(path) { temporary in
            let file = try H5File(creating: temporary)
            try file.attributes.set("format_version", .int64(formatVersion))
            try file.attributes.set("step", .int64(attributes.step))
            try file.attributes.set("config", .string(attributes.config))
            for (name, text) in attributes.strings.sorted(by: { $0.key < $1.key }) {
                try file.attributes.set(name, .string(text))
            }
            for tensor in tensors {
                try file.write(tensor.name, shape: tensor.shape, tensor.data)
            }
            try file.close()
        }
    }

    /// Reads every dataset at the root of `path` as a float tensor, and the root attributes.
    /// Throws if the file is missing, not HDF5, of another format version, or malformed. For a file
    /// of unknown origin, read through `ModelFileReader`, which sizes nothing from the file.
    public static func read(path: String) throws -> ModelFile {
        let reader = try ModelFileReader(path: path)
        var tensors: [String: LoadedTensor] = [:]
        for name in try reader.file.datasetNames() {
            let dataset = try reader.file.openDataset(name)
            tensors[name] = LoadedTensor(shape: dataset.shape, data: try dataset.read())
            try dataset.close()
        }
        try reader.file.close()
        return ModelFile(tensors: tensors, attributes: reader.attributes)
    }
}

/// A `model.h5` opened for reading: its attributes at once, then each tensor on request, after its
/// declared shape has been compared with the one the caller expects, so a file that declares a
/// huge tensor never makes the reader allocate it.
public final class ModelFileReader {
    public let file: H5File
    public let attributes: ModelAttributes

    public init(path: String) throws {
        file = try H5File(reading: path)
        let root = file.attributes
        let version = try root.int64("format_version")
        guard version == ModelFile.formatVersion else {
            throw HDF5Error(operation: "read model file", file: path, object: "attribute 'format_version'",
                            detail: "version \(version); this build reads version \(ModelFile.formatVersion)")
        }
        var attributes = ModelAttributes(step: try root.int64("step"), config: try root.string("config"))
        for name in try root.names() where !ModelFile.reservedAttributes.contains(name) {
            attributes.strings[name] = try root.string(name)
        }
        self.attributes = attributes
    }

    /// The declared shape of tensor `name`, or nil when the file has none.
    public func shape(of name: String) throws -> [Int]? {
        guard try file.datasetNames().contains(name) else { return nil }
        return try file.shape(of: name)
    }

    /// Reads tensor `name` into `buffer` when its declared shape is `shape`; throws otherwise.
    public func read(_ name: String, shape: [Int], into buffer: UnsafeMutableBufferPointer<Float>) throws {
        let dataset: H5Dataset
        do {
            dataset = try file.openDataset(name)
        } catch {
            throw HDF5Error(operation: "read model file", file: file.path, object: "dataset '\(name)'", detail: "is missing")
        }
        defer { try? dataset.close() }
        guard dataset.shape == shape else {
            throw HDF5Error(operation: "read model file", file: file.path, object: "dataset '\(name)'",
                            detail: "has shape \(dataset.shape); this model's is \(shape)")
        }
        try dataset.read(into: buffer)
    }
}
