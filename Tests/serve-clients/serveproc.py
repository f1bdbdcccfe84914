"""Starts `tessera serve` on a free loopback port for the client tests and stops it."""
import os
import re
import subprocess
import threading
import time

import httpx2 as httpx  # the HTTP client the openai SDK (3.x) itself uses

MODEL_ID = "SmolLM2-135M-Instruct.Q4_1"


def tessera_bin():
    b = os.environ.get("TESSERA_BIN")
    if not b or not os.access(b, os.X_OK):
        raise RuntimeError("TESSERA_BIN must name the built tessera executable (mk/serve.mk sets it)")
    return b


class Server:
    """`tessera serve --port 0 ...`: reads the bound port from its 'listening on' line."""

    def __init__(self, *args, api_key=None):
        cmd = [tessera_bin(), "serve", "--port", "0", *args]
        if api_key:
            cmd += ["--api-key", api_key]
        self.api_key = api_key
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.log = []
        line = self.proc.stdout.readline()
        self.banner = line
        m = re.search(r"listening on http://([0-9.]+):(\d+)", line)
        if not m:
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            self.proc.kill()
            raise RuntimeError("tessera serve did not start: %r %s" % (line, err))
        self.host, self.port = m.group(1), int(m.group(2))
        self.base = "http://%s:%d" % (self.host, self.port)
        for stream in (self.proc.stdout, self.proc.stderr):
            threading.Thread(target=self._drain, args=(stream,), daemon=True).start()
        # the port is bound when the line is printed; wait until /health answers
        for _ in range(100):
            try:
                if httpx.get(self.base + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)

    def _drain(self, stream):
        for line in stream:
            self.log.append(line)

    def headers(self):
        return {"Authorization": "Bearer " + self.api_key} if self.api_key else {}

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def metric(self, name):
        text = httpx.get(self.base + "/metrics", headers=self.headers(), timeout=10).text
        total = 0.0
        found = False
        for line in text.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
                found = True
        if not found:
            raise KeyError(name)
        return total

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return self.proc.returncode
