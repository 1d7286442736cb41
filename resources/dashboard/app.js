// A placeholder dashboard: signs in through the session cookie and shows who this instance is.
const connection = document.getElementById("connection");

function show(state, text) {
  connection.dataset.state = state;
  connection.textContent = text;
}

function connect() {
  const socket = new WebSocket(`ws://${location.host}/ws`);
  socket.addEventListener("open", () => {
    show("open", "connected");
    socket.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "get_instance_info", params: {} }));
  });
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.id !== 1 || !message.result) return;
    const info = message.result;
    document.title = `${info.name} · Murmuration`;
    document.getElementById("instance-name").textContent = info.name;
    document.getElementById("instance-id").textContent = info.id;
    document.getElementById("instance-url").textContent = info.url;
    document.getElementById("instance-version").textContent = info.version;
  });
  socket.addEventListener("close", () => {
    show("closed", "disconnected — retrying");
    setTimeout(connect, 2000);
  });
}

connect();
