"""The realtime side, by role.

- `entry`: the Socket.IO endpoint: the `/` namespace with its timers, what a handshake brings,
  per-socket limits, replay after a reconnect, and the WSGI layers in front of the endpoint.
- `presence`: who is online and where (the `PresenceStore` interface and its two stores).
- `delivery`: getting events out: the emitter services call, the client manager (one process
  or Redis), rooms, per-stream ordering and the replay gate.

Dependencies point one way: `entry` calls services; services call `delivery` and `presence`.
"""
