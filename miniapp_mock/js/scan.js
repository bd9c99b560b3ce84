// QR decoding: the camera (getUserMedia, rear camera) read by BarcodeDetector where the
// browser has it for QR codes, else by jsQR over canvas frames; and still images.
//
// jsQR ships as a UMD script, so it is loaded as a classic <script src> (it sets
// window.jsQR), only when first needed.

const JSQR_SRC = new URL("../vendor/jsqr-1.4.0/jsQR.js", import.meta.url).href;
const FRAME_INTERVAL_MS = 150; // ~6 decodes a second is plenty and spares the CPU
const MAX_SCAN_SIDE = 720; // frames are scaled down to this before jsQR

let jsqrLoading = null;

export function loadJsQR() {
  if (window.jsQR) return Promise.resolve(window.jsQR);
  if (jsqrLoading) return jsqrLoading;
  jsqrLoading = new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = JSQR_SRC;
    script.async = true;
    script.addEventListener("load", () => (window.jsQR ? resolve(window.jsQR) : reject(new Error("jsQR missing"))));
    script.addEventListener("error", () => {
      jsqrLoading = null;
      script.remove();
      reject(new Error("jsQR failed to load"));
    });
    document.head.append(script);
  });
  return jsqrLoading;
}

let detectorPromise = null;

/** A BarcodeDetector for QR codes, or null when the browser has none. */
function qrDetector() {
  if (detectorPromise) return detectorPromise;
  detectorPromise = (async () => {
    if (!("BarcodeDetector" in window)) return null;
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      if (!formats.includes("qr_code")) return null;
      return new window.BarcodeDetector({ formats: ["qr_code"] });
    } catch {
      return null;
    }
  })();
  return detectorPromise;
}

function scaledSize(width, height, max = MAX_SCAN_SIDE) {
  const scale = Math.min(1, max / Math.max(width, height));
  return [Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale))];
}

function decodeWithJsQR(jsQR, ctx, width, height, inversionAttempts) {
  const image = ctx.getImageData(0, 0, width, height);
  const found = jsQR(image.data, width, height, { inversionAttempts });
  return found && found.data ? found.data : null;
}

export class CameraError extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind; // "unsupported" | "denied" | "not_found" | "busy" | "failed"
  }
}

function cameraError(error) {
  const name = error && error.name;
  if (name === "NotAllowedError" || name === "SecurityError") return new CameraError("denied", "未获得相机权限，请在设置中允许使用相机，或选择图片、粘贴链接");
  if (name === "NotFoundError" || name === "OverconstrainedError") return new CameraError("not_found", "未找到可用的相机，请选择图片或粘贴链接");
  if (name === "NotReadableError" || name === "AbortError") return new CameraError("busy", "相机被占用或无法启动，请稍后重试");
  return new CameraError("failed", "相机启动失败，请选择图片或粘贴链接");
}

/**
 * Scans the camera until a QR code is read. `onResult(text)` is called once; then the
 * scanner stops itself. `stop()` may be called at any time (leaving the screen).
 */
export class CameraScanner {
  constructor(video, { onResult, onState } = {}) {
    this.video = video;
    this.onResult = onResult;
    this.onState = onState || (() => {});
    this.stream = null;
    this.stopped = false;
    this.timer = null;
    this.canvas = document.createElement("canvas");
    this.ctx = null;
    this.busy = false;
    this.engine = null;
  }

  async start() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new CameraError("unsupported", "当前环境不支持调用相机，请选择图片或粘贴链接");
    }
    this.onState("starting");
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
        audio: false,
      });
    } catch (error) {
      throw cameraError(error);
    }
    if (this.stopped) {
      stream.getTracks().forEach((t) => t.stop());
      return;
    }
    this.stream = stream;
    this.video.srcObject = stream;
    this.video.setAttribute("playsinline", "");
    this.video.muted = true;
    try {
      await this.video.play();
    } catch {
      /* autoplay of a muted inline video is allowed; a rejected play() still shows frames once ready */
    }
    const detector = await qrDetector();
    const jsQR = detector ? null : await loadJsQR().catch(() => null);
    if (!detector && !jsQR) throw new CameraError("failed", "二维码识别组件加载失败，请粘贴链接");
    this.engine = detector ? { kind: "barcode-detector", detector } : { kind: "jsqr", jsQR };
    if (this.stopped) return;
    this.onState("scanning");
    this.loop();
  }

  loop() {
    if (this.stopped) return;
    this.timer = setTimeout(async () => {
      if (this.stopped) return;
      let text = null;
      try {
        text = await this.decodeFrame();
      } catch {
        text = null;
      }
      if (this.stopped) return;
      if (text) {
        this.stop();
        this.onResult(text);
      } else {
        this.loop();
      }
    }, FRAME_INTERVAL_MS);
  }

  async decodeFrame() {
    const video = this.video;
    if (video.readyState < 2 || !video.videoWidth) return null;
    if (this.engine.kind === "barcode-detector") {
      try {
        const codes = await this.engine.detector.detect(video);
        return codes && codes.length ? codes[0].rawValue : null;
      } catch {
        // Some implementations fail on video frames: fall back to jsQR for good.
        const jsQR = await loadJsQR().catch(() => null);
        if (!jsQR) return null;
        this.engine = { kind: "jsqr", jsQR };
        return null;
      }
    }
    const [width, height] = scaledSize(video.videoWidth, video.videoHeight);
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
      this.ctx = this.canvas.getContext("2d", { willReadFrequently: true });
    }
    this.ctx.drawImage(video, 0, 0, width, height);
    // Every other frame also tries the inverted image (light code on a dark screen).
    this.frames = (this.frames || 0) + 1;
    return decodeWithJsQR(this.engine.jsQR, this.ctx, width, height, this.frames % 2 ? "dontInvert" : "onlyInvert");
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.stream) {
      this.stream.getTracks().forEach((t) => t.stop());
      this.stream = null;
    }
    if (this.video) {
      this.video.pause();
      this.video.srcObject = null;
    }
  }
}

function loadImage(file) {
  return new Promise((resolve, reject) => {
    const url = URL.createObjectURL(file);
    const img = new Image();
    img.addEventListener("load", () => {
      URL.revokeObjectURL(url);
      resolve(img);
    });
    img.addEventListener("error", () => {
      URL.revokeObjectURL(url);
      reject(new Error("image"));
    });
    img.src = url;
  });
}

/** Reads a QR code from a chosen image file; null when there is none. */
export async function decodeImageFile(file) {
  const img = await loadImage(file);
  const detector = await qrDetector();
  if (detector) {
    try {
      const codes = await detector.detect(img);
      if (codes && codes.length) return codes[0].rawValue;
    } catch {
      /* fall through to jsQR */
    }
  }
  const jsQR = await loadJsQR();
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  // Try the picture at two sizes: small QR codes in big photos need the larger one.
  for (const max of [1024, 2048]) {
    const [width, height] = scaledSize(img.naturalWidth, img.naturalHeight, max);
    canvas.width = width;
    canvas.height = height;
    ctx.drawImage(img, 0, 0, width, height);
    const text = decodeWithJsQR(jsQR, ctx, width, height, "attemptBoth");
    if (text) return text;
    if (Math.max(img.naturalWidth, img.naturalHeight) <= max) break;
  }
  return null;
}

/**
 * The QR text to send to the server from what was read or pasted: the ".../q/<token>"
 * URL itself, a bare token, or the mini-app link the /q/ page points to
 * (".../app/#/scan?qr=<urlencoded URL>"). null when it cannot be one of ours.
 */
export function normalizeQrText(text) {
  let value = String(text || "").trim();
  const inner = /#\/scan\?(?:.*&)?qr=([^&]+)/.exec(value);
  if (inner) {
    try {
      value = decodeURIComponent(inner[1]).trim();
    } catch {
      return null;
    }
  }
  if (/^https?:\/\/\S+\/q\/[A-Za-z0-9_-]{20,64}\/?$/.test(value) || /^[A-Za-z0-9_-]{20,64}$/.test(value)) return value;
  return null;
}
