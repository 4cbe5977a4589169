/* alloc_count.h — count heap allocations made by any code in the test process (libppcrt.so and
 * its worker threads included) between alloc_count_start() and alloc_count_stop(). See
 * alloc_count.c for how.
 */
#ifndef PPCRT_TEST_ALLOC_COUNT_H
#define PPCRT_TEST_ALLOC_COUNT_H

void alloc_count_start(void);
/* Stop counting and return the number of malloc-family calls seen since the start. */
long alloc_count_stop(void);

#endif
