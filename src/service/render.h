#pragma once
// Plain-text rendering of the service responses: the aligned tables `net2vec` prints
// (what `--json` prints is service/json.h). Each function returns the whole text, ending
// in a newline.

#include <string>

#include "service/service.h"

namespace n2v {

std::string render_text(const SpacesResponse& r);
std::string render_text(const ConceptsResponse& r);
std::string render_text(const NeighborsResponse& r);
std::string render_text(const AnalogyResponse& r);
std::string render_text(const CompareResponse& r);
std::string render_text(const ConceptResponse& r);
std::string render_text(const FilterUsageResponse& r);
std::string render_text(const FilterResponse& r);
std::string render_text(const HealthResponse& r);
std::string render_text(const ExamplesResponse& r);
std::string render_text(const ConceptImagesResponse& r);
std::string render_text(const AnalysesResponse& r);
std::string render_text(const MapResponse& r);

}  // namespace n2v
