// The staff page of `cityid-card serve`: sends a scanned QR code to POST /api/verify,
// shows reader taps from /api/events, and shows only what the service returns (the
// display policy has already removed what this desk may not see). The face code of a
// card that opens only with it goes to the same place: a sealed tag's (CIDS1:) or a
// generation-2 chip card's (CIDC1:, or its 6 digits typed); on a desk with a reader the
// service hands its key or CAN to the reader, and the card's answer comes as a reader
// event. Nothing is stored: no cookies, no browser storage, and the screen clears itself.
"use strict";

(function () {
  const CLEAR_AFTER_MS = 30000;
  const LABELS = {
    name: "Name",
    date_of_birth: "Date of birth",
    gender: "Gender",
    expires: "Valid through",
    pseudonym: "Pseudonym",
  };
  // What staff should do, per rejection (docs/verifying.md): never an accusation.
  const REASONS = {
    Expired: "The card has expired. Follow your rule for expired ID.",
    NotYetValid: "The card is not valid yet. Check this computer's date.",
    Revoked: "The city has revoked this card. The holder can contact the city.",
    Suspended: "The city has suspended this card. The holder can contact the city.",
    StatusUnknown: "No current status list covers this card. Fetch the current list.",
    UnknownIssuer: "No trusted city key signed this card. Check that trust.json is current.",
    BadSignature: "The data on the card was changed or misread. Scan it again.",
    MalformedCredential: "This is not a readable City ID code. Scan it again.",
    CardRemoved: "The card was taken away too soon. Hold it still and tap again.",
    WrongCan: "The number from the card face did not open this chip. Scan the QR code on this card's face again.",
    NotACan: "This is not the QR code of a chip card's face. Scan the code on the card's face.",
    NotASealKey: "This is not a readable card face code. Scan the QR code on the card's face again.",
    SealError: "The code from the card face did not open this tag: it is another card's, or the tag is damaged. Scan the QR code on this card's face again.",
    TerminalRequired: "This is a newer chip card: this desk needs a terminal certificate to read it. Scan its QR code instead, or ask the administrator.",
    TerminalRefused: "The card does not accept this desk's terminal certificate. Ask the administrator.",
    SecurityObjectInvalid: "The chip could not prove the city made it. Follow your usual rule for ID that cannot be checked.",
  };
  // A card face's chip code: CIDC1: and 6 digits, or the 6 digits typed by hand.
  const CAN_CODE = /^(CIDC1:\d{6}|\d{6})$/;
  // What the staff see while a card on the reader waits for its face to be scanned.
  const FACE_NEEDED = {
    CanRequired: "A newer chip card is on the reader: scan the QR code on its face (or type the 6-digit number printed beside it) to read the chip.",
    SealKeyRequired: "The card's tag is sealed: scan the QR code on the card's face to read it.",
  };
  const DEFAULT_REASON = "The card could not be checked electronically. Follow your usual rule for ID that cannot be checked.";

  const $ = (id) => document.getElementById(id);
  const result = $("result");
  const title = $("result-title");
  const detail = $("result-detail");
  const fieldList = $("result-fields");
  const scan = $("scan");
  const readerStatus = $("reader-status");
  const ils = $("ils");
  const consent = $("ils-consent");
  const register = $("ils-register");
  const ilsStatus = $("ils-status");
  let clearTimer = null;
  let ilsOffered = false;
  // The last scanned code, kept in memory only while its result is on screen, for the
  // library hand-off; cleared with the screen.
  let lastScan = null;
  // lastScan when the result on screen is the card on the reader (the service keeps it).
  const READER = {};

  function show(state, verdict, reason, fields) {
    result.dataset.state = state;
    title.textContent = verdict;
    detail.textContent = reason;
    fieldList.replaceChildren();
    for (const [term, value] of fields) {
      const dt = document.createElement("dt");
      const dd = document.createElement("dd");
      dt.textContent = term;
      dd.textContent = value;
      fieldList.append(dt, dd);
    }
    if (clearTimer !== null) clearTimeout(clearTimer);
    if (state !== "idle") clearTimer = setTimeout(clearScreen, CLEAR_AFTER_MS);
  }

  function offerIls(offer) {
    ils.hidden = !offer;
    consent.checked = false;
    register.disabled = true;
    ilsStatus.textContent = "";
  }

  function clearScreen() {
    show("idle", "Ready: scan a QR code or tap a card", "", []);
    clearTimer = null;
    lastScan = null;
    offerIls(false);
  }

  function render(answer, source) {
    if (answer && Object.prototype.hasOwnProperty.call(FACE_NEEDED, answer.error)) {
      show("idle", "SCAN THE CARD FACE", FACE_NEEDED[answer.error], []);
      return;
    }
    if (!answer || answer.valid !== true) {
      const error = answer && typeof answer.error === "string" ? answer.error : "Error";
      show("invalid", "NOT ACCEPTED", (REASONS[error] || DEFAULT_REASON) + " (" + error + ")", []);
      return;
    }
    const fields = [];
    let state = "valid";
    let verdict = "VALID";
    for (const [key, value] of Object.entries(answer)) {
      const age = /^age_over_(\d+)$/.exec(key);
      if (age) {
        verdict = value === true ? "VALID: " + age[1] + " OR OLDER" : "UNDER " + age[1];
        if (value !== true) state = "invalid";
        continue;
      }
      if (!(key in LABELS) || value === null || value === undefined) continue;
      fields.push([LABELS[key], String(value)]);
    }
    const reason = state === "valid"
      ? "The city issued a card with these details (" + source + "). Compare them with the printed card."
      : "The card is genuine, but the holder is not old enough.";
    show(state, verdict, reason, fields);
  }

  async function verifyQr(text) {
    const qr = text.trim();
    if (!qr) return;
    lastScan = null;
    offerIls(false);
    show("idle", "Checking…", "", []);
    const chip = CAN_CODE.test(qr);
    try {
      const response = await fetch("/api/verify", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(chip && !qr.startsWith("CIDC1:") ? { can: qr } : { qr: qr }),
        credentials: "omit",
        cache: "no-store",
      });
      const answer = await response.json();
      if (response.status === 202) {
        // The card is read on the reader; its answer arrives as a reader event.
        if (qr.startsWith("CIDS1:")) {
          show("idle", "TAP THE TAG", "Put the card's tag on the reader, or leave it there.", []);
        } else {
          show("idle", "READING THE CHIP", "Put the card on the reader, or leave it there.", []);
        }
        return;
      }
      if (!response.ok) {
        show("invalid", "NOT CHECKED", "The service refused the request: " + (answer.error || response.status), []);
        return;
      }
      render(answer, "QR code");
      if (answer.valid === true && typeof answer.name === "string" && ilsOffered) {
        lastScan = qr;
        offerIls(true);
      }
    } catch (error) {
      show("invalid", "NOT CHECKED", "The verification service cannot be reached.", []);
    }
  }

  $("scan-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = scan.value;
    scan.value = "";  // the scanned text leaves the page at once
    verifyQr(text);
    scan.focus();
  });
  $("clear").addEventListener("click", () => { clearScreen(); scan.focus(); });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") { clearScreen(); scan.value = ""; scan.focus(); return; }
    // A scanner types wherever the focus is: if it is on nothing (staff clicked the page),
    // the scan still goes into the scanner input instead of being lost.
    const idle = document.activeElement === document.body || document.activeElement === result;
    if (idle && !event.ctrlKey && !event.metaKey && !event.altKey && event.key.length === 1) {
      event.preventDefault();
      scan.focus();
      scan.value += event.key;
    }
  });

  consent.addEventListener("change", () => { register.disabled = !consent.checked; });
  register.addEventListener("click", async () => {
    if (!consent.checked || lastScan === null) return;
    try {
      const response = await fetch("/api/ils/koha", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(lastScan === READER
          ? { reader: true, consent: true, format: "csv" }
          : { qr: lastScan, consent: true, format: "csv" }),
        credentials: "omit",
        cache: "no-store",
      });
      if (!response.ok) {
        ilsStatus.textContent = "The patron record could not be made (" + response.status + ").";
        return;
      }
      const file = await response.blob();
      const link = document.createElement("a");
      link.href = URL.createObjectURL(file);
      link.download = "koha-patron.csv";
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 1000);
      ilsStatus.textContent = "Patron record ready: koha-patron.csv. Import it in Koha (Tools, Import patrons), then delete the file.";
    } catch (error) {
      ilsStatus.textContent = "The verification service cannot be reached.";
    }
  });

  // Status lists' age, from /api/health, refreshed every minute.
  async function health() {
    try {
      const response = await fetch("/api/health", { cache: "no-store", credentials: "omit" });
      const report = await response.json();
      $("policy").textContent = "Display policy: " + report.policy;
      ilsOffered = report.ils === true;
      hasReader = report.reader === true;
      if (!hasReader) readerStatus.textContent = "No card reader is connected to this desk: scan QR codes.";
      const age = report.status_lists.age_days;
      const element = $("status-age");
      element.dataset.age = age === null ? "" : String(age);
      const expired = (report.status_lists.lists || []).some((list) => list.current === false);
      element.dataset.stale = String(age !== null && (age > 7 || expired));
      element.textContent = age === null
        ? "No status list loaded: revocation is not checked"
        : "Status list " + age + (age === 1 ? " day" : " days") + " old"
          + (expired ? " (expired: cards it covers show as status unknown)" : "");
    } catch (error) {
      $("status-age").textContent = "Status list: the service cannot be reached";
    }
  }
  health();
  setInterval(health, 60000);

  // Reader taps, live.
  const events = new EventSource("/api/events");
  let hasReader = null;  // from /api/health
  events.onopen = () => {
    if (hasReader !== false) readerStatus.textContent = "Waiting for a card on the reader.";
  };
  events.onerror = () => { readerStatus.textContent = "Reader events are not reaching this page; retrying."; };
  events.addEventListener("arrival", (message) => {
    const answer = JSON.parse(message.data);
    readerStatus.textContent = "A card is on the reader.";
    lastScan = null;
    offerIls(false);
    render(answer, "card reader");
    if (answer.valid === true && typeof answer.name === "string" && ilsOffered) {
      lastScan = READER;
      offerIls(true);
    }
  });
  events.addEventListener("removal", () => {
    readerStatus.textContent = "The card was taken off the reader.";
    if (lastScan === READER) { lastScan = null; offerIls(false); }
  });
  events.addEventListener("reader-error", (message) => {
    const answer = JSON.parse(message.data);
    readerStatus.textContent = "The reader failed (" + answer.error + "); retrying.";
  });

  // The camera: frames go to jsQR in this page, never over the network.
  const cameraButton = $("camera");
  const video = $("camera-video");
  const canvas = $("camera-canvas");
  const cameraStatus = $("camera-status");
  let stream = null;

  function stopCamera() {
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    video.hidden = true;
    cameraButton.textContent = "Use the camera";
    cameraButton.setAttribute("aria-pressed", "false");
  }

  function scanFrame() {
    if (!stream) return;
    if (video.readyState >= video.HAVE_ENOUGH_DATA && video.videoWidth > 0) {
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      const context = canvas.getContext("2d", { willReadFrequently: true });
      context.drawImage(video, 0, 0, canvas.width, canvas.height);
      const image = context.getImageData(0, 0, canvas.width, canvas.height);
      const code = window.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
      if (code && ["CID1:", "CIDS1:", "CIDC1:"].some((prefix) => code.data.startsWith(prefix))) {
        stopCamera();
        cameraStatus.textContent = "QR code read from the camera.";
        verifyQr(code.data);
        scan.focus();
        return;
      }
    }
    setTimeout(scanFrame, 100);
  }

  cameraButton.addEventListener("click", async () => {
    if (stream) { stopCamera(); cameraStatus.textContent = "Camera off."; return; }
    if (!navigator.mediaDevices || !window.jsQR) {
      cameraStatus.textContent = "This browser cannot use a camera here.";
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    } catch (error) {
      cameraStatus.textContent = "The camera cannot be used (" + error.name + ").";
      return;
    }
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    cameraButton.textContent = "Stop the camera";
    cameraButton.setAttribute("aria-pressed", "true");
    cameraStatus.textContent = "Hold the card's QR code in front of the camera.";
    setTimeout(scanFrame, 100);
  });

  scan.focus();
})();
