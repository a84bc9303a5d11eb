import Checkpoint
import Model
import MPI
import Parallel

/// RUN_DIR/model.h5: every parameter as one full tensor under its global name, with the run's
/// config and tokenizer, readable with h5py or h5dump alone, the same on every layout.
enum ModelExport {
    static func write(model: GPT, setup: TrainingSetup, groups: ProcessGroups, step: Int, path: String) throws {
        if let parameters = try ParameterGather.gather(.values, model: model, groups: groups) {
            let tokenizer = setup.corpus.tokenizer
            try ModelFile.write(path: path, tensors: parameters.tensors, attributes: ModelAttributes(
                step: Int64(step), config: setup.config.tomlText(),
                strings: ["tokenizer": tokenizer.kind.rawValue, "tokenizer_data": tokenizer.serialized]))
        }
        try groups.world.barrier()
    }
}
