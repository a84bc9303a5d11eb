import FileSystem
import Model
import SafeTensors

/// A Hugging Face model folder opened for Tessera's parameters: config.json names the family and
/// gives the sizes; the weights are `model.safetensors`, or the shards `model.safetensors.index.json`
/// names. Opening checks everything short of the values: the family and each setting Tessera must
/// represent, every tensor the model needs present, floating-point and of the shape the sizes give,
/// and no tensor the family has no place for. A folder of another architecture, or a damaged one,
/// fails in one line before any weight is read, and nothing is sized from a file before it has been
/// compared with the (bounded) sizes of config.json.
public final class HFCheckpoint {
    public let folder: String
    public let family: HFFamily
    /// The model config.json describes; its block size is config.json's number of positions.
    public let dims: GPTDimensions
    public let config: HFConfigFile
    let weights: SafeTensorsCheckpoint
    /// The family's base prefix when the tensor names carry it, "" for a base-class checkpoint.
    private let prefix: String
    private let rules: [String: TensorRule]

    /// A folder with a config.json: what `train.init_from` reads as a Hugging Face model.
    public static func holdsConfig(_ path: String) -> Bool {
        FileKind.of(path).isFolder && FileKind.of(path + "/" + HFConfigFile.fileName) != .missing
    }

    public init(folder: String) throws(InteropError) {
        let kind = FileKind.of(folder)
        guard kind.isFolder else { throw InteropError(folder, kind == .missing ? "does not exist" : "is \(kind.phrase), not a folder") }
        let config = try HFConfigFile(path: folder + "/" + HFConfigFile.fileName)
        let modelType = try config.string("model_type", default: "")
        let architectures = try config.strings("architectures")
        guard let family = HFFamily.named(modelType) else {
            let named = modelType.isEmpty ? "has no model_type" : "model_type = \"\(modelType)\""
            let classes = architectures.isEmpty ? "" : " (\(architectures.joined(separator: ", ")))"
            throw InteropError(config.path, "\(named)\(classes): Tessera reads "
                + HFFamily.all.map { "\($0.modelType) (\($0.architecture))" }.joined(separator: ", "))
        }
        if let other = architectures.first(where: { !family.readableArchitectures.contains($0) }) {
            throw InteropError(config.path, "architectures names \(other); Tessera reads \(family.modelType) checkpoints of "
                + family.readableArchitectures.sorted().joined(separator: " or "))
        }
        try family.checkSettings(config)
        let dims = try family.readDimensions(config)
        let weights: SafeTensorsCheckpoint
        do throws(SafeTensorsError) {
            weights = try SafeTensorsCheckpoint.open(folder: folder)
        } catch {
            throw InteropError(error)
        }
        let names = weights.names
        // Every layer has tensors: a larger n_layer is refused before its rules are made.
        guard dims.nLayer <= names.count else {
            throw InteropError(config.path, "n_layer = \(dims.nLayer), but \(weights.path) holds \(names.count) tensors in all")
        }
        let prefix = names.contains { $0.hasPrefix(family.basePrefix) } ? family.basePrefix : ""
        let rules = family.tensors(dims)
        var mapped: Set<String> = []
        for rule in rules {
            for piece in rule.pieces {
                let stored = Self.stored(piece.name, family: family, prefix: prefix)
                guard let info = weights.info(stored) else {
                    throw InteropError(weights.path, "has no tensor \(quoted(stored)), which a \(family.modelType) model of "
                        + "config.json's sizes has")
                }
                guard info.dtype.isFloatingPoint else {
                    throw InteropError(weights.path, "tensor \(quoted(stored)) is \(info.dtype.rawValue), not floating-point")
                }
                guard info.shape == piece.shape else {
                    throw InteropError(weights.path, "tensor \(quoted(stored)) has shape \(bracketed(info.shape)); "
                        + "config.json's sizes give \(bracketed(piece.shape))")
                }
                mapped.insert(stored)
            }
        }
        for name in names where !mapped.contains(name) {
            let bare = name.hasPrefix(prefix) ? String(name.dropFirst(prefix.count)) : name
            guard family.ignores(bare) else {
                throw InteropError(weights.path, "holds tensor \(quoted(name)), which \(family.architecture) has no place for")
            }
        }
        self.folder = folder
        self.family = family
        self.dims = dims
        self.config = config
        self.weights = weights
        self.prefix = prefix
        self.rules = Dictionary(uniqueKeysWithValues: rules.map { ($0.name, $0) })
    }

    /// A piece's name as this checkpoint stores it.
    private static func stored(_ name: String, family: HFFamily, prefix: String) -> String {
        prefix.isEmpty && name.hasPrefix(family.basePrefix) ? String(name.dropFirst(family.basePrefix.count)) : name
    }

    /// Refuses a run's model that is not this one: every size must be config.json's (the block
    /// size at most its positions), and the family must represent the run's model.
    public func check(against run: GPTDimensions) throws(InteropError) {
        if let reason = family.unrepresentable(run) { throw InteropError(config.path, "the run's model: \(reason)") }
        for size in family.sizes {
            let theirs = size.value(dims), ours = size.value(run)
            switch size.rule {
            case .equal where theirs != ours:
                throw InteropError(config.path, "\(size.key) = \(theirs), but \(size.modelKey) = \(ours)")
            case .atLeast where theirs < ours:
                throw InteropError(config.path, "\(size.key) = \(theirs) is less than \(size.modelKey) = \(ours) "
                    + "(a run may use fewer positions than the checkpoint has, not more)")
            default:
                continue
            }
        }
        guard dims.parts == run.parts else {
            throw InteropError(config.path, "describes \(dims.parts.summary(nHead: dims.nHead)); the run's model has "
                + "\(run.parts.summary(nHead: run.nHead)) (model.family and its part keys)")
        }
    }

    /// Tessera's parameter `name` of global shape `shape`, made from the checkpoint's tensors:
    /// transposed where the family stores matrices [in, out], its pieces' rows one after the other,
    /// a position embedding cut to `shape`'s rows. Every value must be finite.
    public func tensor(_ name: String, shape: [Int]) throws(InteropError) -> [Float] {
        guard let rule = rules[name] else { throw InteropError(folder, "holds no tensor for Tessera's parameter \(quoted(name))") }
        let cut = rule.leadingRows && shape.count == rule.shape.count && shape.dropFirst() == rule.shape.dropFirst()
            && (0...rule.shape[0]).contains(shape.first ?? -1)
        guard shape == rule.shape || cut else {
            throw InteropError(config.path, "gives \(quoted(name)) shape \(bracketed(rule.shape)); the run's model has \(bracketed(shape))")
        }
        var values: [Float] = []
        for piece in rule.pieces {
            let stored = Self.stored(piece.name, family: family, prefix: prefix)
            var data: [Float]
            do throws(SafeTensorsError) {
                data = try weights.floats(stored)
            } catch {
                throw InteropError(error)
            }
            if let bad = data.firstIndex(where: { !$0.isFinite }) {
                throw InteropError(weights.file(containing: stored)?.path ?? weights.path,
                                   "tensor \(quoted(stored)) holds \(data[bad]) at element \(bad); weights must be finite")
            }
            if rule.transposed { data = transpose(data, rows: piece.shape[0], columns: piece.shape[1]) }
            values += data
        }
        return Array(values.prefix(shape.reduce(1, *)))
    }
}

/// The (columns, rows) matrix of a row-major (rows, columns) one.
func transpose(_ values: [Float], rows: Int, columns: Int) -> [Float] {
    precondition(values.count == rows * columns, "\(values.count) values for a \(rows)×\(columns) matrix")
    var result = [Float](repeating: 0, count: values.count)
    for r in 0..<rows {
        for c in 0..<columns { result[c * rows + r] = values[r * columns + c] }
    }
    return result
}
