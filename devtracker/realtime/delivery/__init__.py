"""Getting events out: `emitter` (what services call), `manager` (the client manager, one
process or Redis), `rooms`, `ordered` (per-stream seq order) and `gate` (the replay gate)."""
