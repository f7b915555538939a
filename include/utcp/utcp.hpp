// utcp: TCP (RFC 9293) as a pure state machine. The one header a user includes.
#pragma once

// GCC 12 reports C++23 as 202100L; C++20 is 202002L.
#if !defined(__cplusplus) || __cplusplus <= 202002L
#error "utcp's C++ API needs C++23 (-std=c++23); from C, include <utcp/posix.h> and link utcp-host"
#endif

#include "utcp/checksum.hpp"
#include "utcp/config.hpp"
#include "utcp/error.hpp"
#include "utcp/ip.hpp"
#include "utcp/payload.hpp"
#include "utcp/segment.hpp"
#include "utcp/seq.hpp"
#include "utcp/state.hpp"
#include "utcp/stats.hpp"
#include "utcp/time.hpp"
