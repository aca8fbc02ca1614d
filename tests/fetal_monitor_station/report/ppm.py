"""Measure a rendered report page (binary PPM from pdftoppm): where the heavy grid lines are, and
where the trace has gaps. Everything is found in the pixels; nothing is taken from the layout code."""

from __future__ import annotations

from pathlib import Path


class Image:
    def __init__(self, path: Path) -> None:
        data = path.read_bytes()
        parts = data.split(maxsplit=4)
        assert parts[0] == b"P6", "not a binary PPM"
        self.width, self.height, maxval = int(parts[1]), int(parts[2]), int(parts[3])
        assert maxval == 255
        self.pixels = parts[4]
        assert len(self.pixels) >= self.width * self.height * 3

    def rgb(self, x: int, y: int) -> tuple[int, int, int]:
        i = (y * self.width + x) * 3
        p = self.pixels
        return p[i], p[i + 1], p[i + 2]


def heavy_red(c: tuple[int, int, int]) -> bool:
    r, g, b = c
    return r > 150 and g < 140 and b < 140 and r - g > 70


def dark(c: tuple[int, int, int]) -> bool:
    return max(c) < 90


def groups(indices: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for i in indices:
        if out and i == out[-1][1] + 1:
            out[-1] = (out[-1][0], i)
        else:
            out.append((i, i))
    return out


def centres(gs: list[tuple[int, int]]) -> list[float]:
    return [(a + b) / 2 for a, b in gs]


def fhr_strip(img: Image) -> tuple[int, int, int, int]:
    """(x0, x1, y0, y1) of the upper strip: framed by the heavy lines that span the page width."""
    step = 3
    rows = [y for y in range(img.height)
            if sum(heavy_red(img.rgb(x, y)) for x in range(0, img.width, step)) > 0.6 * img.width / step]
    gs = groups(rows)
    assert len(gs) >= 4, "no strips found"
    ys = centres(gs)

    def inside_grid(y: int) -> bool:  # vertical grid lines cross this row
        return len(groups([x for x in range(img.width) if heavy_red(img.rgb(x, y))])) >= 5

    split = next(i for i in range(len(ys) - 1) if not inside_grid(int((ys[i] + ys[i + 1]) / 2)))
    y0, y1 = int(ys[0]), int(ys[split])
    probes = [y0 + (y1 - y0) * k // 8 for k in range(1, 8)]  # a trace crossing one probe row does not hide a line
    cols = [x for x in range(img.width) if sum(heavy_red(img.rgb(x, y)) for y in probes) >= 5]
    xs = centres(groups(cols))
    return int(xs[0]), int(xs[-1]), y0, y1


def heavy_verticals(img: Image, strip: tuple[int, int, int, int]) -> list[float]:
    x0, x1, y0, y1 = strip
    h = y1 - y0
    cols = [x for x in range(x0 + 2, x1 - 1)
            if sum(heavy_red(img.rgb(x, y)) for y in range(y0 + 2, y1 - 1, 2)) > 0.35 * h]
    return centres(groups(cols))


def trace_gaps(img: Image, strip: tuple[int, int, int, int]) -> list[tuple[int, int]]:
    """Runs of columns inside the strip with no trace pixel at all (the trace is black)."""
    x0, x1, y0, y1 = strip
    empty = [x for x in range(x0 + 3, x1 - 2) if not any(dark(img.rgb(x, y)) for y in range(y0 + 2, y1 - 1))]
    return groups(empty)
