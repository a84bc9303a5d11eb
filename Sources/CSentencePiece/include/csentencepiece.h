// A C face for SentencePiece's C++ API (libsentencepiece, libsentencepiece_train), so that Swift
// can call it: an opaque processor handle, encode/decode over plain buffers, and training from a
// list of `key=value` options. Functions that can fail return 0 on success and otherwise -1 with
// a malloc'ed, NUL-terminated message in *error (free it with tessera_spm_free).
#ifndef TESSERA_CSENTENCEPIECE_H
#define TESSERA_CSENTENCEPIECE_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tessera_spm tessera_spm;

/// Loads a model from the bytes of a .model file (a serialized ModelProto):
/// SentencePieceProcessor::LoadFromSerializedProto. NULL on failure, with *error set.
tessera_spm *tessera_spm_load(const void *model, size_t size, char **error);
void tessera_spm_destroy(tessera_spm *processor);

/// GetPieceSize(), eos_id() (-1 when the model has none), unk_id().
int tessera_spm_piece_count(const tessera_spm *processor);
int tessera_spm_eos_id(const tessera_spm *processor);
int tessera_spm_unk_id(const tessera_spm *processor);

/// The model's serialized proto (serialized_model_proto()), malloc'ed; *size its length.
void *tessera_spm_serialized(const tessera_spm *processor, size_t *size);

/// Encode(text) into ids: *ids is malloc'ed (free with tessera_spm_free), *count its length.
int tessera_spm_encode(const tessera_spm *processor, const char *text, size_t length,
                       int32_t **ids, size_t *count, char **error);

/// Decode(ids) into UTF-8 text: *text is malloc'ed, *length its length (not NUL-terminated).
int tessera_spm_decode(const tessera_spm *processor, const int32_t *ids, size_t count,
                       char **text, size_t *length, char **error);

/// SentencePieceTrainer::Train with the map {keys[i]: values[i]} (the spm_train flags without
/// dashes: input, model_prefix, vocab_size, model_type, ...). Writes PREFIX.model and PREFIX.vocab.
int tessera_spm_train(const char *const *keys, const char *const *values, size_t count, char **error);

/// sentencepiece::logging::SetMinLogLevel: 0 logs training progress, 1 warnings and errors only.
void tessera_spm_set_log_level(int level);

/// Frees what the functions above malloc'ed.
void tessera_spm_free(void *pointer);

#ifdef __cplusplus
}
#endif
#endif
