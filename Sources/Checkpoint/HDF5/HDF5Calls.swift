import CHDF5
import Foundation

/// An HDF5 identifier (`hid_t`) for a file, dataset, dataspace, datatype or attribute.
typealias HID = hid_t

/// Where a call acted, so that an error can name it.
struct H5Site {
    var file: String
    var object: String? = nil
}

/// Every raw HDF5 C call in Tessera. The installed library is built without thread safety, so
/// each call runs under one process-wide lock together with the reading of the error stack it
/// may leave behind. Temporary identifiers are released with `defer` on every path.
enum H5C {
    private static let lock = NSLock()

    /// HDF5 prints its error stack to stderr by default; we throw it instead (`H5Eset_auto2`).
    private static let errorPrintingOff: Void = { _ = tessera_H5Eset_auto_off() }()

    // MARK: Files

    /// `H5Fcreate` with `H5F_ACC_TRUNC`: a new, empty file, replacing any old one.
    static func createFile(_ path: String) throws -> HID {
        try call("H5Fcreate", H5Site(file: path)) {
            H5Fcreate(path, tessera_H5F_ACC_TRUNC(), tessera_H5P_DEFAULT(), tessera_H5P_DEFAULT())
        }
    }

    /// `H5Fopen` with `H5F_ACC_RDONLY`.
    static func openFileReadOnly(_ path: String) throws -> HID {
        try call("H5Fopen", H5Site(file: path)) {
            H5Fopen(path, tessera_H5F_ACC_RDONLY(), tessera_H5P_DEFAULT())
        }
    }

    /// Closes any identifier with the close function of its kind (`H5Fclose`, `H5Dclose`, ...).
    static func close(_ id: HID, _ site: H5Site) throws {
        let kind = try call("H5Iget_type", site) { H5Iget_type(id).rawValue }
        let (operation, closeFunction): (String, (HID) -> herr_t) = switch H5I_type_t(rawValue: kind) {
        case H5I_FILE: ("H5Fclose", H5Fclose)
        case H5I_DATASET: ("H5Dclose", H5Dclose)
        case H5I_DATASPACE: ("H5Sclose", H5Sclose)
        case H5I_DATATYPE: ("H5Tclose", H5Tclose)
        case H5I_ATTR: ("H5Aclose", H5Aclose)
        default: ("H5Oclose", H5Oclose)
        }
        _ = try call(operation, site) { closeFunction(id) }
    }

    /// Closes a temporary on a path that is already returning or throwing: a failure here cannot
    /// be reported better than the result or error in flight.
    private static func release(_ id: HID, _ site: H5Site) {
        try? close(id, site)
    }

    // MARK: Datasets

    /// `H5Dcreate2`: a contiguous dataset of native `type` with a fixed `shape` (`[]` is scalar).
    static func createDataset(_ loc: HID, _ name: String, _ type: HDF5ElementType, _ shape: [Int],
                              _ site: H5Site) throws -> HID {
        let space = try createDataspace(shape, site)
        defer { release(space, site) }
        return try call("H5Dcreate2", site) {
            H5Dcreate2(loc, name, nativeType(type), space,
                       tessera_H5P_DEFAULT(), tessera_H5P_DEFAULT(), tessera_H5P_DEFAULT())
        }
    }

    /// `H5Dopen2`.
    static func openDataset(_ loc: HID, _ name: String, _ site: H5Site) throws -> HID {
        try call("H5Dopen2", site) { H5Dopen2(loc, name, tessera_H5P_DEFAULT()) }
    }

    /// The dataset's extent from `H5Dget_space` and `H5Sget_simple_extent_dims`.
    static func datasetShape(_ dataset: HID, _ site: H5Site) throws -> [Int] {
        let space = try call("H5Dget_space", site) { H5Dget_space(dataset) }
        defer { release(space, site) }
        let rank = try call("H5Sget_simple_extent_ndims", site) { H5Sget_simple_extent_ndims(space) }
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        _ = try call("H5Sget_simple_extent_dims", site) { H5Sget_simple_extent_dims(space, &dims, nil) }
        // A file may declare any extent: one whose element count overflows is refused here, so
        // every reader can size from `shape` once it has compared it with what it expects.
        var elements = 1
        for extent in dims {
            guard let extent = Int(exactly: extent),
                  case let (product, false) = elements.multipliedReportingOverflow(by: extent) else {
                throw HDF5Error(operation: "open dataset", file: site.file, object: site.object,
                                detail: "declares extent \(dims), more elements than can be addressed")
            }
            elements = product
        }
        return dims.map { Int($0) }
    }

    /// `H5Dwrite` of the whole dataset from `buffer`, which holds every element as `type`.
    static func writeDataset(_ dataset: HID, _ type: HDF5ElementType, _ buffer: UnsafeRawPointer,
                             _ site: H5Site) throws {
        _ = try call("H5Dwrite", site) {
            H5Dwrite(dataset, nativeType(type), tessera_H5S_ALL(), tessera_H5S_ALL(),
                     tessera_H5P_DEFAULT(), buffer)
        }
    }

    /// `H5Dread` of the whole dataset into `buffer`, converting to `type`.
    static func readDataset(_ dataset: HID, _ type: HDF5ElementType, _ buffer: UnsafeMutableRawPointer,
                            _ site: H5Site) throws {
        _ = try call("H5Dread", site) {
            H5Dread(dataset, nativeType(type), tessera_H5S_ALL(), tessera_H5S_ALL(),
                    tessera_H5P_DEFAULT(), buffer)
        }
    }

    // MARK: Links

    /// Names of the links in group `loc`, in name order (`H5Literate`).
    static func linkNames(_ loc: HID, _ site: H5Site) throws -> [String] {
        var names: [String] = []
        _ = try withUnsafeMutablePointer(to: &names) { names in
            try call("H5Literate", site) {
                H5Literate(loc, H5_INDEX_NAME, H5_ITER_INC, nil, { _, name, _, names in
                    names!.assumingMemoryBound(to: [String].self).pointee.append(String(cString: name!))
                    return 0
                }, names)
            }
        }
        return names
    }

    /// Whether the object that link `name` in `loc` points to is a dataset (`H5Oopen`, `H5Iget_type`).
    static func isDataset(_ loc: HID, _ name: String, _ site: H5Site) throws -> Bool {
        let object = try call("H5Oopen", site) { H5Oopen(loc, name, tessera_H5P_DEFAULT()) }
        defer { release(object, site) }
        return try call("H5Iget_type", site) { H5Iget_type(object).rawValue } == H5I_DATASET.rawValue
    }

    // MARK: Attributes

    /// Names of the attributes on object `loc`, in name order (`H5Aiterate2`).
    static func attributeNames(_ loc: HID, _ site: H5Site) throws -> [String] {
        var names: [String] = []
        _ = try withUnsafeMutablePointer(to: &names) { names in
            try call("H5Aiterate2", site) {
                H5Aiterate2(loc, H5_INDEX_NAME, H5_ITER_INC, nil, { _, name, _, names in
                    names!.assumingMemoryBound(to: [String].self).pointee.append(String(cString: name!))
                    return 0
                }, names)
            }
        }
        return names
    }

    /// Writes a scalar attribute (`H5Acreate2`, `H5Awrite`), replacing one of the same name.
    /// Strings are variable-length UTF-8, which h5py reads as `str`.
    static func writeAttribute(_ loc: HID, _ name: String, _ value: H5AttributeValue,
                               _ site: H5Site) throws {
        if try call("H5Aexists", site, { H5Aexists(loc, name) }) > 0 {
            _ = try call("H5Adelete", site) { H5Adelete(loc, name) }
        }
        let space = try createDataspace([], site)
        defer { release(space, site) }
        let type = try attributeType(value, site)
        defer { release(type, site) }
        let attribute = try call("H5Acreate2", site) {
            H5Acreate2(loc, name, type, space, tessera_H5P_DEFAULT(), tessera_H5P_DEFAULT())
        }
        defer { release(attribute, site) }
        _ = try call("H5Awrite", site) {
            switch value {
            case .int64(var v): H5Awrite(attribute, type, &v)
            case .double(var v): H5Awrite(attribute, type, &v)
            case .string(let s): s.withCString { var p = $0; return H5Awrite(attribute, type, &p) }
            }
        }
    }

    /// Reads a scalar attribute (`H5Aopen`, `H5Aread`): any stored integer as Int64, any float
    /// as Double, a variable-length string as String.
    static func readAttribute(_ loc: HID, _ name: String, _ site: H5Site) throws -> H5AttributeValue {
        let attribute = try call("H5Aopen", site) { H5Aopen(loc, name, tessera_H5P_DEFAULT()) }
        defer { release(attribute, site) }
        let space = try call("H5Aget_space", site) { H5Aget_space(attribute) }
        defer { release(space, site) }
        let count = try call("H5Sget_simple_extent_npoints", site) { H5Sget_simple_extent_npoints(space) }
        guard count == 1 else {
            throw HDF5Error(operation: "read attribute", file: site.file, object: site.object,
                            detail: "holds \(count) values, expected one")
        }
        let stored = try call("H5Aget_type", site) { H5Aget_type(attribute) }
        defer { release(stored, site) }
        let storedClass = try call("H5Tget_class", site) { H5Tget_class(stored).rawValue }
        var isVariableString = false
        if storedClass == H5T_STRING.rawValue {
            isVariableString = try call("H5Tis_variable_str", site) { H5Tis_variable_str(stored) } > 0
        }
        switch H5T_class_t(rawValue: storedClass) {
        case H5T_INTEGER:
            var v: Int64 = 0
            _ = try call("H5Aread", site) { H5Aread(attribute, tessera_H5T_NATIVE_INT64(), &v) }
            return .int64(v)
        case H5T_FLOAT:
            var v: Double = 0
            _ = try call("H5Aread", site) { H5Aread(attribute, tessera_H5T_NATIVE_DOUBLE(), &v) }
            return .double(v)
        case H5T_STRING where isVariableString:
            var p: UnsafeMutablePointer<CChar>? = nil
            _ = try call("H5Aread", site) { H5Aread(attribute, stored, &p) }
            defer { lock.withLock { _ = H5free_memory(p) } }
            return .string(p.map { String(cString: $0) } ?? "")
        default:
            throw HDF5Error(operation: "read attribute", file: site.file, object: site.object,
                            detail: "stored type is not an integer, float or variable-length string")
        }
    }

    // MARK: Helpers

    /// `H5Screate` (scalar) for `[]`, else `H5Screate_simple` with fixed dimensions.
    private static func createDataspace(_ shape: [Int], _ site: H5Site) throws -> HID {
        if shape.isEmpty { return try call("H5Screate", site) { H5Screate(H5S_SCALAR) } }
        let dims = shape.map { hsize_t($0) }
        return try call("H5Screate_simple", site) { H5Screate_simple(Int32(dims.count), dims, nil) }
    }

    /// The file and memory type of an attribute value; the caller closes it.
    private static func attributeType(_ value: H5AttributeValue, _ site: H5Site) throws -> HID {
        switch value {
        case .int64: return try call("H5Tcopy", site) { H5Tcopy(tessera_H5T_NATIVE_INT64()) }
        case .double: return try call("H5Tcopy", site) { H5Tcopy(tessera_H5T_NATIVE_DOUBLE()) }
        case .string:
            let type = try call("H5Tcopy", site) { H5Tcopy(tessera_H5T_C_S1()) }
            do {
                _ = try call("H5Tset_size", site) { H5Tset_size(type, tessera_H5T_VARIABLE()) }
                _ = try call("H5Tset_cset", site) { H5Tset_cset(type, H5T_CSET_UTF8) }
                return type
            } catch {
                release(type, site)
                throw error
            }
        }
    }

    private static func nativeType(_ type: HDF5ElementType) -> HID {
        switch type {
        case .float32: tessera_H5T_NATIVE_FLOAT()
        case .float64: tessera_H5T_NATIVE_DOUBLE()
        case .int32: tessera_H5T_NATIVE_INT32()
        case .int64: tessera_H5T_NATIVE_INT64()
        case .uint8: tessera_H5T_NATIVE_UINT8()
        }
    }

    /// Runs one C call under the lock; a negative result becomes an `HDF5Error` carrying
    /// HDF5's error stack, which is then cleared.
    private static func call<R: BinaryInteger>(_ operation: String, _ site: H5Site,
                                               _ body: () -> R) throws -> R {
        lock.lock()
        defer { lock.unlock() }
        _ = errorPrintingOff
        let result = body()
        guard result >= 0 else {
            throw HDF5Error(operation: operation, file: site.file, object: site.object,
                            detail: takeErrorStack())
        }
        return result
    }

    /// The outermost and innermost of HDF5's error descriptions (`H5Ewalk2`), which say what failed
    /// and why; the ones between repeat them. Then `H5Eclear2`. Caller holds the lock.
    private static func takeErrorStack() -> String {
        var messages: [String] = []
        withUnsafeMutablePointer(to: &messages) { messages in
            _ = H5Ewalk2(tessera_H5E_DEFAULT(), H5E_WALK_DOWNWARD, { _, error, messages in
                if let desc = error?.pointee.desc {
                    messages!.assumingMemoryBound(to: [String].self).pointee.append(String(cString: desc))
                }
                return 0
            }, messages)
        }
        _ = H5Eclear2(tessera_H5E_DEFAULT())
        guard let outer = messages.first, let inner = messages.last else { return "no HDF5 error recorded" }
        return outer == inner ? outer : "\(outer): \(inner)"
    }
}
