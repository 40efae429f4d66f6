"""Times faster-paddle (the fastest CPU peer) on the same images, in-process and
sequentially, and writes its lines in inference-hub's response format so the
shared scorer can rate its accuracy. Run by scripts/bench.sh inside a
throw-away venv; prints one JSON object per model size."""

import json
import math
import resource
import sys
import time
from pathlib import Path


def main() -> None:
    size, out_dir, files = sys.argv[1], Path(sys.argv[2]), [Path(f) for f in sys.argv[3:]]
    from faster_paddle import OcrEngine

    started = time.perf_counter()
    engine = OcrEngine(model_size=size)
    load_ms = (time.perf_counter() - started) * 1000
    images = [f.read_bytes() for f in files]
    for image in images[:3]:
        engine.ocr(image)  # warm-up, as inference-hub's bench does
    out_dir.mkdir(parents=True, exist_ok=True)
    times = []
    wall = time.perf_counter()
    for path, image in zip(files, images):
        t = time.perf_counter()
        result = engine.ocr(image)
        times.append((time.perf_counter() - t) * 1000)
        lines = []
        for b in result["bounds"].values():
            (x1, y1), (x2, y2) = b["topLeftCoord"], b["bottomRightCoord"]
            bbox = [[x1, y1], [x2, y1], [x2, y2], [x1, y2]]
            lines.append({"text": b["text"], "confidence": b["confidence"], "bbox": bbox})
        (out_dir / f"{path.stem}.json").write_text(json.dumps({"lines": lines, "processing_time_ms": times[-1]}))
    wall = time.perf_counter() - wall
    times.sort()
    pct = lambda p: times[max(1, min(len(times), math.ceil(len(times) * p))) - 1]  # noqa: E731
    print(json.dumps({
        "peer": f"faster-paddle {size}",
        "load_ms": load_ms,
        "mean_ms": sum(times) / len(times),
        "p50_ms": pct(0.5),
        "p95_ms": pct(0.95),
        "images_per_s": len(times) / wall,
        "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
