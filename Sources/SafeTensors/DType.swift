/// The element types Tessera reads from a safetensors file, under the names the format's header
/// uses. Others the format defines (U16, U32, U64, the 8-bit and 4-bit floats) are refused by name
/// when a file is opened, so a reader never meets bytes it cannot interpret.
public enum DType: String, Sendable, CaseIterable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .f64, .i64: 8
        case .f32, .i32: 4
        case .f16, .bf16, .i16: 2
        case .i8, .u8, .bool: 1
        }
    }

    /// Read as Float (`SafeTensorsFile.floats`); the others are read as Int64 (`integers`).
    public var isFloatingPoint: Bool { self == .f64 || self == .f32 || self == .f16 || self == .bf16 }

    /// "F64, F32, ..." for messages that list what is accepted.
    static let names = allCases.map(\.rawValue).joined(separator: ", ")
}

/// The number of elements of `shape` (1 for the scalar shape []), or nil when the product does not
/// fit in an Int: a header's shape is the file's claim, so the product is never trusted to fit.
func elementCount(_ shape: [Int]) -> Int? {
    var count = 1
    for extent in shape {
        let (product, overflow) = count.multipliedReportingOverflow(by: extent)
        if overflow { return nil }
        count = product
    }
    return count
}

/// "[4, 8]": a shape or a pair of offsets as the header writes it.
func bracketed(_ values: [Int]) -> String { "[" + values.map(String.init).joined(separator: ", ") + "]" }
