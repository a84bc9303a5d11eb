import Checkpoint
import Model
import MPI
import Parallel

/// RUN_DIR/model.h5: every parameter as one full tensor under its global name, with the run's
/// config and tokenizer, readable with h5py or h5dump alone.
enum ModelExport {
    static func write(model: GPT, setup: TrainingSetup, groups: ProcessGroups, step: Int, path: String) throws {
        // With data parallelism alone every rank holds full tensors: rank 0 writes them.
        if groups.world.rank == 0 {
            let store = model.store
            let tensors = store.specs.enumerated().map { i, spec in
                NamedTensor(name: spec.name, shape: spec.globalShape,
                            data: UnsafeBufferPointer(start: store.values + store.offsets[i], count: spec.localCount))
            }
            let tokenizer = setup.corpus.tokenizer
            try ModelFile.write(path: path, tensors: tensors, attributes: ModelAttributes(
                step: Int64(step), config: setup.config.tomlText(),
                strings: ["tokenizer": tokenizer.kind.rawValue, "tokenizer_data": tokenizer.serialized]))
        }
        try groups.world.barrier()
    }
}
