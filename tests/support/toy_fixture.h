#pragma once
// The "toy" probe set and network: small enough to check by hand, shaped so that some
// filters separate a concept perfectly. Used by the end-to-end tests and by the demo.
//
// 48 images of 32x32 px, masks 8x8 (one mask pixel = one 4x4 block), every third image val.
// Network layer "features": average pooling over 4x4 blocks -> 8x8 maps with 4 filters:
//   0 = red, 1 = green, 2 = blue, 3 = 1 - red   (pixel / 255, no mean/std)
// Layer "coarse": the same over 8x8 blocks -> 4x4 maps (upsampled 2x to the masks).
// Concepts: 1 blue-c (colour: sky pixels), 2 redsquare (object, 16x16 px in every other
// pair of images), 3 leaf (object, 8x8 px in every fifth image), 4 sky and 5 ground (scenes).
// With tau = kToyTau = 0.125 the red filter's threshold falls just below every red square
// (384 of 3,072 positions), so filter 0 segments redsquare exactly.

#include <string>

#include "support/broden_writer.h"

namespace n2v::test {

inline constexpr double kToyTau = 0.125;
inline constexpr int kToyImages = 48;
inline constexpr int kToyRedSquareImages = 24;

BrodenFixture toy_fixture();
// Red value of image i's square (pixel value) and where it is (top-left, px).
int toy_red_value(int i);
bool toy_has_red_square(int i);
bool toy_has_leaf(int i);
bool toy_is_sky(int i);

// Writes DIR/probe (BRODEN format) and DIR/model.pt (TorchScript, layers "features", "coarse").
void write_toy(const std::string& dir);

}  // namespace n2v::test
