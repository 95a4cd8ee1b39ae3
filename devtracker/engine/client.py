"""The SDK's Socket.IO client (devtracker/client): python-socketio and python-engineio's,
made to keep order.

Stock python-socketio runs each event on a thread of its own (two events can reach handlers out
of order), caps a long-poll answer at 16 packets, and can leave CLOSE unsent on disconnect. The
classes here fix that for the SDK's client alone; `new_client()` checks the `sdk_*` rows of
engine.PATCHES when a client is created and falls back to the stock client where one is off.
"""
import logging
import queue
import threading
from types import SimpleNamespace

import engineio
import engineio.base_client
import engineio.client
import engineio.packet
import engineio.payload
import socketio

log = logging.getLogger(__name__)

ACK_PACKET = "3"  # the first character of an encoded Socket.IO ACK packet


class _RoomyPayload(engineio.payload.Payload):
    """Engine.IO payload decoder without the 16-packet cap."""

    # The server flushes everything queued in one long-poll answer: a replay after a reconnect can
    # be thousands of packets, and the stock cap (a server-side DoS guard) drops the connection.
    max_decode_packets = 1_000_000


def roomy_long_polls():
    """Only engineio's client module sees the roomier decoder; an Engine.IO server in the
    process keeps its cap."""
    if not isinstance(engineio.client.payload, SimpleNamespace):
        engineio.client.payload = SimpleNamespace(Payload=_RoomyPayload)
    return True


class InlineEngineIO(engineio.Client):
    """Engine.IO client handing each message over on its reader thread, and sending CLOSE on
    disconnect; its long-poll answers may hold any number of packets (`sdk_long_poll_packets`)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from . import patches

        if patches.check_client("sdk_long_poll_packets"):
            roomy_long_polls()

    def _trigger_event(self, event, *args, **kwargs):
        # Stock engineio starts a thread per message, so two events can reach handlers out of order.
        if event == "message":
            kwargs["run_async"] = False
        return super()._trigger_event(event, *args, **kwargs)

    def drop(self):
        """Ask the server to close this connection: the Socket.IO client then reconnects as after a
        network failure (with backoff, and the current cursors in the handshake)."""
        if self.state == "connected":
            self._send_packet(engineio.packet.Packet(engineio.packet.CLOSE))

    def disconnect(self, abort=False, reason=None):
        """Disconnect after sending what was queued before: Socket.IO's DISCONNECT, then CLOSE.

        Stock disconnect() queues CLOSE and changes the state at once, and the writer thread
        stops when it sees the state change: caught between two sends, it left CLOSE unsent.
        Over long-polling the server then kept the session, and this call waited for the read
        loop's GET, answered only by the next ping (up to PING_INTERVAL, 25 s); over a websocket
        the close frame overtook DISCONNECT and CLOSE. Here the writer is waited for and what
        it left is sent before the transport closes. Same steps as stock otherwise.
        """
        if self.state != "connected" or abort:
            return super().disconnect(abort=abort, reason=reason)
        self._send_packet(engineio.packet.Packet(engineio.packet.CLOSE))
        self.queue.put(None)
        self.state = "disconnecting"
        self._trigger_event("disconnect", reason or self.reason.CLIENT_DISCONNECT, run_async=False)
        writer = self.write_loop_task
        if writer is not None:
            writer.join(self.request_timeout + 1)
        self._send_now(self._take_queued())
        if self.current_transport == "websocket":
            self.ws.close()
        self.read_loop_task.join()
        self.state = "disconnected"
        try:
            engineio.base_client.connected_clients.remove(self)
        except ValueError:
            pass
        self._reset()
        return None

    def _take_queued(self):
        packets = []
        while True:
            try:
                pkt = self.queue.get_nowait()
            except queue.Empty:
                return packets
            if pkt is not None:
                packets.append(pkt)

    def _send_now(self, packets):
        if not packets:
            return
        try:
            if self.current_transport == "polling":
                self._send_request("POST", self.base_url,
                                   body=engineio.payload.Payload(packets=packets).encode(),
                                   headers={"Content-Type": "text/plain"}, timeout=self.request_timeout)
            else:
                for pkt in packets:
                    if pkt.binary:
                        self.ws.send_binary(pkt.encode())
                    else:
                        self.ws.send(pkt.encode())
        except Exception:  # the connection is already gone: nothing left to tell the server
            log.debug("could not send %d packets while disconnecting", len(packets), exc_info=True)


class OrderedClient(socketio.Client):
    """socketio.Client that delivers events one at a time, in arrival order, on one thread."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._inbox = None
        self._dispatcher = None

    def _engineio_client_class(self):
        return InlineEngineIO

    def start_dispatcher(self):
        """Start the thread that runs handlers (idempotent)."""
        if self._dispatcher is None or not self._dispatcher.is_alive():
            self._inbox = queue.SimpleQueue()
            self._dispatcher = threading.Thread(target=self._dispatch, args=(self._inbox,),
                                                daemon=True, name="devtracker-realtime-events")
            self._dispatcher.start()

    def stop_dispatcher(self):
        """Let the handler thread finish what it holds, then end."""
        if self._inbox is not None:
            self._inbox.put(None)
        self._dispatcher = None

    def _handle_eio_message(self, data):
        # Acks skip the queue: a handler blocked in call() must not wait behind itself.
        if self._inbox is None or (isinstance(data, str) and data.startswith(ACK_PACKET)):
            return super()._handle_eio_message(data)
        self._inbox.put(data)
        return None

    def _dispatch(self, inbox):
        while (data := inbox.get()) is not None:
            try:
                super()._handle_eio_message(data)
            except Exception:  # one bad packet or handler must not stop delivery
                log.exception("realtime event handling failed")


class StockClient(socketio.Client):
    """The stock client, for when `sdk_ordered_client` is off: events on threads of their own."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        from . import patches

        if patches.check_client("sdk_long_poll_packets"):
            roomy_long_polls()

    def start_dispatcher(self):
        """Nothing to start: the stock client runs each event on a thread of its own."""

    def stop_dispatcher(self):
        """Nothing to stop."""


def new_client(**kwargs):
    """A Socket.IO client for the SDK: `OrderedClient` when its PATCHES rows hold here."""
    from . import patches

    return (OrderedClient if patches.check_client("sdk_ordered_client") else StockClient)(**kwargs)


def drop(client):
    """Ask the server to close `client`'s connection, so that it reconnects with its cursors;
    False when its Engine.IO client cannot (the stock one)."""
    eio = getattr(client, "eio", None)
    if not isinstance(eio, InlineEngineIO):
        return False
    eio.drop()
    return True
