#include "support/toy_fixture.h"

#include <torch/script.h>

#include <filesystem>
#include <stdexcept>

#include "model/network.h"

namespace n2v::test {

bool toy_has_red_square(int i) { return (i / 2) % 2 == 0; }
bool toy_has_leaf(int i) { return i % 5 == 1; }
bool toy_is_sky(int i) { return i % 2 == 0; }
int toy_red_value(int i) { return 230 + (i * 5) % 25; }

BrodenFixture toy_fixture() {
  BrodenFixture f;
  f.categories = {"color", "object", "scene"};
  f.labels = {{1, "blue-c", "color", ""},
              {2, "redsquare", "object", ""},
              {3, "leaf", "object", ""},
              {4, "sky", "scene", ""},
              {5, "ground", "scene", ""}};
  f.mask_height = f.mask_width = 8;
  for (int i = 0; i < kToyImages; ++i) {
    FixtureImage img;
    char name[32];
    std::snprintf(name, sizeof name, "toy_%02d", i);
    img.name = name;
    img.split = i % 3 == 2 ? "val" : "train";
    const bool sky = toy_is_sky(i);
    img.image = sky ? solid_image(32, 32, 20, 60, static_cast<uint8_t>(200 + i % 40))
                    : solid_image(32, 32, 60, 90, 40);
    LabelMap color = empty_map(8, 8), object = empty_map(8, 8);
    if (sky) fill_rect(color, 0, 0, 8, 8, 1);
    // Red square: 16x16 px on the 4 px grid, position varies with i.
    int ry = 4 * (i % 5), rx = 4 * ((i / 5) % 5);
    if (toy_has_red_square(i)) {
      fill_rect(img.image, ry, rx, ry + 16, rx + 16, static_cast<uint8_t>(toy_red_value(i)), 20, 20);
      fill_rect(object, ry / 4, rx / 4, ry / 4 + 4, rx / 4 + 4, 2);
      fill_rect(color, ry / 4, rx / 4, ry / 4 + 4, rx / 4 + 4, 0);
    }
    // Leaf: 8x8 px in the corner farthest from the red square.
    if (toy_has_leaf(i)) {
      int ly = ry >= 8 ? 0 : 24, lx = rx >= 8 ? 0 : 24;
      fill_rect(img.image, ly, lx, ly + 8, lx + 8, 30, static_cast<uint8_t>(180 + i % 50), 30);
      fill_rect(object, ly / 4, lx / 4, ly / 4 + 2, lx / 4 + 2, 3);
      fill_rect(color, ly / 4, lx / 4, ly / 4 + 2, lx / 4 + 2, 0);
    }
    img.masks = {{color}, {object}, {}};
    img.image_labels = {{}, {}, {sky ? 4 : 5}};
    f.images.push_back(std::move(img));
  }
  return f;
}

void write_toy(const std::string& dir) {
  std::filesystem::create_directories(dir);
  write_broden(dir + "/probe", toy_fixture());

  torch::jit::Module m("ToyNet");
  m.register_attribute("net2vec_layers", c10::ListType::ofStrings(),
                       c10::List<std::string>({"features", "coarse"}));
  Preprocessing p;
  p.height = p.width = 32;
  p.scale = 1.0f / 255;
  p.mean = {0, 0, 0};
  p.std = {1, 1, 1};
  m.register_attribute("net2vec_preprocessing", c10::StringType::get(), c10::IValue(p.to_json()));
  m.define(R"JIT(
def forward(self, x: Tensor) -> Dict[str, Tensor]:
    p = torch.avg_pool2d(x, [4, 4])
    r = p[:, 0:1]
    out: Dict[str, Tensor] = {}
    out["features"] = torch.cat([r, p[:, 1:2], p[:, 2:3], 1.0 - r], 1)
    q = torch.avg_pool2d(x, [8, 8])
    out["coarse"] = torch.cat([q, 1.0 - q[:, 0:1]], 1)
    return out
)JIT");
  m.save(dir + "/model.pt");
}

}  // namespace n2v::test
