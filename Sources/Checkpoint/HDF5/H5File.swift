/// An open HDF5 file. Close it with `close()` to see errors; `deinit` closes it otherwise.
/// Datasets opened from it hold it, and HDF5 keeps the file open until they are closed too.
public final class H5File: H5Object {
    /// The path the file was created or opened with.
    public let path: String
    private var handle: H5Handle

    /// Creates the file at `path`, truncating any file already there (`H5Fcreate`).
    public init(creating path: String) throws {
        self.path = path
        handle = H5Handle(try H5C.createFile(path))
    }

    /// Opens the existing file at `path` read-only (`H5Fopen`).
    public init(reading path: String) throws {
        self.path = path
        handle = H5Handle(try H5C.openFileReadOnly(path))
    }

    /// Closes the file (`H5Fclose`); using it afterwards traps.
    public func close() throws {
        try handle.close(site)
    }

    deinit { try? close() }

    var openID: HID { handle.open("H5File \(path)") }

    var site: H5Site { H5Site(file: path) }

    /// The root group's attributes.
    public var attributes: H5Attributes { H5Attributes(owner: self) }

    /// Creates dataset `name` at the root with element type `T` and a fixed `shape`
    /// (`[]` for a scalar); its contents are unwritten until `write`.
    public func createDataset<T: H5Element>(_ name: String, of type: T.Type,
                                            shape: [Int]) throws -> H5Dataset {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape) for \(name)")
        let id = try H5C.createDataset(openID, name, T.hdf5Type, shape, datasetSite(name))
        return try H5Dataset(file: self, name: name, id: id)
    }

    /// Opens the existing dataset `name`.
    public func openDataset(_ name: String) throws -> H5Dataset {
        let id = try H5C.openDataset(openID, name, datasetSite(name))
        return try H5Dataset(file: self, name: name, id: id)
    }

    /// Names of the datasets at the root, in name order; groups and other objects are skipped.
    public func datasetNames() throws -> [String] {
        try H5C.linkNames(openID, site).filter {
            try H5C.isDataset(openID, $0, datasetSite($0))
        }
    }

    /// Creates dataset `name` with `shape` and writes `data` into it whole.
    public func write<T: H5Element>(_ name: String, shape: [Int], _ data: UnsafeBufferPointer<T>) throws {
        let dataset = try createDataset(name, of: T.self, shape: shape)
        try dataset.write(data)
        try dataset.close()
    }

    /// Reads dataset `name` whole, converted to `T`.
    public func read<T: H5Element>(_ name: String, as type: T.Type = T.self) throws -> [T] {
        let dataset = try openDataset(name)
        let values: [T] = try dataset.read()
        try dataset.close()
        return values
    }

    /// The shape of dataset `name`.
    public func shape(of name: String) throws -> [Int] {
        let dataset = try openDataset(name)
        try dataset.close()
        return dataset.shape
    }

    func datasetSite(_ name: String) -> H5Site {
        H5Site(file: path, object: "dataset '\(name)'")
    }
}
