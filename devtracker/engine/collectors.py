"""What /metrics reads from the engine at scrape time: sockets dropped by the byte bounds, the
C heap and its trimmer, the objects kept out of garbage collections, and which patches are on."""
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from . import backlog, freezer, inbound, memory


class EngineCollector:
    """The engine's numbers for one app (`state`: its EngineState)."""

    def __init__(self, state):
        self.state = state

    def collect(self):
        drops = CounterMetricFamily("devtracker_socket_backlog_drops", "Sockets dropped for having "
                                    "more than MAX_SOCKET_BACKLOG_BYTES queued and not yet written")
        drops.add_metric([], backlog.drops)
        yield drops
        input_drops = CounterMetricFamily("devtracker_socket_input_drops", "Sockets dropped for "
                                          "sending more than MAX_SOCKET_INPUT_BYTES_PER_SECOND allows")
        input_drops.add_metric([], inbound.drops)
        yield input_drops
        yield from self.memory()
        active = GaugeMetricFamily("devtracker_engine_patch_active", "1 when the engine patch is "
                                   "installed in this process, 0 when it is off (engine.PATCHES)",
                                   labels=["patch"])
        for name, on in self.state.active.items():
            active.add_metric([name], 1 if on else 0)
        yield active

    @staticmethod
    def memory():
        """The C heap as glibc sees it and the trimmer's trims (where the trimmer runs); the
        objects frozen at the last freeze and what the socket freezer did (where it runs)."""
        trimmer = memory.running_trimmer
        heap = trimmer.heap() if trimmer is not None else None
        if heap is not None:
            gauge = GaugeMetricFamily("devtracker_c_heap_bytes", "glibc's heap: allocated and in "
                                      "use, free (kept by the allocator), or mmapped (large blocks)",
                                      labels=["state"])
            gauge.add_metric(["in_use"], heap["inUse"])
            gauge.add_metric(["free"], heap["free"])
            gauge.add_metric(["mmapped"], heap["mmapped"])
            yield gauge
            trims = CounterMetricFamily("devtracker_heap_trims", "Free heap pages given back to "
                                        "the kernel (malloc_trim)")
            trims.add_metric([], trimmer.trims)
            yield trims
        running = freezer.running
        if running is not None:
            frozen = GaugeMetricFamily("devtracker_gc_frozen_objects", "Objects kept out of "
                                       "Python's garbage collections (start-up objects and held "
                                       "sockets'), as of the last freeze")
            frozen.add_metric([], running.frozen_objects)
            yield frozen
            actions = CounterMetricFamily("devtracker_gc_freezer_actions", "What the socket "
                                          "freezer did: froze sockets' objects, gave back those of "
                                          "sockets gone (a full collection), or swept the garbage "
                                          "collector's middle generation", labels=["action"])
            actions.add_metric(["freeze"], running.freezes)
            actions.add_metric(["refresh"], running.refreshes)
            actions.add_metric(["sweep"], running.sweeps)
            yield actions
