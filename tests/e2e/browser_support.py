"""Helpers of the browser tests (tests/e2e/test_browser.py): Chromium launch options, a
fake camera showing a QR code, a live server, and the two parties' pages.

Nothing here downloads anything: Chromium is the system's (Debian's `chromium`), driven
by the `playwright` package from PyPI.
"""
import os
import shutil
import threading
from pathlib import Path

from werkzeug.serving import make_server

SCREENSHOTS = Path(__file__).parent / "screenshots"
PHONE = {"viewport": {"width": 375, "height": 667}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2, "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}
DESKTOP = {"viewport": {"width": 1280, "height": 860}, "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}

BASE_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]


def chromium_path() -> str | None:
    return shutil.which("chromium") or (os.path.exists("/usr/bin/chromium") and "/usr/bin/chromium") or None


def launch(playwright, camera: Path | None = None):
    """Chromium, headless; with `camera` (a .y4m file) as the fake camera."""
    args = list(BASE_ARGS)
    if camera is not None:
        args += ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                 f"--use-file-for-fake-video-capture={camera}"]
    return playwright.chromium.launch(executable_path=chromium_path(), args=args, headless=True)


# --- fake camera --------------------------------------------------------------------

def write_qr_y4m(text: str, path: Path, width=640, height=480, frames=4) -> Path:
    """A Y4M video (4:2:0, greyscale) of `text` as a QR code centred on white.

    Chromium's file-backed fake camera plays it in a loop.
    """
    import qrcode

    qr = qrcode.QRCode(border=4, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(text)
    qr.make(fit=True)
    matrix = qr.get_matrix()  # includes the quiet zone
    n = len(matrix)
    box = max(1, int(min(width, height) * 0.9) // n)
    side = n * box
    left, top = (width - side) // 2, (height - side) // 2
    y_plane = bytearray(b"\xff" * (width * height))
    for row_index, row in enumerate(matrix):
        for col_index, dark in enumerate(row):
            if not dark:
                continue
            x0 = left + col_index * box
            for dy in range(box):
                start = (top + row_index * box + dy) * width + x0
                y_plane[start:start + box] = b"\x00" * box
    chroma = b"\x80" * ((width // 2) * (height // 2))
    frame = b"FRAME\n" + bytes(y_plane) + chroma + chroma
    path = Path(path)
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode())
        out.writelines(frame for _ in range(frames))
    return path


def write_blank_y4m(path: Path, width=640, height=480, frames=2) -> Path:
    """A grey picture without any code (a camera pointed at nothing in particular)."""
    plane = b"\x80" * (width * height)
    chroma = b"\x80" * ((width // 2) * (height // 2))
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode())
        out.writelines(b"FRAME\n" + plane + chroma + chroma for _ in range(frames))
    return Path(path)


# --- live server -----------------------------------------------------------------------

class LiveServer:
    """The given app on a loopback port (werkzeug's threaded server: one thread a request,
    so the SSE streams of the mini-app each hold one)."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


# --- pages --------------------------------------------------------------------------

def shot(page, name: str, full_page=True):
    """Saves tests/e2e/screenshots/<name>.png. Phone screens: full_page=False (the fixed
    header and tab bar would land mid-picture in a full-page capture)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def scroll_width(page) -> int:
    # A function expression: evaluated through CDP, allowed under the CSP (no 'unsafe-eval').
    return page.evaluate("() => document.documentElement.scrollWidth")
