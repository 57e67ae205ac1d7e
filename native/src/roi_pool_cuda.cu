#include "frcnn_ops.h"
