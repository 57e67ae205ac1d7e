#include "frcnn_ops.h"
#include <cstdio>
int main() { std::printf("abi %d\n", frcnn_abi_version()); return 0; }
