#ifndef SHADOWCAT_TESTS_FUZZ_FUZZ_CHECK_H_
#define SHADOWCAT_TESTS_FUZZ_FUZZ_CHECK_H_

// A property check for fuzz targets. Always on, unlike assert(); the abort is
// what libFuzzer reports as a crash, with the failed condition on stderr.

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                               \
  do {                                                                 \
    if (!(cond)) {                                                     \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, \
                   __LINE__, #cond);                                   \
      std::abort();                                                    \
    }                                                                  \
  } while (0)

#endif  // SHADOWCAT_TESTS_FUZZ_FUZZ_CHECK_H_
