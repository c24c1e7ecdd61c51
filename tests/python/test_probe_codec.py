"""net2vec.probe's COCO codecs against hand-made cases: RLE (counts list and compressed
string) and polygon rasterization by the documented rule (pixel centres inside, even-odd;
python/net2vec/probe/polygon.py, docs/PROBES.md).

Expected masks are drawn by hand below ('#' = in the mask), worked out from the rule, not
from the code under test. Exits 77 without numpy or PIL.
"""

import os
import random
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "python"))

try:
    import numpy as np
    from net2vec.probe import polygon, rle
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"tests/python/test_probe_codec.py: {e}: skipped")
    sys.exit(77)


def drawn(text: str) -> np.ndarray:
    rows = [r.strip() for r in text.strip().splitlines()]
    return np.array([[c == "#" for c in r] for r in rows], dtype=bool)


def show(m: np.ndarray) -> str:
    return "\n".join("".join("#" if v else "." for v in r) for r in m)


class RleTests(unittest.TestCase):
    def test_counts_of_a_hand_mask(self):
        m = drawn("""
            ..#.
            #.#.
            ###.
        """)
        # Read down the columns: . # # | . . # | # # # | . . .
        # runs: 1 zero, 2 ones, 2 zeros, 4 ones, 3 zeros.
        self.assertEqual(rle.encode_counts(m), [1, 2, 2, 4, 3])
        np.testing.assert_array_equal(rle.decode_counts([1, 2, 2, 4, 3], 3, 4), m)

    def test_mask_starting_with_ones_gets_a_zero_run_first(self):
        m = drawn("""
            #.
            #.
        """)
        self.assertEqual(rle.encode_counts(m), [0, 2, 2])
        np.testing.assert_array_equal(rle.decode_counts([0, 2, 2], 2, 2), m)
        self.assertEqual(rle.encode_counts(np.zeros((3, 2), bool)), [6])
        self.assertEqual(rle.encode_counts(np.ones((3, 2), bool)), [0, 6])

    def test_known_strings(self):
        # Pairs worked by hand from COCO's rleToString (maskApi.c): 5-bit groups, +48, +32
        # while more follow, from the 4th count on the difference to the count two before.
        # 3 - 6 = -3 -> group 29 with the sign bit set and -1 left: one character 'M' (77).
        # 1024 = 0 + 0*32 + 1*1024 -> groups 0, 0, 1: 'P' 'P' '1'.
        cases = [([0, 6, 1, 3], "061M"), ([0, 6, 1], "061"), ([0, 6, 1, 1], "061K"),
                 ([0, 6, 1, 6], "0610"), ([0, 1024], "0PP1"),
                 ([0, 1, 1, 2, 1, 3, 1, 4, 1], "011101010")]
        for counts, text in cases:
            self.assertEqual(rle.counts_to_string(counts), text, counts)
            self.assertEqual(rle.string_to_counts(text), counts, text)

    def test_public_example_string(self):
        # A 50 x 70 compressed RLE published as a decoding example (COCOtoolsFORK's README,
        # made with pycocotools' encode): its counts must add up to 50 * 70 and our encoder
        # must give back the same string.
        s = ("0g05b08J4M2N2NA^O1`0OCO=0E090H080IO68DH;>@C>a0_O_O`0j0OWOF<:CM72I24NL43JM92FN;"
             "1ENKO72L0LO91J0MO92INO0NO122OO0M031O000NO31OO11MO40N011MO41MO21L06OL021L06OL021"
             "L06OL021L060J040L060J040L060J040L060J040L060J040L060J040L060KO31L060KO31L06OL02"
             "1L06OL021L06OL021MO41MO21MO40N100NO310O00M0310O00NO1220NO92IONO91KOMO72M0<1EO:2"
             "GN63KM34OLM73JF<;=1G_O_Ob0=AC`07EH=1IO71H090F0:1DO>1_O1b0>2N2N3L6H]O")
        counts = rle.string_to_counts(s)
        self.assertEqual(sum(counts), 50 * 70)
        self.assertEqual(rle.counts_to_string(counts), s)
        m = rle.decode_string(s, 50, 70)
        self.assertEqual(rle.encode_counts(m), counts)
        # The picture is a symbol drawn left-right symmetric: its mirror differs little.
        self.assertLess(int((m != m[:, ::-1]).sum()), 0.05 * m.size)

    def test_round_trips_of_random_masks(self):
        rng = random.Random(7)
        for trial in range(200):
            h, w = rng.randint(1, 40), rng.randint(1, 40)
            kind = trial % 4
            if kind == 0:  # noise
                m = np.array([[rng.random() < 0.5 for _ in range(w)] for _ in range(h)])
            elif kind == 1:  # blobs: long runs, large and negative deltas
                m = np.zeros((h, w), bool)
                for _ in range(rng.randint(0, 4)):
                    y, x = rng.randrange(h), rng.randrange(w)
                    m[y:y + rng.randint(1, h), x:x + rng.randint(1, w)] = True
            elif kind == 2:
                m = np.ones((h, w), bool)
            else:
                m = np.zeros((h, w), bool)
            counts = rle.encode_counts(m)
            self.assertEqual(sum(counts), h * w)
            np.testing.assert_array_equal(rle.decode_counts(counts, h, w), m)
            s = rle.counts_to_string(counts)
            self.assertTrue(all(48 <= ord(ch) < 112 for ch in s), s)
            self.assertEqual(rle.string_to_counts(s), counts)
            np.testing.assert_array_equal(rle.decode_string(s, h, w), m)

    def test_large_counts(self):
        counts = [123456, 7, 1, 300000, 2, 99]
        self.assertEqual(rle.string_to_counts(rle.counts_to_string(counts)), counts)

    def test_errors(self):
        with self.assertRaisesRegex(rle.RleError, "add up to 5, not height x width = 2 x 3"):
            rle.decode_counts([2, 3], 2, 3)
        with self.assertRaisesRegex(rle.RleError, "count 1 is -1"):
            rle.decode_counts([7, -1], 2, 3)
        with self.assertRaisesRegex(rle.RleError, "count 0 is 2.5"):
            rle.decode_counts([2.5, 3.5], 2, 3)
        with self.assertRaisesRegex(rle.RleError, r"character 2 is '~'"):
            rle.string_to_counts("06~")
        with self.assertRaisesRegex(rle.RleError, "ends inside a value"):
            rle.string_to_counts("0P")  # 'P' says more groups follow
        with self.assertRaisesRegex(rle.RleError, "negative run"):
            rle.string_to_counts("000O")  # 4th count: 'O' is -1, plus the 2nd count 0


class PolygonTests(unittest.TestCase):
    def check(self, coords, expected: str, **kw):
        want = drawn(expected)
        got = polygon.polygon_mask(coords, *want.shape, **kw)
        self.assertTrue(np.array_equal(got, want),
                        f"\nexpected:\n{show(want)}\ngot:\n{show(got)}")

    def test_rectangle_covers_columns_x0_to_x1_minus_1(self):
        self.check([1, 1, 4, 1, 4, 3, 1, 3], """
            ......
            .###..
            .###..
            ......
            ......
        """)
        # The same box listed clockwise from another corner: the same pixels.
        self.check([4, 3, 1, 3, 1, 1, 4, 1], """
            ......
            .###..
            .###..
            ......
            ......
        """)

    def test_half_pixel_box_takes_the_centres_inside(self):
        # Centres 1.5, 2.5 lie in [1.4, 3.0); 3.5 does not; rows: centre 1.5 in [0.6, 2.5).
        self.check([1.4, 0.6, 3.0, 0.6, 3.0, 2.5, 1.4, 2.5], """
            .....
            .##..
            .....
        """)

    def test_triangle(self):
        # Hypotenuse (7,1)-(1,5): x = 7 - 1.5 (y - 1); rows y = 1.5, 2.5, 3.5, 4.5 end at
        # x = 6.25, 4.75, 3.25, 1.75: the columns whose centre j + 0.5 is left of that.
        self.check([1, 1, 7, 1, 1, 5], """
            ........
            .#####..
            .####...
            .##.....
            .#......
            ........
        """)

    def test_concave_polygon(self):
        # A U: the notch (2..4) x (2..5) is outside.
        self.check([0, 0, 6, 0, 6, 5, 4, 5, 4, 2, 2, 2, 2, 5, 0, 5], """
            ######
            ######
            ##..##
            ##..##
            ##..##
        """)
        # A notch from the right with sloped edges to (4, 3): the row ends are
        # 8 - 4y/3 above y = 3 and 4 + 4(y - 3)/3 below; on row 1 the end is exactly 6, a
        # right edge: the centre 5.5 is in, 6.5 is out.
        self.check([0, 0, 8, 0, 4, 3, 8, 6, 0, 6], """
            #######.
            ######..
            #####...
            #####...
            ######..
            #######.
        """)

    def test_polygon_touching_and_crossing_the_border(self):
        self.check([0, 0, 6, 0, 6, 5, 0, 5], """
            ######
            ######
            ######
            ######
            ######
        """)
        self.check([3, 2, 6, 2, 6, 5, 3, 5], """
            ......
            ......
            ...###
            ...###
            ...###
        """)
        # A triangle larger than the image, clipped: its edge x + y = 8 passes exactly
        # through the centres with i + j = 7, which are on a right edge: outside.
        self.check([-2, -2, 10, -2, -2, 10], """
            ######
            ######
            #####.
            ####..
            ###...
            ##....
        """)

    def test_even_odd_rule(self):
        # The outer square and an inner square wound the same way, joined by a seam: the
        # nonzero rule would fill the inner square, even-odd leaves it a hole.
        self.check([0, 0, 6, 0, 6, 6, 0, 6, 0, 0, 2, 2, 4, 2, 4, 4, 2, 4, 2, 2], """
            ######
            ######
            ##..##
            ##..##
            ######
            ######
        """)

    def test_scaled_to_a_half_size_grid(self):
        # A box (2,2)-(8,6) on a 12 x 8 image, rasterized on its 6 x 4 mask grid.
        self.check([2, 2, 8, 2, 8, 6, 2, 6], """
            ......
            .###..
            .###..
            ......
        """, scale_x=0.5, scale_y=0.5)

    def test_bad_polygons(self):
        with self.assertRaisesRegex(polygon.PolygonError, "5 coordinates, an odd count"):
            polygon.polygon_mask([0, 0, 1, 1, 2], 4, 4)
        # Fewer than 3 points enclose nothing (COCO has a few): empty, not an error.
        self.assertFalse(polygon.polygon_mask([0, 0, 3, 3], 4, 4).any())
        self.assertFalse(polygon.polygon_mask([], 4, 4).any())
        with self.assertRaisesRegex(polygon.PolygonError, "not all"):
            polygon.polygon_mask([0, 0, 1, "a", 2, 2], 4, 4)
        with self.assertRaisesRegex(polygon.PolygonError, "finite"):
            polygon.polygon_mask([0, 0, 1, float("nan"), 2, 2], 4, 4)


if __name__ == "__main__":
    unittest.main()
