/// An open dataset of fixed shape. Close it with `close()` to see errors; `deinit` closes it
/// otherwise. It holds its file, so the file stays usable while the dataset is open.
public final class H5Dataset: H5Object {
    /// The file the dataset lives in.
    public let file: H5File
    /// The dataset's name in its file.
    public let name: String
    /// The extent, fixed at creation, so read once on opening.
    public let shape: [Int]
    private var handle: H5Handle

    init(file: H5File, name: String, id: HID) throws {
        self.file = file
        self.name = name
        handle = H5Handle(id)
        do {
            shape = try H5C.datasetShape(id, file.datasetSite(name))
        } catch {
            try? H5C.close(id, file.datasetSite(name))
            throw error
        }
    }

    /// Number of elements: the product of `shape` (1 for a scalar).
    public var count: Int { shape.reduce(1, *) }

    /// This dataset's attributes.
    public var attributes: H5Attributes { H5Attributes(owner: self) }

    /// Writes the whole dataset from `data`, which holds `count` elements in row-major order.
    public func write<T: H5Element>(_ data: UnsafeBufferPointer<T>) throws {
        precondition(data.count == count, "\(data.count) elements for \(name) of shape \(shape)")
        guard let base = data.baseAddress else { return }
        try H5C.writeDataset(openID, T.hdf5Type, base, site)
    }

    /// Reads the whole dataset into `buffer`, which has room for exactly `count` elements.
    public func read<T: H5Element>(into buffer: UnsafeMutableBufferPointer<T>) throws {
        precondition(buffer.count == count, "buffer of \(buffer.count) for \(name) of shape \(shape)")
        guard let base = buffer.baseAddress else { return }
        try H5C.readDataset(openID, T.hdf5Type, base, site)
    }

    /// Reads the whole dataset into a new array, converted to `T`.
    public func read<T: H5Element>(as type: T.Type = T.self) throws -> [T] {
        try [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            try read(into: buffer)
            initialized = count
        }
    }

    /// Closes the dataset (`H5Dclose`); using it afterwards traps.
    public func close() throws {
        try handle.close(site)
    }

    deinit { try? close() }

    var openID: HID { handle.open("H5Dataset \(name) in \(file.path)") }

    var site: H5Site { file.datasetSite(name) }
}
