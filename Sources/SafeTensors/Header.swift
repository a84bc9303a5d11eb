/// One tensor of a safetensors file as its header describes it, after the checks that make reading
/// it safe: a supported dtype, a shape whose bytes are exactly what its offsets hold, offsets inside
/// the data section, and no other tensor sharing its bytes.
public struct TensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: DType
    /// Row-major extents; [] for a scalar.
    public let shape: [Int]
    /// The tensor's bytes (little-endian elements, row-major) within the data section, which
    /// starts right after the header: the header's `data_offsets` [begin, end].
    public let dataOffsets: Range<Int>
    /// Elements: the product of `shape`.
    public let count: Int
}

/// A decoded header: the tensors in data order (by offset) and the free `__metadata__` strings.
struct Header {
    var tensors: [TensorInfo]
    var metadata: [String: String]

    /// Checks `json` against the format and against a data section of `dataSize` bytes, the way
    /// the reference library does: every tensor within it, and the tensors, sorted by offset,
    /// covering it exactly, without gaps or overlaps. A problem is said without the file's path,
    /// which the caller puts in front.
    static func decode(_ json: JSONValue, dataSize: Int) throws(HeaderProblem) -> Header {
        guard case let .object(members) = json else { throw HeaderProblem("header is \(json.kind), not a JSON object") }
        var tensors: [TensorInfo] = [], metadata: [String: String] = [:]
        for (name, value) in members {
            if name == "__metadata__" {
                metadata = try strings(value)
            } else {
                tensors.append(try tensor(name, value, dataSize: dataSize))
            }
        }
        tensors.sort { ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound) < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound) }
        try checkCoverage(tensors, dataSize: dataSize)
        return Header(tensors: tensors, metadata: metadata)
    }

    private static func strings(_ value: JSONValue) throws(HeaderProblem) -> [String: String] {
        guard case let .object(members) = value else { throw HeaderProblem("__metadata__ is \(value.kind), not an object of strings") }
        var strings: [String: String] = [:]
        for (key, value) in members {
            guard case let .string(text) = value else { throw HeaderProblem("__metadata__ \(quoted(key)) is \(value.kind), not a string") }
            strings[key] = text
        }
        return strings
    }

    private static func tensor(_ name: String, _ value: JSONValue, dataSize: Int) throws(HeaderProblem) -> TensorInfo {
        guard !name.isEmpty else { throw HeaderProblem("a tensor has an empty name") }
        let context = "tensor \(quoted(name))"
        guard case let .object(members) = value else { throw HeaderProblem("\(context): entry is \(value.kind), not an object") }
        var fields: [String: JSONValue] = [:]
        for (key, value) in members {
            guard ["dtype", "shape", "data_offsets"].contains(key) else {
                throw HeaderProblem("\(context): unknown key \(quoted(key)) (an entry has dtype, shape and data_offsets)")
            }
            fields[key] = value
        }
        guard case let .string(dtypeName)? = fields["dtype"] else { throw HeaderProblem("\(context): no dtype string") }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw HeaderProblem("\(context): dtype \(quoted(dtypeName)) is not supported (\(DType.names) are)")
        }
        guard let shape = integers(fields["shape"]) else {
            throw HeaderProblem("\(context): shape is not a list of non-negative integers")
        }
        guard let offsets = integers(fields["data_offsets"]), offsets.count == 2 else {
            throw HeaderProblem("\(context): data_offsets is not a list of two non-negative integers")
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin <= end else { throw HeaderProblem("\(context): data_offsets \(bracketed(offsets)) end before they begin") }
        guard let count = elementCount(shape), case let (bytes, false) = count.multipliedReportingOverflow(by: dtype.size) else {
            throw HeaderProblem("\(context): \(dtype.rawValue) \(bracketed(shape)) needs more bytes than an Int can count")
        }
        guard bytes == end - begin else {
            throw HeaderProblem("\(context): data_offsets \(bracketed(offsets)) hold \(end - begin) bytes but \(dtype.rawValue) \(bracketed(shape)) needs \(bytes)")
        }
        guard end <= dataSize else {
            throw HeaderProblem("\(context): data_offsets \(bracketed(offsets)) run past the data section's \(dataSize) bytes")
        }
        return TensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end, count: count)
    }

    /// The values of a list of integers that each fit in an Int, or nil.
    private static func integers(_ value: JSONValue?) -> [Int]? {
        guard case let .array(elements)? = value else { return nil }
        var values: [Int] = []
        for element in elements {
            guard case let .integer(integer) = element, let value = Int(exactly: integer) else { return nil }
            values.append(value)
        }
        return values
    }

    /// `tensors`, sorted by offset, tile [0, dataSize): each begins where the previous ended.
    private static func checkCoverage(_ tensors: [TensorInfo], dataSize: Int) throws(HeaderProblem) {
        var covered = 0, previous: TensorInfo?
        for tensor in tensors {
            let begin = tensor.dataOffsets.lowerBound
            if begin < covered, let previous {
                throw HeaderProblem("tensors \(quoted(previous.name)) \(span(previous)) and \(quoted(tensor.name)) \(span(tensor)) overlap")
            }
            if begin > covered {
                throw HeaderProblem("data bytes [\(covered), \(begin)) before tensor \(quoted(tensor.name)) belong to no tensor")
            }
            covered = tensor.dataOffsets.upperBound
            previous = tensor
        }
        guard covered == dataSize else {
            throw HeaderProblem("data bytes [\(covered), \(dataSize)) at the end of the file belong to no tensor")
        }
    }

    private static func span(_ tensor: TensorInfo) -> String {
        bracketed([tensor.dataOffsets.lowerBound, tensor.dataOffsets.upperBound])
    }
}

/// What is wrong with a header, before the file's path is put in front.
struct HeaderProblem: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
