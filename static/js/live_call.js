// The live panel of a call's page: watch the conversation as it happens and steer it (take over, hang up, note).
(function () {
  "use strict";
  const panel = document.getElementById("live-panel");
  if (!panel) return;
  const status = document.getElementById("live-status");
  const list = document.getElementById("live-transcript");
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const socket = new WebSocket(scheme + location.host + panel.dataset.liveUrl);

  function line(speaker, textValue, extra) {
    const item = document.createElement("li");
    item.className = "line " + speaker + (extra ? " " + extra : "");
    const who = document.createElement("strong");
    who.textContent = (speaker === "caller" ? panel.dataset.labelCaller : speaker === "agent" ? panel.dataset.labelAgent : "") + " ";
    const body = document.createElement("span");
    body.textContent = textValue;
    item.append(who, body);
    list.append(item);
  }

  socket.onopen = () => { status.textContent = panel.dataset.msgConnected; };
  socket.onclose = () => { status.textContent = panel.dataset.msgClosed; };
  socket.onmessage = (message) => {
    const data = JSON.parse(message.data);
    if (data.type === "error") { status.textContent = data.reason; return; }
    if (data.type !== "event") return;
    const event = data.event;
    if (event.type === "transcript" && event.final !== false) line(event.speaker, event.text, event.interrupted ? "interrupted" : "");
    else if (event.type === "supervisor") line("supervisor", event.command + " · " + event.by);
    else if (event.type === "ended") status.textContent = panel.dataset.msgClosed + " (" + event.reason + ")";
  };
  panel.querySelectorAll("button[data-command]").forEach((button) => {
    button.addEventListener("click", () => socket.send(JSON.stringify({ command: button.dataset.command })));
  });
  document.getElementById("live-note").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("live-note-text");
    if (input.value.trim()) { socket.send(JSON.stringify({ command: "note", text: input.value.trim() })); input.value = ""; }
  });
})();
