"""The PNG: p99 delivery latency against offered load, one panel per org-wide size (and one for
notifications), one line per server."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402

COLORS = {"devtracker": "tab:blue", "devtracker-pg": "tab:purple", "flask": "tab:orange",
          "node": "tab:green"}
BUDGET_MS = 1000.0


def _panels(results):
    """(title, x label, {server: [(offered, p99, sustained)]}) per panel."""
    sizes = sorted({org["target"] for data in results.values()
                    for org in data.get("scenarios", {}).get("orgFanout", [])})
    panels = []
    for size in sizes:
        lines = {}
        for server, data in results.items():
            for org in data.get("scenarios", {}).get("orgFanout", []):
                if org["target"] == size:
                    name = server if org["sockets"] == size else f"{server} ({org['sockets']:,} left)"
                    lines[name] = [(s["offeredPerSecond"], s["latencyMs"]["p99"], s["sustained"])
                                     for s in org["steps"] if s["latencyMs"]["p99"] is not None]
        panels.append((f"org-wide fan-out, {size:,} sockets", "broadcasts offered per second", lines))
    notify = {server: [(s["offeredPerSecond"], s["latencyMs"]["p99"], s["sustained"])
                       for s in data["scenarios"]["notify"]["steps"] if s["latencyMs"]["p99"] is not None]
              for server, data in results.items() if data.get("scenarios", {}).get("notify")}
    if notify:
        panels.append(("notifications (stored, then pushed)", "notifications offered per second", notify))
    return panels


def write_plot(results, path, title):
    panels = _panels(results) or [("no data", "offered per second", {})]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.4), squeeze=False)
    for ax, (panel_title, xlabel, lines) in zip(axes[0], panels):
        for server, points in lines.items():
            if not points:
                continue
            xs, ys, ok = zip(*points)
            color = COLORS.get(server.split(" ")[0])
            ax.plot(xs, ys, marker="o", label=server, color=color)
            bad = [(x, y) for x, y, good in points if not good]
            if bad:
                ax.scatter(*zip(*bad), marker="x", s=80, color=color, zorder=3)
        ax.axhline(BUDGET_MS, color="grey", linestyle="--", linewidth=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            axis.set_minor_formatter(NullFormatter())
        ax.set_title(panel_title, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("p99 delivery latency, ms")
        ax.grid(True, which="both", alpha=0.3)
        if any(lines.values()):
            ax.legend(fontsize=8)
    fig.suptitle(f"{title}  (x: step not sustained; dashed: 1 s budget)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
