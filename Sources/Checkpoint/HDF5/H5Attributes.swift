/// A scalar attribute value. Strings are stored as variable-length UTF-8, which h5py reads as
/// `str` (fixed-length strings come back as `bytes`).
public enum H5AttributeValue: Equatable, Sendable {
    case int64(Int64)
    case double(Double)
    case string(String)
}

/// A file's root group or a dataset: something that carries attributes and has an open identifier.
protocol H5Object: AnyObject {
    /// The identifier; traps if the object was closed.
    var openID: HID { get }
    var site: H5Site { get }
}

/// The attributes of a file's root group or of a dataset. Holds its owner, keeping it open.
public struct H5Attributes {
    let owner: any H5Object

    /// Writes attribute `name`, replacing any attribute of that name. A string must not contain
    /// NUL: HDF5 stores C strings, and would silently cut it there.
    public func set(_ name: String, _ value: H5AttributeValue) throws {
        if case .string(let text) = value {
            precondition(!text.utf8.contains(0), "attribute \(name) contains NUL, which HDF5 would drop")
        }
        try H5C.writeAttribute(owner.openID, name, value, site(name))
    }

    /// Reads attribute `name`; throws if it is missing or of an unsupported type.
    public func get(_ name: String) throws -> H5AttributeValue {
        try H5C.readAttribute(owner.openID, name, site(name))
    }

    /// All attribute names, in name order.
    public func names() throws -> [String] {
        try H5C.attributeNames(owner.openID, owner.site)
    }

    /// Every attribute by name.
    public func all() throws -> [String: H5AttributeValue] {
        var values: [String: H5AttributeValue] = [:]
        for name in try names() { values[name] = try get(name) }
        return values
    }

    /// Attribute `name`, which must be stored as an integer.
    public func int64(_ name: String) throws -> Int64 {
        guard case .int64(let v) = try get(name) else { throw mismatch(name, "an integer") }
        return v
    }

    /// Attribute `name`, which must be stored as a float.
    public func double(_ name: String) throws -> Double {
        guard case .double(let v) = try get(name) else { throw mismatch(name, "a float") }
        return v
    }

    /// Attribute `name`, which must be stored as a string.
    public func string(_ name: String) throws -> String {
        guard case .string(let v) = try get(name) else { throw mismatch(name, "a string") }
        return v
    }

    private func site(_ name: String) -> H5Site {
        let on = owner.site.object.map { "\($0), " } ?? ""
        return H5Site(file: owner.site.file, object: "\(on)attribute '\(name)'")
    }

    private func mismatch(_ name: String, _ expected: String) -> HDF5Error {
        let site = site(name)
        return HDF5Error(operation: "read attribute", file: site.file, object: site.object,
                         detail: "expected \(expected)")
    }
}
