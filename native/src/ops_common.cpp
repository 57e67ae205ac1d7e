#include "frcnn_ops.h"
extern "C" int32_t frcnn_abi_version(void) { return FRCNN_ABI_VERSION; }
