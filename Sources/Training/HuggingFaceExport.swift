import Interop
import Model

/// `tessera export --format hf`: a model.h5 (a file, a checkpoint folder or a run directory) as a
/// Hugging Face folder that `transformers` loads as its family's class with the same logits. Made in
/// two steps so that a command can tell bad input (`init` and `checkDestination` throw before
/// anything is written: exit 2) from a failure while writing (`write`: exit 1).
public struct HuggingFaceExport {
    public let whole: WholeModel
    public let family: HFFamily
    public let files: [TokenizerFile]
    let settings: HFExportSettings

    /// Reads the model and refuses one no family's class represents.
    public init(source: String) throws {
        whole = try WholeModel(modelFile: source)
        let dims = whole.model.dims
        family = try HFFamily.family(for: dims, source: whole.source)
        let (files, endOfText) = TokenizerFiles.files(for: try whole.trainedTokenizer(), vocabSize: dims.vocabSize)
        self.files = files
        settings = HFExportSettings(dropout: whole.config?.model.dropout ?? 0, endOfText: endOfText)
    }

    /// Refuses a folder that holds an export's files already, unless `overwrite`.
    public func checkDestination(_ folder: String, overwrite: Bool) throws {
        try HFExport.checkDestination(folder, files: files, overwrite: overwrite)
    }

    /// Writes the folder (made when missing).
    public func write(to folder: String) throws {
        try HFExport.write(folder: folder, family: family, dims: whole.model.dims, settings: settings, files: files) {
            Array(whole.parameter($0))
        }
    }
}
