"""When the objects of held sockets are frozen out of full collections, and given back
(engine/freezer.py)."""
from devtracker.engine.freezer import SocketFreezer
from tests.support.eventlet_run import run_python


class RecordingGC:
    """The gc calls the freezer makes, in order."""

    def __init__(self):
        self.calls = []
        self.young = 0  # young collections since the middle generation's last
        self.middle = 0  # collections of the middle generation (full ones included)

    def collect(self, generation=2):
        self.calls.append(("collect", generation))
        if generation:
            self.young = 0
            self.middle += 1

    def get_count(self):
        return (0, self.young, 0)

    def get_stats(self):
        return [{"collections": 0}, {"collections": self.middle}, {"collections": 0}]

    def freeze(self):
        self.calls.append(("freeze",))

    def unfreeze(self):
        self.calls.append(("unfreeze",))

    def get_freeze_count(self):
        return 0


def sockets(n, start=0):
    return {f"s{i}": None for i in range(start, start + n)}


def test_sockets_are_frozen_once_enough_more_are_held():
    held = sockets(499)
    fake = RecordingGC()
    freezer = SocketFreezer(lambda: held.keys(), min_sockets=500, gc_module=fake)
    assert freezer.check() is None and fake.calls == []
    held.update(sockets(1, start=499))
    assert freezer.check() == "freeze"
    assert fake.calls == [("collect", 1), ("freeze",)]  # a young collection, never a full one
    assert freezer.frozen == set(held)
    # 300 more: under min_sockets more than at the freeze, nothing to do
    held.update(sockets(300, start=500))
    assert freezer.check() is None
    held.update(sockets(200, start=800))
    assert freezer.check() == "freeze" and len(freezer.frozen) == 1000
    assert freezer.freezes == 2


def test_a_big_process_freezes_again_after_growing_a_fifth():
    held = sockets(10_000)
    freezer = SocketFreezer(lambda: held.keys(), min_sockets=500, gc_module=RecordingGC())
    assert freezer.check() == "freeze"
    held.update(sockets(1_999, start=10_000))
    assert freezer.check() is None
    held.update(sockets(1, start=11_999))
    assert freezer.check() == "freeze"


def test_when_a_quarter_of_the_frozen_sockets_left_their_cycles_are_collected():
    held = sockets(1000)
    fake = RecordingGC()
    freezer = SocketFreezer(lambda: held.keys(), min_sockets=500, gc_module=fake)
    freezer.check()
    fake.calls.clear()
    # 250 leave and 250 others come: as many sockets as before, a quarter of them new
    for i in range(250):
        del held[f"s{i}"]
    held.update(sockets(250, start=1000))
    assert freezer.check() is None          # a quarter, not more
    del held["s250"]
    assert freezer.check() == "refresh"
    assert fake.calls == [("unfreeze",), ("collect", 2), ("freeze",)]
    assert freezer.frozen == set(held) and freezer.refreshes == 1
    assert freezer.check() is None


def test_frozen_objects_are_still_freed_and_their_cycles_come_back_on_refresh():
    """With the real collector, in a process of its own (freezing is process-wide)."""
    script = '''
        import gc, weakref
        from devtracker.engine.freezer import SocketFreezer

        class Socket:
            pass

        def connect(i):
            sock = Socket()
            sock.self = sock            # a reference cycle, as sockets have
            return sock

        held = {f"s{i}": connect(i) for i in range(600)}
        held["plain"] = Socket()        # no cycle
        plain_ref, cycle_ref = weakref.ref(held["plain"]), weakref.ref(held["s0"])
        freezer = SocketFreezer(lambda: held.keys(), min_sockets=500)
        assert freezer.check() == "freeze" and gc.get_freeze_count() > 600
        del held["plain"]
        assert plain_ref() is None      # frozen, and still freed by its reference count
        for i in range(151):
            del held[f"s{i}"]
        gc.collect()
        assert cycle_ref() is not None  # a frozen cycle waits for the refresh...
        assert freezer.check() == "refresh"
        assert cycle_ref() is None      # ...which collects it
        print('{"ok": true}')  # every assertion above held
    '''
    assert run_python(script, timeout=60) == {"ok": True}


def test_the_frozen_object_count_is_taken_when_freezing_not_when_asked():
    class CountingGC(RecordingGC):
        frozen = 1_000  # start-up objects

        def freeze(self):
            super().freeze()
            self.frozen += 5_000

        def get_freeze_count(self):
            self.calls.append(("count",))
            return self.frozen

    held, fake = sockets(600), CountingGC()
    freezer = SocketFreezer(lambda: held.keys(), min_sockets=500, gc_module=fake)
    assert freezer.frozen_objects == 1_000  # counted once at start
    assert freezer.check() == "freeze" and freezer.frozen_objects == 6_000
    counted = fake.calls.count(("count",))
    assert freezer.frozen_objects == 6_000 and fake.calls.count(("count",)) == counted


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_the_middle_generation_is_swept_once_it_has_waited_sweep_after_seconds():
    fake, clock = RecordingGC(), Clock()
    freezer = SocketFreezer(lambda: {}.keys(), sweep_after=10.0, gc_module=fake, clock=clock)
    fake.young = 3  # young collections left objects in the middle generation
    clock.now += 5
    assert freezer.check() is None and fake.calls == []
    clock.now += 5
    assert freezer.check() == "sweep" and fake.calls == [("collect", 1)]
    assert freezer.sweeps == 1
    clock.now += 5
    assert freezer.check() is None  # nothing left there
    fake.young = 1
    clock.now += 5
    assert freezer.check() == "sweep"  # 10 s after the last sweep
    assert fake.calls == [("collect", 1), ("collect", 1)]


def test_no_sweep_while_python_collects_the_middle_generation_itself():
    fake, clock = RecordingGC(), Clock()
    freezer = SocketFreezer(lambda: {}.keys(), sweep_after=10.0, gc_module=fake, clock=clock)
    for _ in range(10):  # a busy process: Python collects it every few seconds
        fake.young = 40
        clock.now += 4
        fake.middle += 1
        fake.young = 7
        assert freezer.check() is None
    assert fake.calls == [] and freezer.sweeps == 0


def test_a_freeze_counts_as_a_collection_of_the_middle_generation():
    held, fake, clock = sockets(600), RecordingGC(), Clock()
    freezer = SocketFreezer(lambda: held.keys(), min_sockets=500, sweep_after=10.0, gc_module=fake,
                            clock=clock)
    clock.now += 9
    assert freezer.check() == "freeze"
    fake.young = 2
    clock.now += 9
    assert freezer.check() is None  # 9 s after the freeze's collection
    clock.now += 1
    assert freezer.check() == "sweep"


def test_garbage_left_in_the_middle_generation_is_freed_by_a_sweep():
    """With the real collector and the server's thresholds, in a process of its own."""
    script = '''
        import gc, weakref
        from devtracker.engine.freezer import SocketFreezer
        from devtracker.engine.tuning import GC_THRESHOLDS

        gc.set_threshold(*GC_THRESHOLDS)
        gc.collect()

        class Node:
            pass

        now = [0.0]
        freezer = SocketFreezer(lambda: {}.keys(), sweep_after=10.0, clock=lambda: now[0])
        node = Node()
        node.self = node                # a reference cycle
        gone = weakref.ref(node)
        gc.collect(0)                   # it outlives a young collection: now in the middle one
        del node                        # garbage, which only a collection can free
        for _ in range(5):
            gc.collect(0)               # young collections do not reach it
        assert gone() is not None and gc.get_count()[1] == 6
        now[0] = 5.0
        assert freezer.check() is None and gone() is not None
        now[0] = 10.0
        assert freezer.check() == "sweep"
        assert gone() is None
        print('{"ok": true}')  # every assertion above held
    '''
    assert run_python(script, timeout=60) == {"ok": True}
