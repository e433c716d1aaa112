"""The SVG chart builders and the insights page's chart tags: valid markup, accessible, escaped, honest scales."""

import datetime
import re
import xml.etree.ElementTree as ET

import pytest
from django.test import SimpleTestCase
from django.utils.safestring import SafeString

from calls.dashboard import CallTotals, DayCount, LatencyStat, OutcomeCount, ProviderStat, TurnLatency
from calls.templatetags import charts

SVG_NS = "{http://www.w3.org/2000/svg}"
EVIL = '<script>alert("x")</script> & co'


def svg_of(markup: str) -> ET.Element:
    """Parse the first <svg> of the markup as XML: it must be well-formed on its own."""
    match = re.search(r"<svg.*?</svg>", markup, re.S)
    assert match, markup
    return ET.fromstring(match.group(0))


class NiceTicksTests(SimpleTestCase):
    def test_ticks_start_at_zero_and_cover_the_maximum(self):
        self.assertEqual(charts.nice_ticks(0), [0.0, 1.0])
        self.assertEqual(charts.nice_ticks(7), [0, 2, 4, 6, 8])
        self.assertEqual(charts.nice_ticks(100), [0, 20, 40, 60, 80, 100])
        self.assertEqual(charts.nice_ticks(0.3), [0, 0.1, 0.2, 0.3])
        self.assertEqual(charts.nice_ticks(1234), [0, 250, 500, 750, 1000, 1250])

    def test_integer_ticks_for_counts(self):
        self.assertEqual(charts.nice_ticks(2, integer=True), [0, 1, 2])
        self.assertEqual(charts.nice_ticks(3, integer=True), [0, 1, 2, 3])


class BuilderTests(SimpleTestCase):
    def test_column_chart_is_an_accessible_well_formed_svg(self):
        bars = [charts.Bar("Mon", 3, "3"), charts.Bar("Tue", 0, "0"), charts.Bar("Wed", 7, "7")]
        markup = charts.column_chart(bars, chart_id="c1", title="Calls per day", desc="10 calls", x_label="Day",
                                     y_label="Calls")
        self.assertIsInstance(markup, SafeString)
        svg = svg_of(markup)
        self.assertEqual(svg.get("role"), "img")
        self.assertEqual(svg.get("aria-labelledby"), "c1-title c1-desc")
        self.assertEqual(svg.find(f"{SVG_NS}title").text, "Calls per day")
        self.assertEqual(svg.find(f"{SVG_NS}desc").text, "10 calls")
        rects = svg.findall(f"{SVG_NS}rect")
        self.assertEqual([r.find(f"{SVG_NS}title").text for r in rects], ["Mon: 3", "Tue: 0", "Wed: 7"])
        heights = [float(r.get("height")) for r in rects]
        self.assertEqual(heights[1], 0)
        self.assertAlmostEqual(heights[0] / heights[2], 3 / 7, places=2)  # one scale from zero
        texts = [t.text for t in svg.iter(f"{SVG_NS}text")]
        self.assertIn("Day", texts)
        self.assertIn("Calls", texts)

    def test_column_chart_thins_crowded_axis_labels_but_keeps_every_bar(self):
        bars = [charts.Bar(f"day {i}", i, str(i), tick=f"d{i}") for i in range(90)]
        svg = svg_of(charts.column_chart(bars, chart_id="c", title="t", desc="d", x_label="x", y_label="y"))
        self.assertEqual(len(svg.findall(f"{SVG_NS}rect")), 90)
        ticks = [t.text for t in svg.iter(f"{SVG_NS}text") if t.text and t.text.startswith("d")]
        self.assertLessEqual(len(ticks), 8)
        self.assertEqual(ticks[0], "d0")

    def test_labels_and_titles_are_escaped(self):
        bars = [charts.Bar(EVIL, 1, EVIL)]
        for markup in (
            charts.column_chart(bars, chart_id="e", title=EVIL, desc=EVIL, x_label=EVIL, y_label=EVIL),
            charts.bar_chart(bars, chart_id="e", title=EVIL, desc=EVIL, x_label=EVIL),
            charts.grouped_bar_chart([(EVIL, bars)], [charts.Series(EVIL, "#000")], chart_id="e", title=EVIL,
                                     desc=EVIL, x_label=EVIL),
            charts.data_table(summary=EVIL, caption=EVIL, headers=[EVIL], rows=[(EVIL, EVIL)]),
        ):
            self.assertNotIn("<script>", markup)
            self.assertIn("&lt;script&gt;", markup)
            if "<svg" in markup:
                svg_of(markup)  # still well-formed

    def test_bar_chart_with_a_fixed_maximum(self):
        bars = [charts.Bar("a", 25, "25 %"), charts.Bar("b", 100, "100 %")]
        svg = svg_of(charts.bar_chart(bars, chart_id="p", title="t", desc="d", x_label="%", maximum=100, unit=" %"))
        widths = [float(r.get("width")) for r in svg.findall(f"{SVG_NS}rect")]
        self.assertAlmostEqual(widths[1], charts.WIDTH - charts.LABEL_WIDTH - charts.VALUE_WIDTH)
        self.assertAlmostEqual(widths[0] * 4, widths[1])
        self.assertIn("100 %", [t.text for t in svg.iter(f"{SVG_NS}text")])

    def test_grouped_chart_has_one_bar_per_series_and_a_legend(self):
        groups = [("mistral", [charts.Bar("mistral", 100, "100 ms"), charts.Bar("mistral", 300, "300 ms")]),
                  ("google", [charts.Bar("google", 50, "50 ms"), charts.Bar("google", 80, "80 ms")])]
        series = [charts.Series("p50", "#111111"), charts.Series("p95", "#222222")]
        svg = svg_of(charts.grouped_bar_chart(groups, series, chart_id="g", title="t", desc="d", x_label="ms"))
        rects = svg.findall(f"{SVG_NS}rect")
        self.assertEqual(len(rects), 2 + 4)  # legend swatches, then bars
        self.assertEqual([r.get("fill") for r in rects[2:]], ["#111111", "#222222"] * 2)
        self.assertEqual(rects[3].find(f"{SVG_NS}title").text, "mistral (p95): 300 ms")

    def test_data_table(self):
        markup = charts.data_table(summary="Numbers", caption="Calls", headers=["Day", "Calls"],
                                   rows=[("Mon", "3"), ("Tue", "0")])
        self.assertTrue(markup.startswith('<details class="chart-data"><summary>Numbers</summary>'))
        self.assertIn("<caption>Calls</caption>", markup)
        self.assertIn('<th scope="col">Day</th>', markup)
        self.assertIn('<tr><th scope="row">Tue</th><td>0</td></tr>', markup)


class InsightsTagTests(SimpleTestCase):
    @pytest.mark.clock  # days as dates in the page's language
    def test_calls_per_day(self):
        days = [DayCount(datetime.date(2025, 3, 29), 1), DayCount(datetime.date(2025, 3, 30), 0),
                DayCount(datetime.date(2025, 3, 31), 4)]
        markup = charts.calls_per_day_chart(days)
        self.assertIn("<figure", markup)
        self.assertIn("<figcaption>Calls per day</figcaption>", markup)
        self.assertEqual(len(svg_of(markup).findall(f"{SVG_NS}rect")), 3)
        self.assertIn("5 calls over 3 days", markup)
        self.assertEqual(markup.count("<td>"), 3)
        self.assertIn("No day", charts.calls_per_day_chart([]))

    def test_outcomes_with_shares(self):
        totals = CallTotals(total=4, answered=3, appointments=1, outcomes=[
            OutcomeCount("appointment", "Appointment", 1), OutcomeCount("", "Pending", 3)])
        markup = charts.outcomes_chart(totals)
        self.assertIn("Appointment: 1; Pending: 3", markup)
        self.assertIn("<td>75.0 %</td>", markup)
        empty = CallTotals(total=0, answered=0, appointments=0, outcomes=[])
        self.assertIn("No call in this period.", charts.outcomes_chart(empty))
        self.assertNotIn("<svg", charts.outcomes_chart(empty))

    def test_turn_latency_skips_stages_without_turns(self):
        latency = TurnLatency(stages=[LatencyStat("e2e_ms", "End of speech to first audio", 10, 640.0, 910.0),
                                      LatencyStat("llm_first_token_ms", "LLM first token", 0, None, None)],
                              calls_sampled=2, capped=False)
        markup = charts.turn_latency_chart(latency)
        self.assertIn("End of speech to first audio: p50 640 ms, p95 910 ms over 10 turns", markup)
        self.assertNotIn("LLM first token", markup)
        nothing = TurnLatency(stages=[LatencyStat("e2e_ms", "x", 0, None, None)], calls_sampled=0, capped=False)
        self.assertIn("No turn was measured", charts.turn_latency_chart(nothing))

    def test_providers(self):
        stats = [ProviderStat("mistral", "llm", "Conversation", requests=14, failures=3, p50_ms=500.0, p95_ms=1000.0),
                 ProviderStat("google-tts", "tts", "Text-to-speech", requests=1, failures=1)]
        latency = charts.provider_latency_chart(stats)
        self.assertIn("mistral · Conversation: p50 500 ms, p95 1,000 ms", latency)
        self.assertNotIn("google-tts", latency)  # no successful request, no duration
        errors = charts.provider_errors_chart(stats)
        self.assertIn("mistral · Conversation: 21.4 % of 14 requests failed", errors)
        self.assertIn("google-tts · Text-to-speech: 100.0 % of 1 request failed", errors)
        self.assertEqual(len(svg_of(errors).findall(f"{SVG_NS}rect")), 2)
        self.assertIn("No AI request", charts.provider_errors_chart([]))
        self.assertIn("No successful AI request", charts.provider_latency_chart(stats[1:]))

    def test_percent_filter(self):
        self.assertEqual(charts.percent(None), "—")
        self.assertEqual(charts.percent(0.25), "25.0 %")
