// Fills the landing page's server card from the health endpoint.
(async () => {
  const card = document.getElementById("health");
  const line = card.querySelector(".status");
  try {
    const response = await fetch(card.dataset.url);
    const body = await response.json();
    const { status, stats } = body.data;
    line.className = `status ${status}`;
    line.textContent = `${status} · ${stats.connectedSockets} sockets · ${stats.onlineUsers} online · ${stats.activeRooms} active task rooms`;
  } catch (error) {
    line.className = "status degraded";
    line.textContent = `Unreachable: ${error}`;
  }
})();
