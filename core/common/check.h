#ifndef SHADOWCAT_CORE_COMMON_CHECK_H_
#define SHADOWCAT_CORE_COMMON_CHECK_H_

// SC_DCHECK: a debug-only invariant (assert()); compiled out with NDEBUG. For
// broken internal invariants only: input from the network or a caller is
// handled and counted, never checked this way.
//
// SC_DCHECK_ON_STRAND(strand): the code runs on `strand` (Envoy's
// ASSERT(dispatcher.isThreadSafe())). Strand-confined state has no lock, so a
// method called from the wrong thread would be a silent data race; this makes
// it a loud failure in debug and sanitizer builds.

#include <cassert>

#define SC_DCHECK(condition) assert(condition)
#define SC_DCHECK_ON_STRAND(strand) assert((strand).running_in_this_thread())

#endif  // SHADOWCAT_CORE_COMMON_CHECK_H_
