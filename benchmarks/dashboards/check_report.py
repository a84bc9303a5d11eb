#!/usr/bin/env python3
"""Checks `tessera report`'s output with a PNG decoder that is not ours: Pillow (matplotlib's).

usage: check_report.py RUN_DIR   (after `tessera report RUN_DIR`)

- RUN_DIR/report.png: Pillow opens and verifies it (chunk CRCs, the zlib stream), then decodes it:
  an RGB image of 1200 x 860 with a white corner, and, when metrics.jsonl holds alarm rows, the
  alarm markers' red (214, 39, 40) somewhere in it, else nowhere.
- RUN_DIR/report.md: links report.png and has the Results and Alarms sections.
Prints one JSON line; exits 1 on any mismatch.
"""
import json
import sys
from pathlib import Path

from PIL import Image


def main(run_dir):
    run = Path(run_dir)
    problems = []
    with Image.open(run / "report.png") as image:
        image.verify()  # CRCs and the compressed stream, without decoding the pixels
    with Image.open(run / "report.png") as image:
        image.load()
        size, mode = image.size, image.mode
        if (size, mode) != ((1200, 860), "RGB"):
            problems.append(f"report.png is {mode} {size}, not RGB (1200, 860)")
        if image.getpixel((0, 0)) != (255, 255, 255):
            problems.append(f"corner pixel {image.getpixel((0, 0))} is not white")
        red = any(colour == (214, 39, 40) for _, colour in image.getcolors(maxcolors=1 << 24))
    alarms = 0
    for line in (run / "metrics.jsonl").read_text().splitlines():
        try:
            alarms += "alarm" in json.loads(line)
        except json.JSONDecodeError:
            pass
    if red != (alarms > 0):
        problems.append(f"{alarms} alarm row(s) but alarm red {'drawn' if red else 'absent'}")
    summary = (run / "report.md").read_text()
    for needed in ["](report.png)", "## Results", "## Alarms"]:
        if needed not in summary:
            problems.append(f"report.md lacks {needed!r}")
    print(json.dumps({"run_dir": str(run), "png": {"size": size, "mode": mode}, "alarms": alarms, "problems": problems}))
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
