"""Realtime state and delivery, below the services.

- `presence`: who is online and where (the `PresenceStore` interface and its two stores).
- `delivery`: getting events out: the emitter services call, the client manager (one process
  or Redis), rooms, per-stream ordering and the replay gate.

The Socket.IO endpoint that clients talk to is `devtracker.sockets`, beside the REST API.
"""
