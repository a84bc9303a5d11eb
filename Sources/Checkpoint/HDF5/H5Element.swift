/// The element types a dataset can hold; each maps to one native HDF5 type.
public enum HDF5ElementType: Sendable {
    case float32, float64, int32, int64, uint8
}

/// A Swift scalar that HDF5 can read and write directly from its memory.
public protocol H5Element: BitwiseCopyable {
    static var hdf5Type: HDF5ElementType { get }
}

extension Float: H5Element { public static var hdf5Type: HDF5ElementType { .float32 } }
extension Double: H5Element { public static var hdf5Type: HDF5ElementType { .float64 } }
extension Int32: H5Element { public static var hdf5Type: HDF5ElementType { .int32 } }
extension Int64: H5Element { public static var hdf5Type: HDF5ElementType { .int64 } }
extension UInt8: H5Element { public static var hdf5Type: HDF5ElementType { .uint8 } }
