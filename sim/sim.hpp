// The deterministic network simulator: everything in one include.
#pragma once

#include "sim_bulk.hpp"      // IWYU pragma: export
#include "sim_link.hpp"      // IWYU pragma: export
#include "sim_network.hpp"   // IWYU pragma: export
#include "sim_rng.hpp"       // IWYU pragma: export
#include "sim_scenario.hpp"  // IWYU pragma: export
