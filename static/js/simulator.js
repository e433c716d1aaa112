// The browser call simulator: one call over the media WebSocket (audio and typed lines), events shown as they come.
(function () {
  "use strict";
  const root = document.getElementById("simulator");
  if (!root) return;
  const workletUrl = document.getElementById("sim-script-tag").dataset.worklet;
  const $ = (id) => document.getElementById(id);
  const text = (tag, value, cls) => { const el = document.createElement(tag); el.textContent = value; if (cls) el.className = cls; return el; };
  let socket = null, audio = null, playhead = 0, micStream = null;

  function setStatus(message) { $("sim-status").textContent = message; }

  function wsUrl(path) { return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path; }

  async function start(event) {
    event.preventDefault();
    setStatus(root.dataset.msgConnecting);
    const form = new FormData($("sim-start"));
    const response = await fetch(root.dataset.startUrl, { method: "POST", body: form, credentials: "same-origin" });
    const call = await response.json();
    if (!response.ok) { setStatus(call.detail || response.statusText); return; }
    $("sim-start-button").hidden = true;
    ["sim-transcript", "sim-metrics", "sim-requests", "sim-report-fields"].forEach((id) => $(id).replaceChildren());
    $("sim-report").hidden = true;
    $("sim-stop").hidden = false;
    $("sim-say").hidden = false;
    $("sim-call-link").href = call.call_url;
    audio = new AudioContext();
    playhead = 0;
    socket = new WebSocket(wsUrl(call.media_url));
    socket.binaryType = "arraybuffer";
    socket.onopen = () => socket.send(JSON.stringify({ type: "start", sample_rate: 16000 }));
    socket.onmessage = (message) => typeof message.data === "string" ? onControl(JSON.parse(message.data)) : play(message.data);
    socket.onclose = () => {
      setStatus(root.dataset.msgEnded);
      stopMic();
      $("sim-stop").hidden = true;
      $("sim-say").hidden = true;
      $("sim-start-button").hidden = false;
    };
    if ($("sim-mic").checked) { startMic().catch(() => setStatus(root.dataset.msgMicDenied)); }
  }

  async function startMic() {
    micStream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true } });
    await audio.audioWorklet.addModule(workletUrl);
    const source = audio.createMediaStreamSource(micStream);
    const node = new AudioWorkletNode(audio, "pcm-downsampler");
    node.port.onmessage = (message) => { if (socket && socket.readyState === WebSocket.OPEN) socket.send(message.data); };
    source.connect(node);
  }

  function stopMic() { if (micStream) { micStream.getTracks().forEach((track) => track.stop()); micStream = null; } }

  function play(buffer) {
    const samples = new Int16Array(buffer);
    const clip = audio.createBuffer(1, samples.length, 16000);
    const channel = clip.getChannelData(0);
    for (let i = 0; i < samples.length; i++) channel[i] = samples[i] / 32768;
    const node = audio.createBufferSource();
    node.buffer = clip;
    node.connect(audio.destination);
    playhead = Math.max(playhead, audio.currentTime + 0.05);
    node.start(playhead);
    playhead += clip.duration;
  }

  function onControl(message) {
    if (message.type === "started") setStatus(root.dataset.msgLive);
    else if (message.type === "error") setStatus(message.reason);
    else if (message.type === "event") onEvent(message.event);
    else if (message.type === "report") showReport(message);
  }

  function onEvent(event) {
    if (event.type === "transcript" && event.final !== false) {
      const who = event.speaker === "caller" ? root.dataset.labelCaller : root.dataset.labelAgent;
      const item = text("li", "", "line " + event.speaker + (event.interrupted ? " interrupted" : ""));
      item.append(text("strong", who + " : "), text("span", event.text));
      $("sim-transcript").append(item);
    } else if (event.type === "turn_metrics") {
      const row = document.createElement("tr");
      [event.turn, event.stt_final_delay_ms, event.llm_first_token_ms, event.tts_first_byte_ms, event.e2e_ms]
        .forEach((value) => row.append(text("td", value == null ? "—" : Math.round(value))));
      $("sim-metrics").append(row);
    } else if (event.type === "ai_request") {
      const row = document.createElement("tr");
      [event.role, event.provider, event.region, event.outcome, event.duration_ms].forEach((value) => row.append(text("td", value)));
      $("sim-requests").append(row);
    }
  }

  function showReport(message) {
    $("sim-report").hidden = false;
    $("sim-summary").textContent = message.summary || "";
    const fields = $("sim-report-fields");
    fields.replaceChildren();
    const labels = JSON.parse(root.dataset.reportLabels);
    Object.entries(message.report || {}).forEach(([key, value]) => {
      if (value === null || value === "" || value === false || !(key in labels)) return;
      const shown = key === "appointment" ? new Date(value).toLocaleString(document.documentElement.lang)
        : value === true ? "✓" : String(value);
      fields.append(text("dt", labels[key]), text("dd", shown));
    });
    $("sim-call-link").hidden = false;
  }

  $("sim-start").addEventListener("submit", start);
  $("sim-stop").addEventListener("click", () => socket && socket.send(JSON.stringify({ type: "stop" })));
  $("sim-say").addEventListener("submit", (event) => {
    event.preventDefault();
    const line = $("sim-line").value.trim();
    if (line && socket) { socket.send(JSON.stringify({ type: "text", text: line })); $("sim-line").value = ""; }
  });
})();
