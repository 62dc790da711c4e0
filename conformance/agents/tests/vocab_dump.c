/* vocab_dump.c: prints acc_adapter.h's vocabulary as the C compiler reads
 * it, one entry a line, for vocab_check.py to hold the Python reading
 * (agents/common/acc_vocab.py) against.  make vocab-check. */
#include <stdio.h>

#include "acc_common.h"

int main(void)
{
    size_t n;
    const acc_cap_name_t *caps = acc_cap_names(&n);
    for (size_t k = 0; k < n; k++)
        printf("cap %u %s %d\n", caps[k].cap, caps[k].name, caps[k].where);
    const acc_errno_name_t *errs = acc_errno_names(&n);
    for (size_t k = 0; k < n; k++)
        printf("errno %s %d %d\n", errs[k].name, errs[k].err, errs[k].in_cases);
    printf("flags %d %d\n", ACC_IN_CASES, ACC_ON_WIRE);
#define VERDICT_(name) printf("verdict %s\n", #name);
    ACC_VERDICT_LIST(VERDICT_)
#undef VERDICT_
#define AREA_(letter, title) printf("area %s %s\n", #letter, title);
    ACC_AREA_LIST(AREA_)
#undef AREA_
    printf("areas %s\n", ACC_AREAS);
    return 0;
}
