#pragma once
// The JSON form of every service response and of the request bodies the HTTP API takes:
// one vocabulary for `net2vec ... --json` and the HTTP API (docs/API.md). Keys are written
// in a fixed order so documents read like the CLI's tables and compare byte for byte.

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "service/service.h"

namespace n2v {

using Json = nlohmann::ordered_json;

Json to_json(const HealthResponse& r);
Json to_json(const SpacesResponse& r);
Json to_json(const ConceptsResponse& r);
Json to_json(const NeighborsResponse& r);
Json to_json(const AnalogyResponse& r);
Json to_json(const CompareResponse& r);
Json to_json(const ExamplesResponse& r);
Json to_json(const ConceptResponse& r);
Json to_json(const ConceptImagesResponse& r);
Json to_json(const AnalysesResponse& r);
Json to_json(const MapResponse& r);
Json to_json(const FilterUsageResponse& r);
Json to_json(const FilterResponse& r);

// A val score's 95 % interval as [low, high]; null where not computed (a catalog before schema
// version 7, or intervals turned off).
Json interval_json(const ScoreStatsRecord& st);

// {"error": {"code", "status", "message", "suggestions"}}; `code` is an ErrorCode name or an
// HTTP-level one ("method_not_allowed", "payload_too_large", ...); `suggestions` the closest
// existing names for an unknown one (often empty).
Json error_json(const std::string& code, int status, const std::string& message,
                const std::vector<std::string>& suggestions = {});
Json error_json(const Error& e);

// Request bodies nest at most this deep (ours nest 2 levels) and names are at most this long.
inline constexpr int kMaxJsonDepth = 64;
inline constexpr size_t kMaxNameBytes = 256;

// A request body as JSON; kInvalidArgument for malformed JSON or nesting deeper than
// kMaxJsonDepth. Messages quote at most a few hundred bytes of the body.
Json parse_request_body(const std::string& body);

// POST /api/analogy's body (docs/API.md), read as the table of queries reads it
// (queries.h args_from_json): unknown keys and values of the wrong type are kInvalidArgument
// naming the key; names longer than kMaxNameBytes too.
AnalogyRequest analogy_request_from_json(const Json& body);

}  // namespace n2v
