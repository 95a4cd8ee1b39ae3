"""Numbers from raw receive records, and the table printed at the end of a run."""
from array import array
from collections import Counter, namedtuple

import numpy as np

LATENCY_BUDGET_MS = 1000.0   # a step is sustained when p99 stays under this and nothing is missing


# seqs/sent/recv: one record per timed delivery (lean sockets, and the precise sample of the bulk
# sockets: their `sent` is NaN, the parent knows when each seq was sent); counts: deliveries per
# seq at every socket; last: the last time each seq was read anywhere; presence: lean records.
Records = namedtuple("Records", "seqs sent recv presence counts last")


def merge_drains(drains):
    """Worker drains → Records (numpy arrays for the timed deliveries)."""
    seqs, sent, recv, presence = array("q"), array("d"), array("d"), []
    counts, last = Counter(), {}
    for drain in drains:
        seqs.frombytes(drain["seqs"])
        sent.frombytes(drain["sent"])
        recv.frombytes(drain["recv"])
        presence.extend(drain["presence"])
        bulk = drain.get("bulk") or {}
        seqs.extend(bulk.get("seqs", ()))
        recv.extend(bulk.get("recv", ()))
        sent.extend([float("nan")] * (len(recv) - len(sent)))
        counts.update(bulk.get("counts", {}))
        for seq, at in bulk.get("last", {}).items():
            if at > last.get(seq, 0.0):
                last[seq] = at
    seqs = np.frombuffer(seqs, dtype=np.int64) if seqs else np.zeros(0, np.int64)
    sent = np.frombuffer(sent, dtype=np.float64) if sent else np.zeros(0)
    recv = np.frombuffer(recv, dtype=np.float64) if recv else np.zeros(0)
    # Lean sockets' deliveries are counted from their records (bulk ones counted themselves).
    lean = np.isfinite(sent)
    if lean.any():
        counts.update(seqs[lean].tolist())
        for seq, at in zip(seqs[lean].tolist(), recv[lean].tolist()):
            if at > last.get(seq, 0.0):
                last[seq] = at
    return Records(seqs, sent, recv, presence, counts, last)


def percentiles(values_ms):
    """min/p50/p99/max of latencies in ms (None when there are none)."""
    if len(values_ms) == 0:
        return {"min": None, "p50": None, "p99": None, "max": None}
    values = np.asarray(values_ms, dtype=np.float64)
    return {"min": round(float(values.min()), 1), "p50": round(float(np.percentile(values, 50)), 1),
            "p99": round(float(np.percentile(values, 99)), 1),
            "max": round(float(values.max()), 1)}


def step_result(records, seq_range, expected_per_message, started, statuses, offered_rate, duration,
                sent_at=None):
    """Everything about one step: latency of what arrived, what is missing, achieved rates.

    `records` are merged drains; only deliveries whose seq lies in `seq_range` count
    (late arrivals of an earlier step are ignored). `expected_per_message` is how many
    sockets each trigger must reach. `statuses` are the HTTP statuses of the triggers.
    `sent_at[i]` is when trigger `low + i` was due (its `sentAt`); without it the records' own.
    Latency percentiles come from the timed records; `lastSocketMs` is, per message, sent → the
    last socket that read it (bulk sockets are read every few ms, so it is late by up to that).
    `firstSocketMs` is, per message, sent → the first timed socket that read it: the trigger's
    way through the server to its first write. Where every socket is timed (task rooms), the
    rest of a delivery's latency, up to `lastSocketMs`, is the fan-out's spread.
    """
    low, high = seq_range
    seqs, recv = records.seqs, records.recv
    mask = (seqs >= low) & (seqs < high)
    if sent_at is not None:
        sent_at = np.asarray(sent_at, dtype=np.float64)
        lat = (recv[mask] - sent_at[seqs[mask] - low]) * 1000.0
    else:
        lat = (recv[mask] - records.sent[mask]) * 1000.0
    messages = high - low
    counts, last = records.counts, records.last
    per_message = [counts.get(s, 0) for s in range(low, high)]
    complete = sum(1 for n in per_message if n >= expected_per_message)
    duplicates = sum(max(0, n - expected_per_message) for n in per_message)
    delivered = int(sum(per_message))
    last_read = [last[s] for s in range(low, high) if s in last]
    # The window is the step's nominal length, or longer when deliveries trailed beyond it.
    span = max(messages / offered_rate, (max(last_read) - started) if last_read else 0.0)
    ok_status = sum(1 for s in statuses if 200 <= s < 300)
    result = {"offeredPerSecond": offered_rate, "seconds": duration, "messages": messages,
              "triggersAccepted": ok_status, "expectedDeliveries": messages * expected_per_message,
              "delivered": delivered, "completeMessages": complete, "duplicates": duplicates,
              "latencyMs": percentiles(lat), "timedDeliveries": int(mask.sum()),
              "deliveriesPerSecond": round(delivered / span, 1) if span > 0 else 0.0,
              "messagesPerSecond": round(ok_status / span, 2) if span > 0 else 0.0}
    if sent_at is not None:
        result["lastSocketMs"] = percentiles([(last[s] - sent_at[s - low]) * 1000.0
                                              for s in range(low, high) if s in last])
        first = np.full(messages, np.inf)
        np.minimum.at(first, seqs[mask] - low, recv[mask])
        read = np.isfinite(first)
        result["firstSocketMs"] = percentiles((first[read] - sent_at[read]) * 1000.0)
    p99 = result["latencyMs"]["p99"]
    result["sustained"] = bool(complete == messages and ok_status == messages and p99 is not None
                               and p99 < LATENCY_BUDGET_MS)
    return result


def best_sustained(steps):
    """The step with the most deliveries/s among those that were sustained (or None)."""
    good = [s for s in steps if s.get("sustained")]
    return max(good, key=lambda s: s["deliveriesPerSecond"]) if good else None


# --- the table -------------------------------------------------------------------------------
def _fmt(value, unit=""):
    if value is None:
        return "-"
    if isinstance(value, float):
        value = f"{value:,.1f}" if abs(value) < 100 else f"{value:,.0f}"
    elif isinstance(value, int):
        value = f"{value:,}"
    return f"{value}{unit}"


def table_rows(results):
    """Rows (scenario, metric) → {server: value}, ordered by scenario, size, step and metric."""
    rows, order = {}, {}

    def put(sort, scenario, metric, server, value):
        key = (scenario, metric)
        order.setdefault(key, sort + (len(order),))
        rows.setdefault(key, {})[server] = value

    for server, data in results.items():
        scen = data.get("scenarios") or {}
        for storm in scen.get("connectStorm", []):
            n, label = storm["target"], f"connect storm {storm['target']}"
            put((1, n, 0), label, "seconds", server, storm.get("seconds"))
            put((1, n, 1), label, "sockets ready", server, storm.get("ready"))
            put((1, n, 2), label, "dropped by server", server, storm.get("droppedByServer"))
            put((1, n, 3), label, "KiB/socket", server, storm.get("kibPerSocket"))
        for room in scen.get("roomFanout", []):
            step = room["step"]
            label = f"task room {room['viewers']} viewers @{step['offeredPerSecond']:g}/s"
            put((2, room["viewers"], 0), label, "p50 ms", server, step["latencyMs"]["p50"])
            put((2, room["viewers"], 1), label, "p99 ms", server, step["latencyMs"]["p99"])
            # The first viewer's p99: the way through the server; the rest of p99 is the spread.
            put((2, room["viewers"], 2), label, "first viewer p99 ms", server,
                (step.get("firstSocketMs") or {}).get("p99"))
            put((2, room["viewers"], 3), label, "complete", server,
                f"{step['completeMessages']}/{step['messages']}")
        for org in scen.get("orgFanout", []):
            n = org["target"]
            # Sockets the server dropped during the storm make a different experiment: own rows.
            full = org["sockets"] == n
            name = f"org {n}" if full else f"org {n} [{org['sockets']:,} left]"
            group = (3, n, 0 if full else org["sockets"])
            for step in org["steps"]:
                label, rate = f"{name} @{step['offeredPerSecond']:g}/s", step["offeredPerSecond"]
                put(group + (rate, 0), label, "p99 ms", server, step["latencyMs"]["p99"])
                put(group + (rate, 1), label, "deliv/s", server, step["deliveriesPerSecond"])
            best = org.get("sustained")
            put(group + (float("inf"),), f"{name} sustained", "deliv/s", server,
                best["deliveriesPerSecond"] if best else 0.0)
        notify = scen.get("notify")
        if notify:
            users = notify["users"]
            for step in notify["steps"]:
                label, rate = f"notify {users} users @{step['offeredPerSecond']:g}/s", step["offeredPerSecond"]
                put((4, rate, 0), label, "p99 ms", server, step["latencyMs"]["p99"])
                put((4, rate, 1), label, "achieved/s", server, step["messagesPerSecond"])
            best = notify.get("sustained")
            put((4, float("inf")), f"notify {users} users sustained", "notif/s", server,
                best["messagesPerSecond"] if best else 0.0)
        churn = scen.get("churn")
        if churn:
            label = f"presence churn {churn['churnPerSecond']:g}/s, {churn['observers']} observers"
            put((5, 0), label, "online p50 ms", server, churn["onlineMs"]["p50"])
            put((5, 1), label, "online p99 ms", server, churn["onlineMs"]["p99"])
            put((5, 2), label, "online seen", server, churn["onlineSeenShare"])
    return {key: rows[key] for key in sorted(rows, key=lambda k: order[k])}


def ratio(a, b):
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or not b:
        return None
    return round(a / b, 2)


def render_table(results):
    """The stdout table: one row per scenario/size/step and metric, a column per server, and
    devtracker/node and devtracker/flask ratios for p99 and deliveries/s."""
    servers = list(results)
    rows = table_rows(results)
    ratio_cols = [ref for ref in ("node", "flask") if ref in servers and "devtracker" in servers]
    header = ["scenario", "metric"] + servers + [f"dt/{r}" for r in ratio_cols]
    lines = [header]
    for (scenario, metric), values in rows.items():
        line = [scenario, metric] + [_fmt(values.get(s)) for s in servers]
        for ref in ratio_cols:
            wanted = metric.startswith("p99") or metric.endswith("/s")
            line.append(_fmt(ratio(values.get("devtracker"), values.get(ref))) if wanted else "")
        lines.append(line)
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    out = []
    for n, line in enumerate(lines):
        out.append("  ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w)
                             for i, (c, w) in enumerate(zip(line, widths))))
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)
