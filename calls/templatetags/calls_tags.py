"""Template helpers of the call pages: durations and the per-turn latency waterfall (SVG, drawn server-side)."""

from __future__ import annotations

import datetime
import math

from django import template
from django.utils import timezone

register = template.Library()

STAGES = (
    # key in Call.turn_metrics, CSS-free colour (the SVG must read without the stylesheet)
    ("stt", "stt_final_delay_ms", "#7c4dff"),
    ("llm", "llm_first_token_ms", "#1f5eff"),
    ("tts", "tts_first_byte_ms", "#1e7b4f"),
    ("total", "e2e_ms", "#a65f00"),
)
COLOURS = {name: colour for name, _key, colour in STAGES}

LABEL_WIDTH = 70
CHART_WIDTH = 520
VALUE_WIDTH = 80
BAR_HEIGHT = 8
ROW_HEIGHT = 11
TURN_GAP = 10
AXIS_HEIGHT = 22


@register.filter
def call_duration(call) -> datetime.timedelta | None:
    """Return how long the call lasted (from answer, else from start, to the end or now), or None."""
    begin = call.answered_at or call.started_at
    if begin is None:
        return None
    end = call.ended_at or timezone.now()
    return max(end - begin, datetime.timedelta(0))


@register.filter
def seconds(delta: datetime.timedelta | None) -> str:
    """Format a duration as m:ss (h:mm:ss past an hour), or an empty string."""
    if delta is None:
        return ""
    total = int(delta.total_seconds())
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _ms(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return max(number, 0.0) if math.isfinite(number) else None


def _spans(metrics: dict) -> dict[str, tuple[float, float, float]]:
    """Place each stage on the turn's time line: (start, length, measured value) in ms from the end of speech.

    Stages run one after the other; the TTS bar ends at the first audio when that is known, since the agent waits
    for the first sentence between the LLM's first token and the TTS request.
    """
    stt, llm, tts, e2e = (_ms(metrics.get(key)) for _name, key, _colour in STAGES)
    spans = {}
    cursor = 0.0
    if stt is not None:
        spans["stt"] = (0.0, stt, stt)
        cursor = stt
    if llm is not None:
        spans["llm"] = (cursor, llm, llm)
        cursor += llm
    if tts is not None:
        start = max(cursor, e2e - tts) if e2e is not None else cursor
        spans["tts"] = (start, tts, tts)
    if e2e is not None:
        spans["total"] = (0.0, e2e, e2e)
    return spans


def _tick_step(maximum: float) -> int:
    for step in (10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000):
        if maximum / step <= 6:
            return step
    return int(math.ceil(maximum / 6 / 10000) * 10000)


@register.inclusion_tag("calls/_waterfall.html")
def call_waterfall(turn_metrics) -> dict:
    """Lay out one group of four bars per turn (STT final, LLM first token, TTS first byte, total) on one scale."""
    turns = [metrics for metrics in (turn_metrics or []) if isinstance(metrics, dict)]
    placed = [(index, metrics, _spans(metrics)) for index, metrics in enumerate(turns, start=1)]
    maximum = max((start + length for _i, _m, spans in placed for start, length, _v in spans.values()), default=0.0)
    scale = CHART_WIDTH / maximum if maximum > 0 else 0.0
    block = len(STAGES) * ROW_HEIGHT + TURN_GAP
    rows = []
    for position, (number, metrics, spans) in enumerate(placed):
        top = AXIS_HEIGHT + position * block
        bars = []
        for row, (name, _key, colour) in enumerate(STAGES):
            if name not in spans:
                continue
            start, length, value = spans[name]
            x = LABEL_WIDTH + start * scale
            width = max(length * scale, 1.0)
            bars.append({
                "stage": name, "colour": colour, "x": round(x, 1), "y": top + row * ROW_HEIGHT,
                "width": round(width, 1), "height": BAR_HEIGHT, "value": round(value),
                "text_x": round(x + width + 4, 1), "text_y": top + row * ROW_HEIGHT + BAR_HEIGHT,
            })
        rows.append({
            "turn": metrics.get("turn", number), "label_y": top + 2 * ROW_HEIGHT, "bars": bars,
            "values": {name: (round(spans[name][2]) if name in spans else None) for name, _k, _c in STAGES},
            "interruptions": metrics.get("interruptions") or 0, "source": metrics.get("source", ""),
        })
    step = _tick_step(maximum) if maximum > 0 else 0
    ticks = [{"x": round(LABEL_WIDTH + ms * scale, 1), "ms": ms} for ms in range(0, int(maximum) + 1, step)] \
        if step else []
    height = AXIS_HEIGHT + len(rows) * block
    return {
        "rows": rows, "ticks": ticks, "colours": COLOURS, "width": LABEL_WIDTH + CHART_WIDTH + VALUE_WIDTH,
        "height": height, "chart_left": LABEL_WIDTH, "chart_bottom": height - TURN_GAP // 2,
    }
