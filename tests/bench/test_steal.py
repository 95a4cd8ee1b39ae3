"""bench/servers.py: the share of CPU time a virtual machine's hypervisor took (steal), and the
machine's description."""
import os
import sys

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                     "bench")
if BENCH not in sys.path:
    sys.path.insert(0, BENCH)

from servers import cpu_times, steal_percent  # noqa: E402


def times(busy, idle, steal):
    return {"user": busy, "nice": 0, "system": 0, "idle": idle, "iowait": 0, "irq": 0,
            "softirq": 0, "steal": steal}


def test_steal_is_a_share_of_the_time_the_cores_wanted_not_of_idle_time():
    before = times(1000, 5000, 100)
    after = times(1090, 9000, 110)  # 90 ticks run, 10 stolen, much idle
    assert steal_percent(before, after) == 10.0


def test_nothing_wanted_or_nothing_known():
    assert steal_percent(times(1, 1, 1), times(1, 9, 1)) == 0.0
    assert steal_percent(None, times(1, 1, 1)) is None


def test_this_machine_reports_its_cpu_times():
    now = cpu_times()
    assert now is not None, "Linux's /proc/stat is read here"
    assert set(now) == {"user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"}
    assert all(isinstance(value, int) and value >= 0 for value in now.values())


def test_the_machine_info_names_the_cpu_closely_enough_to_tell_hosts_apart():
    from servers import machine_info

    info = machine_info()
    with open("/proc/cpuinfo") as cpu:
        listed = cpu.read()
    if "cpu MHz" in listed:  # x86 lists family, model and clock; other architectures may not
        assert isinstance(info["cpuMHz"], float) and info["cpuMHz"] > 0
        assert info["cpuFamily"] and info["cpuModel"]
