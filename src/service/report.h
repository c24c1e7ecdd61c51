#pragma once
// `net2vec report`: the paper's analyses for every network space of a catalog (Table 1,
// Figures 2, 3 and 9, failures; src/analysis) and the distances between all spaces (Figure
// 10), as one JSON document and as a self-contained HTML page (inline SVG, no script, no
// network access; readable in a browser and printable) drawn from that document alone -- the
// example strips' photos and masks included, as data: URIs in the document.

#include <string>
#include <vector>

#include "service/json.h"
#include "service/service.h"

namespace n2v {

// spaces: the network spaces to analyse (empty: all of them). The comparison covers those
// spaces and every reference space. probe_dirs: the probe folders (`--probe`) whose photos and
// ground truth the example strips embed (detail/report_strip.h); kNotFound for one that does
// not exist. A space whose probe set is in none of them gets its predicted masks alone.
Json report_json(Service& service, const std::vector<std::string>& spaces = {},
                 const std::vector<std::string>& probe_dirs = {});
std::string report_html(const Json& report);

}  // namespace n2v
