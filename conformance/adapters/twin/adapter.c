/* adapter.c: "twin", the reference under another name.  make check runs the
 * conformance suite, the stress check and the fuzz smoke through it, so a
 * driver that keyed anything on the name "reference" or "ref" (an
 * allowance, an expectation, a backend list) would show here. */
#define ACC_REF_NAME "twin"
#include "../ref/adapter.c"
