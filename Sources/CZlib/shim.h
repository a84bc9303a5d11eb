// zlib (zlib1g-dev): deflate and CRC-32 for the PNG files `tessera report` writes.
#ifndef TESSERA_CZLIB_SHIM_H
#define TESSERA_CZLIB_SHIM_H
#include <zlib.h>
#endif
