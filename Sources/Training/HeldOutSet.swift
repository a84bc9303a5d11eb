import Config
import Data
import Model

/// One `[[eval]]` entry's data, read and encoded with the run's tokenizer before training, so that a
/// missing or malformed file, or text the tokenizer cannot encode, stops every rank with exit 2.
struct HeldOutSet: Sendable {
    let entry: EvalEntry
    let contents: Contents

    enum Contents: Sendable {
        /// Text or shards: the loss over `eval_steps` fixed batches drawn from all of it.
        case lm(Corpus)
        /// A multiple-choice task, scored as `tessera eval --task` scores it.
        case choice([EncodedChoiceItem])
        /// CrowS-Pairs-format pairs, scored as `tessera eval bias` scores them.
        case bias([EncodedBiasPair], start: Int32?)
    }

    init(_ entry: EvalEntry, tokenizer: any Tokenizer, dims: GPTDimensions) throws {
        self.entry = entry
        do {
            switch entry.kind {
            case .lm:
                contents = .lm(try Corpus(heldOut: entry.path, tokenizer: tokenizer, vocabSize: dims.vocabSize,
                                          blockSize: dims.blockSize))
            case .choice:
                contents = .choice(try ChoiceScorer.encode(ChoiceTask(path: entry.path), tokenizer: tokenizer,
                                                           blockSize: dims.blockSize))
            case .bias:
                let start = BiasScorer.start(tokenizer: tokenizer, vocabSize: dims.vocabSize)
                contents = .bias(try BiasScorer.encode(BiasPairs(path: entry.path), tokenizer: tokenizer, start: start),
                                 start: start)
            }
        } catch let error as DataError {
            throw SetupError("[[eval]] '\(entry.name)' (kind = \"\(entry.kind)\"): \(error)")
        }
    }

    /// The metrics this entry adds to eval rows.
    var metricNames: [String] {
        switch entry.kind {
        case .lm: ["val_loss/\(entry.name)"]
        case .choice: ["accuracy/\(entry.name)", "accuracy_norm/\(entry.name)"]
        case .bias: ["bias/\(entry.name)"]
        }
    }
}
