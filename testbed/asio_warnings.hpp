// Included first by the testbed's files that compile Boost.Asio and Beast code, before any Boost
// header. Under sanitizers GCC 12 misreports Boost 1.74 code inlined into them: asio's coroutine
// frames freed by asio's own operator delete, and a boost::optional inside Beast's parser. Under
// TSan it also warns that it cannot model the std::atomic_thread_fence in asio's headers. Boost
// 1.74's asio/awaitable.hpp also uses std::exchange without including <utility>.
#pragma once

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#if defined(__SANITIZE_THREAD__)
#pragma GCC diagnostic ignored "-Wtsan"
#endif

#include <utility>
