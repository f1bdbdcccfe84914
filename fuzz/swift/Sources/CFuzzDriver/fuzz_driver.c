/* Nothing to compile: the target exists to give Swift the declaration in fuzz_driver.h. */
#include "fuzz_driver.h"
