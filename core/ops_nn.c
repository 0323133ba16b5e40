/* Placeholder table while the family is being written (parallel work). */
#include "op.h"

const struct au_op_def au_ops_nn[] = {{0}};
