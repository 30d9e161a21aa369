"""The report's zones part: per zone what its API replicas served and their longest gap outside the zone's own
faults, per load balancer what went through it, the virtual IP's moves and the leader's zone over time.

It presents result.json's `zones` (drills/checks/per_zone.py) and computes nothing; a run without zones has
no such section. Every string is escaped like the rest of the report (htmlkit.esc).
"""

from __future__ import annotations

from drills.checks.result_model import Zones
from drills.report.fmt import num, percent
from drills.report.htmlkit import esc, table
from drills.report.view import ReportView


def _n(value: object, unit: str = "") -> str:
    return f'<span class="num">{esc(num(value, unit))}</span>'


def _span(start: object, end: object) -> str:
    return f"{esc(num(start, 's'))} – {esc(num(end, 's'))}"


def _zone_rows(z: Zones) -> list[list[str]]:
    rows = []
    for row in z["zones"]:
        gap = row["longest_gap"]
        gap_text = "no API replica" if row["longest_gap_s"] is None else (
            f"<b>{esc(num(row['longest_gap_s'], 's'))}</b>" + (f" ({_span(gap['start'], gap['end'])})" if gap else ""))
        targeted = ", ".join(_span(a, b) for a, b in row["targeted"]) or "—"
        rows.append([f"<b>{esc(row['zone'])}</b>", esc(", ".join(row["services"])),
                     _n(row["served"]), _n(row["per_second"], "/s"), esc(percent(row["share"])), gap_text,
                     esc(targeted)])
    return rows


def _lb_rows(z: Zones) -> list[list[str]]:
    rows = []
    for row in z["lbs"]:
        outage = row["longest_outage"]
        text = "—" if row["longest_outage_s"] is None else (
            f"<b>{esc(num(row['longest_outage_s'], 's'))}</b>"
            + (f" ({_span(outage['start'], outage['end'])}{', still down at end' if outage['open'] else ''})"
               if outage else ""))
        rows.append([f"<b>{esc(row['lb'])}</b>", esc(row["zone"] or "—"), _n(row["ops"]), _n(row["served"]),
                     _n(row["not_served"]), esc(percent(row["share"])), text])
    unrouted = z["unrouted"]
    if unrouted["ops"]:
        rows.append(["<i>no X-LB header</i>", "—", _n(unrouted["ops"]), _n(unrouted["served"]),
                     _n(unrouted["ops"] - unrouted["served"]), "—", "—"])
    return rows


def _leader_zones(z: Zones) -> str:
    spans = [f"{esc(s['zone'] or 'no leader')} ({_span(s['start_s'], s['end_s'])})" for s in z["leader_zone"]]
    if not spans:
        return ""
    shown = spans[:30] + ([f"and {len(spans) - 30} more"] if len(spans) > 30 else [])
    return f'<p id="leader-zone">Leader\'s zone over time: {" → ".join(shown)}.</p>'


def zones_html(view: ReportView) -> str:
    """The zones section, or "" for a run without zones."""
    z: Zones | None = view.result.get("zones")
    if not z:
        return ""
    out = ['<section id="zones"><h2>Zones and load balancers</h2><p class="muted">Served = acknowledged or '
           "refused on the merits, by the replica that answered (X-Replica) and the load balancer it came through "
           "(X-LB; an operation without it found no load balancer, or was recorded by the load itself, e.g. a "
           "password check made of several requests). A zone's longest gap leaves out the time a fault targeted "
           "the zone (inject to heal): what remains is a gap nobody asked for, e.g. the zone's slow return after "
           "the heal.</p>",
           table(["zone", "nodes", "served", "per second", "share", "longest gap outside its faults",
                  "targeted by faults"], _zone_rows(z), cls="zones"),
           _leader_zones(z)]
    if z["lbs"] or z["unrouted"]["ops"]:
        out.append("<h3>Load balancers</h3>" + table(
            ["load balancer", "zone", "operations", "served", "not served", "share", "longest outage through it"],
            _lb_rows(z), cls="lbs"))
    if z["vip_moves"]:
        rows = [[esc(m["from_lb"]), esc(m["to_lb"]), _n(m["t_s"], "s"),
                 "—" if m["client_gap_s"] is None else f"<b>{esc(num(m['client_gap_s'], 's'))}</b>"]
                for m in z["vip_moves"]]
        out.append('<h3>Virtual IP moves</h3><p class="muted">From the probes\' GET through the clients\' address; '
                   "the client gap runs from the last operation served through another load balancer to the first "
                   "served through the new holder.</p>"
                   + table(["from", "to", "new holder first seen", "client gap"], rows, cls="vip-moves"))
    elif z["vip"]:
        holders = sorted({s["lb_active"] for s in z["vip"] if s["lb_active"]})
        out.append(f'<p>The virtual IP did not move ({esc(", ".join(holders) or "no holder seen")}).</p>')
    out.append("</section>")
    return "".join(out)
