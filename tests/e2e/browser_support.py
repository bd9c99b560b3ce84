"""Helpers of the browser tests (tests/e2e/test_browser.py): Chromium launch options, a
fake camera showing a QR code, a live server, and the two parties' pages.

Nothing here downloads anything: Chromium is the system's (Debian's `chromium`), driven
by the `playwright` package from PyPI.
"""
import os
import shutil
import threading
import time
from pathlib import Path

from werkzeug.serving import make_server
from werkzeug.wsgi import ClosingIterator

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
    so the SSE streams of the mini-app each hold one).

    `bot=True` also serves the chat bot at /bot/ as the web process does
    (`backend.bot_mount.mount`, with PIAOJIA_API_URL this server itself, so the bot calls
    the API over HTTP like in production); when the bot cannot be built yet,
    `bot_skip_reason` says why (the chat tests skip with it) and the rest is served as
    usual. `bot=<a WSGI app>` serves that stand-in at /bot/ instead. The session's app is
    left as it was: the mount is undone on the app and kept only in what this server
    serves.

    It counts the requests it is working on (`in_flight`), so a test's cleanup can wait until
    none is left (`drain`) before emptying the database under them."""

    def __init__(self, app, bot=True):
        self.app = app
        self.wsgi = app
        self.bot = None
        self.bot_skip_reason = None  # the bot is not there yet: skip what needs it
        self.bot_error = None  # the bot is there but could not be mounted: fail what needs it
        self._added_extension = False
        self.in_flight = 0
        self._last_activity = time.monotonic()
        self._changed = threading.Condition()
        self.server = make_server("127.0.0.1", 0, self._serve, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        if bot is True:
            self._mount_bot()
        elif bot:
            from werkzeug.middleware.dispatcher import DispatcherMiddleware

            self.bot = bot
            self.wsgi = DispatcherMiddleware(app.wsgi_app, {"/bot": bot})
        else:
            self.bot_skip_reason = "this live server does not serve the chat bot"

    def _serve(self, environ, start_response):
        """A request counts from its arrival until its body is closed, except an event stream,
        which counts only while it is being opened: afterwards it holds a database connection
        only for the instant of a one-table query, and a stream whose page is gone ends only at
        its next heartbeat."""
        content_type = []

        def start(status, headers, exc_info=None):
            content_type.extend(value for name, value in headers if name.lower() == "content-type")
            return start_response(status, headers, exc_info)

        self._count(+1)
        try:
            body = self.wsgi(environ, start)
        except BaseException:
            self._count(-1)
            raise
        if any(value.startswith("text/event-stream") for value in content_type):
            self._count(-1)
            return body
        return ClosingIterator(body, lambda: self._count(-1))

    def _count(self, step):
        with self._changed:
            self.in_flight += step
            self._last_activity = time.monotonic()
            self._changed.notify_all()

    def drain(self, timeout=15.0, quiet=0.25):
        """Returns once no request has been in flight for `quiet` seconds (a request the browser
        sent just before its page closed has arrived by then); raises after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                now = time.monotonic()
                idle_for = now - self._last_activity
                if self.in_flight == 0 and idle_for >= quiet:
                    return
                if now >= deadline:
                    raise RuntimeError(f"{self.in_flight} request(s) still in the live server after {timeout} s")
                self._changed.wait(min(deadline - now, quiet - idle_for if self.in_flight == 0 else quiet))

    def _mount_bot(self):
        try:
            from backend.bot_mount import mount
        except ImportError as exc:
            self.bot_skip_reason = f"backend.bot_mount.mount is not there yet ({exc})"
            return
        original = self.app.wsgi_app
        had_extension = "piaojia_bot_app" in self.app.extensions
        try:
            self.bot = mount(self.app, api_url=self.url)
            self.wsgi = self.app.wsgi_app  # /bot/* to the bot, the rest to the app
            self._added_extension = not had_extension
        except ImportError as exc:
            self.bot_skip_reason = f"the chat bot cannot be imported yet: {exc.__class__.__name__}: {exc}"
        except Exception as exc:  # noqa: BLE001 - reported by the tests that need the bot
            self.bot_error = f"backend.bot_mount.mount failed: {exc.__class__.__name__}: {exc}"
        finally:
            self.app.wsgi_app = original

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        try:
            self.drain()
        finally:
            self.server.shutdown()
            self.server.server_close()
        if self._added_extension:
            self.app.extensions.pop("piaojia_bot_app", None)


# --- pages --------------------------------------------------------------------------

def shot(page, name: str, full_page=True):
    """Saves tests/e2e/screenshots/<name>.png. Phone screens: full_page=False (the fixed
    header and tab bar would land mid-picture in a full-page capture)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def scroll_width(page) -> int:
    # A function expression: evaluated through CDP, allowed under the CSP (no 'unsafe-eval').
    return page.evaluate("() => document.documentElement.scrollWidth")
