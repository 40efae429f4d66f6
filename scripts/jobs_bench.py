#!/usr/bin/env python3
"""`make bench`, jobs beside requests: do asynchronous jobs slow down the
synchronous requests they share the workers with, and how fast do they
drain? On one server (no cache): single requests one at a time alone, then
the same requests while jobs of the same receipts run; the jobs' time from
submission to the end.

usage: jobs_bench.py ADDR LOADGEN IMAGE...   (prints one JSON object a line)
"""
import json
import subprocess
import sys
import time
import urllib.request
import uuid


def loadgen(addr, binary, images):
    out = subprocess.run(
        [binary, "--url", f"http://{addr}/v1/ocr/receipt", "--concurrency", "1", "--requests", str(len(images)), *images],
        capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def submit(addr, images):
    boundary = uuid.uuid4().hex
    body = b""
    for path in images:
        with open(path, "rb") as f:
            data = f.read()
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{path.rsplit('/', 1)[-1]}\"\r\n"
                 "Content-Type: image/jpeg\r\n\r\n").encode() + data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(f"http://{addr}/v1/jobs", data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(request) as reply:
        return json.load(reply)["id"]


def job(addr, job_id):
    with urllib.request.urlopen(f"http://{addr}/v1/jobs/{job_id}") as reply:
        return json.load(reply)


def main():
    addr, binary, *images = sys.argv[1:]
    alone = loadgen(addr, binary, images)
    # Two jobs of every receipt: enough work to outlast the requests below.
    submitted = time.monotonic()
    ids = [submit(addr, images), submit(addr, images)]
    beside = loadgen(addr, binary, images)
    ends = {}
    while len(ends) < len(ids):
        for job_id in ids:
            if job_id not in ends and job(addr, job_id)["status"] in ("succeeded", "failed"):
                ends[job_id] = time.monotonic() - submitted
        time.sleep(0.05)
    failed = [i for i in ids if job(addr, i)["status"] != "succeeded"]
    for way, run in (("alone", alone), ("beside jobs", beside)):
        print(json.dumps({"kind": "jobs", "way": way, "p50_ms": run["p50_ms"], "p95_ms": run["p95_ms"], "ok": run["ok"]}))
    images_total = len(ids) * len(images)
    drain = max(ends.values())
    print(json.dumps({"kind": "jobs", "way": "drain", "jobs": len(ids), "images": images_total,
                      "seconds": round(drain, 2), "images_per_s": round(images_total / drain, 2), "failed": len(failed)}))


if __name__ == "__main__":
    main()
