// The seller's Scan page with a camera: reads passes' QR codes with jsQR (vendored beside this
// file), checks each in at /api/checkins through the router, shows the answer big, in green or
// red, and keeps the counts. Without a camera or without JavaScript the page's form does the
// same through the server (webclient.pages.door), worded the same.
"use strict";

// A camera reads the QR code in front of it many times a second: the same code is one scan
// until it has been out of view this long.
const SAME_CODE_MS = 3000;
// How often a frame is decoded: quick enough for a door, light enough for a phone.
const FRAME_MS = 120;
// Decoded frames are at most this wide: a pass's code has 57 modules with its quiet zone.
const DECODE_WIDTH = 640;
// A scan whose answer was lost (the network dropped) is sent again with its nonce, so orders
// answers it as the first time rather than "Already checked in".
const RETRIES = 2;

// How many seats the code's order has, read from its payload without checking its signature
// (orders does): a version (1), the pass id, the ticket id (12 bytes each), the seat and the
// order's seats. Only for "Seat 3 of 4": the listing is orders' to check (`ticketId`).
function seatsOf(code) {
  const parts = code.split(".");
  if (parts.length !== 3) return null;
  let bytes;
  try {
    const base64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
    bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  } catch (_) {
    return null;
  }
  if (bytes.length !== 27 || bytes[0] !== 1) return null;
  return bytes[26];
}

function newNonce() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

function show(result, checkedIn, message) {
  result.textContent = message;
  result.classList.toggle("ok", checkedIn);
  result.classList.toggle("bad", !checkedIn);
  result.hidden = false;
}

async function refreshCounts(door) {
  try {
    const response = await fetch(`/api/checkins/${door.dataset.ticketId}`, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (!response.ok) return;
    const counts = await response.json();
    for (const name of ["checkedIn", "sold"]) {
      door.querySelector(`[data-count="${name}"]`).textContent = String(counts[name]);
    }
  } catch (_) {
    // Offline for a moment: the next scan refreshes them.
  }
}

async function postScan(code, ticketId, nonce) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fetch("/api/checkins", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        // The listing of this door: orders refuses the seller's passes of another one.
        body: JSON.stringify({ code, ticketId, nonce }),
      });
    } catch (error) {
      if (attempt >= RETRIES) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

async function scan(door, code) {
  const result = document.getElementById("scan-result");
  let response;
  try {
    response = await postScan(code, door.dataset.ticketId, newNonce());
  } catch (_) {
    show(result, false, "TixVibe could not be reached: scan again.");
    return;
  }
  const body = await response.json().catch(() => ({}));
  if (response.status === 200) {
    const seats = seatsOf(code);
    const of = seats ? ` of ${seats}` : "";
    show(result, true, `Seat ${body.seat}${of} — checked in`);
  } else if (response.status === 401) {
    show(result, false, "Signed out: sign in again to scan.");
  } else {
    const messages = (body.errors || []).map((e) => e.message).join("; ");
    show(result, false, messages || `The scan failed (${response.status}): scan again.`);
  }
  await refreshCounts(door);
}

function cameraProblem(error) {
  if (error && error.name === "NotAllowedError") {
    return "The camera is blocked for this page: allow it in the browser, or type the code below.";
  }
  if (error && (error.name === "NotFoundError" || error.name === "OverconstrainedError")) {
    return "No camera found: type the code below.";
  }
  return "The camera could not start: type the code below.";
}

async function startCamera(door, camera) {
  const video = camera.querySelector("video");
  const status = camera.querySelector("[data-camera-status]");
  const button = camera.querySelector("[data-start-camera]");
  let stream;
  try {
    // The rear camera on a phone; whatever there is elsewhere.
    stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: { ideal: "environment" } },
      audio: false,
    });
  } catch (error) {
    status.textContent = cameraProblem(error);
    return;
  }
  video.srcObject = stream;
  video.hidden = false;
  button.hidden = true;
  await video.play();
  status.textContent = "Hold a pass's QR code in front of the camera.";
  window.addEventListener("pagehide", () => stream.getTracks().forEach((track) => track.stop()));

  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  const lastSeen = new Map(); // code -> when it was last read
  let busy = false;
  const frame = () => {
    if (!busy && video.readyState >= video.HAVE_CURRENT_DATA && video.videoWidth) {
      const scale = Math.min(1, DECODE_WIDTH / video.videoWidth);
      canvas.width = Math.round(video.videoWidth * scale);
      canvas.height = Math.round(video.videoHeight * scale);
      context.drawImage(video, 0, 0, canvas.width, canvas.height);
      const image = context.getImageData(0, 0, canvas.width, canvas.height);
      const found = jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
      if (found && found.data) {
        const now = Date.now();
        const last = lastSeen.get(found.data);
        lastSeen.set(found.data, now);
        if (last === undefined || now - last > SAME_CODE_MS) {
          busy = true;
          const code = found.data;
          scan(door, code).finally(() => {
            // The answer may have taken a while: the code held up all along is still one scan.
            lastSeen.set(code, Date.now());
            busy = false;
          });
        }
      }
    }
    setTimeout(frame, FRAME_MS);
  };
  frame();
}

document.addEventListener("DOMContentLoaded", () => {
  const door = document.querySelector("[data-ticket-id]");
  const camera = door && door.querySelector(".camera");
  // getUserMedia exists on secure pages only (https, or this machine).
  if (!camera || !navigator.mediaDevices || typeof jsQR !== "function") return;
  camera.hidden = false;
  camera.querySelector("[data-start-camera]").addEventListener("click", () => startCamera(door, camera));
});
