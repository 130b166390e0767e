// The one precompiled header of the torch layers (model, rl, dist, eval).
#pragma once
#include <torch/torch.h>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>
