// MULTIVERSION compiles a loop for AVX-512, AVX2 and baseline x86-64 and picks one at load time.
// Clones are chosen by CPU feature ("avx2"), not by model ("arch=haswell": clang's resolver tests
// __builtin_cpu_is("haswell") for that, so the clone never ran on newer Intel CPUs or on AMD).
#ifndef TESSERA_MULTIVERSION_H
#define TESSERA_MULTIVERSION_H

#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#ifndef MULTIVERSION
#define MULTIVERSION
#endif

#endif
