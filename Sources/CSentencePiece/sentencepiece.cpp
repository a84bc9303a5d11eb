// The only file that calls SentencePiece's C++ API; every C++ exception and util::Status becomes
// a -1 return with a message, so nothing C++ crosses into Swift.
#include "csentencepiece.h"

#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <unordered_map>
#include <vector>

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

// Declared in SentencePiece's internal common.h, exported by libsentencepiece.
namespace sentencepiece::logging {
void SetMinLogLevel(int level);
}

struct tessera_spm {
    sentencepiece::SentencePieceProcessor processor;
};

static char *copy_message(const std::string &message) {
    char *copy = static_cast<char *>(std::malloc(message.size() + 1));
    if (copy) std::memcpy(copy, message.c_str(), message.size() + 1);
    return copy;
}

static int fail(char **error, const std::string &message) {
    if (error) *error = copy_message(message);
    return -1;
}

extern "C" tessera_spm *tessera_spm_load(const void *model, size_t size, char **error) {
    try {
        auto *handle = new tessera_spm;
        auto status = handle->processor.LoadFromSerializedProto(
            std::string(static_cast<const char *>(model), size));
        if (!status.ok()) {
            delete handle;
            fail(error, status.ToString());
            return nullptr;
        }
        return handle;
    } catch (const std::exception &exception) {
        fail(error, exception.what());
        return nullptr;
    }
}

extern "C" void tessera_spm_destroy(tessera_spm *processor) { delete processor; }

extern "C" int tessera_spm_piece_count(const tessera_spm *processor) {
    return processor->processor.GetPieceSize();
}

extern "C" int tessera_spm_eos_id(const tessera_spm *processor) { return processor->processor.eos_id(); }

extern "C" int tessera_spm_unk_id(const tessera_spm *processor) { return processor->processor.unk_id(); }

extern "C" void *tessera_spm_serialized(const tessera_spm *processor, size_t *size) {
    std::string bytes = processor->processor.serialized_model_proto();
    void *copy = std::malloc(bytes.size() ? bytes.size() : 1);
    if (copy) std::memcpy(copy, bytes.data(), bytes.size());
    *size = bytes.size();
    return copy;
}

extern "C" int tessera_spm_encode(const tessera_spm *processor, const char *text, size_t length,
                                  int32_t **ids, size_t *count, char **error) {
    try {
        std::vector<int> pieces;
        auto status = processor->processor.Encode(std::string_view(text, length), &pieces);
        if (!status.ok()) return fail(error, status.ToString());
        auto *out = static_cast<int32_t *>(std::malloc((pieces.size() ? pieces.size() : 1) * sizeof(int32_t)));
        if (!out) return fail(error, "out of memory");
        for (size_t i = 0; i < pieces.size(); i++) out[i] = pieces[i];
        *ids = out;
        *count = pieces.size();
        return 0;
    } catch (const std::exception &exception) {
        return fail(error, exception.what());
    }
}

extern "C" int tessera_spm_decode(const tessera_spm *processor, const int32_t *ids, size_t count,
                                  char **text, size_t *length, char **error) {
    try {
        std::vector<int> pieces(ids, ids + count);
        std::string decoded;
        auto status = processor->processor.Decode(pieces, &decoded);
        if (!status.ok()) return fail(error, status.ToString());
        char *out = static_cast<char *>(std::malloc(decoded.size() ? decoded.size() : 1));
        if (!out) return fail(error, "out of memory");
        std::memcpy(out, decoded.data(), decoded.size());
        *text = out;
        *length = decoded.size();
        return 0;
    } catch (const std::exception &exception) {
        return fail(error, exception.what());
    }
}

extern "C" int tessera_spm_train(const char *const *keys, const char *const *values, size_t count,
                                 char **error) {
    try {
        std::unordered_map<std::string, std::string> options;
        for (size_t i = 0; i < count; i++) options[keys[i]] = values[i];
        auto status = sentencepiece::SentencePieceTrainer::Train(options);
        if (!status.ok()) return fail(error, status.ToString());
        return 0;
    } catch (const std::exception &exception) {
        return fail(error, exception.what());
    }
}

extern "C" void tessera_spm_set_log_level(int level) { sentencepiece::logging::SetMinLogLevel(level); }

extern "C" void tessera_spm_free(void *pointer) { std::free(pointer); }
