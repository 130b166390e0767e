#include "hawkeye/core/error.h"

namespace hawkeye {

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::invalid_argument: return "invalid_argument";
    case ErrorCode::not_found: return "not_found";
    case ErrorCode::io: return "io";
    case ErrorCode::corrupt_data: return "corrupt_data";
    case ErrorCode::unsupported: return "unsupported";
    case ErrorCode::limit_exceeded: return "limit_exceeded";
    case ErrorCode::parse: return "parse";
    case ErrorCode::model: return "model";
    case ErrorCode::numerical: return "numerical";
    case ErrorCode::distributed: return "distributed";
    case ErrorCode::interrupted: return "interrupted";
    case ErrorCode::in_use: return "in_use";
    case ErrorCode::internal: return "internal";
  }
  return "unknown";
}

int exit_status(ErrorCode code) {
  switch (code) {
    case ErrorCode::invalid_argument: return 2;
    case ErrorCode::not_found: return 3;
    case ErrorCode::io: return 4;
    case ErrorCode::corrupt_data: return 5;
    case ErrorCode::unsupported: return 6;
    case ErrorCode::limit_exceeded: return 7;
    case ErrorCode::parse: return 8;
    case ErrorCode::model: return 9;
    case ErrorCode::numerical: return 10;
    case ErrorCode::distributed: return 11;
    case ErrorCode::interrupted: return 130;
    case ErrorCode::in_use: return 14;
    case ErrorCode::internal: return 70;
  }
  return 1;
}

}  // namespace hawkeye
