// utcp: TCP (RFC 9293) as a pure state machine. The one header a user includes.
#pragma once

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
